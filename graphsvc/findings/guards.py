"""File guards: a cheap look at a changed file's rows before a query's per-file check.

A finding query with file inputs or partitions (graphsvc/findings/partition.py) reads, after
a batch, its ``file_inputs`` digests or ``partition_keys`` of the changed files: one planned
statement each, with joins and scans across files (~5-20 ms each). Its ``file_guard`` header
(a SELECT of ``file_id`` and the values of every row of the files of ``$files`` its findings
can depend on: simple filtered scans of the files' own rows, narrowed at most by what its
``global_inputs`` cover) lets the refresh skip that check: the guards of every query's changed
files are read in one statement, and a query whose changed files' guard rows are the ones
they were when its digests or keys of those files were last read keeps them without reading
them. An edit that appends a function then does not read the keys of a query about class
symbols, registrations or unresolved names.

A guard promises that a file's findings (through its file inputs or partition keys) depend on
nothing of the file but its guard rows, the tables outside the per-file facts and links, and
the global inputs (a change of either makes the query run whole, which reads every file's
guard again). Its rows may be fewer than the check reads (``files.sha256`` standing in for
rows the guard lists): a kept key digest then stays as it was, and the next check that runs
finds it changed and recomputes the partition (an extra run, never a missed one).

The guards are read by branch (a guard's top-level ``UNION ALL`` parts), and a branch whose
tables no batch changed since it was last read (QueryInputs.stamp: the per-file tables'
generations, the other tables' digests) has the rows it had then, for every file: its kept
digests of the files it read then stand, and only the branches of changed tables are read
again. An edit that appends a function (symbols, clones and the files' content columns
change) then reads the guards' branches of symbols and clones, not those of links, imports,
mentions, calls or references. A query's guard digest of a file is the sum of its branches'.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence

from graphsvc.errors import QueryError
from graphsvc.findings.inputs import QueryInputs
from graphsvc.findings.partread import guard_digests
from graphsvc.queries import SavedQuery
from graphsvc.store import Store

log = logging.getLogger(__name__)

Digests = dict[int, tuple[int, int]]  # file id -> (rows, sum of row hashes)
_NO_ROWS = (0, 0)
# the guarded queries with kept state and the files changed since each one's last check
Pending = Callable[[], list[tuple[SavedQuery, set[int]]]]
# what splits a guard into branches, and what keeps it whole (a top-level UNION without ALL,
# INTERSECT, EXCEPT, WITH, ORDER BY, LIMIT would apply across the branches)
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|[()]|[A-Za-z_]+", re.S)
_WHOLE = frozenset({"UNION", "INTERSECT", "EXCEPT", "WITH", "ORDER", "LIMIT", "OFFSET"})


def branches(sql: str) -> list[str]:
    """The top-level ``UNION ALL`` parts of ``sql`` (``[sql]`` when it has none, or has
    anything at its top level that would apply across them)."""
    depth, cuts, last = 0, [], None
    words = list(_TOKENS.finditer(sql))
    for k, token in enumerate(words):
        text = token[0]
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif depth == 0 and text.upper() in _WHOLE:
            following = words[k + 1][0].upper() if k + 1 < len(words) else ""
            if text.upper() != "UNION" or following != "ALL":
                return [sql]
            cuts.append((token.start(), words[k + 1].end()))
        last = text
    if depth != 0 or last is None:
        return [sql]
    parts, start = [], 0
    for begin, end in cuts:
        parts.append(sql[start:begin].strip())
        start = end
    parts.append(sql[start:].strip())
    return parts if all(parts) else [sql]


@dataclasses.dataclass(slots=True)
class _Branch:
    """What a guard branch gave when its tables were as ``stamp`` says."""

    stamp: object
    complete: bool  # read for every file (a file missing from ``digests``: no rows)
    digests: Digests  # file -> (rows, sum of row hashes); the files read without rows: (0, 0)

    def has(self, file_id: int) -> bool:
        return self.complete or file_id in self.digests


class FileGuards:
    """The kept guard digests of the queries with a ``file_guard`` (Partitions holds one)."""

    def __init__(
        self, queries: Sequence[SavedQuery] = (), inputs: QueryInputs | None = None
    ) -> None:
        self.queries = [q for q in queries if q.file_guard]
        # each query's branches as queries of their own (``name#k``: see guard_digests)
        self._parts = {
            q.name: [
                dataclasses.replace(q, name=f"{q.name}#{k}", file_guard=part)
                for k, part in enumerate(branches(q.file_guard or ""))
            ]
            for q in self.queries
        }
        # whether a branch's tables changed since it was read (without: it is read every time)
        self._inputs = inputs
        self._branches: dict[str, _Branch] = {}  # ``name#k`` -> what it gave
        self.branch_reads = 0  # branches read, in all (for the benchmark and tests)
        # per query, each file's guard digest as when the query's digests or keys of the file
        # were last read (a file missing: not known)
        self._kept: dict[str, Digests] = {}
        # the guards of the files changed since the queries' last checks (read once a refresh
        # by the first query that asks; None: not yet) and those files
        self._now: dict[str, Digests] | None = None
        self._files: set[int] = set()
        self.spared: set[str] = set()  # the queries whose checks the refresh since note() spared

    def note(self) -> None:
        """A batch committed: the guards are read again."""
        self._now = None
        self._files = set()
        self.spared.clear()

    def forget(self, name: str) -> None:
        """``name``'s kept state is gone."""
        self._kept.pop(name, None)

    def same(
        self,
        store: Store,
        query: SavedQuery,
        changed: set[int] | None,
        removed: bool,
        pending: Pending,
    ) -> bool:
        """Whether the guard rows of every file of ``changed`` (those changed since
        ``query``'s last check; None: not known) are as they were then, so its kept digests
        or keys hold (never after a file was ``removed``)."""
        kept = self._kept.get(query.name)
        if kept is None or changed is None or removed:
            return False
        if self._now is None:
            self._read(store, pending())
        now = (self._now or {}).get(query.name)
        if now is None or not changed <= self._files:
            return False
        if all(f in kept and kept[f] == now.get(f, _NO_ROWS) for f in changed):
            self.spared.add(query.name)
            return True
        return False

    def _read(self, store: Store, pending: list[tuple[SavedQuery, set[int]]]) -> None:
        queries = [q for q, files in pending if files and q.name in self._kept]
        self._now, self._files = {}, set().union(*(f for q, f in pending if q in queries))
        try:
            self._now = self._digests(store, queries, self._files)
        except QueryError as exc:  # the checks run as without guards
            log.warning("file guards failed; the checks run: %s", exc)

    def read(self, store: Store, query: SavedQuery, files: set[int] | None) -> None:
        """``query``'s digests or keys of ``files`` (None: of every file) were just read: keep
        the files' guard digests as they are now (forgotten where not known)."""
        if query.file_guard is None:
            return
        if files is None:
            try:
                self._kept[query.name] = self._digests(store, [query], None)[query.name]
            except QueryError as exc:
                log.warning("file guard of %s failed; its checks run: %s", query.name, exc)
                self._kept.pop(query.name, None)
            return
        kept = self._kept.get(query.name)
        if kept is None:
            return
        now = (self._now or {}).get(query.name)
        for file_id in files:
            if now is not None and file_id in self._files:
                kept[file_id] = now.get(file_id, _NO_ROWS)
            else:
                kept.pop(file_id, None)

    def _digests(
        self, store: Store, queries: list[SavedQuery], files: set[int] | None
    ) -> dict[str, Digests]:
        """Per query of ``queries`` and file of ``files`` (None: every file) with guard rows,
        the sum of its branches' digests: those whose tables changed since they were read, or
        that did not read a file of ``files``, are read (in one statement), the others kept.

        Raises:
            QueryError: a branch failed (the branches read are forgotten).
        """
        stamps = self._stale(store, queries, files)
        read: dict[str, Digests] = {}
        if stamps:
            stale = [p for q in queries for p in self._parts[q.name] if p.name in stamps]
            self.branch_reads += len(stale)
            try:
                read = guard_digests(store, stale, files)
            except QueryError:
                for part in stale:
                    self._branches.pop(part.name, None)
                raise
            for name, stamp in stamps.items():
                if stamp is None:  # its tables cannot be told: not kept
                    continue
                kept = self._branches.get(name)
                if kept is None or files is None:
                    kept = self._branches[name] = _Branch(stamp, files is None, {})
                if files is not None:
                    kept.digests.update(dict.fromkeys(files, _NO_ROWS))
                kept.digests.update(read[name])
        out: dict[str, Digests] = {}
        for query in queries:
            total: Digests = {}
            for part in self._parts[query.name]:
                kept = self._branches.get(part.name)
                digests = read[part.name] if kept is None else kept.digests
                pairs = digests.items() if files is None else _of(digests, files)
                for file_id, (n, h) in pairs:
                    if n:
                        before = total.get(file_id, _NO_ROWS)
                        total[file_id] = (before[0] + n, before[1] + h)
            out[query.name] = total
        return out

    def _stale(
        self, store: Store, queries: list[SavedQuery], files: set[int] | None
    ) -> dict[str, object]:
        """The branches of ``queries`` to read for ``files`` (None: every file), each with
        the stamp of its tables now (None: not known); the kept state of the others holds."""
        stale: dict[str, object] = {}
        for query in queries:
            for part in self._parts[query.name]:
                sql = part.file_guard or ""
                stamp = None if self._inputs is None else self._inputs.stamp(store, sql)
                kept = self._branches.get(part.name)
                if kept is not None and (stamp is None or kept.stamp != stamp):
                    del self._branches[part.name]
                    kept = None
                if kept is None or not (
                    kept.complete if files is None else all(map(kept.has, files))
                ):
                    stale[part.name] = stamp
        return stale


def _of(digests: Digests, files: set[int]) -> list[tuple[int, tuple[int, int]]]:
    return [(f, digests[f]) for f in files if f in digests]
