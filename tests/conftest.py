"""Shared fixtures: a temp tree writer and the --update-goldens switch."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from graphsvc.config import load_settings
from graphsvc.docstore import DOC_TABLES
from graphsvc.findings.model import Finding, Location
from graphsvc.store import CHANNEL_TABLES, DERIVED_TABLES, FACT_TABLES, Store
from graphsvc.update import IndexSummary, index_tree

# Fixture trees are source to index, not tests to run (the channel fixtures hold test files).
collect_ignore_glob = ["fixtures/*"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/goldens/* from the current output (review the diff!)",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


WriteTree = Callable[[dict[str, str | bytes]], Path]


@pytest.fixture
def write_tree(tmp_path: Path) -> WriteTree:
    """Write ``{relative path: content}`` under ``tmp_path/tree`` and return the tree."""
    root = tmp_path / "tree"
    root.mkdir(exist_ok=True)

    def write(files: dict[str, str | bytes]) -> Path:
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return root

    return write


# ----------------------------------------------------------------- graph comparisons

Facts = dict[str, list[tuple[Any, ...]]]


def run_index(tree: Path, db: Path, **overrides: Any) -> tuple[IndexSummary, Facts]:
    """One index run into ``db``; returns its summary and the database's facts afterwards."""
    settings = load_settings(tree, jobs=1, **overrides)
    with Store.open(db) as store:
        summary = index_tree(tree, store, settings)
        return summary, graph_facts(store)


def graph_facts(store: Store) -> Facts:
    """Every fact and link of the database keyed by file path instead of file_id, in a fixed
    order (what must be equal between an incremental and a cold index)."""
    facts = {
        "files": store.query("SELECT * EXCLUDE (file_id, indexed_at) FROM files ORDER BY ALL").rows
    }
    for table in (*(t for t, _, _ in FACT_TABLES), *DERIVED_TABLES, *CHANNEL_TABLES):
        facts[table] = store.query(
            f'SELECT f.path, t.* EXCLUDE (file_id) FROM "{table}" t'
            " JOIN files f ON f.file_id = t.file_id ORDER BY ALL"
        ).rows
    facts["doc_files"] = store.query(
        "SELECT * EXCLUDE (doc_id, indexed_at) FROM doc_files ORDER BY ALL"
    ).rows
    for table in DOC_TABLES:
        facts[table] = store.query(
            f'SELECT d.path, t.* EXCLUDE (doc_id) FROM "{table}" t'
            " JOIN doc_files d ON d.doc_id = t.doc_id ORDER BY ALL"
        ).rows
    return {table: [_hashable(r) for r in found] for table, found in facts.items()}


def _hashable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


def assert_same_as_cold(warm: Facts, tree: Path, cold_db: Path, **overrides: Any) -> None:
    """``warm`` (an incremental index's facts) equals a cold index of ``tree`` into ``cold_db``."""
    assert not cold_db.exists()
    _, cold = run_index(tree, cold_db, **overrides)
    assert warm.keys() == cold.keys()
    for table in cold:
        assert warm[table] == cold[table], f"{table}: incremental != cold index"


def make_finding(
    fid: str, kind: str = "dead_code", location: Location | None = None, evidence: str = "e"
) -> Finding:
    """A finding of query ``test`` with plain values, for tests of what handles findings."""
    return Finding(
        id=fid,
        kind=kind,
        query="test",
        hypothesis="h",
        question="q?",
        evidence=(evidence,),
        evidence_hash=evidence,
        locations=(location or Location("a.py", 1, "a.f"),),
        severity="low",
        confidence=0.5,
        action_class="investigate",
        autonomy=0,
        value_estimate=0.1,
        cost=0.1,
        capability_key="k",
        metadata={"n": 1},
    )


class StampedTree:
    """Files written under ``root`` with increasing mtimes (a second apart from a fixed
    start), so that every write is seen as a change however fast the tests run."""

    BASE_NS = 1_700_000_000 * 10**9

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tick = 0

    def write(self, rel: str, text: str, append: bool = False) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if append else "w", encoding="utf-8") as out:
            out.write(text)
        self.stamp(rel)

    def stamp(self, rel: str) -> None:
        self.tick += 1
        ns = self.BASE_NS + self.tick * 10**9
        os.utime(self.root / rel, ns=(ns, ns))
