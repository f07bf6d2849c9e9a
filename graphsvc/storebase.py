"""The store's base: the connection, its transactions, bulk inserts and the read side.

:class:`graphsvc.store.Store` (the only writer) builds on it: the batch apply there, the passes'
writes (links, channels, entry rules, findings) in :mod:`graphsvc.storepasses`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import duckdb
import pyarrow as pa

from graphsvc.columns import FACT_TABLES
from graphsvc.errors import DatabaseError, DatabaseLocked, QueryError
from graphsvc.schema import check_current, migrate
from graphsvc.written import WrittenLog

# Rows of the channel pass, owned by a file and rewritten together by the pass (not when their
# file is: the pass compares a fingerprint of its inputs and skips a batch that changed none).
CHANNEL_TABLES = ("channel_sites", "channels", "channel_wrappers")
# Rows derived from several files' facts, owned by the file of the site (see schema 0002).
DERIVED_TABLES = ("links", "link_deps", "channel_inputs")
# Of those, the ones only the linker reads: a replaced file's rows are left to its next run,
# which replaces those that changed (see Store._delete_files).
LINKER_TABLES = ("link_deps", "channel_inputs")
# The memory_limit Store.evict_buffers asks for: below what stays pinned after a findings refresh
# on the standard library (3.2 MB), so that DuckDB evicts every unpinned block and then refuses
# it (at 8MB it stopped evicting at 7.4 MB); small enough trees pin less, and the limit drops
# for the moment until it is set back, which 2MB leaves room for (at 0 bytes even the SET that
# restores it failed for memory).
EVICT_LIMIT = "2MB"
# A new database is written in a storage format the duckdb CLI from PyPI (1.5) can read.
STORAGE_COMPATIBILITY = "v1.5.0"
# Rows per row group of the tables a writable store writes (DuckDB's default is 122,880). A
# file's rows sit together, and a scan restricted to a few files (``list_contains($files,
# file_id)``) skips every row group whose file_id range misses them: with one row group per
# table (a ~1,000-file tree) it read and decompressed every row (BENCHMARKS.md "Row groups").
ROW_GROUP_SIZE = 8192


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of a read query, with a flag when the row limit cut it short."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool


def _connect(
    path: Path, read_only: bool, memory_mb: int
) -> tuple[duckdb.DuckDBPyConnection, str | None]:
    """A connection to the file, and the catalog name its cursors must USE (None: none)."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if memory_mb:
        config["memory_limit"] = f"{memory_mb}MiB"
    try:
        if read_only:
            config["enable_external_access"] = False
            return duckdb.connect(str(path), read_only=True, config=config), None
        alias = path.stem if path.stem.lower() not in _RESERVED_CATALOGS else "graph"
        return _attach(path, alias, config), alias
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLocked(str(path)) from exc
        raise DatabaseError(str(path), str(exc)) from exc
    except duckdb.ResourceInUseException as exc:  # open in this process (another instance)
        raise DatabaseError(str(path), f"already open in this process: {exc}") from exc
    except duckdb.Error as exc:
        raise DatabaseError(str(path), str(exc)) from exc


# names DuckDB reserves or the in-memory instance's own database has
_RESERVED_CATALOGS = frozenset({"memory", "main", "temp", "system"})


def _attach(
    path: Path, alias: str, config: dict[str, str | bool | int | float | list[str]]
) -> duckdb.DuckDBPyConnection:
    """A writable connection whose row groups hold ``ROW_GROUP_SIZE`` rows: DuckDB takes the
    size per attach (not from the file, and ``duckdb.connect(path)`` has no option for it), so
    the file is attached to an in-memory instance as ``alias`` (the name ``duckdb.connect``
    would give it, its stem, unless DuckDB reserves that) and made its default database."""
    options = [f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}"]
    if not path.exists():
        options.append(f"STORAGE_VERSION '{STORAGE_COMPATIBILITY}'")
    # the spill folder DuckDB gives a database file (an in-memory one's is ``.tmp`` in the
    # working directory: the watched tree)
    config = {**config, "temp_directory": f"{path}.tmp"}
    con = duckdb.connect(":memory:", config=config)
    try:
        name = _identifier(alias)
        con.execute(f"ATTACH {_literal(str(path))} AS {name} ({', '.join(options)})")
        con.execute(f"USE {name}")
    except BaseException:
        con.close()
        raise
    return con


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class ReadGate:
    """Keeps other threads' reads out of the moment the buffer pool is emptied
    (:meth:`StoreBase.evict_buffers`): the instance's ``memory_limit`` drops to EVICT_LIMIT
    there, where a graph pins less than that, and a query of another thread then failed for
    memory (tests/test_serve.py's random operations met it). Readers (:meth:`StoreBase.reader`,
    the SQL sandbox's queries) hold it shared; the eviction takes it only while none does, and
    a reader that comes meanwhile waits the few milliseconds it takes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._closed = False

    def enter(self) -> None:
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._readers += 1

    def leave(self) -> None:
        with self._cond:
            self._readers -= 1
            self._cond.notify_all()

    @contextmanager
    def shared(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.leave()

    @contextmanager
    def exclusive(self) -> Iterator[bool]:
        """Whether no reader held it (then none enters until the block ends); never waits."""
        with self._cond:
            got = self._readers == 0 and not self._closed
            self._closed = self._closed or got
        try:
            yield got
        finally:
            if got:
                with self._cond:
                    self._closed = False
                    self._cond.notify_all()


class StoreBase:
    """A graphsvc database's connection. Open :class:`graphsvc.store.Store` with its
    :meth:`open`; use as a context manager."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        read_only: bool,
        *,
        catalog: str | None = None,
        gate: ReadGate | None = None,
    ) -> None:
        self.con = con
        self.gate = gate or ReadGate()  # one per instance: readers and writers share it
        self._gated = False  # a reader holding the gate shared until close()
        # the attached database a new cursor must USE (None: the instance's default one)
        self.catalog = catalog
        self.path = path
        self.read_only = read_only
        self._next_id = 1
        self._atomic = False  # inside atomic(): the steps' transactions join it
        # answers that hold until a Python path is added or removed ("paths") or a doc changes
        # ("docs"); any rollback drops them
        self._cached: dict[str, Any] = {}
        self._written = WrittenLog()  # fact rows written since the linker last took them
        self._table_columns: dict[str, list[str]] = {}  # table -> its columns, in order
        # fact tables holding rows of each file this store wrote (others: unknown); a one-file
        # batch then deletes from the ~9 of 13 tables that have its rows, not from all 13
        self._owned: dict[int, frozenset[str]] = {}
        self._owned_sets: dict[frozenset[str], frozenset[str]] = {}  # one object per set
        # digest of each fact table's rows of each file as last written (see Store._unchanged)
        self._digests: dict[int, bytes] = {}
        # the per-file tables the applies since the last take_changed() changed (None: unknown)
        self._changed: set[str] | None = set()
        # hash of (module, status, encoding, error count, skip reason) of each file this store
        # wrote: whether a file's row changed more than the columns every edit changes
        self._file_kinds: dict[int, int] = {}
        # (file_id, module) of the paths this store wrote, and (latest sha256, versions) of
        # their file_history: a one-file batch of a file written before reads neither
        self._path_ids: dict[str, tuple[int, str | None]] = {}
        self._history: dict[str, tuple[str, int]] = {}

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        read_only: bool = False,
        schema_dir: Path | None = None,
        memory_mb: int = 0,
    ) -> Self:
        """Open (creating and migrating unless ``read_only``) the database at ``path``.

        ``memory_mb`` caps DuckDB's memory (0: DuckDB's default, 80% of RAM). Without a cap
        DuckDB keeps every page it wrote cached, so a cold index held ~50 MB more for nothing.

        Raises:
            DatabaseError: the file is missing (read-only), locked, corrupt or of another schema.
        """
        if read_only and not path.is_file():
            raise DatabaseError(str(path), "no such database; run `graphsvc index` first")
        if not read_only:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(str(path), f"cannot create its folder: {exc}") from exc
        con, catalog = _connect(path, read_only, memory_mb)
        try:
            if read_only:
                check_current(con, str(path), schema_dir)
            else:
                migrate(con, str(path), schema_dir)
        except BaseException:
            con.close()
            raise
        store = cls(con, path, read_only, catalog=catalog)
        if not read_only:
            row = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchone()
            store._next_id = int(row[0]) if row else 1
        return store

    def reader(self) -> Self:
        """A store over a new cursor of this connection, for reading from another thread while
        this one writes (a DuckDB connection serves one call at a time). Close it after use."""
        self.gate.enter()
        try:
            store = type(self)(
                self.cursor(), self.path, read_only=True, catalog=self.catalog, gate=self.gate
            )
        except BaseException:
            self.gate.leave()
            raise
        store._gated = True
        return store

    def writer(self) -> Self:
        """A writing store over a new cursor of this connection, for a second thread that
        writes tables no other thread writes (DuckDB serialises nothing across connections:
        two transactions that touch the same rows conflict). Close it after use."""
        return type(self)(
            self.cursor(), self.path, read_only=False, catalog=self.catalog, gate=self.gate
        )

    def cursor(self, parent: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A new connection to this store's database on the same DuckDB instance (for another
        thread: one connection serves one call at a time), a cursor of ``parent`` (default:
        the store's connection; closing a parent closes its cursors). Use it rather than
        ``con.cursor()``: a cursor starts on the instance's default database, an empty
        in-memory one when the file is attached (see ``_attach``)."""
        cursor = (parent or self.con).cursor()
        if self.catalog is not None:
            try:
                cursor.execute(f"USE {_identifier(self.catalog)}")
            except BaseException:
                cursor.close()
                raise
        return cursor

    def close(self) -> None:
        """Close the connection (a checkpoint makes the file self-contained)."""
        try:
            self.con.close()
        finally:
            if self._gated:
                self._gated = False
                self.gate.leave()

    def checkpoint(self) -> None:
        """Write everything committed into the database file itself (the WAL ends up empty).

        Raises:
            DatabaseError: the checkpoint failed.
        """
        try:
            self.con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise DatabaseError(str(self.path), f"checkpoint failed: {exc}") from exc

    def storage_version(self) -> str:
        """The storage format the file is written in (``v1.5.0+``: readable by duckdb 1.5)."""
        row = self.con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases()"
            " WHERE database_name = current_database()"
        ).fetchone()
        return str(row[0]) if row and row[0] is not None else "unknown"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Run everything inside as one transaction: the steps' own transactions join it, so
        readers see all of it or none of it, and it costs one commit (one WAL sync) instead of
        one per step. For small batches only: a step that commits in parts to bound its memory
        (a re-link of everything) holds them all until the end here.

        Raises:
            DatabaseError: the transaction failed and was rolled back.
        """
        if self._atomic:
            yield
            return
        with self._transaction():
            self._atomic = True
            try:
                yield
            finally:
                self._atomic = False

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._atomic:  # part of an enclosing atomic() transaction, which commits it
            yield
            return
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
            self.con.execute("COMMIT")
        except BaseException as exc:
            self._cached.clear()
            self._written.clear()
            self._owned.clear()
            self._digests.clear()
            self._changed = None
            self._file_kinds.clear()
            self._path_ids.clear()
            self._history.clear()
            with contextlib.suppress(duckdb.Error):  # a failed COMMIT has rolled back already
                self.con.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                cause = _first_error(exc)
                raise DatabaseError(str(self.path), f"batch rolled back: {cause}") from exc
            raise

    @contextmanager
    def roomy(self, memory_limit: str | None) -> Iterator[None]:
        """Run a step that reads the whole graph (the channel pass, doc baselines) with DuckDB's
        ``memory_limit`` at ``memory_limit`` (a DuckDB size) instead of the writer's page-cache
        cap (GRAPHSVC_DB_MEMORY_MB, 64 MiB: on 10,000 files the channel pass's read of every
        channel fact did not fit in it). A locked configuration (the service's instance, which
        has its own limit) is left as it is."""
        rows = self.con.execute(
            "SELECT current_setting('memory_limit'), current_setting('lock_configuration')"
        ).fetchall()
        before, locked = str(rows[0][0]), bool(rows[0][1])
        raised = False
        # a locked configuration (the service) keeps the instance's limit; it is asked, not
        # tried: a failed SET would abort an enclosing atomic() transaction
        if memory_limit is not None and not locked:
            self.con.execute("SET memory_limit = $limit", {"limit": memory_limit})
            raised = True
        try:
            yield
        finally:
            if raised:
                self.con.execute("SET memory_limit = $limit", {"limit": before})

    def evict_buffers(self, restore: str) -> bool | None:
        """Give back the pages DuckDB's buffer pool keeps cached (the blocks the last queries
        read stay in memory until the pool is full): ``memory_limit`` is asked to drop to
        EVICT_LIMIT, which evicts every unpinned block first. Where more than that stays
        pinned (a graph of a few hundred files on), DuckDB refuses the new limit after the
        eviction and the limit never moves, so no other cursor's query ever runs under it;
        where the limit does drop, it is set to ``restore`` (a DuckDB size: the limit the
        instance was given; ``current_setting`` reads back a rounded value, and a round trip
        through it shrank a 2GB limit to 1.5 GiB in 50 steps) at once. Whether it evicted:
        False inside a transaction, on a read-only store or with ``memory_limit`` locked; None
        while a reader of another thread holds the store's :class:`ReadGate` (not now).

        The service calls it when idle after a findings refresh (BENCHMARKS.md "Serve memory:
        the buffer pool evicted at idle", #5)."""
        if self.read_only or self._atomic:  # no SET inside a transaction that may abort
            return False
        with self.gate.exclusive() as alone:
            if not alone:  # a reader of another thread is at work: the next idle moment
                return None
            try:
                self.con.execute("SET memory_limit = $limit", {"limit": EVICT_LIMIT})
            except duckdb.OutOfMemoryException:  # evicted; more is pinned: the limit is as it was
                return True
            except duckdb.Error:  # locked: nothing changed
                return False
            self.con.execute("SET memory_limit = $limit", {"limit": restore})
            return True

    def _columns(self, table: str) -> list[str]:
        """The columns of ``table``, in order (read once it exists: a table missing now, as
        one renamed away, is not remembered without columns)."""
        columns = self._table_columns.get(table)
        if columns is None:
            columns = [
                str(name)
                for (name,) in self.con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name ="
                    " current_database() AND schema_name = 'main' AND table_name = $t"
                    " ORDER BY column_index",
                    {"t": table},
                ).fetchall()
            ]
            if columns:
                self._table_columns[table] = columns
        return columns

    def _insert_table(self, table: str, data: pa.Table) -> None:
        """Bulk-insert ``data`` (Arrow columns named like the table's) into ``table``."""
        columns = self._columns(table)
        if columns and set(columns) <= set(data.column_names):  # none: no such table (now)
            # every column given: a relation over the Arrow table inserts by position (0.9 ms
            # for a file's links, against 1.3 ms for a registered view, which is a catalog
            # entry made and dropped inside the transaction)
            self.con.complete()  # a relation may not start while a result is left unread
            self.con.from_arrow(data.select(columns)).insert_into(table)
            return
        name = f"_batch_{table}"
        self.con.register(name, data)
        try:
            self.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM {name}')
        finally:
            self.con.unregister(name)

    # ------------------------------------------------------------------ read side

    def query(
        self, sql: str, params: Sequence[Any] | None = None, max_rows: int | None = None
    ) -> QueryResult:
        """Run a read query; at most ``max_rows`` rows come back (``truncated`` says so).

        Raises:
            QueryError: the SQL is invalid or failed.
        """
        try:
            cursor = self.con.execute(sql, params or [])
            columns = [d[0] for d in cursor.description or []]
            if max_rows is None:
                rows = cursor.fetchall()
                return QueryResult(columns, rows, False)
            rows = cursor.fetchmany(max_rows + 1)
        except duckdb.Error as exc:
            raise QueryError(sql, str(exc).splitlines()[0]) from exc
        return QueryResult(columns, rows[:max_rows], len(rows) > max_rows)

    def summary(self) -> dict[str, int]:
        """Row counts of files by status and of every fact table."""
        counts: dict[str, int] = {}
        for status, n in self.con.execute(
            "SELECT status, count(*) FROM files GROUP BY status"
        ).fetchall():
            counts[f"files_{status}"] = int(n)
        for table, _, _ in FACT_TABLES:
            # flows holds a file's rows in one row: count what it holds
            rows = "coalesce(sum(row_count), 0)" if table == "flows" else "count(*)"
            row = self.con.execute(f'SELECT {rows} FROM "{table}"').fetchone()
            counts[table] = int(row[0]) if row else 0
        for status, n in self.con.execute(
            "SELECT site || 's_' || status, count(*) FROM links GROUP BY ALL"
        ).fetchall():
            counts[f"links_{status}"] = int(n)
        return counts


def _first_error(exc: duckdb.Error) -> BaseException:
    """The DuckDB error a failed transaction began with: after one, every statement of the
    transaction (a cleanup's ``unregister`` too) fails with "Current transaction is aborted",
    which says nothing about why."""
    cause: BaseException = exc
    while isinstance(cause.__context__, duckdb.Error):
        cause = cause.__context__
    return cause
