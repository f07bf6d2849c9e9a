"""Findings: the shipped finding queries on fixture trees, the refresh's diff and feed,
suppression, and incremental refreshes equal to a cold index."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from graphsvc.config import load_settings
from graphsvc.findings import (
    Finding,
    Refresher,
    all_findings,
    events_since,
    evidence_hash,
    get_finding,
    list_findings,
)
from graphsvc.findings.refresh import MAX_STOPS, RefreshResult
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree
from tests.conftest import WriteTree

CATALOG = load_queries()


class Graph:
    """A tree, its database and one Refresher kept across updates (as the service keeps it)."""

    def __init__(self, tree: Path, db: Path, **overrides: Any) -> None:
        self.tree = tree
        self.db = db
        self.settings = load_settings(tree, jobs=1, **overrides)
        self.refresher = Refresher(CATALOG, tree, self.settings.suppress)

    def update(self) -> dict[str, Finding]:
        with Store.open(self.db) as store:
            summary = index_tree(self.tree, store, self.settings)
            self.last = self.refresher.run(store, summary.batch_id, summary)
            return {f.id: f for f in list_findings(store, limit=10_000).findings}

    def events(self) -> list[tuple[str, str, str]]:
        with Store.open(self.db, read_only=True) as store:
            return [(e.finding_id, e.event, e.status) for e in events_since(store, 0, 10_000)]


def _open(found: dict[str, Finding], kind: str | None = None) -> dict[str, Finding]:
    return {
        i: f for i, f in found.items() if f.status == "open" and (kind is None or f.kind == kind)
    }


MISSING = {
    "pkg/__init__.py": "from .a import exported\nfrom .a import gone_name\n",
    "pkg/a.py": "exported = 1\n",
    "pkg/b.py": "def run():\n    pass\n",
    "app/__init__.py": "",
    "app/main.py": (
        "import pkg.absent\n"  # a module of the tree's package that does not exist
        "from pkg.b import nope\n"  # a name missing in an internal module
        "from pkg import gone_name\n"  # a re-export chain that ends nowhere
        "from pkg.b import run\n"  # near miss: exists
        "from pkg import exported\n"  # near miss: a re-export that resolves
        "import json\n"  # near miss: stdlib
        "import not_installed_anywhere\n"  # near miss: outside the tree, not internal wiring
        "try:\n"
        "    from pkg.speedups import fast\n"  # guarded: optional by the code's own statement
        "except ImportError:\n"
        "    fast = None\n"
    ),
    "app/other.py": "from pkg.b import nope\n\n\ndef later():\n    from pkg.absent import thing\n",
}


def test_missing_wiring_cases(write_tree: WriteTree, tmp_path: Path) -> None:
    graph = Graph(write_tree(MISSING), tmp_path / "g.duckdb")
    found = _open(graph.update(), "missing_wiring")
    assert sorted(found) == [
        "missing_wiring_absent_pkg",
        "missing_wiring_gone_name_pkg",
        "missing_wiring_gone_name_pkg.a",
        "missing_wiring_nope_pkg.b",
    ]
    absent = found["missing_wiring_absent_pkg"]
    assert absent.hypothesis == "MISSING_WIRING_ABSENT_IN_PKG"
    assert [(loc.path, loc.line, loc.symbol) for loc in absent.locations] == [
        ("app/main.py", 1, "app.main"),
        ("app/other.py", 5, "app.other.later"),
    ]
    assert "what: module" in absent.evidence
    assert "imported_in: app/other.py" in absent.evidence
    nope = found["missing_wiring_nope_pkg.b"]
    assert {"missing: nope", "module: pkg.b", "what: name"} <= set(nope.evidence)
    assert nope.evidence_hash == evidence_hash(nope.evidence)
    assert len(nope.evidence_hash) == 16
    assert nope.question.endswith("?") and nope.question.count(".") <= 3
    assert (nope.severity, nope.action_class, nope.autonomy) == ("high", "propose_fix", 2)
    chain = found["missing_wiring_gone_name_pkg"]
    assert any("module pkg.a defines no name gone_name" in line for line in chain.evidence)


def test_a_guarded_import_is_reported_only_when_asked(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    from graphsvc.findings import render
    from graphsvc.queries import run_rows

    graph = Graph(write_tree(MISSING), tmp_path / "g.duckdb")
    assert "missing_wiring_speedups_pkg" not in graph.update()
    query = CATALOG.get("missing_wiring")
    with Store.open(graph.db, read_only=True) as store:
        rows = run_rows(store, query, {"include_guarded": True})
    assert "missing_wiring_speedups_pkg" in {render(query, r).id for r in rows}


CYCLES = {
    "two/__init__.py": "",
    "two/a.py": "from two import b\n\ny = 1\n",
    "two/b.py": "from two.a import y\n",
    "three/__init__.py": "",
    "three/a.py": "import three.b\n",
    "three/b.py": "import three.c\n",
    "three/c.py": "import three.a\n",
    "lazy/__init__.py": "",
    "lazy/a.py": "import lazy.b\n",
    "lazy/b.py": "def f():\n    import lazy.a\n",  # near miss: a function-level import
    "typed/__init__.py": "",
    "typed/a.py": "import typed.b\n",
    "typed/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import typed.a\n",
}


def test_import_cycles_of_two_and_three(write_tree: WriteTree, tmp_path: Path) -> None:
    graph = Graph(write_tree(CYCLES), tmp_path / "g.duckdb")
    found = _open(graph.update(), "import_cycle")
    members = sorted(f.metadata["size"] for f in found.values())
    assert members == [2, 3]
    by_size = {f.metadata["size"]: f for f in found.values()}
    three = by_size[3]
    assert three.id.startswith("import_cycle_") and len(three.id) == len("import_cycle_") + 12
    assert three.hypothesis == "IMPORT_CYCLE_3_MODULES_FROM_THREE_A"
    assert {"members: three.a", "members: three.b", "members: three.c"} <= set(three.evidence)
    assert "edges: three.a -> three.b (three/a.py)" in three.evidence
    assert sorted(loc.path for loc in three.locations) == ["three/a.py", "three/b.py", "three/c.py"]
    assert {loc.path for loc in by_size[2].locations} == {"two/a.py", "two/b.py"}


def test_the_refresh_feed_new_changed_fixed_reopened(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree({"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import f\n", "pkg/b.py": ""})
    graph = Graph(tree, tmp_path / "g.duckdb")
    fid = "missing_wiring_f_pkg.b"
    first = graph.update()[fid]
    assert first.status == "open" and first.first_seen is not None
    assert graph.events() == [(fid, "new", "open")]

    (tree / "pkg/c.py").write_text("from pkg.b import f\n")  # a second importer: new evidence
    second = graph.update()[fid]
    assert second.evidence_hash != first.evidence_hash
    assert second.first_seen == first.first_seen
    assert graph.events()[-1] == (fid, "changed", "open")

    graph.update()  # nothing changed: no event
    assert len(graph.events()) == 2

    (tree / "pkg/b.py").write_text("def f():\n    pass\n")
    fixed = graph.update()[fid]
    assert fixed.status == "fixed" and fixed.fixed_at is not None
    assert graph.events()[-1] == (fid, "fixed", "fixed")

    (tree / "pkg/b.py").write_text("")
    reopened = graph.update()[fid]
    assert reopened.status == "open" and reopened.fixed_at is None
    assert reopened.first_seen == first.first_seen
    assert graph.events()[-1] == (fid, "reopened", "open")

    with Store.open(graph.db, read_only=True) as store:
        seqs = [e.seq for e in events_since(store, 0)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert [e.seq for e in events_since(store, 2)] == seqs[2:]
        assert get_finding(store, fid) == reopened
        assert get_finding(store, "nothing") is None
        assert reopened.last_changed is not None
        assert list_findings(store, since=reopened.last_changed.seq).findings == []
        assert list_findings(store, since=reopened.last_changed.seq - 1).findings == [reopened]


def test_seq_continues_across_restarts_and_ids_survive_a_cold_index(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree({**MISSING, **CYCLES})
    graph = Graph(tree, tmp_path / "g.duckdb")
    ids = set(graph.update())
    before = graph.events()
    graph = Graph(tree, tmp_path / "g.duckdb")  # a new process: a fresh Refresher
    (tree / "app/main.py").write_text("from pkg.b import nope\n")
    graph.update()
    after = graph.events()
    assert after[: len(before)] == before and len(after) > len(before)
    with Store.open(graph.db, read_only=True) as store:
        seqs = [e.seq for e in events_since(store, 0, 10_000)]
    assert seqs == sorted(set(seqs))

    cold = Graph(tree, tmp_path / "cold.duckdb")
    cold_ids = set(_open(cold.update()))
    assert cold_ids == set(_open(graph.update()))
    assert cold_ids <= ids


def test_suppression_in_code_and_in_config(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "pkg/__init__.py": "",
            "pkg/b.py": "",
            "pkg/line.py": "from pkg.b import one  # graphsvc: ignore[missing_wiring]\n",
            "pkg/deff.py": (
                "def load():  # graphsvc: ignore[import_cycle, missing_wiring]\n"
                "    from pkg.b import two\n"
            ),
            "pkg/other.py": "from pkg.b import three  # graphsvc: ignore[import_cycle]\n",
            "pkg/conf.py": "from pkg.b import four\n",
        }
    )
    graph = Graph(tree, tmp_path / "g.duckdb", suppress=["missing_wiring_four_*"])
    found = graph.update()
    status = {f.id: (f.status, f.suppressed_by) for f in found.values()}
    assert status == {
        "missing_wiring_one_pkg.b": ("suppressed", "code: pkg/line.py:1"),
        "missing_wiring_two_pkg.b": ("suppressed", "code: pkg/deff.py:1"),
        "missing_wiring_three_pkg.b": ("open", None),  # another kind's ignore
        "missing_wiring_four_pkg.b": ("suppressed", "config: missing_wiring_four_*"),
    }
    assert graph.last.suppressed == 3 and graph.last.open == 1
    (tree / "pkg/line.py").write_text("from pkg.b import one\n")
    found = graph.update()
    assert found["missing_wiring_one_pkg.b"].status == "open"
    assert graph.events()[-1] == ("missing_wiring_one_pkg.b", "changed", "open")


def test_suppression_follows_code_edits_after_doc_edits(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """A batch that changes only docs keeps what the suppressor read of the code (def lines,
    file hashes); the next code edit reads them again."""
    tree = write_tree(
        {
            "pkg/__init__.py": "",
            "pkg/b.py": "",
            "pkg/deff.py": (
                "def load():  # graphsvc: ignore[missing_wiring]\n    from pkg.b import two\n"
            ),
            "README.md": "# Pkg\n\nSee `pkg.deff.load`.\n",
        }
    )
    graph = Graph(tree, tmp_path / "g.duckdb")
    wanted = "missing_wiring_two_pkg.b"
    assert graph.update()[wanted].suppressed_by == "code: pkg/deff.py:1"
    (tree / "README.md").write_text("# Pkg\n\nSee `pkg.deff.load` and `pkg.b`.\n")
    assert graph.update()[wanted].suppressed_by == "code: pkg/deff.py:1"
    assert graph.last.events == {}
    # the def moves down a line, its comment with it
    (tree / "pkg/deff.py").write_text(
        "X = 1\n\n\ndef load():  # graphsvc: ignore[missing_wiring]\n    from pkg.b import two\n"
    )
    assert graph.update()[wanted].suppressed_by == "code: pkg/deff.py:4"
    (tree / "README.md").write_text("# Pkg\n")
    (tree / "pkg/deff.py").write_text("def load():\n    from pkg.b import two\n")
    assert graph.update()[wanted].status == "open"
    assert graph.events()[-1] == (wanted, "changed", "open")


EDITS: list[dict[str, str | None]] = [
    {"pkg/b.py": "from pkg.a import x\n"},
    {"pkg/a.py": "from pkg.c import y\nx = 1\n"},
    {"pkg/c.py": "import pkg.b\ny = 2\n"},
    {"pkg/b.py": None},
    {"pkg/d.py": "from pkg.a import x, missing\nimport pkg.nowhere\n"},
    {"pkg/a.py": "x = 1\nmissing = 2\n", "pkg/b.py": "import pkg.d\n"},
    {"pkg/d.py": "import pkg.b\n"},
]


def test_an_edit_that_keeps_the_imports_reuses_the_rows(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree({"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import f\n", "pkg/b.py": ""})
    graph = Graph(tree, tmp_path / "g.duckdb")
    graph.update()
    assert graph.last.reused == []  # the first refresh of a process runs everything
    (tree / "pkg/a.py").write_text("from pkg.b import f\n\n\ndef g():\n    return 1\n")
    graph.update()
    # and the queries whose file inputs (graphsvc/findings/partition.py) did not change: a
    # function without a docstring, calls, classes or channels
    # (stale_knowledge has file inputs too, but this tree has no docs: it reports nothing
    # without running, every time)
    inputs = {
        q.name
        for q in CATALOG.finding_queries()
        if q.file_inputs is not None and q.name != "stale_knowledge"
    }
    assert inputs >= {"duplicate_purposes", "orphaned_queues"}
    # (capability_terms: no name imported from a tools package, so no partition of it ran;
    # duplicate_code, duplicate_files: the partitions of the new function and of the file's
    # new content ran and gave no rows, as before; missing_wiring_calls,
    # registered_never_invoked: no call site of a missing name, no registry, no partition;
    # uninitialized_components: the names the file lists are no class's, so no partition ran)
    partitioned = {
        "capability_terms",
        "duplicate_code",
        "duplicate_files",
        "missing_wiring_calls",
        "registered_never_invoked",
        "uninitialized_components",
    }
    assert (
        set(graph.last.reused)
        == {"import_cycles", "missing_packages", "missing_wiring"} | partitioned | inputs
    )
    with (tree / "pkg/a.py").open("a") as out:  # an unresolved import: no new internal edge
        out.write("from pkg.b import other\n")
    found = graph.update()
    # an import link is new: the queries reading imports or all links run (missing_wiring
    # for the import)
    # (duplicate_code: no clone changed, so no partition of it ran; duplicate_files: the
    # file's new content is a partition that gives no rows; missing_wiring_calls: no call
    # site names a module part of the import's target; registered_never_invoked: no name is
    # stored into; uninitialized_components: no class is named "other")
    assert set(graph.last.reused) == {"import_cycles"} | partitioned | inputs
    assert found["missing_wiring_other_pkg.b"].status == "open"
    imports = {"import_cycles", "missing_packages", "missing_wiring"}
    (tree / "pkg/b.py").write_text("def f():\n    pass\n")  # a.py's import link changes
    found = graph.update()
    assert not imports & set(graph.last.reused)
    assert found["missing_wiring_f_pkg.b"].status == "fixed"
    (tree / "pkg/c.py").write_text("x = 1\n")  # a new file: its digest is new
    graph.update()
    assert not imports & set(graph.last.reused)
    (tree / "pkg/c.py").unlink()  # a removed file: the import queries run
    graph.update()
    assert not imports & set(graph.last.reused)
    # none of these had a docstring: that query's findings held throughout
    assert "duplicate_purposes" in graph.last.reused


EDITS_MORE: list[dict[str, str | None]] = [
    {"pkg/a.py": "x = 1\nmissing = 2\n\n\ndef more():\n    pass\n"},  # no import changes
    {"pkg/e.py": "from pkg.d import *\nfrom pkg.a import more\n"},
    {"pkg/a.py": "x = 1\n"},  # removes names other files import
]


def _comparable(found: dict[str, Finding]) -> list[tuple[Any, ...]]:
    return sorted(
        (f.id, f.status, f.evidence_hash, f.locations, f.hypothesis, f.question, f.severity)
        for f in found.values()
        if f.status != "fixed"
    )


def test_incremental_equals_cold_after_each_edit(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree({"pkg/__init__.py": "", "pkg/a.py": "x = 1\n"})
    graph = Graph(tree, tmp_path / "warm.duckdb")
    graph.update()
    reused: set[str] = set()
    for step, edit in enumerate(EDITS + EDITS_MORE):
        for rel, text in edit.items():
            if text is None:
                (tree / rel).unlink()
            else:
                (tree / rel).write_text(text)
        warm = graph.update()
        cold = Graph(tree, tmp_path / f"cold{step}.duckdb").update()
        assert _comparable(warm) == _comparable(cold), f"step {step}: {edit}"
        reused.update(graph.last.reused)
    assert reused  # some edits took the incremental path


PER_MODULE = """\
-- name: per_module
-- title: One finding per module, severity from the data
-- kind: per_module
-- id: per_module_{name}
-- hypothesis: PER_MODULE_{name}
-- question: Is {name} fine?
-- evidence: name
-- severity: {sev}
-- action: explore
-- autonomy: 1
-- value: 0.1
-- cost: 0.1
SELECT
    name,
    CASE WHEN name = 'bad' THEN 'bogus' ELSE 'low' END AS sev
FROM modules
"""


def test_a_failing_query_leaves_its_findings_alone(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree({"a.py": ""})
    (tmp_path / "q").mkdir()
    (tmp_path / "q/per_module.sql").write_text(PER_MODULE)
    graph = Graph(tree, tmp_path / "g.duckdb")
    graph.refresher = Refresher(load_queries(None, [tmp_path / "q"]), tree)
    assert set(_open(graph.update())) == {"per_module_a"}
    (tree / "a.py").unlink()
    (tree / "bad.py").write_text("")  # the query now fails on a row: severity 'bogus'
    assert set(_open(graph.update())) == {"per_module_a"}  # not "fixed" by a broken query
    assert "severity 'bogus'" in graph.last.failed["per_module"]
    (tree / "bad.py").unlink()
    found = graph.update()
    assert found["per_module_a"].status == "fixed"


def test_a_query_that_reports_an_id_twice_fails_alone(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """An id must name one finding: a query whose rows render one id twice, or an id another
    query already reported, fails (its findings stay as they were); the others are written."""
    tree = write_tree({"a.py": "", "b.py": ""})
    (tmp_path / "q").mkdir()
    (tmp_path / "q/per_module.sql").write_text(PER_MODULE)
    # one id per severity: twice, as both modules are 'low'
    twice = PER_MODULE.replace("per_module", "one_id").replace("one_id_{name}", "one_id_{sev}")
    (tmp_path / "q/one_id.sql").write_text(twice)
    # the ids of per_module again
    (tmp_path / "q/z_again.sql").write_text(PER_MODULE.replace("name: per_module", "name: z_again"))
    graph = Graph(tree, tmp_path / "g.duckdb")
    graph.refresher = Refresher(load_queries(None, [tmp_path / "q"]), tree)
    assert set(_open(graph.update())) == {"per_module_a", "per_module_b"}
    assert "'one_id_low' is reported twice" in graph.last.failed["one_id"]
    assert "'per_module_a' is reported twice" in graph.last.failed["z_again"]
    assert "per_module" not in graph.last.failed


def _graphsvc(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graphsvc", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        check=False,
    )


def test_cli_query_findings_and_fail_on_findings(write_tree: WriteTree) -> None:
    tree = write_tree(MISSING)
    result = _graphsvc("index", tree)
    assert result.returncode == 0, result.stderr
    assert "findings open=5" in result.stderr  # 4 missing_wiring, 1 missing package
    failing = _graphsvc("query", "missing_wiring", "--path", tree, "--fail-on-findings")
    assert failing.returncode == 1, failing.stderr
    assert "MISSING_WIRING_NOPE_IN_PKG_B" in failing.stdout
    clean = _graphsvc("query", "import_cycles", "--path", tree, "--fail-on-findings", "-f", "json")
    assert clean.returncode == 0 and clean.stdout.strip() == "[]"
    guarded = _graphsvc(
        "query", "missing_wiring", "--path", tree, "--param", "include_guarded=true", "-f", "csv"
    )
    assert "missing_wiring_speedups_pkg" in guarded.stdout
    bad = _graphsvc("query", "missing_wiring", "--path", tree, "--param", "include_guarded=2")
    assert bad.returncode == 2 and "is not a bool" in bad.stderr
    unknown = _graphsvc("query", "no_such", "--path", tree)
    assert unknown.returncode == 2
    assert "import_cycles, missing_packages, missing_wiring" in unknown.stderr
    listed = _graphsvc("findings", "--path", tree, "--status", "open", "-f", "json")
    assert listed.returncode == 0 and listed.stdout.count('"evidence_hash"') == 5
    queries = _graphsvc("queries", "--path", tree, "-f", "csv")
    assert queries.returncode == 0 and "missing_wiring,missing_wiring,builtin" in queries.stdout


def test_cli_user_queries_and_a_broken_file(write_tree: WriteTree) -> None:
    tree = write_tree(
        {
            "mod.py": "x = 1\n",
            "pyproject.toml": '[tool.graphsvc]\nquery_dirs = ["checks"]\n',
            "checks/names.sql": "-- name: names\n-- title: Names\nSELECT name FROM modules\n",
            "checks/bad.sql": "-- name: bad\n-- title: Bad\nSELECT nme FROM modules\n",
        }
    )
    assert _graphsvc("index", tree).returncode == 0
    listed = _graphsvc("queries", "--path", tree)
    assert listed.returncode == 2
    assert "bad.sql:3: SQL: Binder Error" in listed.stderr
    ran = _graphsvc("query", "names", "--path", tree, "-f", "csv", "--fail-on-findings")
    assert ran.returncode == 1 and ran.stdout.splitlines() == ["name", "mod"]


FIXTURES = Path(__file__).parent / "fixtures" / "repos"


@pytest.mark.parametrize("kind", sorted(p.name for p in FIXTURES.iterdir()))
def test_fixture_repo_matches_its_golden(kind: str, tmp_path: Path, update_goldens: bool) -> None:
    """tests/fixtures/repos/<kind>/: the defect and near misses; expected.json holds the open
    findings of that kind (id, hypothesis, evidence, locations). --update-goldens rewrites it."""
    import json
    import shutil

    tree = shutil.copytree(FIXTURES / kind / "tree", tmp_path / "tree")
    found = _open(Graph(tree, tmp_path / "g.duckdb").update(), kind)
    got = [
        {
            "id": f.id,
            "hypothesis": f.hypothesis,
            "question": f.question,
            "evidence": list(f.evidence),
            "locations": [f"{loc.path}:{loc.line} {loc.symbol}" for loc in f.locations],
        }
        for _, f in sorted(found.items())
    ]
    golden = FIXTURES / kind / "expected.json"
    if update_goldens:
        golden.write_text(json.dumps(got, indent=2) + "\n", encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


def test_slow_queries_are_deferred_and_catch_up(write_tree: WriteTree, tmp_path: Path) -> None:
    """With every query counting as slow, a deferring refresh keeps a query's last findings
    (and names it in deferred) until its interval passes or a refresh that may not defer runs."""
    tree = write_tree({"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import f\n", "pkg/b.py": ""})
    settings = load_settings(tree, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        refresher = Refresher(load_queries(None, []), tree, defer_ms=1e-9, defer_s=3600)
        first = index_tree(tree, store, settings)
        assert refresher.run(store, first.batch_id, first, defer=True).deferred == []
        (tree / "pkg" / "c.py").write_text("from pkg.b import g\n")
        second = index_tree(tree, store, settings)
        result = refresher.run(store, second.batch_id, second, defer=True)
        assert "missing_wiring" in result.deferred and "missing_wiring" in refresher.deferred
        stored = all_findings(store)
        assert "missing_wiring_g_pkg.b" not in stored  # kept as it was: not run
        assert stored["missing_wiring_f_pkg.b"].status == "open"  # and not reported fixed
        caught_up = refresher.run(store, second.batch_id)  # no summary: every query runs
        assert caught_up.deferred == [] and not refresher.deferred
        assert all_findings(store)["missing_wiring_g_pkg.b"].status == "open"
        fast = Refresher(load_queries(None, []), tree, defer_ms=0)  # 0: never defers
        assert fast.run(store, second.batch_id, second, defer=True).deferred == []


def test_the_refresh_pauses_before_each_query(write_tree: WriteTree, tmp_path: Path) -> None:
    """The pause hook (the service waits there while a batch is indexed) runs before every
    finding query and sees the findings of the queries before it already computed: a commit
    made during a pause is read by the queries after it."""
    tree = write_tree({"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import f\n", "pkg/b.py": ""})
    settings = load_settings(tree, jobs=1)
    catalog = load_queries(None, [])
    paused: list[int] = []
    with Store.open(tmp_path / "g.duckdb") as store:
        first = index_tree(tree, store, settings)

        def pause() -> None:
            paused.append(len(paused))
            if len(paused) == 1:  # a batch lands while the first query waits
                (tree / "pkg" / "c.py").write_text("from pkg.b import g\n")
                index_tree(tree, store, settings)

        result = Refresher(catalog, tree, pause=pause).run(store, first.batch_id)
        assert len(paused) == len(catalog.finding_queries())
        assert "missing_wiring_g_pkg.b" in all_findings(store)  # read after the pause
        assert result.failed == {}


# slow (a trillion-row range) once the tree has three modules; instant before
SLOW_MODULE = (
    PER_MODULE.replace("per_module", "slow_module")
    .replace("PER_MODULE", "SLOW_MODULE")
    .replace(
        "FROM modules\n",
        "FROM modules WHERE (SELECT count(*) FROM (SELECT count(*) AS n FROM modules) AS k,"
        " range(CASE WHEN k.n > 2 THEN 1000000000000 ELSE 0 END)) >= 0\n",
    )
)


def test_a_batch_interrupts_the_running_query(write_tree: WriteTree, tmp_path: Path) -> None:
    """interrupt() (the indexer calls it when a batch starts) stops the finding query running
    now: the refresh names it under interrupted, its findings stay as they were (neither new
    rows nor 'fixed' ones), and it runs again in the next refresh. A query stopped MAX_STOPS
    times in a row is not stopped again."""
    tree = write_tree({"a.py": ""})
    (tmp_path / "none").mkdir()
    (tmp_path / "q").mkdir()
    (tmp_path / "q/slow_module.sql").write_text(SLOW_MODULE)
    settings = load_settings(tree, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        refresher = Refresher(load_queries(tmp_path / "none", [tmp_path / "q"]), tree)
        first = index_tree(tree, store, settings)
        assert refresher.run(store, first.batch_id, first).failed == {}
        before = all_findings(store)
        assert set(before) == {"slow_module_a"}
        for name in ("b.py", "c.py"):
            (tree / name).write_text("")
        second = index_tree(tree, store, settings)

        results: list[RefreshResult] = []
        thread = threading.Thread(
            target=lambda: results.append(refresher.run(store, second.batch_id, second))
        )
        thread.start()
        # DuckDB drops an interrupt sent before the statement starts: ask until it stops
        deadline = time.monotonic() + 60
        while thread.is_alive():
            assert time.monotonic() < deadline
            refresher.interrupt()
            thread.join(0.01)
        assert results[0].interrupted == ["slow_module"] and results[0].failed == {}
        assert results[0].open == 1  # slow_module_a, kept as it was, still counts
        assert all_findings(store) == before  # kept: no slow_module_b yet, a not fixed
        assert refresher.interruptions == 1

        (tree / "c.py").unlink()  # two modules: the query is instant again
        third = index_tree(tree, store, settings)
        result = refresher.run(store, third.batch_id, third)
        assert result.interrupted == [] and "slow_module" not in result.reused
        found = all_findings(store)
        assert {i for i, f in found.items() if f.status == "open"} == {
            "slow_module_a",
            "slow_module_b",
        }

        # the starvation guard: after MAX_STOPS stops in a row, the query's cursor is not
        # offered to interrupt() any more
        refresher._stops["slow_module"] = MAX_STOPS
        cursor = store.cursor()
        refresher._watch("slow_module")(cursor)
        assert refresher.interrupt() is False
        refresher._watch("slow_module")(None)
        cursor.close()
