"""The store: the only writer of the database, and the read side everyone else uses.

A batch of file changes is applied in one transaction: the changed files' fact rows are deleted
and the new rows bulk-inserted from Arrow tables. A crash mid-batch leaves the previous state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from graphsvc.columns import FACT_TABLES, Columns
from graphsvc.docfacts import DocFacts
from graphsvc.docstore import (
    apply_docs,
    at_or_below,
    config_names,
    doc_states,
    forget_removed,
    needs_baselines,
    one_of,
    record_baselines,
    record_history,
)
from graphsvc.errors import DatabaseError, DatabaseLocked, QueryError
from graphsvc.facts import INDEXER_VERSION, FileFacts, FileRecord
from graphsvc.schema import check_current, migrate
from graphsvc.written import Written, WrittenLog

# Rows of the channel pass, owned by a file and rewritten together by the pass (not when their
# file is: the pass compares a fingerprint of its inputs and skips a batch that changed none).
CHANNEL_TABLES = ("channel_sites", "channels", "channel_wrappers")
_FACT_NAMES = frozenset(t for t, _, _ in FACT_TABLES)
# Rows derived from several files' facts, owned by the file of the site (see schema 0002).
DERIVED_TABLES = ("links", "link_deps", "channel_inputs")
# Replaced files up to which a batch updates their ``files`` rows in place (one statement a
# file; past it one DELETE and one INSERT for all of them).
UPDATE_FILES = 2
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(FileRecord))
_UPDATE_FILE = (
    "UPDATE files SET "
    + ", ".join(f"{n} = ${n}" for n in (*_RECORD_FIELDS, "indexer_version") if n != "path")
    + ", indexed_at = $indexed_at WHERE file_id = $file_id"
)
# A re-link of up to this many files runs with DuckDB's threads at 1 (see Store.one_thread).
ONE_THREAD_FILES = 8
# A new database is written in a storage format the duckdb CLI from PyPI (1.5) can read.
STORAGE_COMPATIBILITY = "v1.5.0"
# Rows per row group of the tables a writable store writes (DuckDB's default is 122,880). A
# file's rows sit together, and a scan restricted to a few files (``list_contains($files,
# file_id)``) skips every row group whose file_id range misses them: with one row group per
# table (a ~1,000-file tree) it read and decompressed every row (BENCHMARKS.md "Row groups").
ROW_GROUP_SIZE = 8192


@dataclass(frozen=True, slots=True)
class FileState:
    """What the store knows about a file, enough to decide whether to re-read it."""

    file_id: int
    size: int
    mtime_ns: int
    sha256: str | None
    module: str | None
    indexer_version: int
    status: str
    skip_reason: str | None


@dataclass(frozen=True, slots=True)
class Touch:
    """A file whose bytes are unchanged but whose stat changed (touch, checkout)."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Batch:
    """One transaction's worth of changes.

    ``upserts`` are the files to (re)write. Their facts come from ``columns`` when given (rows
    whose ``file_id`` is the file's position in ``upserts``), otherwise from each FileFacts.
    """

    upserts: Sequence[FileFacts] = ()
    touched: Sequence[Touch] = ()
    removed: Sequence[str] = ()
    columns: Columns | None = None
    docs: Sequence[DocFacts] = ()  # documentation files to (re)write
    doc_touched: Sequence[Touch] = ()
    doc_removed: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class LinkBatch:
    """One linker run's transaction: the links of ``file_ids`` are replaced (the new rows are
    written in parts, see :meth:`Store.linking`).

    ``upto`` is the last ``link_pending.seq`` the run consumed; rows written after it stay.
    """

    file_ids: frozenset[int]
    upto: int
    relink_all: bool = False
    # of file_ids, those whose derived rows are known to be gone already (files the store
    # rewrote since the last link: their apply deleted them), so no DELETE looks for them
    cleared: frozenset[int] = frozenset()
    # (module, name) rows of link_names to delete before ``names`` is inserted (a re-link of
    # everything deletes them all)
    stale_names: frozenset[tuple[str, str]] = frozenset()
    names: pa.Table | None = None
    state: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One committed update of the graph, as written to ``batches``."""

    kind: str  # index | watch | reconcile
    reason: str | None
    started: dt.datetime
    finished: dt.datetime
    ms: float
    paths: int
    parsed: int
    unchanged: int
    removed: int
    failed: int


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


class Store:
    """A graphsvc database. Open with :meth:`open`; use as a context manager."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        read_only: bool,
        *,
        catalog: str | None = None,
    ) -> None:
        self.con = con
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
        # (file_id, module) of the paths this store wrote, and (latest sha256, versions) of
        # their file_history: a one-file batch of a file written before reads neither
        self._path_ids: dict[str, tuple[int, str | None]] = {}
        self._history: dict[str, tuple[str, int]] = {}
        self._one_thread = False  # inside one_thread(): threads is 1 until it ends
        self._locked = False  # the instance's configuration is locked (it stays so)

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

    def reader(self) -> Store:
        """A store over a new cursor of this connection, for reading from another thread while
        this one writes (a DuckDB connection serves one call at a time). Close it after use."""
        return type(self)(self.cursor(), self.path, read_only=True, catalog=self.catalog)

    def writer(self) -> Store:
        """A writing store over a new cursor of this connection, for a second thread that
        writes tables no other thread writes (DuckDB serialises nothing across connections:
        two transactions that touch the same rows conflict). Close it after use."""
        return type(self)(self.cursor(), self.path, read_only=False, catalog=self.catalog)

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
        self.con.close()

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

    # ----------------------------------------------------------------- write side

    def file_states(self, under: Collection[str] | None = None) -> dict[str, FileState]:
        """File rows by path: every one, or those at or below the relative paths ``under``."""
        sql = (
            "SELECT path, file_id, size, mtime_ns, sha256, module, indexer_version, status,"
            " skip_reason FROM files"
        )
        params: dict[str, object] = {}
        if under is not None and not any(p in ("", ".") for p in under):
            condition, params = at_or_below(under)
            sql += f" WHERE {condition}"
        rows = self.con.execute(sql, params).fetchall()
        return {r[0]: FileState(*r[1:]) for r in rows}

    def states_under(
        self, under: Collection[str]
    ) -> tuple[dict[str, FileState], dict[str, FileState]]:
        """:meth:`file_states` and :meth:`doc_states` of the files at or below ``under``, in
        one statement (a watcher's batch asks for both)."""
        condition, params = "true", dict[str, object]()
        if not any(p in ("", ".") for p in under):
            condition, params = at_or_below(under)
        rows = self.con.execute(
            "SELECT true, path, file_id, size, mtime_ns, sha256, module, indexer_version,"
            f" status, skip_reason FROM files WHERE {condition} UNION ALL"
            " SELECT false, path, doc_id, size, mtime_ns, sha256, NULL, indexer_version,"
            f" status, skip_reason FROM doc_files WHERE {condition}",
            params,
        ).fetchall()
        files = {str(r[1]): FileState(*r[2:]) for r in rows if r[0]}
        docs = {str(r[1]): FileState(*r[2:]) for r in rows if not r[0]}
        return files, docs

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

    @contextmanager
    def one_thread(self, files: int | None) -> Iterator[None]:
        """Run a write of ``files`` files (None: many) with DuckDB's ``threads`` at 1 when they
        are at most ONE_THREAD_FILES: a few files' re-link. Its statements hold a few rows
        each; with a background thread each one handed it work (~390 futex calls per one-file
        apply) while the caller waited. Setting it and back costs ~0.5 ms and restarts the
        background thread: around a bare one-file apply or a watcher's whole batch that cost
        what one thread saved (see BENCHMARKS.md), so only the linker's run uses it. The
        setting is the instance's: it is changed outside transactions only, and a locked
        configuration (the service's, locked by the SQL sandbox) keeps its threads."""
        if files is None or files > ONE_THREAD_FILES or self._one_thread or self._locked:
            yield
            return
        if self.read_only or self._atomic:  # no SET inside a transaction that may abort
            yield
            return
        rows = self.con.execute(
            "SELECT current_setting('threads'), current_setting('lock_configuration')"
        ).fetchall()
        before, self._locked = int(rows[0][0]), bool(rows[0][1])
        if self._locked or before <= 1:
            yield
            return
        self.con.execute("SET threads = 1")
        self._one_thread = True
        try:
            yield
        finally:
            self._one_thread = False
            self.con.execute("SET threads = $threads", {"threads": before})

    def _columns(self, table: str) -> list[str]:
        """The columns of ``table``, in order (read once)."""
        columns = self._table_columns.get(table)
        if columns is None:
            columns = self._table_columns[table] = [
                str(name)
                for (name,) in self.con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name ="
                    " current_database() AND schema_name = 'main' AND table_name = $t"
                    " ORDER BY column_index",
                    {"t": table},
                ).fetchall()
            ]
        return columns

    def _insert_table(self, table: str, data: pa.Table) -> None:
        """Bulk-insert ``data`` (Arrow columns named like the table's) into ``table``."""
        columns = self._columns(table)
        if set(columns) <= set(data.column_names):
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

    def _file_ids(self, paths: list[str]) -> dict[str, tuple[int, str | None]]:
        """Stored (id, module) of ``paths`` (only those, so a one-file batch never scans every
        path; those this store wrote are known without a query)."""
        known = self._path_ids
        found = {p: known[p] for p in paths if p in known}
        unknown = [p for p in paths if p not in known]
        if unknown:
            rows = self.con.execute(
                f"SELECT path, file_id, module FROM files"
                f" WHERE {one_of('path', len(unknown), 'paths')}",
                {"paths": unknown},
            ).fetchall()
            found.update((path, (file_id, module)) for path, file_id, module in rows)
        return found

    def apply(self, batch: Batch) -> None:
        """Apply one batch in a single transaction.

        Raises:
            DatabaseError: the transaction failed and was rolled back.
        """
        if not (
            batch.upserts
            or batch.touched
            or batch.removed
            or batch.docs
            or batch.doc_touched
            or batch.doc_removed
        ):
            return
        known = self._file_ids([f.record.path for f in batch.upserts] + list(batch.removed))
        replaced = [known[f.record.path][0] for f in batch.upserts if f.record.path in known]
        removed = [known[p][0] for p in batch.removed if p in known]
        next_id = self._next_id
        ids: list[int] = []
        for facts in batch.upserts:
            if facts.record.path in known:
                ids.append(known[facts.record.path][0])
            else:
                ids.append(next_id)
                next_id += 1
        # The linker re-links whatever consulted the old modules and the new files.
        old_modules = sorted({m for _, m in known.values() if m is not None})
        pending_modules = [*old_modules, *(f.record.module for f in batch.upserts)]
        pending_files: list[int | None] = [None] * len(old_modules) + ids
        if removed or len(replaced) < len(batch.upserts):
            self._cached.pop("paths", None)
        if batch.docs or batch.doc_removed:
            self._cached.pop("docs", None)
        # no one_thread() here: for a one-file apply's ~26 statements alone, setting threads
        # and back (a background thread stopped and started) cost what one thread saved
        with self._transaction():
            # the files rows of a few replaced files are updated in place: one statement each
            # instead of a DELETE and an INSERT (whose path and id indexes change twice)
            few = 0 < len(replaced) <= UPDATE_FILES
            updated = frozenset(replaced) if few and self._updatable() else frozenset[int]()
            self._delete_files(replaced, removed, keep=updated)
            self._touch(batch.touched)
            self._write_files(batch.upserts, ids, updated)
            columns = batch.columns if batch.columns is not None else Columns.of(batch.upserts)
            owned = columns.owned_by(ids)
            for table, data in owned.items():
                if data.num_rows:
                    self._insert_table(table, data)
            paths = {i: f.record.path for i, f in zip(ids, batch.upserts, strict=True)}
            self._written.record(owned, paths, removed)
            self._note_owned(ids, owned)
            if pending_modules:
                # a few rows, given as lists: no view over an Arrow table to register and drop
                # (link_pending's seq is a default, so a relation insert cannot be used)
                self.con.execute(
                    "INSERT INTO link_pending (module, file_id)"
                    " SELECT unnest($modules), unnest($files)",
                    {"modules": pending_modules, "files": pending_files},
                )
            record_history(
                self.con,
                [(f.record.path, "python", f.record.sha256) for f in batch.upserts],
                self._history,
            )
            touched = [(t.path, t.size, t.mtime_ns) for t in batch.doc_touched]
            apply_docs(self.con, batch.docs, touched, batch.doc_removed)
            forget_removed(self.con, [*batch.removed, *batch.doc_removed])
            for path in (*batch.removed, *batch.doc_removed):
                self._history.pop(path, None)
                self._path_ids.pop(path, None)
            for file_id, facts in zip(ids, batch.upserts, strict=True):
                self._path_ids[facts.record.path] = (file_id, facts.record.module)
        self._next_id = next_id

    def take_written(self, file_ids: Collection[int] | None) -> Written | None:
        """The fact rows of ``file_ids`` as this store wrote them since the last call, when it
        wrote (or removed) every one of them and they were few; None means: read the tables.
        Each call starts the record afresh (the linker calls it once per run)."""
        return self._written.take(file_ids)

    def _delete_files(
        self, replaced: list[int], removed: list[int], keep: frozenset[int] = frozenset()
    ) -> None:
        """Delete the fact and derived rows of ``replaced`` and ``removed`` files (and their
        ``files`` rows, but those of ``keep``, which are updated in place). A replaced
        file's links go too, although the linker's next run rewrites them: until it does, no
        reader (the findings refresh's thread included) sees links of the old bytes."""
        ids = replaced + removed
        if not ids:
            return
        owned = self._owned
        for table in (*(t for t, _, _ in FACT_TABLES), *DERIVED_TABLES, "files"):
            some = ids
            if owned and table in _FACT_NAMES:
                # a file this store wrote is known to have no rows in some fact tables
                some = [i for i in ids if i not in owned or table in owned[i]]
            elif table == "files" and keep:
                some = [i for i in ids if i not in keep]
            if some:
                self.con.execute(
                    f'DELETE FROM "{table}" WHERE {one_of("file_id", len(some))}', {"ids": some}
                )
        for file_id in removed:
            owned.pop(file_id, None)

    def _note_owned(self, ids: list[int], tables: dict[str, pa.Table]) -> None:
        """Remember which fact tables hold rows of the files ``ids`` (just written)."""
        having: dict[int, set[str]] = {i: set() for i in ids}
        for table, data in tables.items():
            if data.num_rows:
                for file_id in pc.unique(data["file_id"]).to_pylist():  # pyright: ignore[reportAttributeAccessIssue]
                    having[file_id].add(table)
        for file_id, names in having.items():
            key = frozenset(names)
            self._owned[file_id] = self._owned_sets.setdefault(key, key)

    def doc_states(self, under: Collection[str] | None = None) -> dict[str, FileState]:
        """Documentation file rows by path (``file_id`` is the doc_id; ``module`` None)."""
        return {
            str(r[0]): FileState(r[1], r[2], r[3], r[4], None, r[5], r[6], r[7])
            for r in doc_states(self.con, under)
        }

    def record_doc_baselines(self, memory_limit: str | None = None) -> int:
        """Record what the mentions of new doc versions resolve to now (after a batch's facts
        and links are written); returns how many doc versions were recorded. ``memory_limit``
        (a DuckDB size) applies for this step only: resolving mentions joins the whole graph,
        more than the writer's page-cache cap (GRAPHSVC_DB_MEMORY_MB) holds.

        Raises:
            DatabaseError: the transaction failed and was rolled back.
        """
        if not needs_baselines(self.con):
            return 0  # the common batch: no doc version is new, none went away
        with self.roomy(memory_limit), self._transaction():
            return record_baselines(self.con)

    @contextmanager
    def linking(self, links: LinkBatch) -> Iterator[Callable[[pa.Table, pa.Table, pa.Table], None]]:
        """Replace the links of ``links.file_ids``: the caller writes the new rows in as many
        parts as it likes (so a large re-link never holds them all), and the pending work is
        cleared at the end, all in one transaction.

        A re-link of everything (``relink_all``) commits each part on its own instead: held
        in one transaction, the stdlib's links were ~50 MB of DuckDB memory until the commit.
        Its ``link_state`` is written by the last transaction, so until then the stored state
        still asks for a re-link of everything: a crash midway is redone by the next run,
        not lost (the links are incomplete until then).

        Raises:
            DatabaseError: a transaction failed and was rolled back.
        """

        def insert(rows: pa.Table, deps: pa.Table, inputs: pa.Table) -> None:
            for table, data in (("links", rows), ("link_deps", deps), ("channel_inputs", inputs)):
                if data.num_rows:
                    self._insert_table(table, data)

        if links.relink_all:
            with self._transaction():
                self._clear_links(links)

            def commit_part(rows: pa.Table, deps: pa.Table, inputs: pa.Table) -> None:
                with self._transaction():
                    insert(rows, deps, inputs)

            yield commit_part
            with self._transaction():
                self._finish_links(links)
            return
        with self._transaction():
            self._clear_links(links)
            yield insert
            self._finish_links(links)

    def _finish_links(self, links: LinkBatch) -> None:
        if links.names is not None and links.names.num_rows:
            self._insert_table("link_names", links.names)
        self.con.execute("DELETE FROM link_pending WHERE seq <= $last", {"last": links.upto})
        if links.state:
            self.con.execute(
                "INSERT OR REPLACE INTO link_state"
                " SELECT unnest($keys) AS key, unnest($values) AS value",
                {"keys": list(links.state), "values": list(links.state.values())},
            )

    def _clear_links(self, links: LinkBatch) -> None:
        if links.relink_all:
            for table in (*DERIVED_TABLES, "link_names"):
                self.con.execute(f'DELETE FROM "{table}"')
            # until the last part commits (and writes the state again), the next run must
            # re-link everything, whatever the environment is then
            self.con.execute("DELETE FROM link_state WHERE key = 'linker_version'")
            return
        if links.file_ids - links.cleared:
            ids = sorted(links.file_ids - links.cleared)
            for table in DERIVED_TABLES:
                self.con.execute(
                    f'DELETE FROM "{table}" WHERE {one_of("file_id", len(ids))}', {"ids": ids}
                )
        if links.stale_names:
            keys = sorted(links.stale_names)
            self.con.execute(
                "DELETE FROM link_names USING (SELECT unnest($m) AS module, unnest($n) AS name)"
                " AS k WHERE link_names.module = k.module AND link_names.name = k.name",
                {"m": [m for m, _ in keys], "n": [n for _, n in keys]},
            )

    def channel_inputs(self) -> str:
        """A fingerprint of everything the channel pass reads: the sum of the per-file digests
        of ``channel_inputs`` (kept with the links), and how many channel facts there are."""
        row = self.con.execute(
            "SELECT coalesce(sum(digest), 0) || ':' || coalesce(sum(facts), 0) FROM channel_inputs"
        ).fetchone()
        return str(row[0]) if row else ""

    def channel_inputs_and_state(self) -> tuple[str, str | None]:
        """:meth:`channel_inputs` and ``channel_state('inputs')`` in one statement (the check
        every batch makes before the channel pass)."""
        row = self.con.execute(
            "SELECT coalesce(sum(digest), 0) || ':' || coalesce(sum(facts), 0),"
            " (SELECT value FROM channel_state WHERE key = 'inputs') FROM channel_inputs"
        ).fetchone()
        if row is None:
            return "", None
        return str(row[0]), None if row[1] is None else str(row[1])

    def channel_state(self, key: str) -> str | None:
        row = self.con.execute(
            "SELECT value FROM channel_state WHERE key = $key", {"key": key}
        ).fetchone()
        return str(row[0]) if row else None

    def write_channels(
        self, sites: pa.Table, channels: pa.Table, wrappers: pa.Table, fingerprint: str
    ) -> None:
        """Replace every channel site, channel and derived wrapper in one transaction (the
        channel pass recomputes them all from the tree's channel facts), with the fingerprint
        of the inputs they were computed from.

        Raises:
            DatabaseError: the transaction failed and was rolled back.
        """
        with self._transaction():
            for table, data in zip(CHANNEL_TABLES, (sites, channels, wrappers), strict=True):
                self.con.execute(f'DELETE FROM "{table}"')
                if data.num_rows:
                    self._insert_table(table, data)
            self.con.execute(
                "INSERT OR REPLACE INTO channel_state VALUES ('inputs', $value)",
                {"value": fingerprint},
            )

    def config_names(self) -> list[tuple[str, str]]:
        """(dotted name, path) for each value of a configuration file that names code (read
        again only after a doc changed)."""
        if "docs" not in self._cached:
            self._cached["docs"] = config_names(self.con)
        return list(self._cached["docs"])

    def entry_state(self, key: str = "inputs") -> str | None:
        """The fingerprint ``entry_rules`` was last written with (``inputs``), or the digest of
        the inputs that were last checked against it (``precheck``); None: never. A writing
        store reads them once: it writes them itself (:meth:`write_entry_rules`), and every
        batch asks for the precheck."""
        cached = f"entry_state:{key}"
        if cached in self._cached:
            return self._cached[cached]
        row = self.con.execute(
            "SELECT value FROM entry_state WHERE key = $key", {"key": key}
        ).fetchone()
        value = str(row[0]) if row else None
        if not self.read_only:
            self._cached[cached] = value  # a rollback drops it
        return value

    def paths_digest(self) -> str:
        """How many Python files are stored and a digest of their paths (a file added or
        removed changes it; an edit does not: read again only after one was)."""
        if "paths" not in self._cached:
            row = self.con.execute(
                "SELECT count(*) || ':' || coalesce(sum(hash(path)::HUGEINT), 0) FROM files"
            ).fetchone()
            self._cached["paths"] = str(row[0]) if row else ""
        return str(self._cached["paths"])

    def paths(self) -> list[str]:
        """Every stored Python file's relative path."""
        return [str(r[0]) for r in self.con.execute("SELECT path FROM files").fetchall()]

    def write_entry_rules(self, rules: pa.Table | None, fingerprint: str, precheck: str) -> None:
        """Replace the dead-code entry rules (unless ``rules`` is None: they are the same) and
        the fingerprints in one transaction.

        Raises:
            DatabaseError: the transaction failed and was rolled back.
        """
        with self._transaction():
            if rules is not None:
                self.con.execute("DELETE FROM entry_rules")
                if rules.num_rows:
                    self._insert_table("entry_rules", rules)
            self.con.execute(
                "INSERT OR REPLACE INTO entry_state VALUES ('inputs', $value), ('precheck', $pre)",
                {"value": fingerprint, "pre": precheck},
            )
        # after the commit (or inside an atomic() one, whose rollback drops them)
        self._cached["entry_state:inputs"] = fingerprint
        self._cached["entry_state:precheck"] = precheck

    def _touch(self, touched: Sequence[Touch]) -> None:
        if not touched:
            return
        data = pa.table(
            {
                "path": [t.path for t in touched],
                "size": pa.array([t.size for t in touched], pa.int64()),
                "mtime_ns": pa.array([t.mtime_ns for t in touched], pa.int64()),
            }
        )
        self.con.register("_batch_touched", data)
        try:
            self.con.execute(
                "UPDATE files SET size = t.size, mtime_ns = t.mtime_ns"
                " FROM _batch_touched t WHERE files.path = t.path"
            )
        finally:
            self.con.unregister("_batch_touched")

    def _updatable(self) -> bool:
        """Whether the ``files`` columns are exactly what a file's row is written from (an
        update in place then leaves the row as a delete and insert would)."""
        written = {"file_id", "indexer_version", "indexed_at", *_RECORD_FIELDS}
        return set(self._columns("files")) == written

    def _write_files(
        self, upserts: Sequence[FileFacts], ids: list[int], updated: frozenset[int]
    ) -> None:
        """The ``files`` rows of ``upserts`` (ids ``ids``): those of ``updated`` are updated
        in place (their rows exist, same id and path), the others inserted."""
        if not upserts:
            return
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        inserted = [(u, i) for u, i in zip(upserts, ids, strict=True) if i not in updated]
        for facts, file_id in zip(upserts, ids, strict=True):
            if file_id in updated:
                values = {f: getattr(facts.record, f) for f in _RECORD_FIELDS if f != "path"}
                self.con.execute(
                    _UPDATE_FILE,
                    values
                    | {"file_id": file_id, "indexer_version": INDEXER_VERSION, "indexed_at": now},
                )
        if not inserted:
            return
        columns: dict[str, list[Any]] = {
            "file_id": [i for _, i in inserted],
            "indexer_version": [INDEXER_VERSION] * len(inserted),
            "indexed_at": [now] * len(inserted),
        }
        for name in _RECORD_FIELDS:
            columns[name] = [getattr(u.record, name) for u, _ in inserted]
        self._insert_table("files", pa.table(columns))  # INSERT BY NAME casts the types

    def record_batch(self, record: BatchRecord) -> int:
        """Append ``record`` to ``batches``; returns its batch_id (the new ``as_of``)."""
        batch_id = self._cached.get("batch_id")  # the next one: this store is the only writer
        if batch_id is None:
            batch_id = self.as_of() + 1
        with self._transaction():
            self.con.execute(
                "INSERT INTO batches VALUES ($batch_id, $kind, $reason, $started, $finished,"
                " $ms, $paths, $parsed, $unchanged, $removed, $failed)",
                {"batch_id": batch_id, **dataclasses.asdict(record)},
            )
        self._cached["batch_id"] = batch_id + 1  # a rollback clears it
        return int(batch_id)

    def write_findings(self, rows: pa.Table, events: pa.Table) -> None:
        """Replace the ``findings`` rows with the ids in ``rows`` and append ``events`` to
        ``finding_events``, in one transaction (the findings refresh's only write).

        Raises:
            DatabaseError: the transaction failed and was rolled back.
        """
        if not rows.num_rows and not events.num_rows:
            return
        with self._transaction():
            if rows.num_rows:
                self.con.register("_batch_finding_ids", rows.select(["id"]))
                try:
                    self.con.execute(
                        "DELETE FROM findings WHERE id IN (SELECT id FROM _batch_finding_ids)"
                    )
                finally:
                    self.con.unregister("_batch_finding_ids")
                self._insert_table("findings", rows)
            if events.num_rows:
                self._insert_table("finding_events", events)

    def last_event_seq(self) -> int:
        """The newest ``finding_events.seq`` (0 before the first event)."""
        row = self.con.execute("SELECT coalesce(max(seq), 0) FROM finding_events").fetchone()
        return int(row[0]) if row else 0

    def as_of(self) -> int:
        """The newest batch_id (0 before the first update)."""
        row = self.con.execute("SELECT coalesce(max(batch_id), 0) FROM batches").fetchone()
        return int(row[0]) if row else 0

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
