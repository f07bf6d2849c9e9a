"""The store: one transaction per batch, ownership by file, rollback on failure, read side."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from graphsvc.errors import DatabaseError, QueryError
from graphsvc.facts import INDEXER_VERSION, ModuleInfo
from graphsvc.indexer import index_bytes
from graphsvc.store import Batch, Store, Touch

SOURCE = (
    b"import os\n\ndef f():\n    return os.getcwd()\n\nclass C:\n    def m(self):\n        f()\n"
)


def _facts(path: str, source: bytes = SOURCE):
    module = path.removesuffix(".py").replace("/", ".")
    return index_bytes(path, source, ModuleInfo(module, False, ""), 1)


def _counts(store: Store) -> dict[str, int]:
    return {k: v for k, v in store.summary().items() if not k.startswith("files_")}


def test_apply_inserts_every_fact_kind_owned_by_the_file(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py"), _facts("b.py")]))
        owners = store.query(
            "SELECT f.path, count(*) FROM symbols s JOIN files f USING (file_id)"
            " GROUP BY 1 ORDER BY 1"
        ).rows
        counts = _counts(store)
    assert owners == [("a.py", 4), ("b.py", 4)]  # module, f, C, C.m
    assert counts["imports"] == 2 and counts["calls"] == 4 and counts["modules"] == 2


def test_replacing_a_file_touches_only_its_rows_and_keeps_its_id(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py"), _facts("b.py")]))
        ids = dict(store.query("SELECT path, file_id FROM files").rows)
        store.apply(Batch(upserts=[_facts("a.py", b"def only():\n    pass\n")]))
        after = dict(store.query("SELECT path, file_id FROM files").rows)
        symbols = store.query(
            "SELECT f.path, s.qualname FROM symbols s JOIN files f USING (file_id) ORDER BY 1, 2"
        ).rows
    assert after == ids
    assert [q for p, q in symbols if p == "a.py"] == ["a", "a.only"]
    assert [q for p, q in symbols if p == "b.py"] == ["b", "b.C", "b.C.m", "b.f"]


def test_remove_and_touch(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py"), _facts("b.py")]))
        store.apply(Batch(touched=[Touch("b.py", 99, 12345)], removed=["a.py"]))
        files = store.query("SELECT path, size, mtime_ns FROM files").rows
        orphans = store.query(
            "SELECT count(*) FROM calls WHERE file_id NOT IN (SELECT file_id FROM files)"
        ).rows
    assert files == [("b.py", 99, 12345)]
    assert orphans == [(0,)]


def test_a_failing_batch_rolls_back_completely(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py")]))
        before = _counts(store)
        # The same path twice in one batch violates files.path UNIQUE after the facts went in.
        with pytest.raises(DatabaseError, match="rolled back"):
            store.apply(Batch(upserts=[_facts("b.py"), _facts("b.py")], removed=["a.py"]))
        assert _counts(store) == before
        assert store.query("SELECT path FROM files").rows == [("a.py",)]


def test_new_ids_continue_after_reopen(tmp_path: Path) -> None:
    db = tmp_path / "g.duckdb"
    with Store.open(db) as store:
        store.apply(Batch(upserts=[_facts("a.py"), _facts("b.py")]))
        store.apply(Batch(removed=["b.py"]))
    with Store.open(db) as store:
        store.apply(Batch(upserts=[_facts("c.py")]))
        ids = dict(store.query("SELECT path, file_id FROM files").rows)
    assert ids["c.py"] > ids["a.py"]
    assert len(set(ids.values())) == len(ids)


def test_read_only_store_refuses_writes_and_file_access(tmp_path: Path) -> None:
    db = tmp_path / "g.duckdb"
    with Store.open(db) as store:
        store.apply(Batch(upserts=[_facts("a.py")]))
    with Store.open(db, read_only=True) as store:
        with pytest.raises(QueryError):
            store.query("DELETE FROM files")
        with pytest.raises(QueryError):
            store.query(f"COPY files TO '{tmp_path / 'leak.csv'}'")
        assert store.query("SELECT count(*) FROM files").rows == [(1,)]
    assert not (tmp_path / "leak.csv").exists()


def test_query_row_limit_reports_truncation(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        result = store.query("SELECT * FROM range(10)", max_rows=3)
        with pytest.raises(QueryError, match="query failed"):
            store.query("SELECT nonsense FROM nowhere")
    assert result.truncated and len(result.rows) == 3


def test_parser_workers_do_not_load_duckdb() -> None:
    # Pool workers import graphsvc.indexer only; DuckDB in each of them would cost ~30 MB.
    code = "import sys, graphsvc.indexer; print('duckdb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_memory_limit_caps_a_writing_connection(tmp_path: Path) -> None:
    def limit(store: Store) -> str:
        row = store.con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert row is not None
        return str(row[0])

    with Store.open(tmp_path / "g.duckdb", memory_mb=64) as store:
        assert limit(store) == "64.0 MiB"
        store.apply(Batch(upserts=[_facts("a.py")]))  # writing works under the cap
    with Store.open(tmp_path / "g.duckdb") as store:  # 0: DuckDB's own default
        assert limit(store) != "64.0 MiB"
        assert _counts(store)["symbols"] == 4


def test_evicting_the_buffer_pool_restores_the_limit_and_keeps_the_data(tmp_path: Path) -> None:
    """``evict_buffers`` (the service at idle, #5) empties DuckDB's buffer pool and sets the
    limit it is given back; in a transaction or on a read-only store it does nothing."""

    def pool(store: Store) -> float:
        rows = store.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()")
        return float(rows.fetchall()[0][0] or 0)

    with Store.open(tmp_path / "g.duckdb", memory_mb=256) as store:
        store.apply(Batch(upserts=[_facts("a.py")]))
        # ~40 MB of persistent blocks that stay cached after they are written and read
        store.con.execute(
            "CREATE TABLE big AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(600000)"
        )
        store.con.execute("CHECKPOINT")
        assert store.con.execute("SELECT count(DISTINCT s) FROM big").fetchall() == [(600_000,)]
        assert pool(store) > 16 * 2**20
        assert store.evict_buffers("256MiB")
        assert pool(store) < 4 * 2**20
        row = store.con.execute("SELECT current_setting('memory_limit')").fetchall()
        assert row == [("256.0 MiB",)]
        assert store.con.execute("SELECT count(DISTINCT s) FROM big").fetchall() == [(600_000,)]
        assert _counts(store)["symbols"] == 4
        with store.atomic():
            assert not store.evict_buffers("1GB")
        row = store.con.execute("SELECT current_setting('memory_limit')").fetchall()
        assert row == [("256.0 MiB",)]
    with Store.open(tmp_path / "g.duckdb", read_only=True) as reader:
        assert not reader.evict_buffers("1GB")


def test_whole_graph_steps_get_room_and_give_it_back(tmp_path: Path) -> None:
    """``roomy`` lifts the writer's page-cache cap for a step that reads the whole graph (the
    channel pass, doc baselines) and restores it, also when the step fails."""

    def limit(store: Store) -> str:
        row = store.con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert row is not None
        return str(row[0])

    with Store.open(tmp_path / "g.duckdb", memory_mb=64) as store:
        with store.roomy("1GB"):
            assert limit(store) in ("953.6 MiB", "1.0 GiB", "1000.0 MiB")
        assert limit(store) == "64.0 MiB"
        with pytest.raises(RuntimeError), store.roomy("512MB"):
            raise RuntimeError("the step failed")
        assert limit(store) == "64.0 MiB"
        with store.roomy(None):
            assert limit(store) == "64.0 MiB"


def test_a_batch_that_fails_says_why_not_that_the_transaction_aborted(tmp_path: Path) -> None:
    """A statement that fails inside a batch aborts the transaction, and the cleanup after it
    (unregistering the Arrow table) then fails too; the error names the first failure."""
    Store.open(tmp_path / "g.duckdb").close()  # migrated with room
    with Store.open(tmp_path / "g.duckdb", memory_mb=1) as store:
        many = [_facts(f"pkg{i}/m.py", SOURCE * 40) for i in range(200)]
        with pytest.raises(DatabaseError) as caught:
            store.apply(Batch(upserts=many))
        assert "Out of Memory" in str(caught.value)
        assert "transaction is aborted" not in str(caught.value)
        assert store.query("SELECT count(*) FROM files").rows == [(0,)]


class _Recording:
    """The store's connection, recording the SQL of each statement run through it."""

    def __init__(self, con: object) -> None:
        self.con = con
        self.sql: list[str] = []

    def execute(self, sql: str, *args: object) -> object:
        self.sql.append(sql)
        return self.con.execute(sql, *args)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.con, name)


def test_an_edits_files_row_is_the_records_whichever_update_writes_it(tmp_path: Path) -> None:
    """A file whose module, status, encoding, error count and skip reason stay as this store
    wrote them has only the columns every edit changes updated; any other edit, all of them."""
    versions = [
        (SOURCE + b"\ndef g():\n    return 1\n", "content"),  # same kind: ok, module a
        (b"def broken(:\n    pass\n", "all"),  # partial, with errors
        (b"def broken(:\n    pass\n\n\nx = 1\n", "content"),  # partial, as many errors
        (SOURCE, "all"),  # ok again
        (SOURCE + b"\n\n", "content"),
    ]
    columns = "module, sha256, size, mtime_ns, line_count, encoding, status, error_count"
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py"), _facts("b.py")]))
        for n, (source, expected) in enumerate(versions, 2):
            facts = index_bytes("a.py", source, ModuleInfo("a", False, ""), n)
            recording = _Recording(store.con)
            store.con = recording  # type: ignore[assignment]
            try:
                store.apply(Batch(upserts=[facts]))
            finally:
                store.con = recording.con  # type: ignore[assignment]
            updates = [s for s in recording.sql if s.startswith("UPDATE files")]
            assert len(updates) == 1
            assert ("module = $module" not in updates[0]) == (expected == "content")
            row = store.query(
                f"SELECT {columns}, skip_reason, indexer_version FROM files WHERE path = 'a.py'"
            ).rows
            r = facts.record
            assert row == [
                (
                    *(r.module, r.sha256, r.size, r.mtime_ns, r.line_count, r.encoding),
                    *(r.status, r.error_count, r.skip_reason, INDEXER_VERSION),
                )
            ]


def test_no_reader_runs_while_the_buffer_pool_is_evicted(tmp_path: Path) -> None:
    """The eviction lowers the instance's memory_limit for a moment, where a query of another
    thread failed for memory: it waits for a moment no reader holds the store's gate (None:
    not now), and a reader that comes meanwhile waits for it to end."""
    with Store.open(tmp_path / "g.duckdb", memory_mb=256) as store:
        store.apply(Batch(upserts=[_facts("a.py")]))
        limit = store.con.execute("SELECT current_setting('memory_limit')").fetchall()
        reader = store.reader()
        assert store.evict_buffers("256MiB") is None  # a reader is open: not now
        assert store.con.execute("SELECT current_setting('memory_limit')").fetchall() == limit
        assert reader.query("SELECT count(*) FROM symbols").rows == [(4,)]
        reader.close()
        assert store.evict_buffers("256MiB") is True
        entered = threading.Event()
        found: list[object] = []

        def read() -> None:
            with store.reader() as late:
                entered.set()
                found.extend(late.query("SELECT count(*) FROM symbols").rows)

        with store.gate.exclusive() as alone:
            assert alone
            thread = threading.Thread(target=read)
            thread.start()
            assert not entered.wait(0.3)  # held at the gate while the eviction runs
        thread.join(30)
        assert entered.is_set() and found == [(4,)]
        with store.reader(), store.gate.exclusive() as alone:
            assert not alone  # never waits: the eviction is skipped instead
