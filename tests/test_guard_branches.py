"""File guards read by branch: a branch whose tables no batch changed keeps its digests.

A real tree, a real DuckDB file and the resident linker the service keeps. After every edit,
the guard digests of the Refresher's FileGuards (kept branches, read again only where their
tables changed) equal those a FileGuards without kept state reads afresh, for the changed
files and for every file; edits include one whose only effect on a file is its links being
rewritten by the linker after another file changed.
"""

from __future__ import annotations

from pathlib import Path

from graphsvc.config import load_settings
from graphsvc.findings import Refresher
from graphsvc.findings.guards import FileGuards, branches
from graphsvc.link import Linker
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree

FILES = {
    "pkg/__init__.py": "",
    "pkg/a.py": "def helper():\n    return 1\n\n\nHANDLERS = {}\n",
    "pkg/b.py": "from pkg.a import helper\n\n\ndef use():\n    return helper()\n",
    "pkg/c.py": "import os\n\n\nclass Thing:\n    pass\n",
}
# (path, text): each edit, in order
EDITS = [
    ("pkg/a.py", FILES["pkg/a.py"] + "\n\ndef added():\n    return 2\n"),  # symbols, clones
    # helper renamed: b's import no longer resolves (b's links change, b is not edited)
    ("pkg/a.py", "def helper2():\n    return 1\n\n\nHANDLERS = {}\n"),
    (
        "pkg/c.py",
        "import os\nimport enum\n\n\n@enum.global_enum\nclass Thing(enum.Enum):\n    A = 1\n",
    ),
    ("pkg/b.py", FILES["pkg/b.py"] + "\n\ndef probe():\n    return globals()\n"),
    ("pkg/a.py", FILES["pkg/a.py"]),  # helper is back: b resolves again
    ("pkg/c.py", FILES["pkg/c.py"] + "\n\nHANDLERS = {}\n"),
]


def test_a_guard_splits_at_its_top_level_union_all_only() -> None:
    sql = (
        "SELECT file_id, 1 FROM a WHERE x IN (SELECT y FROM b UNION ALL SELECT y FROM c)"
        " union   all SELECT file_id, 'UNION ALL' FROM d UNION ALL SELECT file_id, 2 FROM e"
    )
    assert branches(sql) == [
        "SELECT file_id, 1 FROM a WHERE x IN (SELECT y FROM b UNION ALL SELECT y FROM c)",
        "SELECT file_id, 'UNION ALL' FROM d",
        "SELECT file_id, 2 FROM e",
    ]
    # what would apply across the branches keeps the guard whole
    for whole in (
        "SELECT file_id FROM a UNION SELECT file_id FROM b",
        "SELECT file_id FROM a UNION ALL SELECT file_id FROM b ORDER BY 1",
        "WITH t AS (SELECT 1) SELECT file_id FROM a UNION ALL SELECT file_id FROM t",
        "SELECT file_id FROM a EXCEPT SELECT file_id FROM b",
    ):
        assert branches(whole) == [whole]
    assert branches("SELECT file_id FROM a") == ["SELECT file_id FROM a"]


def test_kept_branches_give_the_digests_of_a_fresh_read(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    settings = load_settings(root, jobs=1)
    refresher = Refresher(load_queries(), root)
    guards = refresher.partitions.guards
    queries = guards.queries
    assert {"capability_terms", "missing_wiring_calls", "registered_never_invoked"} <= {
        q.name for q in queries
    }
    total = sum(len(branches(q.file_guard or "")) for q in queries)
    linker = Linker()
    kept_reads = []
    with Store.open(tmp_path / "graph.duckdb") as store:
        summary = index_tree(root, store, settings, linker=linker)
        refresher.run(store, summary.batch_id, summary)
        ids = {
            str(p): int(i)
            for p, i in store.con.execute("SELECT path, file_id FROM files").fetchall()
        }
        for n, (rel, text) in enumerate(EDITS):
            (root / rel).write_text(text, encoding="utf-8")
            summary = index_tree(root, store, settings, linker=linker)
            refresher.run(store, summary.batch_id, summary)
            before = guards.branch_reads
            for files in ({ids[rel]}, {ids["pkg/b.py"], ids["pkg/c.py"]}, None):
                fresh = FileGuards(queries)._digests(store, queries, files)
                assert guards._digests(store, queries, files) == fresh, (n, rel, files)
            kept_reads.append(guards.branch_reads - before)
        # a branch is read again after an edit of its tables only: the edits that change
        # neither links nor imports keep those branches (the comparisons above compare kept
        # digests, not only fresh reads)
        assert min(kept_reads) < total, kept_reads
        assert any(0 < reads < total for reads in kept_reads), kept_reads
        assert sum(1 for reads in kept_reads if reads > 0) >= 2, kept_reads
