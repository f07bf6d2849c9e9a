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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from graphsvc.errors import QueryError
from graphsvc.findings.partread import guard_digests
from graphsvc.queries import SavedQuery
from graphsvc.store import Store

log = logging.getLogger(__name__)

Digests = dict[int, tuple[int, int]]  # file id -> (rows, sum of row hashes)
_NO_ROWS = (0, 0)
# the guarded queries with kept state and the files changed since each one's last check
Pending = Callable[[], list[tuple[SavedQuery, set[int]]]]


class FileGuards:
    """The kept guard digests of the queries with a ``file_guard`` (Partitions holds one)."""

    def __init__(self, queries: Sequence[SavedQuery] = ()) -> None:
        self.queries = [q for q in queries if q.file_guard]
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
            self._now = guard_digests(store, queries, self._files)
        except QueryError as exc:  # the checks run as without guards
            log.warning("file guards failed; the checks run: %s", exc)

    def read(self, store: Store, query: SavedQuery, files: set[int] | None) -> None:
        """``query``'s digests or keys of ``files`` (None: of every file) were just read: keep
        the files' guard digests as they are now (forgotten where not known)."""
        if query.file_guard is None:
            return
        if files is None:
            try:
                self._kept[query.name] = guard_digests(store, [query], None)[query.name]
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
