"""Dead code: entry points as data, reachability over the resolved graph, confidence from the
uses the linker could not resolve, on the hand-written fixture tree tests/fixtures/deadcode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from graphsvc.config import load_settings
from graphsvc.entrypoints import load_entry_rules, load_file, project_entries
from graphsvc.errors import RuleError
from graphsvc.extract.context import run_query
from graphsvc.extract.mentions import extract_mentions
from graphsvc.findings import Refresher, events_since, list_findings
from graphsvc.parsing import parse
from graphsvc.queries import load_queries, run_rows
from graphsvc.store import Store
from graphsvc.update import index_tree, reconcile, refresh
from tests.conftest import WriteTree

FIXTURE = Path(__file__).parent / "fixtures" / "deadcode"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
CATALOG = load_queries()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(FIXTURE / "tree", copy)
    return copy


def _rows(tree: Path, **params: object) -> dict[str, dict[str, Any]]:
    db = tree.parent / "graph.duckdb"
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        rows = run_rows(store, CATALOG.get("dead_code"), params)
    return {r["qualname"]: r for r in rows}


def test_fixture_reports_exactly_the_expected_findings(tree: Path) -> None:
    rows = _rows(tree)
    assert {q: r["confidence"] for q, r in rows.items()} == EXPECTED["reported"]
    assert rows["shop.orders._audit_helper"]["reasons"] == [
        "used only by unreachable code: shop.orders._never_called_either"
    ]
    assert rows["shop.orders.Discount"]["reasons"] == [
        "nothing uses it: no call, reference, import, attribute or string names it"
    ]
    assert rows["shop.unused_module"]["reasons"][0].startswith("never imported by the tree")
    assert {r["mode"] for r in rows.values()} == {"application"}  # [tool.graphsvc] says so


def test_uncertain_uses_lower_the_confidence_instead_of_hiding(tree: Path) -> None:
    rows = _rows(tree, min_confidence=0.0)
    for qualname, (confidence, reason) in EXPECTED["below_threshold"].items():
        assert rows[qualname]["confidence"] == confidence, qualname
        assert reason in rows[qualname]["reasons"][0], qualname
    assert not set(EXPECTED["never"]) & set(rows)
    # members of a dead class or module are reported through it, not one by one
    assert "shop.orders.Discount.apply" not in rows
    assert "shop.unused_module.forgotten" not in rows


def test_findings_follow_the_contract(tree: Path) -> None:
    db = tree.parent / "graph.duckdb"
    with Store.open(db) as store:
        summary = index_tree(tree, store, load_settings(tree, jobs=1))
        Refresher(CATALOG, tree).run(store, summary.batch_id, summary)
        found = {f.id: f for f in list_findings(store, kind="dead_code", limit=1000).findings}
    assert set(found) == {f"dead_code_{q}" for q in EXPECTED["reported"]}
    f = found["dead_code_shop.orders.Order.archive"]
    assert f.hypothesis == "DEAD_CODE_SHOP_ORDERS_ORDER_ARCHIVE"
    assert f.confidence == 1.0 and f.action_class == "propose_fix"
    assert "path: shop/orders.py" in f.evidence and "kind: method" in f.evidence
    assert f.locations[0].path == "shop/orders.py"
    assert found["dead_code_shop.unused_module"].action_class == "investigate"


def test_registries_nothing_reads(tree: Path) -> None:
    db = tree.parent / "graph.duckdb"
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        rows = run_rows(store, CATALOG.get("registered_never_invoked"))
    assert {r["registry"]: r["handlers"] for r in rows} == EXPECTED["registered_never_invoked"]
    assert rows[0]["locations"][1] == {
        "path": "shop/plugins/audit.py",
        "line": 8,
        "symbol": "shop.plugins.audit.export_csv",
    }
    # a read makes it an ordinary registry: the fixed finding leaves the feed
    plugins = tree / "shop" / "plugins" / "__init__.py"
    with plugins.open("a", encoding="utf-8") as f:
        f.write("\n\ndef handler(name):\n    return REGISTRY[name]\n")
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        assert run_rows(store, CATALOG.get("registered_never_invoked")) == []


def test_library_mode_keeps_the_public_api(tree: Path) -> None:
    rows = _rows(tree, mode="library")
    assert "shop.orders.Discount" not in rows  # public: a user of the library may call it
    assert "shop.orders.dispatch" not in rows
    assert "shop.cli._old_format_total" in rows  # private names stay findings
    assert rows["shop.cli._old_format_total"]["mode"] == "library"


def test_an_edit_that_uses_a_function_fixes_its_finding(tree: Path) -> None:
    db = tree.parent / "graph.duckdb"
    settings = load_settings(tree, jobs=1)
    refresher = Refresher(CATALOG, tree)
    with Store.open(db) as store:
        summary = index_tree(tree, store, settings)
        refresher.run(store, summary.batch_id, summary)
        cli = tree / "shop" / "cli.py"
        cli.write_text(
            cli.read_text(encoding="utf-8").replace(
                "    _format_total(3)\n", "    _format_total(3)\n    _old_format_total(4)\n"
            ),
            encoding="utf-8",
        )
        summary = index_tree(tree, store, settings)
        refresher.run(store, summary.batch_id, summary)
        events = [(e.finding_id, e.event) for e in events_since(store, 0, 1000)]
    assert ("dead_code_shop.cli._old_format_total", "new") in events
    assert ("dead_code_shop.cli._old_format_total", "fixed") in events
    assert ("dead_code_shop.orders.Discount", "fixed") not in events


def test_user_rules_add_entry_points(tree: Path) -> None:
    rules = tree / "entry.toml"
    rules.write_text(
        '[[name]]\nframework = "ours"\nmatch = ["dispatch"]\nkinds = ["function"]\n',
        encoding="utf-8",
    )
    with (tree / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write('entrypoint_rules = ["entry.toml"]\n')
    rows = _rows(tree)
    assert "shop.orders.dispatch" not in rows
    assert "shop.orders.Discount" in rows


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[route]]\nmatch = ['x']\n", "unknown table 'route'"),
        ("[[decorator]]\nframework = 'x'\n", "match: required"),
        ("[[decorator]]\nmatch = ['x']\nentry = true\n", "unknown key 'entry'"),
        ("[[name]]\nmatch = ['x']\nkinds = ['lambda']\n", "unknown kind 'lambda'"),
        ("[[base]]\nmatch = ['x']\nentry = 'yes'\n", "entry: must be true or false"),
        ("[[base]\n", "not valid TOML"),
    ],
)
def test_malformed_rule_files_say_where_and_why(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError, match=reason) as caught:
        load_entry_rules([path])
    assert caught.value.path == str(path)


def test_malformed_user_rules_stop_index(tree: Path) -> None:
    (tree / "entry.toml").write_text("[[name]]\nmatch = 3\n", encoding="utf-8")
    with (tree / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write('entrypoint_rules = ["entry.toml"]\n')
    with Store.open(tree.parent / "graph.duckdb") as store, pytest.raises(RuleError, match="match"):
        index_tree(tree, store, load_settings(tree, jobs=1))


def test_shipped_rules_load() -> None:
    rules = load_entry_rules().rules
    assert {r.kind for r in rules} == {"decorator", "transparent", "base", "name", "constructor"}
    for path in (Path(__file__).parent.parent / "graphsvc" / "entrypoints").glob("*.toml"):
        assert load_file(path)[0]


def test_packaging_entry_points(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[project.scripts]\nx = "pkg.cli:main"\n'
        '[project.entry-points."pytest11"]\nplug = "pkg.plugin"\n',
        encoding="utf-8",
    )
    (tmp_path / "setup.cfg").write_text(
        "[options.entry_points]\nconsole_scripts =\n    y = pkg.other:run\n", encoding="utf-8"
    )
    (tmp_path / "setup.py").write_text(
        "setup(entry_points={'console_scripts': ['z = pkg.third:go [extra]']})\n",
        encoding="utf-8",
    )
    found = project_entries(tmp_path)
    assert found.distribution
    assert {t for t, _ in found.targets} == {
        "pkg.cli.main",
        "pkg.plugin",
        "pkg.other.run",
        "pkg.third.go",
    }
    (tmp_path / "pyproject.toml").write_text("[project\n", encoding="utf-8")  # broken: skipped
    assert {t for t, _ in project_entries(tmp_path).targets} == {"pkg.other.run", "pkg.third.go"}


def test_mentions_count_uses_not_definitions() -> None:
    source = b"""import os
from pkg import helper as h

def f(a):
    x = a.attr
    os.path.join(x)
    h(key=1)
    getattr(a, "name_in_string")
    getattr(a, "visit_" + a.kind)
    return f"do_{x}"

class C:
    pass

VALUE = 1
"""
    found = {(m.name, m.kind): m.count for m in extract_mentions(parse(source).root_node)}
    assert found[("attr", "attribute")] == 1
    assert found[("path", "attribute")] == 1 and found[("join", "attribute")] == 1
    assert found[("name_in_string", "string")] == 1
    assert found[("visit_", "prefix")] == 1 and found[("do_", "prefix")] == 1
    assert found[("h", "name")] == 1
    assert found[("x", "name")] == 2  # read twice; the assignment target is not a mention
    for absent in (("f", "name"), ("C", "name"), ("VALUE", "name"), ("key", "name")):
        assert absent not in found, absent
    assert ("helper", "name") not in found  # imported names are import links, not mentions


def test_mentions_count_what_is_put_into_a_collection() -> None:
    source = b"""R = {}
L = []
R["a"] = 1
L.append(2)
x = R.get("a")
L.sort()
"""
    found = {(m.name, m.kind): m.count for m in extract_mentions(parse(source).root_node)}
    assert found[("R", "store")] == 1 and found[("R", "name")] == 2
    assert found[("L", "store")] == 1 and found[("L", "name")] == 2


def test_a_configuration_file_naming_code_makes_it_reachable(write_tree: WriteTree) -> None:
    """A job scheduler's YAML names a handler: not dead while the config names it, dead once
    the config stops naming it (the module itself is a script: reachable either way)."""
    tree = write_tree(
        {
            "jobs/__init__.py": "",
            "jobs/nightly.py": (
                "def run():\n    return 1\n\n\ndef unused():\n    return 2\n\n\n"
                "if __name__ == '__main__':\n    print('use the scheduler')\n"
            ),
            "deploy/schedule.yaml": "nightly:\n  handler: jobs.nightly:run\n  cron: '0 3 * * *'\n",
        }
    )
    rows = _rows(tree, mode="application")
    assert "jobs.nightly.run" not in rows and "jobs.nightly.unused" in rows
    (tree / "deploy/schedule.yaml").write_text("nightly:\n  cron: '0 3 * * *'\n", "utf-8")
    assert "jobs.nightly.run" in _rows(tree, mode="application")


def test_mentions_classify_by_parent_and_field() -> None:
    source = b'''"""Module docstring names nothing."""
import pkg.sub as alias_name
from pkg import (thing as other)

class K:
    def m(self):
        """run"""
        self.slot = 1
        a.b.c = 2
        match value:
            case Color.RED:
                pass

async def g(q):
    await q.append(1)
    q.append(2)
    "bare" + suffix
    return "plain_name"
'''
    root = parse(source).root_node
    found = {(m.name, m.kind): m.count for m in extract_mentions(root)}
    for absent in (
        ("slot", "attribute"),  # a store, not a read
        ("c", "attribute"),
        ("alias_name", "name"),  # import aliases are import links
        ("other", "name"),
        ("run", "string"),  # a docstring
        ("thing", "name"),
        ("sub", "name"),
    ):
        assert absent not in found, absent
    assert found[("b", "attribute")] == 1  # a.b is read to store into .c
    assert found[("Color", "name")] == 1 and found[("RED", "name")] == 1  # not an import
    assert found[("q", "store")] == 1  # `q.append(2)` as a statement; the awaited one is not
    assert found[("q", "name")] == 3  # the parameter counts too (as it always has)
    assert found[("bare", "prefix")] == 1 and found[("plain_name", "string")] == 1
    # the same counts from the extraction query's captures, which include the mention patterns
    assert extract_mentions(root, run_query(root)) == extract_mentions(root)


def test_watched_batches_keep_the_entry_rules_current(tree: Path) -> None:
    """The watcher's one-path batches rebuild ``entry_rules`` when a test file comes or goes or
    a packaging target changes, and leave them (and their precheck) alone on a code edit."""
    db = tree.parent / "graph.duckdb"
    settings = load_settings(tree, jobs=1)

    def entries(store: Store, kind: str) -> set[str]:
        rows = store.query("SELECT pattern FROM entry_rules WHERE kind = $k", {"k": kind}).rows
        return {str(r[0]) for r in rows}

    with Store.open(db) as store:
        _, layout = reconcile(tree, store, settings)
        assert entries(store, "test_file") == {"tests/test_orders.py"}
        precheck = store.entry_state("precheck")
        assert precheck is not None

        orders = tree / "shop" / "orders.py"
        orders.write_text(orders.read_text("utf-8") + "\n\ndef added():\n    return 1\n", "utf-8")
        refresh(tree, store, settings, layout, ["shop/orders.py"])
        assert store.entry_state("precheck") == precheck

        # a configuration file that names code is an entry point from its first batch on
        configured = entries(store, "config")
        (tree / "jobs.yaml").write_text("nightly:\n  handler: shop.orders:added\n", "utf-8")
        refresh(tree, store, settings, layout, ["jobs.yaml"])
        assert entries(store, "config") == configured | {"shop.orders.added"}
        (tree / "jobs.yaml").unlink()
        refresh(tree, store, settings, layout, ["jobs.yaml"])
        assert entries(store, "config") == configured

        (tree / "tests" / "test_more.py").write_text("def test_x():\n    pass\n", "utf-8")
        refresh(tree, store, settings, layout, ["tests/test_more.py"])
        assert entries(store, "test_file") == {"tests/test_orders.py", "tests/test_more.py"}

        pyproject = tree / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text("utf-8").replace(
                'shop = "shop.cli:main"', 'shop = "shop.cli:main"\nold = "shop.orders:added"'
            ),
            "utf-8",
        )
        refresh(tree, store, settings, layout, ["pyproject.toml"])
        assert entries(store, "script") == {"shop.cli.main", "shop.orders.added"}
        assert "shop.orders.added" not in {r["qualname"] for r in dead(store)}

        (tree / "tests" / "test_more.py").unlink()
        refresh(tree, store, settings, layout, ["tests/test_more.py"])
        assert entries(store, "test_file") == {"tests/test_orders.py"}
        stored = store.query("SELECT * FROM entry_rules ORDER BY ALL").rows
    # what the watched batches left equals a cold index of the same tree
    with Store.open(tree.parent / "cold.duckdb") as cold:
        index_tree(tree, cold, settings)
        assert cold.query("SELECT * FROM entry_rules ORDER BY ALL").rows == stored


def dead(store: Store) -> list[dict[str, Any]]:
    return run_rows(store, CATALOG.get("dead_code"), {"mode": "application"})
