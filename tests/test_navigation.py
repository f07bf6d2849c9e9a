"""Graph navigation over HTTP (/files, /files/{path}, /symbols/{qualname} and its callers and
callees) on a live service: a real watched temp tree, a real DuckDB file, FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from graphsvc.api import create_app
from graphsvc.config import load_settings
from graphsvc.service import Service
from graphsvc.store import Store

TREE = {
    "pkg/__init__.py": "from .b import helper\n",
    "pkg/a.py": (
        "import os\n"
        "from pkg.b import helper, missing_name\n"
        "from .c import Thing\n"
        "\n"
        "\n"
        "def main():\n"
        "    helper()\n"
        "    Thing()\n"
        "    os.getcwd()\n"
        "    unknown_fn()\n"
    ),
    "pkg/b.py": (
        '"""Helpers."""\n'
        "\n"
        "\n"
        "def helper():\n"
        '    """Help."""\n'
        "    return inner()\n"
        "\n"
        "\n"
        "def inner():\n"
        "    return 1\n"
    ),
    "pkg/c.py": (
        "from pkg.b import inner\n"
        "\n"
        "\n"
        "class Thing:\n"
        "    def __init__(self):\n"
        "        self.n = inner()\n"
    ),
    "pkg/broken.py": "def broken(:\n    pass\n\n\ndef fine():\n    pass\n",
    "tools/run.py": "from pkg import helper\n\nhelper()\n",
    "tools/odd name/naïve.py": "x = 1\n",
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    tree = tmp_path / "tree"
    for rel, text in TREE.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text, encoding="utf-8")
    with Store.open(tmp_path / "g.duckdb") as store:
        service = Service(tree, store, load_settings(tree, jobs=1))
        service.start()
        try:
            service.sync(timeout=60)
            test_client = TestClient(create_app(service))
            test_client.tree = tree  # type: ignore[attr-defined]
            yield test_client
        finally:
            service.stop()


def get(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    answer = client.get(url, params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_files_list_filter_and_page(client: TestClient) -> None:
    everything = get(client, "/files")
    assert everything["total"] == 7 and everything["next_cursor"] is None
    rows = {f["path"]: f for f in everything["files"]}
    assert list(rows) == sorted(TREE)
    assert rows["pkg/b.py"] == {
        "path": "pkg/b.py", "module": "pkg.b", "status": "ok", "error_count": 0, "symbols": 2,
        "size": len(TREE["pkg/b.py"]), "line_count": 10, "skip_reason": None,
    }  # fmt: skip
    assert rows["pkg/broken.py"]["status"] == "partial"
    assert rows["pkg/broken.py"]["error_count"] == 1
    partial = get(client, "/files", status="partial")
    assert [f["path"] for f in partial["files"]] == ["pkg/broken.py"] and partial["total"] == 1
    tools = get(client, "/files", prefix="tools/")
    assert [f["path"] for f in tools["files"]] == ["tools/odd name/naïve.py", "tools/run.py"]
    # Pages of two under a prefix: every file once, in order, whatever the page size.
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = get(
            client, "/files", prefix="pkg/", limit=2, **({"cursor": cursor} if cursor else {})
        )
        assert page["total"] == 5 and len(page["files"]) <= 2
        seen += [f["path"] for f in page["files"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(p for p in TREE if p.startswith("pkg/"))
    for bad in ({"status": "bogus"}, {"limit": 0}, {"limit": 1001}, {"limit": "x"}):
        answer = client.get("/files", params=bad)
        assert answer.status_code == 422, bad


def test_one_files_facts(client: TestClient) -> None:
    found = get(client, "/files/pkg/a.py")
    assert found["file"]["module"] == "pkg.a" and found["notes"] == []
    assert found["sha256"] and found["encoding"] == "utf-8" and found["indexed_at"]
    assert [(d["qualname"], d["kind"], d["line"]) for d in found["definitions"]] == [
        ("pkg.a", "module", 1),
        ("pkg.a.main", "function", 6),
    ]
    imports = {(i["module"], i["name"]): i for i in found["imports"]}
    assert imports["os", None]["status"] == "stdlib"
    helper = imports["pkg.b", "helper"]
    assert (helper["status"], helper["targets"], helper["line"]) == (
        "internal",
        ["pkg.b.helper"],
        2,
    )
    missing = imports["pkg.b", "missing_name"]
    assert missing["status"] == "unresolved" and missing["targets"] == []
    assert "missing_name" in missing["reason"]
    relative = imports[".c", "Thing"]
    assert relative["targets"] == ["pkg.c.Thing"] and relative["kind"] == "from"
    broken = get(client, "/files/pkg/broken.py")
    assert broken["file"]["status"] == "partial"
    assert [(n["line"], n["kind"]) for n in broken["notes"]] == [(1, "missing")]
    assert "pkg.broken.fine" in {d["qualname"] for d in broken["definitions"]}
    odd = get(client, "/files/tools/odd name/naïve.py")
    assert odd["file"]["path"] == "tools/odd name/naïve.py"


def test_unknown_files_are_404_with_a_hint(client: TestClient) -> None:
    folder = client.get("/files/pkg")
    assert folder.status_code == 404
    assert (
        "folder of 5 file(s)" in folder.json()["detail"]
        and "prefix=pkg/" in folder.json()["detail"]
    )
    missing = client.get("/files/pkg/nope.py")
    assert missing.status_code == 404 and "no file pkg/nope.py" in missing.json()["detail"]


def test_symbols_and_edits_move_as_of(client: TestClient) -> None:
    before = get(client, "/symbols/pkg.b.helper")
    assert before["symbols"] == [
        {"qualname": "pkg.b.helper", "name": "helper", "kind": "function", "parent": "pkg.b",
         "path": "pkg/b.py", "line": 4, "end_line": 6, "docstring": "Help.", "decorators": [],
         "is_async": False}
    ]  # fmt: skip
    tree: Path = client.tree  # type: ignore[attr-defined]
    (tree / "pkg" / "b.py").write_text(
        "import functools\n\n\n@functools.cache\nasync def helper():\n    return 2\n"
    )
    synced = client.post("/sync").json()
    after = get(client, "/symbols/pkg.b.helper")
    assert after["as_of"] == synced["as_of"] > before["as_of"]
    (symbol,) = after["symbols"]
    assert (
        symbol["line"] == 5 and symbol["is_async"] and symbol["decorators"] == ["functools.cache"]
    )
    assert get(client, "/files/pkg/b.py")["file"]["symbols"] == 1  # inner is gone
    gone = client.get("/symbols/pkg.b.inner")
    assert gone.status_code == 404 and "pkg.b.inner" in gone.json()["detail"]


def edges(found: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(e["depth"], e["caller"], e["callee"], e["status"], e["line"]) for e in found["edges"]]


def test_callers_by_depth(client: TestClient) -> None:
    direct = get(client, "/symbols/pkg.b.inner/callers")
    assert direct["direction"] == "callers" and direct["truncated"] is False
    assert edges(direct) == [
        (1, "pkg.b.helper", "pkg.b.inner", "resolved", 6),
        (1, "pkg.c.Thing.__init__", "pkg.b.inner", "resolved", 6),
    ]
    assert direct["edges"][0]["path"] == "pkg/b.py" and direct["edges"][0]["strategy"] == "lexical"
    deep = get(client, "/symbols/pkg.b.inner/callers", depth=3)
    assert edges(deep)[2:] == [
        (2, "pkg.a.main", "pkg.b.helper", "resolved", 7),
        (2, "pkg.a.main", "pkg.c.Thing.__init__", "resolved", 8),
        (2, "tools.run", "pkg.b.helper", "resolved", 3),
    ]
    assert deep["edges"][4]["strategy"] == "import+reexport"
    capped = get(client, "/symbols/pkg.b.inner/callers", depth=3, limit=3)
    assert capped["truncated"] is True and edges(capped) == edges(deep)[:3]
    # A class's callers are the calls that instantiate it.
    made = get(client, "/symbols/pkg.c.Thing/callers")["edges"]
    assert [(e["caller"], e["named"], e["strategy"]) for e in made] == [
        ("pkg.a.main", "pkg.c.Thing", "import+constructor")
    ]


def test_callees_with_unresolved_sites(client: TestClient) -> None:
    found = get(client, "/symbols/pkg.a.main/callees", depth=2)
    assert edges(found) == [
        (1, "pkg.a.main", "pkg.b.helper", "resolved", 7),
        (1, "pkg.a.main", "pkg.c.Thing.__init__", "resolved", 8),
        (1, "pkg.a.main", "os.getcwd", "external", 9),
        (1, "pkg.a.main", None, "unresolved", 10),
        (2, "pkg.b.helper", "pkg.b.inner", "resolved", 6),
        (2, "pkg.c.Thing.__init__", "pkg.b.inner", "resolved", 6),
    ]
    unresolved = found["edges"][3]
    assert unresolved["expression"] == "unknown_fn" and "defined nowhere" in unresolved["reason"]


def test_call_walks_refuse_unknown_names_and_bad_params(client: TestClient) -> None:
    for direction in ("callers", "callees"):
        missing = client.get(f"/symbols/pkg.zzz.helper/{direction}")
        assert missing.status_code == 404
        assert "did you mean pkg.b.helper" in missing.json()["detail"]
        for bad in ({"depth": 0}, {"depth": 6}, {"limit": 0}, {"ambiguous": "maybe"}):
            answer = client.get(f"/symbols/pkg.b.inner/{direction}", params=bad)
            assert answer.status_code == 422, (direction, bad)


def test_channels_with_producers_and_consumers(tmp_path: Path) -> None:
    """/channels over the home-made bus fixture on a live service: producers, the consumers
    that match by the transport's semantics, dynamic sites, a filter; a saved edit that adds a
    producer shows up after a sync."""
    import shutil

    fixture = Path(__file__).parent / "fixtures" / "channels" / "bus" / "tree"
    tree = shutil.copytree(fixture, tmp_path / "tree")
    with Store.open(tmp_path / "g.duckdb") as store:
        service = Service(tree, store, load_settings(tree, jobs=1))
        service.start()
        try:
            service.sync(timeout=60)
            client = TestClient(create_app(service))
            found = get(client, "/channels", transport="zmq")
            channels = {c["channel"]: c for c in found["channels"]}
            assert found["total"] == len(channels) and not found["truncated"]
            assert {c["transport"] for c in found["channels"]} == {"zmq"}
            cancelled = channels["orders.cancelled"]
            assert [p["line"] for p in cancelled["producers"]] == [24]
            assert [(c["line"], c["catch_all"]) for c in cancelled["matched_consumers"]] == [
                (16, True)
            ]
            assert {c["line"] for c in channels["orders.created"]["matched_consumers"]} == {12, 16}
            dynamic = get(client, "/channels/dynamic")["sites"]
            assert [(s["path"], s["line"], s["expression"]) for s in dynamic] == [
                ("shop/orders.py", 33, "name")
            ]
            assert get(client, "/channels", limit=1)["truncated"] is True
            assert client.get("/channels", params={"transport": "../x"}).status_code == 422
            assert get(client, "/channels", transport="nats")["channels"] == []

            with (tree / "shop" / "orders.py").open("a", encoding="utf-8") as out:
                out.write("\n\ndef refund(bus_):\n    Bus().emit('orders.refunded')\n")
            service.sync(timeout=60)
            after = get(client, "/channels", transport="zmq")
            refunded = next(c for c in after["channels"] if c["channel"] == "orders.refunded")
            assert refunded["producers"][0]["symbol"] == "shop.orders.refund"
            assert after["as_of"] > found["as_of"]
        finally:
            service.stop()
