"""Which per-file tables a batch changed (Store.take_changed, IndexSummary.tables): what the
findings refresh relies on to reuse the queries whose tables a batch left alone.

Every case indexes a real tree into a real DuckDB file and compares what the store reports
with the rows themselves: a fact table is reported exactly when the edited file's rows in it
differ from those before the batch.
"""

from __future__ import annotations

from pathlib import Path

from conftest import StampedTree

from graphsvc.columns import FACT_ORDER, FILES_CONTENT
from graphsvc.config import load_settings
from graphsvc.store import Store
from graphsvc.update import IndexSummary, index_tree, merge_summaries

APP = (
    "import os\n\n\nclass Worker:\n    def run(self):\n        return os.getcwd()\n\n\n"
    "def helper(x):\n    return [x, x]\n"
)


class Tree(StampedTree):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.write("pkg/__init__.py", "")
        self.write("pkg/app.py", APP)
        self.write("pkg/other.py", "from pkg.app import helper\n\nVALUE = helper(1)\n")


def _rows(store: Store, path: str) -> dict[str, list[tuple[object, ...]]]:
    """The rows of ``path`` in every fact table, sorted."""
    ids = store.con.execute("SELECT file_id FROM files WHERE path = $p", {"p": path}).fetchall()
    if not ids:
        return {table: [] for table in FACT_ORDER}
    return {
        table: sorted(
            store.con.execute(
                f'SELECT * EXCLUDE (file_id) FROM "{table}" WHERE file_id = $id', {"id": ids[0][0]}
            ).fetchall(),
            key=repr,
        )
        for table in FACT_ORDER
    }


def _differ(before: dict[str, list[object]], after: dict[str, list[object]]) -> set[str]:
    return {table for table in FACT_ORDER if before[table] != after[table]}


def _step(tree: Tree, store: Store, path: str, change: str) -> tuple[IndexSummary, set[str]]:
    """Change ``path`` (append ``change``; "" touches it), index; the summary and the fact
    tables whose rows of ``path`` differ."""
    before = _rows(store, path)
    if change:
        tree.write(path, change, append=True)
    else:
        tree.stamp(path)
    summary = index_tree(tree.root, store, load_settings(tree.root, jobs=1))
    return summary, _differ(before, _rows(store, path))


def test_an_edit_reports_exactly_the_tables_whose_rows_changed(tmp_path: Path) -> None:
    tree = Tree(tmp_path / "tree")
    with Store.open(tmp_path / "g.duckdb") as store:
        first = index_tree(tree.root, store, load_settings(tree.root, jobs=1))
        assert first.tables is not None and "files" in first.tables  # new files
        edits = [
            "\n\ndef added():\n    return 1\n",  # a new function, no line moves
            "\n\ndef calls():\n    return helper(2) + os.sep\n",  # calls and references
            "",  # touched: only the files row's mtime changes
            "\nimport json\n",  # a new import
        ]
        for change in edits:
            summary, differ = _step(tree, store, "pkg/app.py", change)
            assert summary.tables is not None, change
            assert summary.tables - {"files", FILES_CONTENT} == differ, change
            assert FILES_CONTENT in summary.tables, change
            assert "files" not in summary.tables, change  # same file, module and status
        assert "imports" in differ  # the last edit added an import


def test_status_new_and_removed_files_change_files_itself(tmp_path: Path) -> None:
    tree = Tree(tmp_path / "tree")
    settings = load_settings(tree.root, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree.root, store, settings)
        # a syntax error: the file becomes partial (status and error count in files)
        broken, differ = _step(tree, store, "pkg/app.py", "\ndef broken(:\n")
        assert broken.tables is not None and "files" in broken.tables
        assert (
            "parse_errors" in broken.tables and broken.tables - {"files", FILES_CONTENT} == differ
        )
        tree.write("pkg/new.py", "def fresh():\n    return 2\n")
        added = index_tree(tree.root, store, settings)
        assert added.tables is not None and {"files", "symbols"} <= added.tables
        (tree.root / "pkg" / "other.py").unlink()
        removed = index_tree(tree.root, store, settings)
        assert removed.tables is not None
        assert {"files", "imports", "symbols", "modules"} <= removed.tables
        tree.write("pkg/empty.py", "")  # a file without fact rows, then gone
        index_tree(tree.root, store, settings)
        (tree.root / "pkg" / "empty.py").unlink()
        gone = index_tree(tree.root, store, settings)
        assert gone.tables is not None and "files" in gone.tables


def test_unknown_after_a_restart_and_merged_with_unknown(tmp_path: Path) -> None:
    tree = Tree(tmp_path / "tree")
    settings = load_settings(tree.root, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree.root, store, settings)
    with Store.open(tmp_path / "g.duckdb") as store:  # digests of the rows are not kept
        summary, _ = _step(tree, store, "pkg/app.py", "\n\ndef later():\n    return 3\n")
        assert summary.tables is None
        nothing = index_tree(tree.root, store, settings)
        assert nothing.tables == frozenset()  # a batch that changed nothing
        again, differ = _step(tree, store, "pkg/app.py", "\n\ndef again():\n    return 4\n")
        assert again.tables is not None and again.tables - {FILES_CONTENT} == differ
        (tree.root / "pkg" / "other.py").unlink()  # which tables held its rows: not known
        assert index_tree(tree.root, store, settings).tables is None
    known = IndexSummary(tables=frozenset({"symbols"}))
    assert merge_summaries([known, IndexSummary(tables=frozenset({"calls"}))]).tables == {
        "symbols",
        "calls",
    }
    assert merge_summaries([known, IndexSummary(tables=None)]).tables is None
