"""The refresh's reads of the queries' global inputs: all of them in one statement, with the
same digests as one statement each, and a query whose global inputs fail at run time fails
alone (with its own error) while the others are refreshed.

A real tree on disk and a real DuckDB file.
"""

from __future__ import annotations

from pathlib import Path

from graphsvc.config import load_settings
from graphsvc.findings import Refresher
from graphsvc.findings.model import Finding
from graphsvc.findings.partread import global_digest, global_digests
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree

FILES = {
    "pkg/__init__.py": "",
    "pkg/a.py": "from pkg.b import helper, gone\n\n\ndef run():\n    return helper()\n",
    "pkg/b.py": "import json\n\n\ndef helper():\n    return json.dumps({})\n",
    "tools/skill.py": "from tools import plugin\n",
    "README.md": "# Pkg\n\nSee `pkg.a.run` and `pkg.nowhere`.\n",
}
# A user query with file inputs whose global inputs fail only when run (error() binds fine)
BROKEN = (
    "-- name: broken_globals\n-- title: Broken\n-- kind: part\n-- id: part_{path}\n"
    "-- hypothesis: PART_{path}\n-- question: Is {path} a part?\n-- evidence: path\n"
    "-- severity: low\n-- action: investigate\n-- autonomy: 1\n-- value: 0.1\n-- cost: 0.1\n"
    "-- file_inputs: SELECT file_id, path FROM files WHERE list_contains($files, file_id)\n"
    "-- global_inputs: SELECT error('boom: ' || count(*)) AS x FROM files\n"
    "SELECT path FROM files\n"
)


def _tree(root: Path) -> Path:
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_one_statement_gives_each_querys_digest(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")
    queries = [q for q in load_queries().finding_queries() if q.global_inputs]
    assert len({q.global_inputs for q in queries}) >= 4  # the shipped queries have several
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        together = global_digests(store, [str(q.global_inputs) for q in queries])
        alone = {q.global_inputs: global_digest(store, q) for q in queries}
        assert together == alone
        assert any(digest != (0, None) for digest in together.values())


def test_global_inputs_failing_at_run_time_fail_their_query_alone(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")
    folder = tmp_path / "queries"
    folder.mkdir()
    (folder / "broken_globals.sql").write_text(BROKEN)
    catalog = load_queries(None, [folder])
    assert not catalog.errors and catalog.get("broken_globals").global_inputs
    settings = load_settings(tree, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, settings)
        alone = Refresher(load_queries(), tree)
        expected = {f.id for f in alone_run(alone, store)}
        refresher = Refresher(catalog, tree)
        result = refresher.run(store)
        assert set(result.failed) == {"broken_globals"}
        assert "boom: 4" in result.failed["broken_globals"]
        assert "global_inputs" in result.failed["broken_globals"]
        # the others' findings are those of a catalog without the broken query
        assert {f.id for f in refresher._stored.values() if f.query != "broken_globals"} == (
            expected
        )
        # and after an edit, the incremental path fails it alone again
        (tree / "pkg/b.py").write_text("import json\n\n\ndef helper():\n    return 2\n")
        summary = index_tree(tree, store, settings)
        again = refresher.run(store, summary.batch_id, summary)
        assert set(again.failed) == {"broken_globals"}


def alone_run(refresher: Refresher, store: Store) -> list[Finding]:
    refresher.run(store)
    assert refresher._stored is not None
    return list(refresher._stored.values())
