"""deadparts.batch_parts gives the rows of deadsql.PARTS_SQL (its specification) for every
batch: each file alone, files together, in both analysis modes, on the dead-code fixture tree
with what the rows' joins and NULLs are made of (decorators with and without rules, user rules
whose patterns DuckDB's GLOB has to evaluate, bases through aliases, a class defined twice, a
``__main__`` block, test files, ``__all__``)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphsvc.config import load_settings
from graphsvc.findings import deadfacts, deadsql
from graphsvc.findings.deadcode import DeadCode
from graphsvc.findings.deadhier import Hierarchy
from graphsvc.findings.deadparts import batch_parts
from graphsvc.findings.deadrules import Rules, glob_matcher
from graphsvc.link import Linker
from graphsvc.store import Store
from graphsvc.update import index_tree

FIXTURE = Path(__file__).parent / "fixtures" / "deadcode" / "tree"

TRICKY = '''\
"""Odd shapes for the parts."""
import collections.abc as cabc
import json
import typing
from shop import orders as o
from shop.orders import Order as Ord, missing_name
from . import models

__all__ = ["Registry", "run_job"]


class Registry(Ord, cabc.Mapping, typing.Generic[int], metaclass=type):
    def __getitem__(self, key):
        return key

    @property
    def size(self):
        return 0

    class Inner(o.Order):
        LIMIT = run_job("inner")

        def _hidden(self):
            return lambda: 1

        class Deeper:
            DEPTH = run_job("deeper")

            def go(self):
                return self


if typing.TYPE_CHECKING:
    class Twice:
        pass
else:
    class Twice(models.Base if hasattr(models, "Base") else object):
        pass


class Codec(json.JSONEncoder, json.JSONDecoder):  # two outside bases: the least is kept
    pass


def run_job(name):
    return getattr(o, "archive_" + name)


def on_event(fn):
    return fn


@on_event
def handler():
    return globals()


@unknown.decorator
@on_event
def handled():
    return vars()


JOB = Ord()
REGISTRY = collections_registry = dict(a=handler, b="shop.orders:Order")


def test_local_scope():
    def inner():
        return 1
    return inner


if __name__ == "__main__":
    run_job("x")
'''

RULES = """\
[[decorator]]
framework = "ours"
match = ["shop.tricky.on_[e]vent", "*.decorator"]

[[name]]
framework = "ours"
match = ["run_?ob", "hand[a-z]*"]
kinds = ["function"]
paths = ["shop/[t]ricky.py", "*.py"]

[[base]]
framework = "ours"
match = ["shop.orders.Ord[e]r", "collections.abc.*"]
entry = true
members = ["__getitem__", "_h[i]dden", "si*"]

[[constructor]]
framework = "ours"
match = ["shop.orders.Ord\\\\er.__init__", "builtins.*"]
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parts")
    tree = root / "tree"
    shutil.copytree(FIXTURE, tree)
    (tree / "shop" / "tricky.py").write_text(TRICKY, encoding="utf-8")
    (tree / "shop" / "__main__.py").write_text("from shop.tricky import run_job\n", "utf-8")
    (tree / "tests").mkdir(exist_ok=True)
    (tree / "tests" / "test_tricky.py").write_text(TRICKY.replace("shop.tricky", "x"), "utf-8")
    (tree / "rules.toml").write_text(RULES, encoding="utf-8")
    with (tree / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write('entrypoint_rules = ["rules.toml"]\n')  # [tool.graphsvc] is its last table
    path = root / "graph.duckdb"
    with Store.open(path) as store:
        index_tree(tree, store, load_settings(tree, jobs=1), linker=Linker())
    return path


def _compare(con: duckdb.DuckDBPyConnection, files: list[int], library: bool) -> int:
    rules = Rules.read(con)
    want = Counter(
        tuple(r)
        for r in con.execute(deadsql.PARTS_SQL, {"files": files, "library": library}).fetchall()
    )
    got = Counter(batch_parts(con, files, rules, library))
    assert got == want, (files, library, want - got, got - want)
    return sum(want.values())


@pytest.mark.parametrize("library", [False, True])
def test_each_file_alone_and_all_together(db: Path, library: bool) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        files = [r[0] for r in con.execute("SELECT file_id FROM files ORDER BY 1").fetchall()]
        rows = sum(_compare(con, [f], library) for f in files)
        assert rows > 300
        _compare(con, files, library)
        _compare(con, files[::2], library)
        _compare(con, [-1], library)  # a file that is gone
        # what the tricky file is made of reached the rows
        parts = {r[0] for r in batch_parts(con, files, Rules.read(con), library)}
        assert {"e", "s", "x", "i", "d", "D", "l", "c", "b", "m", "q", "k", "h"} <= parts
        assert {"F", "A", "N", "S", "G", "C", "R"} <= parts
        # a rule pattern with a character class or an escape is left to DuckDB, and seeds
        names = ("shop.tricky.handler", "shop.tricky.handled", "shop.tricky.JOB")
        ids = [con.execute("SELECT hash($q)", {"q": q}).fetchall()[0][0] for q in names]
        seeds = {r[3] for r in batch_parts(con, files, Rules.read(con), library) if r[0] == "s"}
        assert set(ids) <= seeds
        assert None in Rules.read(con).matchers.values()
    finally:
        con.close()


@pytest.mark.parametrize("source", ["whole", "batches"])
def test_the_class_hierarchy_part_equals_the_global_statement(db: Path, source: str) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rules = Rules.read(con)
        files = [r[0] for r in con.execute("SELECT file_id FROM files ORDER BY 1").fetchall()]
        if source == "whole":
            rows = con.execute(deadsql.PARTS_ALL_SQL, {"files": None, "library": False})
            parts = rows.fetchall()
        else:
            parts = [r for f in files for r in batch_parts(con, [f], rules, False)]
        hierarchy = Hierarchy()
        for f in files:
            hierarchy.set(f, [r for r in parts if r[1] == f])
        edges, seeds, outside = hierarchy.compute(con, rules)
        want = con.execute(deadfacts.GLOBAL_SQL).fetchall()
        assert edges == {(a, b) for part, a, b, _, _ in want if part == "e"}
        assert seeds == {b for part, _, b, _, _ in want if part == "s"}
        assert outside == {c: base for part, _, _, c, base in want if part == "o"}
        # the user's base rule (a character class, left to DuckDB) made seeds and edges, and
        # overrides of the tree's classes made edges
        assert len(seeds) >= 2 and len(edges) >= 4 and outside
        hierarchy.drop(files[0])
        assert files[0] not in hierarchy.files
    finally:
        con.close()


ALPHABET = st.sampled_from(list("ab.*?_/é\n9"))


@settings(max_examples=300, deadline=None)
@given(value=st.text(ALPHABET, max_size=8), pattern=st.text(ALPHABET, max_size=6))
def test_translated_globs_match_duckdbs(value: str, pattern: str) -> None:
    matcher = glob_matcher(pattern)
    assert matcher is not None
    want = duckdb.execute("SELECT $v GLOB $g", {"v": value, "g": pattern}).fetchall()[0][0]
    assert (matcher.fullmatch(value) is not None) == want


def test_character_classes_and_escapes_are_left_to_duckdb() -> None:
    assert glob_matcher("a[bc]") is None
    assert glob_matcher("a\\*") is None
    assert glob_matcher("a.*") is not None


def test_the_graphs_link_targets_hold_the_targets_statements(db: Path, tmp_path: Path) -> None:
    """Graph.link_targets, which replaces deadfacts.TARGETS_SQL where it can answer, holds
    every reportable target the statement gives for a scope (classes' bodies included, whose
    links leave their edges from where the body runs)."""
    copy = tmp_path / "graph.duckdb"
    shutil.copy(db, copy)
    engine = DeadCode(min_files=0)
    with Store.open(copy) as store:
        engine.rows(store, 0.0)
        graph = engine.graph
        con = store.con
        scopes = [r[0] for r in con.execute("SELECT DISTINCT scope FROM links").fetchall()]
        answered = classes = 0
        for scope in scopes:
            found = graph.link_targets([scope])
            if found is None:
                continue
            answered += 1
            classes += any(r[4] == "class" for r in graph.definitions(scope))
            want = con.execute(deadfacts.TARGETS_SQL, {"scopes": [scope]}).fetchall()
            reportable = {t for (t,) in want if graph.definitions(t)}
            assert reportable <= found, (scope, reportable - found)
        # most scopes are answered, nested classes' bodies among them
        assert answered > len(scopes) // 2 and classes >= 3
        assert graph.link_targets(["shop.nowhere.defined"]) is None
