"""A writable store is a DuckDB file attached with small row groups (graphsvc/store.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphsvc.errors import DatabaseError
from graphsvc.facts import FileFacts, ModuleInfo
from graphsvc.indexer import index_bytes
from graphsvc.store import ROW_GROUP_SIZE, Batch, Store

SOURCE = b"import os\n\ndef f():\n    return os.getcwd()\n"


def _batch() -> Batch:
    facts: FileFacts = index_bytes("a.py", SOURCE, ModuleInfo("a", False, ""), 1)
    return Batch(upserts=[facts])


def _row_groups(con: object, table: str) -> int:
    rows = con.execute(  # type: ignore[attr-defined]
        f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('{table}')"
    ).fetchall()
    return int(rows[0][0])


def test_tables_are_written_in_small_row_groups_after_every_open(tmp_path: Path) -> None:
    path = tmp_path / "graph.duckdb"
    rows = ROW_GROUP_SIZE * 2 + 10
    with Store.open(path) as store:
        store.con.execute(f"CREATE TABLE big AS SELECT range AS i FROM range({rows})")
        store.checkpoint()
        assert _row_groups(store.con, "big") == 3
    # DuckDB takes the size per attach, not from the file: a reopened store still writes
    # small groups (an append fills the last one first), and its checkpoint does not merge
    # them into DuckDB's default size (one group of up to 122,880 rows)
    with Store.open(path) as store:
        store.con.execute(f"INSERT INTO big SELECT range FROM range({rows})")
        store.checkpoint()
        assert _row_groups(store.con, "big") == -(-2 * rows // ROW_GROUP_SIZE) == 5
        assert store.con.execute("SELECT count(*) FROM big").fetchall() == [(rows * 2,)]
    with Store.open(path, read_only=True) as store:  # a plain read-only connection reads it
        assert store.con.execute("SELECT count(*) FROM big").fetchall() == [(rows * 2,)]


def test_cursors_readers_and_writers_see_the_store_database(tmp_path: Path) -> None:
    with Store.open(tmp_path / "graph.duckdb") as store:
        store.apply(_batch())
        cursor = store.cursor()
        try:
            # a bare con.cursor() starts on the instance's in-memory database
            assert store.con.cursor().execute("SELECT current_database()").fetchall() == [
                ("memory",)
            ]
            assert cursor.execute("SELECT path FROM files").fetchall() == [("a.py",)]
            assert cursor.execute("SELECT current_database()").fetchall() == [("graph",)]
        finally:
            cursor.close()
        reader = store.reader()
        try:
            assert reader.con.execute("SELECT count(*) FROM files").fetchall() == [(1,)]
        finally:
            reader.close()
        # a cursor of a cursor (the SQL sandbox's per-thread ones) is on the database too
        parent = store.cursor()
        child = store.cursor(parent)
        try:
            assert child.execute("SELECT count(*) FROM symbols").fetchall()[0][0] >= 1
        finally:
            parent.close()


@pytest.mark.parametrize("stem", ["memory", "main", "temp", "system", "my graph"])
def test_a_file_named_like_a_duckdb_catalog_opens(tmp_path: Path, stem: str) -> None:
    path = tmp_path / f"{stem}.duckdb"
    with Store.open(path) as store:
        store.apply(_batch())
        cursor = store.cursor()
        try:
            assert cursor.execute("SELECT count(*) FROM files").fetchall() == [(1,)]
        finally:
            cursor.close()
    with Store.open(path) as store:
        assert store.con.execute("SELECT path FROM files").fetchall() == [("a.py",)]


def test_a_second_writer_in_the_process_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "graph.duckdb"
    with Store.open(path) as store:
        store.apply(_batch())
        for read_only in (False, True):
            with pytest.raises(DatabaseError, match="already open in this process"):
                Store.open(path, read_only=read_only)
        assert store.con.execute("SELECT count(*) FROM files").fetchall() == [(1,)]


def test_spill_files_go_next_to_the_database_not_into_the_tree(tmp_path: Path) -> None:
    path = tmp_path / "db" / "graph.duckdb"
    with Store.open(path) as store:
        setting = store.con.execute("SELECT current_setting('temp_directory')").fetchall()
        assert setting == [(f"{path}.tmp",)]
