"""Finding queries that follow a batch without running whole: file inputs and partitions.

Two header fields let a saved query tell the refresh what its findings depend on
(graphsvc/queries/header.py), on top of the table-level reuse of graphsvc/findings/inputs.py:

``file_inputs``: a SELECT of the per-file rows its findings read, for the files of
``$files``. The refresh keeps a digest of each file's rows; after a batch it recomputes the
digests of the files the batch changed (the linker's re-linked files: every changed file, and
every file whose links a change can affect) and, when none differs, reuses the findings. An
edit that adds a function without a docstring then does not re-run a query about docstrings.

``partition`` / ``partition_keys``: the query's rows fall into partitions by a key column;
``$partition`` restricts the SQL to some keys with exactly the rows the whole query gives for
them, and ``partition_keys`` lists, per file, the keys whose rows its facts can change. After a
batch the partitions to recompute are the keys the changed files listed before the batch (kept
here) and the keys they list now; the refresh runs the query for those keys only and splices
the result into the rows it kept. A row in several partitions (a list of keys) leaves all of
them when one is recomputed (the run gives it again if it still exists). With an ``anchor``
column, a partition without rows that no file anchors now is not run.

Both promise that the findings depend on nothing else of the per-file facts and links; what
they read across files goes in ``global_inputs`` (a SELECT whose rows, when they change, make
the query run whole: e.g. which files are byte-identical copies). ``file_inputs`` and
``partition_keys`` read the rows of the files of ``$files`` only; they may narrow them by
tables outside the per-file facts (the names the docs mention) or by the global inputs, since
a change of either runs the query whole and reads every file's digest and keys again (file
inputs narrowed by ``input_terms`` only: just the files ``term_files`` lists for the terms
that came or went, graphsvc/findings/terms.py). A table outside the per-file facts and links
that changed, a batch without a list of re-linked files, a first run, a failed or stopped
run: the query runs whole. The kept state per query
is small: a digest per file, or ``array``s of 8-byte keys and digests per file and a
partitioned query's SQL rows by key.
The statements that read digests and keys are in graphsvc/findings/partread.py; a refresh
reads each ``global_inputs`` SQL once, however many queries share it.
tests/test_partition.py compares a Refresher that uses both with whole runs after random edits.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from graphsvc.errors import QueryError
from graphsvc.findings.guards import FileGuards
from graphsvc.findings.inputs import QueryInputs
from graphsvc.findings.partread import (
    FileKeys,
    file_digests,
    file_keys,
    global_digest,
    global_digests,
)
from graphsvc.findings.terms import input_terms, term_files
from graphsvc.queries import SavedQuery, run_rows
from graphsvc.queries.header import Partition
from graphsvc.store import Store
from graphsvc.update import IndexSummary

log = logging.getLogger(__name__)

Row = dict[str, Any]
Watch = Callable[[duckdb.DuckDBPyConnection | None], None]


@dataclass(slots=True)
class _Changes:
    """The files changed since a query's rows were last computed."""

    files: set[int] | None = field(default_factory=set[int])  # None: unknown
    removed: bool = False  # a file was removed (found by its id missing from ``files``)
    # the digests of these files as a check found them different since the last batch (the
    # run that follows records them without reading them again)
    checked: tuple[frozenset[int], dict[int, tuple[int, int]]] | None = None

    def note(self, summary: IndexSummary | None) -> None:
        self.checked = None
        if self.files is None:
            return
        if summary is None or summary.relinked is None:
            self.files = None
            return
        self.files |= summary.relinked
        self.removed = self.removed or bool(summary.removed + summary.vanished)

    def resolve(self, store: Store, known: Iterable[int]) -> set[int]:
        """The changed files, those of ``known`` that are gone included."""
        assert self.files is not None
        changed = set(self.files)
        if self.removed:
            present = {int(r[0]) for r in store.con.execute("SELECT file_id FROM files").fetchall()}
            changed |= set(known) - present
        return changed


@dataclass(slots=True)
class _Inputs:
    digests: dict[int, tuple[int, int]]  # file id -> (rows, sum of row hashes)
    global_digest: object
    terms: frozenset[str] | None  # the input terms the digests were read with (None: none)
    changes: _Changes = field(default_factory=_Changes)


@dataclass(slots=True)
class _Parts:
    keys: dict[int, FileKeys]  # file id -> the partition keys it lists
    rows: dict[int, list[Row]]  # partition key -> its SQL rows
    global_digest: object
    # key -> how many files anchor it (None: the query's keys have no anchor column)
    anchors: Counter[int] | None
    changes: _Changes = field(default_factory=_Changes)


@dataclass(slots=True)
class PartitionRun:
    """How a partitioned query was computed."""

    whole: bool
    files: int = 0  # files whose keys were read (a partial run)
    keys: int = 0  # partitions recomputed (a partial run)
    # a partial run whose recomputed partitions gave the rows they had (the findings hold)
    same: bool = False


class Partitions:
    """The kept state of the finding queries with file inputs or partitions (a Refresher
    holds one)."""

    def __init__(
        self, queries: Sequence[SavedQuery] = (), inputs: QueryInputs | None = None
    ) -> None:
        # the global inputs of ``queries``, read together by the first that needs its own
        self._global_sqls = list(dict.fromkeys(q.global_inputs for q in queries if q.global_inputs))
        # what the tables each reads were when its digest was last read (``inputs`` tells;
        # without it every refresh reads them): a global input whose tables no batch changed
        # since has that digest still
        self._query_inputs = inputs
        self._global_kept: dict[str, tuple[object, object]] = {}  # sql -> (stamp, digest)
        self._inputs: dict[str, _Inputs] = {}
        self._parts: dict[str, _Parts] = {}
        self.last: dict[str, PartitionRun] = {}  # partitioned query -> how its last run went
        # query with file inputs -> the files whose digests its last computed() read
        self.inputs_read: dict[str, int] = {}
        # global inputs' SQL -> its digest, read once a refresh (queries may share one)
        self._globals: dict[str, object] = {}
        # the queries whose changed files' digests or keys the refresh since note() read
        self.checked: set[str] = set()
        # the file guards of the queries with one (graphsvc/findings/guards.py)
        self.guards = FileGuards(queries, inputs)

    def note(self, summary: IndexSummary | None) -> None:
        """A batch committed (``summary``; None: anything may have changed)."""
        self._globals.clear()
        self.checked.clear()
        self.guards.note()
        for state in (*self._inputs.values(), *self._parts.values()):
            state.changes.note(summary)

    def _global_digest(self, store: Store, query: SavedQuery) -> object:
        sql = query.global_inputs
        if sql is None:
            return None
        if sql not in self._globals and not self._globals:  # the refresh's first: read all
            stamps = {other: self._stamp(store, other) for other in self._global_sqls}
            stale = []
            for other, stamp in stamps.items():
                kept = self._global_kept.get(other)
                if stamp is not None and kept is not None and kept[0] == stamp:
                    self._globals[other] = kept[1]
                else:
                    stale.append(other)
            with contextlib.suppress(QueryError):  # then each alone, with its own error
                self._globals.update(global_digests(store, stale))
            for other in stale:
                if other in self._globals and stamps[other] is not None:
                    self._global_kept[other] = (stamps[other], self._globals[other])
        if sql not in self._globals:
            self._globals[sql] = global_digest(store, query)
        return self._globals[sql]

    def _stamp(self, store: Store, sql: str) -> object:
        if self._query_inputs is None:
            return None
        return self._query_inputs.stamp(store, sql)

    def _guard_same(self, store: Store, query: SavedQuery, changes: _Changes) -> bool:
        """Whether ``query``'s file guard spares its check (see FileGuards.same); the files
        the guards read are those changed since each guarded query's last check."""

        def pending() -> list[tuple[SavedQuery, set[int]]]:
            states = {**self._inputs, **self._parts}
            return [
                (q, states[q.name].changes.files or set())
                for q in self.guards.queries
                if q.name in states
            ]

        return self.guards.same(store, query, changes.files, changes.removed, pending)

    def forget(self, name: str) -> None:
        """``name``'s rows are gone (it failed or was stopped): its next run is whole."""
        self._inputs.pop(name, None)
        self._parts.pop(name, None)
        self.guards.forget(name)

    # -- file inputs

    def inputs_same(self, store: Store, query: SavedQuery, *, others_same: bool) -> bool:
        """Whether ``query``'s file inputs (and global inputs) are as when its findings were
        last computed; then they still hold (``others_same``: no table outside the per-file
        facts and links changed since). Call :meth:`computed` after computing them anew."""
        state = self._inputs.get(query.name)
        if query.file_inputs is None or state is None or state.changes.files is None:
            return False
        if not others_same or state.global_digest != self._global_digest(store, query):
            return False
        if self._guard_same(store, query, state.changes):
            state.changes = _Changes()
            return True
        changed = state.changes.resolve(store, state.digests)
        now = file_digests(store, query, query.file_inputs, changed)
        self.checked.add(query.name)
        if any(now.get(f) != state.digests.get(f) for f in changed):
            state.changes.checked = (frozenset(changed), now)
            return False
        self.guards.read(store, query, changed)
        state.changes = _Changes()
        return True

    def computed(self, store: Store, query: SavedQuery, *, others_same: bool) -> None:
        """``query``'s findings were just computed on the database as it is. When a table
        outside the per-file facts changed (not ``others_same``), file inputs may narrow a
        file's rows by it (the names the docs mention), so an unchanged file's digest may be
        stale: with ``input_terms`` the files ``term_files`` lists for the terms that came or
        went are read again, without them every file's digest is (and so when the global
        inputs changed)."""
        if query.file_inputs is None:
            return
        state = self._inputs.get(query.name)
        digest = self._global_digest(store, query)
        terms = input_terms(store, query)
        self.inputs_read[query.name] = 0
        if _start_over(state, others_same, digest) and not (
            state is not None
            and state.changes.files is not None
            and state.global_digest == digest
            and state.terms is not None
            and terms is not None
        ):
            everything = file_digests(store, query, query.file_inputs, None)
            self._inputs[query.name] = _Inputs(everything, digest, terms)
            self.inputs_read[query.name] = len(everything)
            self.guards.read(store, query, None)
            return
        assert state is not None
        changed = state.changes.resolve(store, state.digests)
        checked = state.changes.checked
        if terms != state.terms:  # the narrowing changed: the files with rows for those terms
            assert terms is not None and state.terms is not None
            changed |= term_files(store, query, terms ^ state.terms)
            checked = None
        if checked is not None and checked[0] == changed:
            now = checked[1]
        else:
            now = file_digests(store, query, query.file_inputs, changed)
            self.inputs_read[query.name] = len(changed)
        for file_id in changed:
            if file_id in now:
                state.digests[file_id] = now[file_id]
            else:
                state.digests.pop(file_id, None)
        self.guards.read(store, query, changed)
        state.global_digest = digest
        state.terms = terms
        state.changes = _Changes()

    # -- partitions

    def rows(
        self, store: Store, query: SavedQuery, *, others_same: bool, watch: Watch | None = None
    ) -> list[Row]:
        """The SQL rows of the partitioned ``query`` (before its finder) with its default
        parameters, computed for the partitions the files changed since its last run touch
        when that is safe (``others_same``: no table outside the per-file facts and links
        changed since).

        Raises:
            QueryError: the query failed or was stopped (its state is dropped).
        """
        spec = query.partition
        assert spec is not None, query.name
        try:
            return self._rows(store, query, spec, others_same, watch)
        except BaseException:
            self.forget(query.name)
            raise

    def _rows(
        self,
        store: Store,
        query: SavedQuery,
        spec: Partition,
        others_same: bool,
        watch: Watch | None,
    ) -> list[Row]:
        state = self._parts.get(query.name)
        digest = self._global_digest(store, query)
        if _start_over(state, others_same, digest):
            return self._whole(store, query, spec, digest, watch)
        if self._guard_same(store, query, state.changes):
            state.changes = _Changes()
            self.last[query.name] = PartitionRun(False, 0, 0, True)
            return _flatten(state.rows)
        changed = state.changes.resolve(store, state.keys)
        now = file_keys(store, query, spec, changed)
        self.checked.add(query.name)
        touched: set[int] = set()
        for file_id in changed:
            before, after = state.keys.get(file_id), now.get(file_id)
            if after is not None:
                touched |= after.changed(before)
            elif before is not None:
                touched.update(before.keys)
            if state.anchors is not None:
                _anchor(state.anchors, before, after)
        if state.anchors is not None:  # a partition without rows before or anchors now
            touched = {k for k in touched if state.anchors[k] >= spec.needed or k in state.rows}
        same = True
        if touched:
            fresh = run_rows(store, query, watch=watch, partition=sorted(touched), finder=False)
            same = self._splice(query, spec, state, touched, fresh)
        for file_id in changed:
            if file_id in now:
                state.keys[file_id] = now[file_id]
            else:
                state.keys.pop(file_id, None)
        self.guards.read(store, query, changed)
        state.changes = _Changes()
        self.last[query.name] = PartitionRun(False, len(changed), len(touched), same)
        return _flatten(state.rows)

    @staticmethod
    def _splice(
        query: SavedQuery, spec: Partition, state: _Parts, touched: set[int], fresh: list[Row]
    ) -> bool:
        """Put ``fresh``, the rows of the ``touched`` partitions, in place of the rows kept
        for them; returns whether they are the rows that were kept. A kept row of a touched
        partition leaves every partition it is in (a row in several partitions: the facts of
        a key it is in decide it, while the others' stayed the same)."""
        keyed = [(row, _keys(query, spec, row)) for row in fresh]
        if any(touched.isdisjoint(keys) for _, keys in keyed):
            raise QueryError(query.sql, f"{query.name}: rows of partitions that were not asked for")
        grouped: dict[int, list[Row]] = {}
        for row, keys in keyed:
            for key in keys:
                if key in touched:
                    grouped.setdefault(key, []).append(row)
        same = all(_same(grouped.get(key, []), state.rows.get(key, [])) for key in touched)
        _drop(query, spec, state.rows, touched)
        for row, keys in keyed:
            for key in keys:
                state.rows.setdefault(key, []).append(row)
        return same

    def _whole(
        self,
        store: Store,
        query: SavedQuery,
        spec: Partition,
        digest: object,
        watch: Watch | None,
    ) -> list[Row]:
        self._parts.pop(query.name, None)
        rows = run_rows(store, query, watch=watch, finder=False)
        grouped = _group(query, spec, rows)
        keys = file_keys(store, query, spec, None)
        anchors: Counter[int] | None = None
        if spec.anchored:
            anchors = Counter(k for listed in keys.values() for k in listed.anchors)
        self._parts[query.name] = _Parts(keys, grouped, digest, anchors)
        self.guards.read(store, query, None)
        self.last[query.name] = PartitionRun(True)
        return _flatten(grouped)


def _start_over(state: _Inputs | _Parts | None, others_same: bool, digest: object) -> bool:
    """Whether a query's kept state cannot follow the files changed since: none kept, changes
    unknown, a table outside the per-file facts changed, or its global inputs did."""
    return (
        state is None
        or state.changes.files is None
        or not others_same
        or state.global_digest != digest
    )


def _keys(query: SavedQuery, spec: Partition, row: Row) -> list[int]:
    """``row``'s partition keys (a row whose key column is a list is in each of them)."""
    value = row.get(spec.column)
    keys = value if isinstance(value, list) else [value]
    if not keys or not all(isinstance(key, int) for key in keys):
        raise QueryError(query.sql, f"{query.name}: a row without a partition key")
    return keys


def _group(query: SavedQuery, spec: Partition, rows: Iterable[Row]) -> dict[int, list[Row]]:
    """Rows by partition key."""
    grouped: dict[int, list[Row]] = {}
    for row in rows:
        for key in _keys(query, spec, row):
            grouped.setdefault(key, []).append(row)
    return grouped


def _drop(query: SavedQuery, spec: Partition, rows: dict[int, list[Row]], keys: set[int]) -> None:
    """Take the partitions of ``keys`` out of ``rows``, and each of their rows out of the
    other partitions it is in."""
    gone: dict[int, set[int]] = {}
    for key in keys:
        for row in rows.pop(key, ()):
            for other in _keys(query, spec, row):
                if other not in keys:
                    gone.setdefault(other, set()).add(id(row))
    for key, ids in gone.items():
        left = [row for row in rows.get(key, ()) if id(row) not in ids]
        if left:
            rows[key] = left
        else:
            rows.pop(key, None)


def _same(now: list[Row], before: list[Row]) -> bool:
    """Whether a partition's rows are the ones it had, in any order (rows spliced in for
    another partition of theirs come last)."""
    if now == before:
        return True
    return len(now) == len(before) and sorted(map(repr, now)) == sorted(map(repr, before))


def _anchor(anchors: Counter[int], before: FileKeys | None, after: FileKeys | None) -> None:
    """Count a file's anchors as they are now instead of as they were."""
    if before is not None:
        anchors.subtract(before.anchors)
        for key in before.anchors:
            if anchors[key] <= 0:
                del anchors[key]
    if after is not None:
        anchors.update(after.anchors)


def _flatten(grouped: dict[int, list[Row]]) -> list[Row]:
    """Every row once, in key order (a whole run and a spliced one give the same order). A
    row in several partitions is one object; one recomputed for some of them may sit beside
    its earlier copy in the others (the same edge: finders take each edge once)."""
    seen: set[int] = set()
    rows: list[Row] = []
    for key in sorted(grouped):
        for row in grouped[key]:
            if id(row) not in seen:
                seen.add(id(row))
                rows.append(row)
    return rows
