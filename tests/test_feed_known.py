"""The findings' diff with ``known`` findings: the very object last written is unchanged
without comparing contents; any other object is compared as before; and a Refresher keeps
what it knows across a source's write (real tree, real DuckDB file)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from conftest import make_finding

from graphsvc.config import load_settings
from graphsvc.findings import Refresher
from graphsvc.findings.feed import diff
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree


def test_the_known_object_is_skipped_and_any_other_compared() -> None:
    same, moved, reopened = make_finding("same"), make_finding("moved"), make_finding("reopened")
    stored = {
        "same": same,
        "moved": moved,
        "reopened": dataclasses.replace(reopened, status="fixed"),
    }
    known = {"same": same, "moved": moved, "reopened": reopened}
    # "moved" comes back as another object with other metadata (a silent update): compared
    moved_now = dataclasses.replace(moved, metadata={"n": 2})
    found = {"same": same, "moved": moved_now, "reopened": reopened}
    rows, events, written = diff(stored, found, set(), 10, 3, known)
    assert [w.id for w in written] == ["moved", "reopened"]
    assert [(e["finding_id"], e["event"]) for e in events] == [("reopened", "reopened")]
    assert len(rows) == 2
    # without ``known`` the same objects compare equal by content: the same answer
    plain = diff(stored, found, set(), 10, 3)
    assert [w.id for w in plain[2]] == ["moved", "reopened"]
    assert [(e["finding_id"], e["event"]) for e in plain[1]] == [("reopened", "reopened")]


def test_a_source_write_keeps_the_queries_known(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg/__init__.py").write_text("")
    (tree / "pkg/a.py").write_text("from pkg.b import helper\n")
    (tree / "pkg/b.py").write_text("")
    with Store.open(tmp_path / "g.duckdb") as store:
        summary = index_tree(tree, store, load_settings(tree, jobs=1))
        refresher = Refresher(load_queries(), tree)
        refresher.run(store, summary.batch_id)
        queries = {fid for fid, f in refresher._known.items() if f.query == "missing_wiring"}
        assert queries == {"missing_wiring_helper_pkg.b"}
        source = dataclasses.replace(make_finding("dependency_x"), query="dependencies")
        result = refresher.run_source(store, "dependencies", [source])
        assert result.events == {"new": 1}
        assert set(refresher._known) >= queries | {"dependency_x"}
        # the next refresh finds the same objects: nothing to write
        again = refresher.run(store, summary.batch_id)
        assert again.rewritten == 0 and again.events == {}
        assert "dependency_x" in refresher._known  # a source's finding stays known too


def test_the_feed_continues_from_the_refreshers_last_write_and_from_the_table(
    tmp_path: Path,
) -> None:
    # a resident Refresher takes the feed's position from its last write (not a statement);
    # its events, a source's and a fresh Refresher's continue the table's seq without a gap
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg/__init__.py").write_text("")
    (tree / "pkg/a.py").write_text("from pkg.b import helper\n")
    (tree / "pkg/b.py").write_text("")
    settings = load_settings(tree, jobs=1)

    def table_seq(store: Store) -> int:
        return int(store.con.execute("SELECT max(seq) FROM finding_events").fetchall()[0][0])

    with Store.open(tmp_path / "g.duckdb") as store:
        refresher = Refresher(load_queries(), tree)
        seqs = []
        for text in ("from pkg.b import helper, other\n", "", "from pkg.b import gone\n"):
            summary = index_tree(tree, store, settings)
            result = refresher.run(store, summary.batch_id, summary)
            assert result.events and result.last_seq == table_seq(store)
            seqs.append(result.last_seq)
            source = dataclasses.replace(make_finding(f"dep_{len(seqs)}"), query="dependencies")
            found = [source] if len(seqs) % 2 else []
            refresher.run_source(store, "dependencies", found)
            assert refresher.last_seq == table_seq(store)
            (tree / "pkg/a.py").write_text(text)
        events = store.con.execute("SELECT seq FROM finding_events ORDER BY seq").fetchall()
        assert [s for (s,) in events] == list(range(1, len(events) + 1))
        fresh = Refresher(load_queries(), tree)
        summary = index_tree(tree, store, settings)
        before = table_seq(store)
        (tree / "pkg/a.py").write_text("from pkg.b import helper\n")
        summary = index_tree(tree, store, settings)
        result = fresh.run(store, summary.batch_id, summary)
        assert result.events and result.last_seq == table_seq(store) > before
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
