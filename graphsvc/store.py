"""The store: the only writer of the database, and the read side everyone else uses.

A batch of file changes is applied in one transaction: the changed files' fact rows are deleted
and the new rows bulk-inserted from Arrow tables. A crash mid-batch leaves the previous state.
The connection, transactions and reads are :mod:`graphsvc.storebase`'s; the writes of the
passes after a batch (links, channels, entry rules, findings) :mod:`graphsvc.storepasses`'.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from graphsvc.columns import DIGEST_BYTES, FACT_ORDER, FACT_TABLES, FILES_CONTENT, Columns
from graphsvc.docfacts import DocFacts
from graphsvc.docstore import (
    apply_docs,
    at_or_below,
    doc_states,
    forget_removed,
    needs_baselines,
    one_of,
    record_baselines,
    record_history,
)
from graphsvc.facts import INDEXER_VERSION, FileFacts, FileRecord
from graphsvc.storebase import (
    CHANNEL_TABLES,
    DERIVED_TABLES,
    LINKER_TABLES,
    ROW_GROUP_SIZE,
    STORAGE_COMPATIBILITY,
    QueryResult,
)
from graphsvc.storepasses import BatchRecord, LinkBatch, PassWrites
from graphsvc.written import Written

__all__ = [
    "CHANNEL_TABLES",
    "DERIVED_TABLES",
    "FACT_TABLES",
    "ROW_GROUP_SIZE",
    "STORAGE_COMPATIBILITY",
    "Batch",
    "BatchRecord",
    "FileState",
    "LinkBatch",
    "QueryResult",
    "Store",
    "Touch",
    "Written",
    "one_of",
]
# the digest of a file without fact rows (a new file's "rows before")
_NO_ROWS_DIGEST = bytes(DIGEST_BYTES * len(FACT_ORDER))


def _same_tables(old: bytes, new: bytes) -> frozenset[str]:
    """The fact tables whose parts of two digests of a file's rows (see Columns) are equal."""
    return frozenset(
        table
        for k, table in enumerate(FACT_ORDER)
        if old[k * DIGEST_BYTES : (k + 1) * DIGEST_BYTES]
        == new[k * DIGEST_BYTES : (k + 1) * DIGEST_BYTES]
    )


_FACT_NAMES = frozenset(t for t, _, _ in FACT_TABLES)
# Replaced files up to which a batch updates their ``files`` rows in place (one statement a
# file; past it one DELETE and one INSERT for all of them).
UPDATE_FILES = 2
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(FileRecord))
_UPDATE_FILE = (
    "UPDATE files SET "
    + ", ".join(f"{n} = ${n}" for n in (*_RECORD_FIELDS, "indexer_version") if n != "path")
    + ", indexed_at = $indexed_at WHERE file_id = $file_id"
)
# The same for a file whose row this store wrote with the same module, status, encoding, error
# count and skip reason (see Store._note_changes): only what every edit changes (~0.4 ms less
# than all eleven columns).
_UPDATE_CONTENT = (
    "UPDATE files SET sha256 = $sha256, size = $size, mtime_ns = $mtime_ns,"
    " line_count = $line_count, indexed_at = $indexed_at WHERE file_id = $file_id"
)
# the Arrow types of a ``files`` row as _write_files builds it (the order of its columns)
_FILES_SCHEMA = pa.schema(
    [
        ("file_id", pa.int32()),
        ("indexer_version", pa.int32()),
        ("indexed_at", pa.timestamp("us")),
        *(
            (f.name, pa.int64() if f.type == "int" else pa.string())
            for f in dataclasses.fields(FileRecord)
        ),
    ]
)


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


class Store(PassWrites):
    """A graphsvc database. Open with :meth:`open`; use as a context manager."""

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
        # DuckDB keeps its threads: for a one-file apply's ~26 statements alone, setting them
        # to 1 and back (a background thread stopped and started) cost what one thread saved
        with self._transaction():
            # the files rows of a few replaced files are updated in place: one statement each
            # instead of a DELETE and an INSERT (whose path and id indexes change twice)
            few = 0 < len(replaced) <= UPDATE_FILES
            updated = frozenset(replaced) if few and self._updatable() else frozenset[int]()
            columns = batch.columns if batch.columns is not None else Columns.of(batch.upserts)
            owned = columns.owned_by(ids)
            same_kind = self._note_changes(batch, ids, known, removed, columns.digests)
            same = self._unchanged(ids, frozenset(replaced), columns.digests)
            self._delete_files(replaced, removed, keep=updated, same=same)
            self._touch(batch.touched)
            self._write_files(batch.upserts, ids, updated, same_kind)
            for table, data in owned.items():
                if data.num_rows and table not in same:
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

    def take_changed(self) -> frozenset[str] | None:
        """The per-file tables (fact tables, ``files`` and FILES_CONTENT: see
        graphsvc/columns.py) whose rows the applies since the last call changed; None when
        that is not known (a file written before this store knew its digests, a rollback).
        Each call starts the record afresh."""
        changed, self._changed = self._changed, set()
        return None if changed is None else frozenset(changed)

    def _note_changes(
        self,
        batch: Batch,
        ids: list[int],
        known: dict[str, tuple[int, str | None]],
        removed: list[int],
        digests: Sequence[bytes],
    ) -> frozenset[int]:
        """Add to :meth:`take_changed`'s record what ``batch`` changes, from the digests of
        its files' rows (``digests``, by position of ``ids``) against those last written.
        Returns the ids of the upserts whose ``files`` row this store wrote with the same
        module, status, encoding, error count and skip reason."""
        kinds = self._file_kinds
        changed: set[str] = set()
        unknown = False
        if batch.upserts or batch.touched or removed:
            changed.add(FILES_CONTENT)
        if removed:
            changed.add("files")
        for file_id in removed:
            tables = self._owned.get(file_id)
            unknown = unknown or tables is None
            changed.update(tables or ())
            kinds.pop(file_id, None)
        unknown = unknown or (bool(batch.upserts) and len(digests) != len(ids))
        same_kind: set[int] = set()
        for k, (file_id, facts) in enumerate(zip(ids, batch.upserts, strict=True)):
            record = facts.record
            status = (record.status, record.encoding, record.error_count, record.skip_reason)
            kind = hash((record.module, *status))
            if kinds.get(file_id) != kind:
                changed.add("files")  # a new file too
            elif record.path in known:
                same_kind.add(file_id)
            kinds[file_id] = kind
            old = _NO_ROWS_DIGEST if record.path not in known else self._digests.get(file_id)
            if unknown or old is None:
                unknown = True
                continue
            changed.update(_FACT_NAMES - _same_tables(old, digests[k]))
        if unknown:
            self._changed = None
        elif self._changed is not None:
            self._changed |= changed
        return frozenset(same_kind)

    def take_written(self, file_ids: Collection[int] | None) -> Written | None:
        """The fact rows of ``file_ids`` as this store wrote them since the last call, when it
        wrote (or removed) every one of them and they were few; None means: read the tables.
        Each call starts the record afresh (the linker calls it once per run)."""
        return self._written.take(file_ids)

    def _delete_files(
        self,
        replaced: list[int],
        removed: list[int],
        keep: frozenset[int] = frozenset(),
        same: frozenset[str] = frozenset(),
    ) -> None:
        """Delete the fact and derived rows of ``replaced`` and ``removed`` files (and their
        ``files`` rows, but those of ``keep``, which are updated in place), but the rows of
        the fact tables ``same`` (a one-file batch's tables whose rows did not change). A
        replaced file's links go too, although the linker's next run rewrites them: until it
        does, no reader (the findings refresh's thread included) sees links of the old bytes.
        Its ``link_deps`` and ``channel_inputs`` rows, which only the linker reads, are left
        to the linker, which replaces those that changed."""
        ids = replaced + removed
        if not ids:
            return
        owned = self._owned
        for table in (*(t for t, _, _ in FACT_TABLES), *DERIVED_TABLES, "files"):
            some = ids
            if table in same:
                some = removed
            elif owned and table in _FACT_NAMES:
                # a file this store wrote is known to have no rows in some fact tables
                some = [i for i in ids if i not in owned or table in owned[i]]
            elif table == "files" and keep:
                some = [i for i in ids if i not in keep]
            elif table in LINKER_TABLES:
                some = removed
            if some:
                self.con.execute(
                    f'DELETE FROM "{table}" WHERE {one_of("file_id", len(some))}', {"ids": some}
                )
        for file_id in removed:
            owned.pop(file_id, None)
            self._digests.pop(file_id, None)

    def _unchanged(
        self, ids: list[int], replaced: frozenset[int], digests: Sequence[bytes]
    ) -> frozenset[str]:
        """The fact tables whose rows of a one-file batch's file are the rows this store wrote
        for it last time (compared by the digest of each table's rows, ``digests`` by position,
        kept per file): their DELETE and INSERT are skipped. An edit leaves most of a file's
        tables as they were (its module row and imports nearly always; an edit that moves no
        line, all but one or two). A larger batch rewrites every row of its files and keeps
        their digests (a cold index's, computed in the pool's workers), so the first edit of a
        file after it skips too; ``digests`` empty (not known) forgets those files'."""
        if len(digests) != len(ids):
            for file_id in ids:
                self._digests.pop(file_id, None)
            return frozenset()
        # a rollback forgets every digest
        if len(ids) != 1:
            self._digests.update(zip(ids, digests, strict=True))
            return frozenset()
        file_id, digest = ids[0], digests[0]
        old = self._digests.get(file_id) if file_id in replaced else None
        self._digests[file_id] = digest
        if old is None:
            return frozenset()
        return _same_tables(old, digest)

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
        self,
        upserts: Sequence[FileFacts],
        ids: list[int],
        updated: frozenset[int],
        same_kind: frozenset[int] = frozenset(),
    ) -> None:
        """The ``files`` rows of ``upserts`` (ids ``ids``): those of ``updated`` are updated
        in place (their rows exist, same id and path), the others inserted; of the updated,
        those of ``same_kind`` (rows this store wrote, with the same module, status, encoding,
        error count and skip reason) in the columns every edit changes only."""
        if not upserts:
            return
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        inserted = [(u, i) for u, i in zip(upserts, ids, strict=True) if i not in updated]
        for facts, file_id in zip(upserts, ids, strict=True):
            if file_id not in updated:
                continue
            r = facts.record
            if file_id in same_kind:
                values: dict[str, Any] = {
                    "sha256": r.sha256,
                    "size": r.size,
                    "mtime_ns": r.mtime_ns,
                    "line_count": r.line_count,
                }
                self.con.execute(_UPDATE_CONTENT, values | {"file_id": file_id, "indexed_at": now})
                continue
            values = {f: getattr(r, f) for f in _RECORD_FIELDS if f != "path"}
            values |= {"file_id": file_id, "indexer_version": INDEXER_VERSION, "indexed_at": now}
            self.con.execute(_UPDATE_FILE, values)
        if not inserted:
            return
        columns: dict[str, list[Any]] = {
            "file_id": [i for _, i in inserted],
            "indexer_version": [INDEXER_VERSION] * len(inserted),
            "indexed_at": [now] * len(inserted),
        }
        for name in _RECORD_FIELDS:
            columns[name] = [getattr(u.record, name) for u, _ in inserted]
        # typed (pyarrow's inference tries imports per column); the insert casts to the table's
        self._insert_table("files", pa.table(columns, schema=_FILES_SCHEMA))
