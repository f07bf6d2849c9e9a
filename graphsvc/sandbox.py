# pyright: strict
"""Ad-hoc SQL that cannot escape: one SELECT, read-only, no files, no network, bounded.

The service has one DuckDB database instance per process: the store's writer connection. DuckDB
refuses a second ``duckdb.connect`` of the same file with another configuration, and refuses to
``ATTACH`` the file from another in-process instance ("Unique file handle conflict"), so the
sandbox cannot have an instance of its own. It locks down the writer's instance instead, from a
dedicated connection (a cursor), before any untrusted SQL runs:

- global settings: no external access (files, network, ``ATTACH``, ``INSTALL``/``LOAD``, secrets
  on disk), no extension autoload/autoinstall, no community extensions, no Python replacement
  scans, no temp files (``max_temp_directory_size = 0``), a memory limit, then
  ``lock_configuration`` last so nothing can change them again. The writer keeps working: it
  inserts from registered Arrow tables, which none of these settings touch (see the tests).
- every request: parsed with ``duckdb.extract_statements``, exactly one SELECT-type statement
  (SELECT, WITH ... SELECT, VALUES, TABLE, FROM-first, DESCRIBE, SHOW, SUMMARIZE), no call of a
  function with side effects (``checkpoint()``, ``query('...')`` which would run unchecked SQL,
  raw pointer scans ...) and no file read (``read_*()``, ``glob()``, ``FROM 'a/file'``), found
  in the statement's parse tree from ``json_serialize_sql``, run
  inside ``BEGIN TRANSACTION READ ONLY`` ... ``ROLLBACK``, at most ``max_rows + 1`` rows fetched,
  and a timer that interrupts the query at the time limit.
- one cursor per thread: a cursor shared by threads fails with "connection is busy".

The SQL of the lockdown lives here, not in store.py: this module is the security boundary and is
meant to be read as a whole.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self, cast

import duckdb

from graphsvc.errors import DatabaseError, QueryError, QueryForbidden, QueryTimeout
from graphsvc.store import QueryResult, Store

log = logging.getLogger(__name__)

# Global settings of the database instance, in this order; lock_configuration comes after them.
LOCKDOWN: tuple[tuple[str, str], ...] = (
    ("enable_external_access", "false"),
    ("autoload_known_extensions", "false"),
    ("autoinstall_known_extensions", "false"),
    ("allow_community_extensions", "false"),
    ("python_enable_replacements", "false"),
    ("max_temp_directory_size", "'0KB'"),
)
# The one option a sandbox cursor changes after the lock (a SET never passes the statement check).
ALLOWED_AFTER_LOCK = ("enable_progress_bar",)

# Functions a SELECT may not call: they change the instance or the file (checkpoints, logging,
# profiling, parser extensions, external resources), run SQL text the check never saw (query,
# json_execute_serialized_sql), or scan Python objects by raw pointer (a crash, not a read).
FORBIDDEN_FUNCTIONS = frozenset(
    {
        "checkpoint",
        "force_checkpoint",
        "query",
        "json_execute_serialized_sql",
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "enable_profiling",
        "disable_profiling",
        "add_grammar_extension",
        "remove_grammar_extension",
        "create_external_resource",
        "register_external_resource",
        "register_external_resource_type",
        "deregister_external_resource",
        "destroy_external_resource",
        "arrow_scan",
        "arrow_scan_dumb",
        "python_arrow_scan",
        "pandas_scan",
        "python_map_function",
    }
)
# Functions that read files. With external access off DuckDB still allows the database file, its
# WAL and its temp folder (it lists them in allowed_paths / allowed_directories itself; measured:
# read_blob of the WAL returned its bytes), so the graph's own files are refused here as well.
FILE_FUNCTION_PREFIXES = ("read_", "parquet_")
FILE_FUNCTIONS = frozenset({"glob", "sniff_csv", "iceberg_scan", "delta_scan", "sqlite_scan"})
# A table name with one of these is a file path (a replacement scan: FROM 'graph.duckdb'); no
# graphsvc table or view has one.
PATH_CHARACTERS = ("/", "\\", ".")


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Limits of ad-hoc SQL.

    ``memory_limit`` is DuckDB's instance-wide ``memory_limit`` (per-connection
    ``operator_memory_limit`` was measured to stop nothing in duckdb 2.0.1): in the service it
    bounds the writer too. ``threads`` (None: DuckDB's default) is instance-wide as well.
    ``evictable`` (the service's) leaves ``memory_limit`` settable after the lock, for
    :meth:`Store.evict_buffers <graphsvc.store.Store.evict_buffers>` to empty the buffer pool
    when the service is idle: in-process code can then lower or raise it, ad-hoc SQL still
    cannot (the statement check refuses every SET).
    """

    max_rows: int = 10_000
    timeout_s: float = 5.0
    memory_limit: str = "2GB"
    threads: int | None = None
    evictable: bool = False


class _Deadline:
    """Interrupts ``cursor``'s query at the time limit; never a later query on the same cursor."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, timeout_s: float) -> None:
        self._cursor = cursor
        self._lock = threading.Lock()
        self._armed = True
        self.fired = False
        self._timer = threading.Timer(timeout_s, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        with self._lock:
            if self._armed:
                self.fired = True
                self._cursor.interrupt()

    def __enter__(self) -> Self:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:  # after this, _fire can no longer interrupt anything
            self._armed = False
        self._timer.cancel()


def _refusals(tree: object) -> Iterator[str]:
    """Why a ``json_serialize_sql`` parse tree is refused: forbidden calls, file paths as tables."""
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(cast("list[object]", node))
            continue
        if not isinstance(node, dict):
            continue
        fields = cast("dict[str, object]", node)
        name = fields.get("function_name")
        if isinstance(name, str):
            name = name.lower()
            if name in FORBIDDEN_FUNCTIONS:
                yield f"function {name}() is not allowed in ad-hoc SQL"
            elif name.startswith(FILE_FUNCTION_PREFIXES) or name in FILE_FUNCTIONS:
                yield f"function {name}() reads files; ad-hoc SQL reads only the graph"
        table = fields.get("table_name")
        if (
            fields.get("type") == "BASE_TABLE"
            and isinstance(table, str)
            and any(c in table for c in PATH_CHARACTERS)
        ):
            yield f"{table!r} is a file path, not a table; ad-hoc SQL reads only the graph"
        stack.extend(fields.values())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def single_select(sql: str) -> str:
    """The one SELECT-type statement of ``sql`` (no parse tree check; see :meth:`SqlSandbox.run`).

    Raises:
        QueryError: the SQL does not parse, or is empty.
        QueryForbidden: more than one statement, or a statement that is not a SELECT.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(sql, _first_line(exc)) from exc
    if not statements:
        raise QueryError(sql, "no SQL statement given")
    if len(statements) > 1:
        raise QueryForbidden(sql, f"exactly one statement is allowed, got {len(statements)}")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise QueryForbidden(
            sql,
            f"{statement.type.name} statements are not allowed: ad-hoc SQL is read-only and runs"
            " one SELECT (WITH, VALUES, TABLE, FROM, DESCRIBE, SHOW and SUMMARIZE are fine)",
        )
    return statement.query


def check_parse_tree(con: duckdb.DuckDBPyConnection, sql: str, statement: str) -> None:
    """Refuse ``statement`` (the one SELECT of ``sql``) when its parse tree calls a function with
    side effects or reads a file (saved queries from a user's folder get the same check).

    Raises:
        QueryForbidden: the statement cannot be serialised, or calls or reads what it may not.
    """
    row = con.execute("SELECT json_serialize_sql($q)", {"q": statement}).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise QueryForbidden(sql, "the statement cannot be checked; write it as a plain SELECT")
    refusals = sorted(set(_refusals(tree)))
    if refusals:
        raise QueryForbidden(sql, refusals[0])


class SqlSandbox:
    """Runs untrusted SQL against a graphsvc database, safely, from any number of threads.

    Build it on the service's open :class:`Store` (the writer: its instance is locked down and
    the writer keeps working) or with :meth:`open` on a database file (a read-only instance of
    its own). Lock-down is instance-wide and permanent: build the sandbox after the store is open
    and migrated; afterwards no connection of the instance can change a setting.
    """

    def __init__(
        self, store: Store, limits: SandboxLimits | None = None, *, owns_store: bool = False
    ) -> None:
        """Lock down ``store``'s database instance.

        Raises:
            DatabaseError: a limit is invalid, or the instance was locked down differently.
        """
        self.limits = limits or SandboxLimits()
        self.store = store
        self._owns_store = owns_store
        self._base = store.cursor()
        self._cursors: dict[int, duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()
        try:
            self._lock_down()
        except BaseException:
            self._base.close()
            raise

    @classmethod
    def open(cls, path: Path, limits: SandboxLimits | None = None) -> Self:
        """A sandbox on the database file at ``path``, opened read-only (for the CLI).

        Raises:
            DatabaseError: the file is missing, locked by a writer (DatabaseLocked), or invalid.
        """
        store = Store.open(path, read_only=True)
        try:
            return cls(store, limits, owns_store=True)
        except BaseException:
            store.close()
            raise

    def _setting(self, name: str) -> str:
        row = self._base.execute("SELECT current_setting($name)::VARCHAR", {"name": name})
        value = row.fetchone()
        return str(value[0]) if value else ""

    def _lock_down(self) -> None:
        path = str(self.store.path)
        if self._setting("lock_configuration") == "true":
            # Another sandbox (or whoever) locked this instance: use it only if it is ours.
            loose = [n for n, v in LOCKDOWN if v == "false" and self._setting(n) != "false"]
            if loose:
                raise DatabaseError(
                    path, f"the database instance is locked without the sandbox's {loose[0]}"
                )
            return
        settings = [*LOCKDOWN, ("memory_limit", f"'{self._quote(self.limits.memory_limit)}'")]
        if self.limits.threads is not None:
            settings.append(("threads", str(int(self.limits.threads))))
        names = (*ALLOWED_AFTER_LOCK, *(("memory_limit",) if self.limits.evictable else ()))
        allowed = ", ".join(f"'{name}'" for name in names)
        settings.append(("allowed_configs", f"[{allowed}]"))
        try:
            for name, value in settings:
                self._base.execute(f"SET GLOBAL {name} = {value}")
            self._base.execute("SET GLOBAL lock_configuration = true")
        except duckdb.Error as exc:
            raise DatabaseError(path, f"cannot lock down ad-hoc SQL: {_first_line(exc)}") from exc

    @staticmethod
    def _quote(value: str) -> str:
        return value.replace("'", "''")

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        ident = threading.get_ident()
        with self._lock:
            cursor = self._cursors.get(ident)
            if cursor is None:
                self._prune()
                cursor = self.store.cursor(self._base)
                cursor.execute("SET enable_progress_bar = false")  # no bar on the CLI's stdout
                self._cursors[ident] = cursor
        return cursor

    def _prune(self) -> None:
        """Close the cursors of threads that have ended (a server's pool replaces threads)."""
        alive = {t.ident for t in threading.enumerate()}
        for ident in [i for i in self._cursors if i not in alive]:
            self._cursors.pop(ident).close()

    def _drop_cursor(self) -> None:
        with self._lock:
            cursor = self._cursors.pop(threading.get_ident(), None)
        if cursor is not None:
            cursor.close()

    def _check_functions(self, cursor: duckdb.DuckDBPyConnection, sql: str, statement: str) -> None:
        check_parse_tree(cursor, sql, statement)

    def run(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None
    ) -> QueryResult:
        """Run one read-only SELECT; at most ``max_rows`` rows come back (``truncated`` says so).

        Args:
            sql: untrusted SQL text.
            max_rows: row cap (default: the sandbox's limits).
            timeout_s: time limit in seconds (default: the sandbox's limits).

        Returns:
            Column names, rows, and whether rows were left out.

        Raises:
            QueryForbidden: not exactly one SELECT, or it calls a forbidden function, or touches
                a file, the network, a setting or the data (DuckDB's permission errors).
            QueryTimeout: the query ran past the time limit and was interrupted.
            QueryError: the SQL is invalid or failed (out of memory included).
        """
        cap = self.limits.max_rows if max_rows is None else max_rows
        limit_s = self.limits.timeout_s if timeout_s is None else timeout_s
        statement = single_select(sql)
        try:
            cursor = self._cursor()
        except duckdb.Error as exc:  # the sandbox or the store was closed
            raise QueryError(sql, f"the SQL sandbox is closed ({_first_line(exc)})") from exc
        # not while the store empties DuckDB's buffer pool (storebase.ReadGate)
        with self.store.gate.shared():
            deadline = _Deadline(cursor, limit_s)
            try:
                cursor.execute("BEGIN TRANSACTION READ ONLY")
                try:
                    with deadline:
                        self._check_functions(cursor, sql, statement)
                        cursor.execute(statement)
                        columns = [d[0] for d in cursor.description or []]
                        rows = cursor.fetchmany(cap + 1)
                finally:
                    self._rollback(cursor)
            except duckdb.InterruptException as exc:
                if deadline.fired:
                    raise QueryTimeout(sql, limit_s) from exc
                raise QueryError(sql, _first_line(exc)) from exc
            except duckdb.PermissionException as exc:
                raise QueryForbidden(sql, _first_line(exc)) from exc
            except duckdb.TransactionException as exc:
                if "read-only" in str(exc):  # a write reached the read-only transaction
                    raise QueryForbidden(sql, _first_line(exc)) from exc
                raise QueryError(sql, _first_line(exc)) from exc
            except duckdb.Error as exc:
                raise QueryError(sql, _first_line(exc)) from exc
            return QueryResult(columns, rows[:cap], len(rows) > cap)

    def _rollback(self, cursor: duckdb.DuckDBPyConnection) -> None:
        try:
            cursor.execute("ROLLBACK")
        except duckdb.Error:
            # A cursor we cannot bring back to a clean state is replaced, never reused.
            log.warning("ad-hoc SQL cursor could not roll back; replacing it", exc_info=True)
            self._drop_cursor()

    def close(self) -> None:
        """Close the sandbox's cursors (and the database, when :meth:`open` opened it).

        Call it once no thread runs a query any more (after the API has stopped).
        """
        with self._lock:
            cursors, self._cursors = list(self._cursors.values()), {}
        for cursor in cursors:
            cursor.close()
        self._base.close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
