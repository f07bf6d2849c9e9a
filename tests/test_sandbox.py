"""Ad-hoc SQL cannot escape: every attempt is refused, the database and the writer are unchanged."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from conftest import WriteTree

from graphsvc.config import load_settings
from graphsvc.errors import DatabaseError, QueryError, QueryForbidden, QueryTimeout
from graphsvc.facts import ModuleInfo
from graphsvc.indexer import index_bytes
from graphsvc.sandbox import SandboxLimits, SqlSandbox, single_select
from graphsvc.store import Batch, Store
from graphsvc.update import index_tree

SOURCE = (
    b"import os\n\ndef f():\n    return os.getcwd()\n\nclass C:\n    def m(self):\n        f()\n"
)


def _facts(path: str, source: bytes = SOURCE):
    module = path.removesuffix(".py").replace("/", ".")
    return index_bytes(path, source, ModuleInfo(module, False, ""), 1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "db" / "graph.duckdb") as opened:
        opened.apply(Batch(upserts=[_facts("a.py"), _facts("pkg/b.py")]))
        yield opened


@pytest.fixture
def sandbox(store: Store) -> Iterator[SqlSandbox]:
    with SqlSandbox(store, SandboxLimits(max_rows=100, timeout_s=30)) as opened:
        yield opened


def _state(store: Store, root: Path) -> dict[str, object]:
    """Everything an escape could change: catalog, rows, settings, files on disk."""
    con = store.con
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    ]
    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}
    return {
        "counts": counts,
        "catalog": con.execute(
            "SELECT database_name, schema_name, table_name FROM duckdb_tables()"
            " UNION ALL SELECT database_name, schema_name, view_name FROM duckdb_views()"
            " WHERE NOT internal"
            " UNION ALL SELECT database_name, schema_name, sequence_name FROM duckdb_sequences()"
            " UNION ALL SELECT database_name, '', '' FROM duckdb_databases() ORDER BY ALL"
        ).fetchall(),
        "settings": con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE scope = 'GLOBAL' ORDER BY name"
        ).fetchall(),
        "macros": con.execute(
            "SELECT count(*) FROM duckdb_functions() WHERE NOT internal"
        ).fetchall(),
        "files": sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if not p.name.endswith(".wal")
        ),
    }


def _writer_still_commits(store: Store) -> None:
    before = store.con.execute("SELECT count(*) FROM files").fetchall()[0][0]
    store.apply(Batch(upserts=[_facts("after_escape.py")]))
    after = store.con.execute("SELECT count(*) FROM files").fetchall()[0][0]
    assert after == before + 1


ESCAPES: list[tuple[str, str, type[QueryError]]] = [
    # reading files, directories and the network
    ("read_csv", "SELECT * FROM read_csv('/etc/passwd')", QueryForbidden),
    ("read_csv_auto", "SELECT * FROM read_csv_auto('/etc/passwd')", QueryForbidden),
    ("read_text", "SELECT * FROM read_text('/etc/passwd')", QueryForbidden),
    ("read_blob", "SELECT * FROM read_blob('/etc/passwd')", QueryForbidden),
    ("read_parquet", "SELECT * FROM read_parquet('/etc/passwd')", QueryForbidden),
    ("read_json", "SELECT * FROM read_json('/etc/passwd')", QueryForbidden),
    ("read_duckdb", "SELECT * FROM read_duckdb('/etc/passwd')", QueryForbidden),
    ("parquet_metadata", "SELECT * FROM parquet_metadata('/etc/passwd')", QueryForbidden),
    ("sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')", QueryForbidden),
    ("file by name", "SELECT * FROM '/etc/passwd'", QueryForbidden),
    # DuckDB itself allows the database file, its WAL and its temp folder
    ("database file", "SELECT size FROM read_blob('{db}')", QueryForbidden),
    ("WAL", "SELECT content FROM read_text('{db}.wal')", QueryForbidden),
    ("temp folder", "SELECT * FROM glob('{db}.tmp/*')", QueryForbidden),
    ("database file by name", "SELECT count(*) FROM '{db}'", QueryForbidden),
    ("relative file by name", "FROM 'graph.duckdb.wal'", QueryForbidden),
    ("glob", "SELECT * FROM glob('/etc/*')", QueryForbidden),
    ("from-first glob", "FROM glob('*')", QueryForbidden),
    ("file in a CTE",
     "WITH x AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM x", QueryForbidden),
    ("network", "SELECT * FROM read_csv('https://example.com/x.csv')", QueryForbidden),
    ("secrets on disk", "SELECT * FROM duckdb_secrets()", QueryForbidden),
    ("getenv", "SELECT getenv('HOME')", QueryError),
    # writing files
    ("COPY TO", "COPY files TO '{root}/out.csv'", QueryForbidden),
    ("COPY query TO",
     "COPY (SELECT * FROM files) TO '{root}/out.parquet' (FORMAT parquet)", QueryForbidden),
    ("COPY FROM", "COPY files FROM '/etc/passwd'", QueryForbidden),
    ("EXPORT DATABASE", "EXPORT DATABASE '{root}/export'", QueryForbidden),
    ("IMPORT DATABASE", "IMPORT DATABASE '{root}'", QueryForbidden),
    # other databases
    ("ATTACH memory", "ATTACH ':memory:' AS m", QueryForbidden),
    ("ATTACH file", "ATTACH '{root}/other.duckdb' AS o", QueryForbidden),
    ("DETACH", "DETACH graph", QueryForbidden),
    ("USE", "USE system", QueryForbidden),
    # extensions
    ("INSTALL", "INSTALL httpfs", QueryForbidden),
    ("FORCE INSTALL", "FORCE INSTALL httpfs", QueryForbidden),
    ("LOAD", "LOAD httpfs", QueryForbidden),
    ("extension list on disk", "SELECT * FROM duckdb_extensions()", QueryForbidden),
    # settings
    ("SET", "SET threads = 1", QueryForbidden),
    ("SET GLOBAL external access", "SET GLOBAL enable_external_access = true", QueryForbidden),
    ("SET memory", "SET memory_limit = '100GB'", QueryForbidden),
    ("SET VARIABLE", "SET VARIABLE x = 1", QueryForbidden),
    ("RESET", "RESET enable_external_access", QueryForbidden),
    ("RESET lock", "RESET lock_configuration", QueryForbidden),
    ("PRAGMA setting", "PRAGMA threads = 1", QueryForbidden),
    ("PRAGMA profiling", "PRAGMA enable_profiling", QueryForbidden),
    ("enable_logging()", "SELECT * FROM enable_logging()", QueryForbidden),
    ("truncate_duckdb_logs()", "SELECT * FROM truncate_duckdb_logs()", QueryForbidden),
    # writes to the graph
    ("CREATE TABLE", "CREATE TABLE x (a INTEGER)", QueryForbidden),
    ("CREATE TEMP TABLE", "CREATE TEMP TABLE x AS SELECT 1", QueryForbidden),
    ("CREATE VIEW", "CREATE VIEW v AS SELECT 1", QueryForbidden),
    ("CREATE MACRO", "CREATE MACRO m(a) AS a", QueryForbidden),
    ("CREATE SEQUENCE", "CREATE SEQUENCE s", QueryForbidden),
    ("INSERT", "INSERT INTO link_state VALUES ('k', 'v')", QueryForbidden),
    ("INSERT RETURNING", "INSERT INTO link_state VALUES ('k', 'v') RETURNING *", QueryForbidden),
    ("UPDATE", "UPDATE files SET size = 0", QueryForbidden),
    ("DELETE", "DELETE FROM files", QueryForbidden),
    ("DELETE in a CTE",
     "WITH x AS (DELETE FROM files RETURNING *) SELECT * FROM x", QueryForbidden),
    ("TRUNCATE", "TRUNCATE files", QueryForbidden),
    ("DROP", "DROP TABLE files", QueryForbidden),
    ("ALTER", "ALTER TABLE files ADD COLUMN x INTEGER", QueryForbidden),
    ("nextval", "SELECT nextval('link_pending_seq')", QueryForbidden),
    ("PREPARE", "PREPARE p AS DELETE FROM files", QueryForbidden),
    ("EXPLAIN ANALYZE", "EXPLAIN ANALYZE DELETE FROM files", QueryForbidden),
    ("VACUUM", "VACUUM files", QueryForbidden),
    ("ANALYZE", "ANALYZE", QueryForbidden),
    # several statements, transaction control
    ("select then drop", "SELECT 1; DROP TABLE files", QueryForbidden),
    ("two selects", "SELECT 1; SELECT 2", QueryForbidden),
    ("BEGIN", "BEGIN TRANSACTION", QueryForbidden),
    ("COMMIT", "COMMIT", QueryForbidden),
    # CALL, checkpoints, secrets, SQL text the check would not see, raw pointers
    ("CALL read_csv", "CALL read_csv('/etc/passwd')", QueryForbidden),
    ("CALL pragma", "CALL pragma_version()", QueryForbidden),
    ("CHECKPOINT", "CHECKPOINT", QueryForbidden),
    ("FORCE CHECKPOINT", "FORCE CHECKPOINT", QueryForbidden),
    ("checkpoint()", "SELECT * FROM checkpoint()", QueryForbidden),
    ("force_checkpoint()", "SELECT * FROM main.force_checkpoint()", QueryForbidden),
    ("CREATE SECRET", "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')", QueryForbidden),
    ("CREATE PERSISTENT SECRET",
     "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')", QueryForbidden),
    ("query()", "SELECT * FROM query('SELECT * FROM checkpoint()')", QueryForbidden),
    ("query() in a subquery",
     "SELECT 1 WHERE EXISTS (SELECT * FROM QUERY('SELECT 1'))", QueryForbidden),
    ("json_execute_serialized_sql",
     "SELECT * FROM json_execute_serialized_sql('x')", QueryForbidden),
    ("arrow_scan", "SELECT * FROM arrow_scan(1, 2, 3)", QueryForbidden),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "error"), [e[1:] for e in ESCAPES], ids=[e[0] for e in ESCAPES])
def test_escape_is_refused_and_changes_nothing(
    store: Store, sandbox: SqlSandbox, tmp_path: Path, sql: str, error: type[QueryError]
) -> None:
    before = _state(store, tmp_path)
    with pytest.raises(error) as caught:
        sandbox.run(sql.format(root=tmp_path, db=store.path))
    assert type(caught.value) is error
    assert _state(store, tmp_path) == before
    assert sandbox.run("SELECT count(*) FROM files").rows == [(2,)]
    _writer_still_commits(store)


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT * FROM read_text('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM glob('/etc/*')", "file system operations are disabled"),
        ("COPY (SELECT 1) TO '/tmp/graphsvc-sandbox-escape.csv'", "disabled by configuration"),
        ("ATTACH '/tmp/graphsvc-sandbox-escape.duckdb' AS m", "disabled by configuration"),
        ("INSTALL httpfs", "disabled"),
        ("SET GLOBAL enable_external_access = true", "configuration has been locked"),
        ("SET memory_limit = '100GB'", "configuration has been locked"),
        ("RESET lock_configuration", "configuration has been locked"),
    ],
)
def test_the_instance_lockdown_holds_without_the_statement_check(
    store: Store, sandbox: SqlSandbox, sql: str, error: str
) -> None:
    """Layer 1 on its own: even the writer's own connection cannot reach out any more."""
    with pytest.raises(duckdb.Error, match=error):
        store.con.execute(sql)
    assert not Path("/tmp/graphsvc-sandbox-escape.csv").exists()
    assert not Path("/tmp/graphsvc-sandbox-escape.duckdb").exists()
    _writer_still_commits(store)


ALLOWED = [
    ("SELECT path FROM files ORDER BY path", [("a.py",), ("pkg/b.py",)]),
    ("WITH x AS (SELECT path FROM files) SELECT count(*) FROM x", [(2,)]),
    ("FROM files SELECT count(*)", [(2,)]),
    ("VALUES (1, 'a')", [(1, "a")]),
    ("SELECT value FROM duckdb_settings() WHERE name = 'enable_external_access'", [("false",)]),
    ("SELECT current_setting('lock_configuration')", [(True,)]),
    # DuckDB allows the temp folder itself; nothing else is added (it would grant writes too)
    ("SELECT value LIKE '%graph.duckdb.tmp/]' FROM duckdb_settings()"
     " WHERE name = 'allowed_directories'", [(True,)]),
    ("SELECT count(*) > 5 FROM duckdb_columns() WHERE table_name = 'files'", [(True,)]),
    ("SELECT count(*) FROM (DESCRIBE files) WHERE column_name = 'path'", [(1,)]),
    ("SELECT count(*) FROM (SHOW TABLES) WHERE name = 'symbols'", [(1,)]),
    ("SELECT column_name FROM (SUMMARIZE files) WHERE column_name = 'sha256'", [("sha256",)]),
    ("SELECT name FROM pragma_table_info('files') WHERE pk", [("file_id",)]),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
     "SELECT max(n) FROM r", [(5,)]),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "rows"), ALLOWED)
def test_reads_are_allowed(sandbox: SqlSandbox, sql: str, rows: list[tuple[object, ...]]) -> None:
    assert sandbox.run(sql).rows == rows


@pytest.mark.parametrize(
    "statement", ["DESCRIBE files", "SHOW TABLES", "SUMMARIZE files", "TABLE files"]
)
def test_describe_show_summarize_run_as_selects(sandbox: SqlSandbox, statement: str) -> None:
    result = sandbox.run(statement)
    assert result.columns and result.rows


@pytest.mark.parametrize(
    ("sql", "error"),
    [("", "no SQL statement"), ("-- only a comment", "no SQL statement"), ("SELEC 1", "syntax")],
)
def test_invalid_sql_is_a_query_error(sandbox: SqlSandbox, sql: str, error: str) -> None:
    with pytest.raises(QueryError, match=error) as caught:
        sandbox.run(sql)
    assert type(caught.value) is QueryError


def test_explain_and_pragma_are_refused_with_a_reason() -> None:
    with pytest.raises(QueryForbidden, match="EXPLAIN statements are not allowed"):
        single_select("EXPLAIN SELECT 1")
    with pytest.raises(QueryForbidden, match="PRAGMA statements are not allowed"):
        single_select("PRAGMA version")
    assert single_select("SELECT 1;").strip().rstrip(";") == "SELECT 1"


def test_row_cap_sets_truncated(sandbox: SqlSandbox) -> None:
    capped = sandbox.run("SELECT * FROM range(10)", max_rows=3)
    assert capped.rows == [(0,), (1,), (2,)] and capped.truncated
    exact = sandbox.run("SELECT * FROM range(3)", max_rows=3)
    assert len(exact.rows) == 3 and not exact.truncated
    default = sandbox.run("SELECT * FROM range(1000)")
    assert len(default.rows) == 100 and default.truncated
    # The cap stops fetching: a query with an endless result still answers.
    endless = sandbox.run("SELECT * FROM range(9223372036854775807)", max_rows=2)
    assert endless.rows == [(0,), (1,)] and endless.truncated


RUNAWAY = [
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    "SELECT count(*) FROM range(1000000) a, range(1000000) b, range(1000) c",
]


@pytest.mark.parametrize("sql", RUNAWAY, ids=["recursive CTE", "cross join"])
def test_runaway_query_times_out_and_the_sandbox_still_works(
    store: Store, sandbox: SqlSandbox, sql: str
) -> None:
    with pytest.raises(QueryTimeout, match="time limit") as caught:
        sandbox.run(sql, timeout_s=0.2)
    assert caught.value.timeout_s == 0.2
    assert sandbox.run("SELECT 42").rows == [(42,)]
    _writer_still_commits(store)
    assert sandbox.run("SELECT count(*) FROM files").rows == [(3,)]


def test_only_an_evictable_lockdown_lets_the_process_lower_the_memory_limit(
    tmp_path: Path,
) -> None:
    """The service's sandbox (``evictable``) leaves ``memory_limit`` to in-process code, for
    the buffer pool's eviction at idle; ad-hoc SQL still cannot SET it, and the CLI's
    lockdown keeps it locked."""
    with (
        Store.open(tmp_path / "graph.duckdb") as store,
        SqlSandbox(store, SandboxLimits(memory_limit="64MB")),
    ):
        assert not store.evict_buffers("64MB")
        with pytest.raises(duckdb.Error, match="configuration has been locked"):
            store.con.execute("SET memory_limit = '100GB'")
    with Store.open(tmp_path / "graph.duckdb") as store:
        limits = SandboxLimits(memory_limit="64MB", evictable=True)
        with SqlSandbox(store, limits) as sandbox:
            assert store.evict_buffers(limits.memory_limit)
            limit = store.con.execute("SELECT current_setting('memory_limit')").fetchall()
            assert limit == [("61.0 MiB",)]  # 64 MB
            with pytest.raises(QueryForbidden):
                sandbox.run("SET memory_limit = '100GB'")
            with pytest.raises(duckdb.Error, match="configuration has been locked"):
                store.con.execute("SET GLOBAL enable_external_access = true")
            store.apply(Batch(upserts=[_facts("a.py")]))
            assert sandbox.run("SELECT count(*) FROM files").rows == [(1,)]
            # more pinned than the eviction's limit (a temp table cannot be spilled here: the
            # lockdown allows no temp files): DuckDB evicts, refuses the limit, keeps its own
            store.con.execute(
                "CREATE TEMP TABLE pinned AS SELECT md5(range::VARCHAR) AS s FROM range(300000)"
            )
            assert store.evict_buffers("1TB")  # never reached: the limit did not move
            limit = store.con.execute("SELECT current_setting('memory_limit')").fetchall()
            assert limit == [("61.0 MiB",)]
            rows = store.con.execute("SELECT count(DISTINCT s) FROM pinned").fetchall()
            assert rows == [(300_000,)]


def test_memory_limit_stops_a_large_query(tmp_path: Path) -> None:
    with Store.open(tmp_path / "graph.duckdb") as store:
        limits = SandboxLimits(timeout_s=60, memory_limit="64MB")
        with SqlSandbox(store, limits) as sandbox:
            with pytest.raises(QueryError, match="Out of Memory") as caught:
                sandbox.run(
                    "SELECT count(*) FROM (SELECT range % 30000000 AS g, count(*)"
                    " FROM range(60000000) GROUP BY g)"
                )
            assert type(caught.value) is QueryError
            assert sandbox.run("SELECT 1").rows == [(1,)]
            store.apply(Batch(upserts=[_facts("a.py")]))
            assert sandbox.run("SELECT count(*) FROM files").rows == [(1,)]


def test_threads_each_get_a_cursor_while_the_writer_commits(
    store: Store, sandbox: SqlSandbox
) -> None:
    errors: list[BaseException] = []
    counts: list[int] = []
    lock = threading.Lock()

    def reader() -> None:
        for _ in range(40):
            try:
                rows = sandbox.run("SELECT count(*) FROM files, range(100)").rows
            except BaseException as exc:
                with lock:
                    errors.append(exc)
                return
            with lock:
                counts.append(int(rows[0][0]))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for i in range(20):
        store.apply(Batch(upserts=[_facts(f"w{i}.py")]))
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    assert len(counts) == 8 * 40
    # Each read sees one committed state: 2 to 22 files, 100 rows each.
    assert all(c % 100 == 0 and 200 <= c <= 2200 for c in counts)


def test_a_timeout_interrupts_only_its_own_query(sandbox: SqlSandbox) -> None:
    errors: list[BaseException] = []
    answers: list[int] = []
    stop = threading.Event()

    def bystander() -> None:
        while not stop.is_set():
            try:
                answers.append(int(sandbox.run("SELECT count(*) FROM range(200000)").rows[0][0]))
            except BaseException as exc:
                errors.append(exc)
                return

    thread = threading.Thread(target=bystander)
    thread.start()
    try:
        for _ in range(5):
            with pytest.raises(QueryTimeout):
                sandbox.run(RUNAWAY[0], timeout_s=0.1)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors[:3]
    assert answers and set(answers) == {200000}


def test_cursors_of_ended_threads_are_closed(sandbox: SqlSandbox) -> None:
    def one() -> None:
        sandbox.run("SELECT 1")

    for _ in range(5):
        thread = threading.Thread(target=one)
        thread.start()
        thread.join()
    sandbox.run("SELECT 1")
    assert len(sandbox._cursors) <= 2  # this thread's, and at most the last ended one


def test_lockdown_leaves_indexing_and_linking_working(write_tree: WriteTree) -> None:
    tree = write_tree(
        {
            "app/__init__.py": "from .core import run\n",
            "app/core.py": "def helper():\n    return 1\n\ndef run():\n    return helper()\n",
        }
    )
    settings = load_settings(tree)
    with Store.open(tree / ".graphsvc" / "graph.duckdb") as store, SqlSandbox(store) as sandbox:
        index_tree(tree, store, settings)
        calls = sandbox.run(
            "SELECT caller, callee FROM call_edges WHERE status = 'resolved' ORDER BY ALL"
        ).rows
        assert calls == [("app.core.run", "app.core.helper")]
        (tree / "app" / "core.py").write_text(
            "def helper():\n    return 1\n\ndef run():\n    return helper() + helper()\n"
        )
        index_tree(tree, store, settings)
        again = sandbox.run("SELECT count(*) FROM call_edges WHERE callee = 'app.core.helper'")
        assert again.rows == [(2,)]


def test_a_second_sandbox_on_the_same_instance_reuses_the_lockdown(store: Store) -> None:
    with SqlSandbox(store) as first, SqlSandbox(store) as second:
        assert first.run("SELECT 1").rows == second.run("SELECT 1").rows == [(1,)]
        with pytest.raises(QueryForbidden):
            second.run("SELECT * FROM read_text('/etc/passwd')")


def test_an_instance_locked_by_someone_else_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "graph.duckdb") as store:
        store.con.execute("SET GLOBAL lock_configuration = true")  # external access still on
        with pytest.raises(DatabaseError, match="without the sandbox's enable_external_access"):
            SqlSandbox(store)


def test_open_on_a_file_is_read_only(store: Store, tmp_path: Path) -> None:
    path = store.path
    store.close()
    with SqlSandbox.open(path) as sandbox:
        assert sandbox.store.read_only
        assert sandbox.run("SELECT count(*) FROM files").rows == [(2,)]
        with pytest.raises(QueryForbidden):
            sandbox.run("SELECT * FROM read_text('/etc/passwd')")
    with pytest.raises(DatabaseError, match="run `graphsvc index` first"):
        SqlSandbox.open(tmp_path / "missing.duckdb")


def test_a_closed_sandbox_is_a_query_error(store: Store) -> None:
    sandbox = SqlSandbox(store)
    sandbox.run("SELECT 1")
    sandbox.close()
    with pytest.raises(QueryError, match="sandbox is closed"):
        sandbox.run("SELECT 1")
    _writer_still_commits(store)


def test_invalid_memory_limit_is_a_database_error(tmp_path: Path) -> None:
    with (
        Store.open(tmp_path / "graph.duckdb") as store,
        pytest.raises(DatabaseError, match="cannot lock down"),
    ):
        SqlSandbox(store, SandboxLimits(memory_limit="lots"))


def test_errors_pickle() -> None:
    timeout = pickle.loads(pickle.dumps(QueryTimeout("SELECT 1", 0.5)))
    assert isinstance(timeout, QueryTimeout) and timeout.timeout_s == 0.5
    forbidden = pickle.loads(pickle.dumps(QueryForbidden("DROP TABLE x", "no")))
    assert isinstance(forbidden, QueryForbidden) and "query refused: no" in str(forbidden)
