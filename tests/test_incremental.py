"""Incremental indexing gives the same facts and links as indexing the same tree from scratch.

The property test edits a real temp tree step by step (create, modify, touch, rename, delete,
and package markers that change module names), re-indexes a persistent database after every
step, and compares it with a cold index of the same tree into a fresh database.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_same_as_cold, graph_facts, run_index
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from graphsvc.config import load_settings
from graphsvc.errors import DatabaseError
from graphsvc.link import Linker
from graphsvc.store import FACT_TABLES, Store
from graphsvc.update import index_tree, reconcile, refresh

# Every write gets its own mtime from a counter: two writes of the same size within one mtime
# tick are invisible by design (size + mtime decide whether a file is read at all).
BASE_NS = 1_600_000_000 * 10**9
TICK_NS = 10**9

DIRS = ("", "pkg", "pkg/sub")
PY_PATHS = tuple(
    f"{d}/{name}" if d else name for d in DIRS for name in ("__init__.py", "a.py", "b.py")
)
MARKERS = ("pkg/pyproject.toml", "pkg/sub/pyproject.toml")  # each makes its folder a root
MARKER_TEXT = "[project]\nname = 'sub'\nversion = '0'\n"

SNIPPETS: tuple[bytes, ...] = (
    b"def f():\n    return 1\n",
    b"def f():\n    return 2\n",  # same size as the one above, other bytes
    b"def g(:\n    pass\n\n\ndef h():\n    return f()\n",  # syntax error
    b"import os\nfrom . import a\nfrom .. import b\n\n\n"
    b"def use():\n    return os.path.join(a.f())\n",
    b"class Base:\n    pass\n\n\nclass C(Base):\n    attr = 1\n\n    def __init__(self):\n"
    b"        self.x = make()\n\n    def m(self):\n        return self.helper()\n\n"
    b"    def helper(self):\n        return C()\n",
    b"from pkg.a import f\nfrom pkg.sub.b import C\n\n\ndef run():\n    c = C()\n    c.m()\n"
    b"    return f(run, [f])\n",
    b"__all__ = ['f']\n\n\ndef f():\n    return [g for g in range(3)]\n",
    b"x = '\xff'\n\n\ndef after():\n    return len('x')\n",  # invalid UTF-8
    b"",
    b"from .a import *\nfrom .b import C as Base2\n__all__ = ['f', 'Base2']\n",  # re-exports
    b"from pkg.sub.b import C as Base2\nfrom pkg import f\n\n\nclass D(Base2):\n"
    b"    def m(self):\n        super().m()\n        return self.helper(f())\n",  # MRO
    b"from . import b\nfrom .b import f as g\nfrom .a import *\n\n\ndef k():\n"
    b"    b.f()\n    return g(f(), D())\n",
    b"from pkg.a import f\n\n\ndef apply(cb):\n    return cb()\n\n\ndef deco(g):\n"
    b"    return g\n\n\n@deco\ndef h():\n    return apply(f), [f][0]()\n",  # value flow
)


# ----------------------------------------------------------------------------- helpers


class Tree:
    """A real temp tree plus a clock that gives every write a new mtime."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = 0

    def stamp(self, rel: str) -> None:
        self.clock += 1
        t = BASE_NS + self.clock * TICK_NS
        os.utime(self.root / rel, ns=(t, t))

    def write(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.stamp(rel)

    def existing(self) -> list[str]:
        return [p for p in PY_PATHS if (self.root / p).is_file()]

    def apply(self, op: tuple[Any, ...]) -> str:
        """Carry out one operation; returns what it did (for the failure report)."""
        kind = op[0]
        if kind == "write":
            rel, snippet = PY_PATHS[op[1]], op[2]
            self.write(rel, SNIPPETS[snippet])
            return f"write {rel} <- snippet {snippet}"
        if kind == "marker":
            marker = self.root / MARKERS[op[1]]
            if marker.exists():
                marker.unlink()
                return f"delete {MARKERS[op[1]]}"
            self.write(MARKERS[op[1]], MARKER_TEXT.encode())
            return f"create {MARKERS[op[1]]}"
        files = self.existing()
        if not files:
            return f"{kind}: no file to act on"
        rel = files[op[1] % len(files)]
        if kind == "modify":
            self.write(rel, SNIPPETS[op[2]])
            return f"modify {rel} <- snippet {op[2]}"
        if kind == "touch":
            self.stamp(rel)
            return f"touch {rel}"
        if kind == "delete":
            (self.root / rel).unlink()
            return f"delete {rel}"
        assert kind == "rename"
        target = PY_PATHS[op[2]]
        if target == rel:
            return f"rename {rel} onto itself: nothing"
        (self.root / target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.root / rel, self.root / target)  # keeps the source's mtime
        return f"rename {rel} -> {target}"


_path = st.integers(0, len(PY_PATHS) - 1)
_pick = st.integers(0, 20)  # index into the files that exist at that step
_snippet = st.integers(0, len(SNIPPETS) - 1)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), _path, _snippet),
        st.tuples(st.just("modify"), _pick, _snippet),
        st.tuples(st.just("touch"), _pick),
        st.tuples(st.just("rename"), _pick, _path),
        st.tuples(st.just("delete"), _pick),
        st.tuples(st.just("marker"), st.integers(0, len(MARKERS) - 1)),
    ),
    min_size=1,
    max_size=8,
)
INITIAL = st.dictionaries(_path, _snippet, max_size=4)


# ----------------------------------------------------------------------------- property


@pytest.mark.timeout(360)  # 25 examples of up to 8 index runs each: a hang guard, not a budget
@hypothesis_settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(initial=INITIAL, operations=OPERATIONS)
def test_incremental_index_equals_cold_index(
    initial: dict[int, int], operations: list[tuple[Any, ...]]
) -> None:
    with tempfile.TemporaryDirectory(prefix="graphsvc-incr-") as tmp:
        base = Path(tmp)
        tree = Tree(base / "proj")  # "proj" is an identifier: a root __init__.py names it
        tree.root.mkdir()
        dbs = base / "dbs"
        for index, snippet in sorted(initial.items()):
            tree.write(PY_PATHS[index], SNIPPETS[snippet])
        settings = load_settings(tree.root, jobs=1)
        # One persistent store and linker (with its resident name index) across all steps,
        # as a watcher keeps them; the example tests below reopen the store for every run.
        linker = Linker()
        with Store.open(dbs / "incremental.duckdb") as store:
            index_tree(tree.root, store, settings, linker=linker)
            assert_same_as_cold(graph_facts(store), tree.root, dbs / "cold-0.duckdb")
            for step, op in enumerate(operations, start=1):
                note(f"step {step}: {tree.apply(op)}")
                summary = index_tree(tree.root, store, settings, linker=linker)
                assert summary.failed == 0
                assert_same_as_cold(graph_facts(store), tree.root, dbs / f"cold-{step}.duckdb")


# ----------------------------------------------------------------------------- examples


def test_touch_without_new_bytes_updates_stat_only(tmp_path: Path) -> None:
    tree = Tree(tmp_path / "proj")
    tree.root.mkdir()
    tree.write("a.py", SNIPPETS[0])
    tree.write("b.py", SNIPPETS[4])
    db = tmp_path / "graph.duckdb"
    first, facts_before = run_index(tree.root, db)
    assert first.parsed == 2
    with Store.open(db, read_only=True) as store:
        before = store.query("SELECT file_id, mtime_ns, indexed_at FROM files WHERE path = 'a.py'")
    file_id, old_mtime, indexed_at = before.rows[0]

    tree.stamp("a.py")  # same bytes, new mtime
    new_mtime = (tree.root / "a.py").stat().st_mtime_ns
    assert new_mtime != old_mtime
    second, facts_after = run_index(tree.root, db)

    assert (second.touched, second.parsed, second.unchanged) == (1, 0, 1)
    with Store.open(db, read_only=True) as store:
        after = store.query("SELECT file_id, mtime_ns, indexed_at FROM files WHERE path = 'a.py'")
    assert after.rows == [(file_id, new_mtime, indexed_at)]  # not re-extracted: same indexed_at
    assert facts_after["files"] != facts_before["files"]
    for table, _, _ in FACT_TABLES:
        assert facts_after[table] == facts_before[table]
    assert_same_as_cold(facts_after, tree.root, tmp_path / "cold.duckdb")

    third, facts_third = run_index(tree.root, db)  # stored stat matches now: nothing is read
    assert (third.touched, third.parsed, third.unchanged) == (0, 0, 2)
    assert facts_third == facts_after


def test_skipped_row_follows_module_rename(tmp_path: Path) -> None:
    # A file the walk skips (here a broken symlink) still has a module name in `files`.
    # When a new package root renames modules, its row must be renamed like a cold index does.
    tree = Tree(tmp_path / "proj")
    tree.root.mkdir()
    tree.write("pkg/a.py", SNIPPETS[0])
    os.symlink("nowhere/missing.py", tree.root / "pkg" / "gone.py")
    db = tmp_path / "graph.duckdb"
    _, warm = run_index(tree.root, db)
    assert_same_as_cold(warm, tree.root, tmp_path / "cold-0.duckdb")
    assert ("pkg/gone.py", "pkg.gone") in [row[:2] for row in warm["files"]]

    tree.write("pkg/pyproject.toml", MARKER_TEXT.encode())  # pkg.a -> a, pkg.gone -> gone
    _, warm = run_index(tree.root, db)

    assert_same_as_cold(warm, tree.root, tmp_path / "cold-1.duckdb")


def test_lowering_max_file_bytes_matches_cold_index(tmp_path: Path) -> None:
    tree = Tree(tmp_path / "proj")
    tree.root.mkdir()
    tree.write("a.py", SNIPPETS[4])
    tree.write("tiny.py", b"x = 1\n")
    db = tmp_path / "graph.duckdb"
    run_index(tree.root, db)

    _, warm = run_index(tree.root, db, max_file_bytes=40)  # a.py is over the limit now

    assert_same_as_cold(warm, tree.root, tmp_path / "cold.duckdb", max_file_bytes=40)


def test_a_failed_watcher_batch_leaves_no_part_of_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watcher's batch is one transaction: when its last step fails, its facts, links and
    channel sites are rolled back with it, and the next batch still reaches the cold state."""
    tree = tmp_path / "proj"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("")
    (tree / "pkg" / "a.py").write_text("def f():\n    return 1\n")
    (tree / "pkg" / "b.py").write_text("from pkg.a import f\n\n\ndef use():\n    return f()\n")
    settings = load_settings(tree, jobs=1)
    linker = Linker()
    with Store.open(tmp_path / "graph.duckdb") as store:
        _, layout = reconcile(tree, store, settings, linker=linker)
        before = graph_facts(store)
        batches = store.query("SELECT count(*) FROM batches").rows

        (tree / "pkg" / "a.py").write_text("def g():\n    return 2\n")

        def fail(*_: object) -> int:
            raise DatabaseError(str(store.path), "disk full (injected)")

        with monkeypatch.context() as patch:
            patch.setattr(Store, "record_batch", fail)
            with pytest.raises(DatabaseError, match="injected"):
                refresh(tree, store, settings, layout, ["pkg/a.py"], linker=linker)
        assert graph_facts(store) == before  # not the new symbols, nor b.py's broken link
        assert store.query("SELECT count(*) FROM batches").rows == batches

        summary = refresh(tree, store, settings, layout, ["pkg/a.py"], linker=linker)
        assert summary.parsed == 1
        after = graph_facts(store)
    assert after != before
    assert_same_as_cold(after, tree, tmp_path / "cold.duckdb")
