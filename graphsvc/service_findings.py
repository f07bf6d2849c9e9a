"""The findings thread of the live service: the findings refreshed after committed batches.

The indexer thread hands each committed batch to :meth:`FindingsWorker.committed`; the
findings thread (:meth:`FindingsWorker.run`) refreshes the findings after them, all batches
committed since its last refresh at once, on a connection of its own (it writes only the
findings tables), so a slow finding query never holds up the next save: the facts of a save
are queryable as soon as its batch commits, and the findings follow. Between finding queries
it yields to the indexer; when nothing is waiting it writes the hardware findings and, once
the indexer is idle too, runs the finding queries a busy stream of batches deferred.

It is a module of its own because it owns everything the findings need (the saved queries'
:class:`~graphsvc.findings.Refresher` and the non-SQL finding sources) and talks to the rest
of the service only through the few callbacks it is given.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from graphsvc.config import Settings
from graphsvc.errors import GraphsvcError
from graphsvc.findings import (
    CapabilitySource,
    ContractSource,
    DependencySource,
    HardwareFeed,
    HardwareRules,
    KnowledgeSource,
    Refresher,
    RefreshResult,
    Thresholds,
)
from graphsvc.queries import load_queries, user_query_dirs
from graphsvc.store import Store
from graphsvc.update import IndexSummary, merge_summaries

log = logging.getLogger(__name__)
WAKE_EVERY_S = 1.0  # with nothing to refresh, the thread looks for deferred work this often
FINDINGS_YIELD_MAX_S = 1.0  # longest the findings thread waits for the indexer per query
FINDINGS_YIELD_POLL_S = 0.002
RETRY_AFTER_S = (0.5, 2.0, 10.0)  # back-off after the 1st, 2nd, 3rd+ failure in a row


try:
    _MALLOC_TRIM: Callable[[int], int] | None = ctypes.CDLL(None).malloc_trim
except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
    _MALLOC_TRIM = None


def trim_heap() -> bool:
    """Give the free pages inside the C heap back to the system (glibc's ``malloc_trim``);
    whether there was a heap to trim.

    A refresh frees most of what it allocated, but glibc keeps the freed pages of its heaps
    resident until their top is free; after a batch's refresh on the standard library ~15-20
    MB of them were held (BENCHMARKS.md, "Serve memory"), and a trim costs under 1 ms. The
    findings thread calls it after a refresh when the indexer is idle, after waking the
    waiters of ``sync``, so no save waits on it."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


class FindingsWorker:
    """The findings thread's state and work (:meth:`run` is its body).

    Args:
        tree: the watched root.
        store: the service's store (the thread writes through a connection of its own).
        settings: the service's settings.
        stopping: set when the service stops (the thread then stops yielding).
        indexer_idle: whether the indexer has no batch running and no changes waiting.
        as_of: the last committed batch.
        sync_waiting: whether a ``sync`` waits (its batches run every finding query).
        finished: called with the dirty-set generation whose findings are refreshed.
    """

    def __init__(
        self,
        tree: Path,
        store: Store,
        settings: Settings,
        *,
        stopping: threading.Event,
        indexer_idle: Callable[[], bool],
        as_of: Callable[[], int],
        sync_waiting: Callable[[], bool],
        finished: Callable[[int], None],
    ) -> None:
        self.store = store
        self._stopping = stopping
        self._indexer_idle = indexer_idle
        self._as_of = as_of
        self._sync_waiting = sync_waiting
        self._finished = finished
        # Committed batches waiting for their findings refresh: (summary, dirty generation).
        self._queue: list[tuple[IndexSummary, int]] = []
        self._wanted = threading.Condition()
        self._stop = threading.Event()
        # Held by the findings thread while it writes, and by a snapshot's checkpoint + copy
        # (nothing may commit while the file is copied).
        self.lock = threading.Lock()
        self.heap_trims = 0  # trim_heap() calls after refreshes (0 where it cannot trim)
        self.failures = 0  # refreshes (or connections) that failed since start
        self.last_error: str | None = None  # the last failure, until a refresh succeeds
        self._in_row = 0  # failures since the last refresh that succeeded
        self._retry_at = 0.0  # monotonic time after which an idle thread retries them
        # After a failure the next refresh runs every query on every file: the batches whose
        # refresh failed (or was dropped) are no longer in any summary.
        self._whole_next = False
        self.refresher = Refresher(
            load_queries(None, user_query_dirs(tree, settings)),
            tree,
            settings.suppress,
            defer_ms=settings.refresh_defer_ms,
            defer_s=settings.refresh_defer_s,
            pause=self.yield_to_indexer,
        )
        for error in self.refresher.catalog.errors:
            log.error("saved query not loaded: %s", error)
        self.last: RefreshResult | None = None  # the last refresh of the saved queries
        self.dependencies = DependencySource(tree, settings.python)
        self.capabilities = CapabilitySource(tree)
        self.contracts = ContractSource(tree, settings.contracts)
        self.knowledge = KnowledgeSource(
            tree,
            settings.knowledge_index,
            settings.knowledge_index_sql,
            bool(settings.doc_globs),
        )
        # Hardware: sampled on its own thread; its findings are written by this one.
        self.hardware_feed = HardwareFeed(HardwareRules(Thresholds.of(settings)))

    def committed(self, summary: IndexSummary, generation: int) -> None:
        """A batch committed (``generation``: the dirty set's when it was taken)."""
        with self._wanted:
            self._queue.append((summary, generation))
            self._wanted.notify_all()

    def stop(self) -> None:
        """Let :meth:`run` return once it has refreshed what is queued."""
        with self._wanted:
            self._stop.set()
            self._wanted.notify_all()

    def run(self) -> None:
        """Refresh the findings after committed batches, all those committed since the last
        refresh at once; when nothing is waiting, write the hardware findings and, once the
        indexer is idle too, run the finding queries a busy stream of batches deferred.

        The thread writes through a connection of its own (only the findings tables), so the
        indexer commits the next batch meanwhile; a refresh reads what is committed when each
        of its queries runs, and the refresh after the next batch sees that batch in full.

        Nothing kills the thread: a failure (the connection cannot be opened, a refresh or a
        source raises) is logged and kept for /status (:attr:`failures`,
        :attr:`last_error`), the syncs waiting on the failed batches are woken (their facts
        are committed), and after a back-off the thread opens a fresh connection and runs
        every query on every file, which covers the batches whose refresh failed.
        """
        while True:
            try:
                store = self.store.writer()
            except Exception as exc:  # the findings must not die with their connection
                self._failed(exc, "could not open its connection")
                self._release_queue()
            else:
                try:
                    if self._serve(store):
                        return
                except Exception as exc:  # a refresh must never kill the findings thread
                    self._failed(exc, "refresh failed")
                finally:
                    store.close()
            if self._stop.wait(self._backoff()):
                self._release_queue()
                return

    def _serve(self, store: Store) -> bool:
        """The thread's loop on one connection; True once stopped with nothing left."""
        while True:
            with self._wanted:
                if not self._queue and not self._stop.is_set():
                    self._wanted.wait(WAKE_EVERY_S)
                queue, self._queue = self._queue, []
                if not queue and self._stop.is_set():
                    return True
            try:
                with self.lock:
                    if queue:
                        summary = merge_summaries([summary for summary, _ in queue])
                        self._refresh(store, summary)
                    elif self._catch_up_due():
                        self._catch_up(store)
                    self.flush_hardware(store, self._as_of())
            finally:  # a sync waiting on these batches returns even when the refresh failed
                if queue:
                    self._finished(max(generation for _, generation in queue))
            if queue and self._indexer_idle() and trim_heap():
                self.heap_trims += 1

    def _catch_up_due(self) -> bool:
        """Whether the idle thread should run every query now: some were deferred, or a
        failed refresh left findings behind (then not before the back-off has passed)."""
        if not self._indexer_idle():
            return False
        if self._whole_next:
            return time.monotonic() >= self._retry_at
        return bool(self.refresher.deferred)

    def _failed(self, exc: Exception, what: str) -> None:
        """Record a failure of the thread's work for /status and the log; the next refresh
        runs every query (after :meth:`_backoff` when nothing else asks for one)."""
        self.failures += 1
        self._in_row += 1
        self._whole_next = True
        self._retry_at = time.monotonic() + self._backoff()
        self.last_error = f"{what}: {type(exc).__name__}: {exc}"
        log.error("findings thread: %s", self.last_error, exc_info=exc)

    def _succeeded(self) -> None:
        self._in_row = 0
        self.last_error = None

    def _backoff(self) -> float:
        return RETRY_AFTER_S[min(max(self._in_row, 1), len(RETRY_AFTER_S)) - 1]

    def _release_queue(self) -> None:
        """Wake the syncs waiting on queued batches whose findings cannot be refreshed now
        (called after a failure: the next refresh runs every query on every file, so it
        covers them)."""
        with self._wanted:
            queue, self._queue = self._queue, []
        if queue:
            self._finished(max(generation for _, generation in queue))

    def yield_to_indexer(self) -> None:
        """Between two finding queries: wait while the indexer has a batch running or changes
        waiting, so a save's facts get the CPU before the findings of the save before it (on
        two cores the queries otherwise tripled a one-file batch). At most
        ``FINDINGS_YIELD_MAX_S`` per query: a stream of saves delays the findings, it does not
        starve them."""
        deadline = time.monotonic() + FINDINGS_YIELD_MAX_S
        while not self._indexer_idle() and not self._stopping.is_set():
            if time.monotonic() >= deadline:
                return
            time.sleep(FINDINGS_YIELD_POLL_S)

    def flush_hardware(self, store: Store, as_of: int) -> None:
        """Write the hardware findings sampled since the last flush."""
        if self.hardware_feed.flush(self.refresher, store, as_of) is not None:
            self._feed_moved()

    def _refresh(self, store: Store, summary: IndexSummary) -> None:
        """Diff the findings after committed batches. A failure is logged and kept for
        /status, not retried at once: the facts are committed, and the next refresh runs
        every query on every file. Batches that changed no fact (an editor touching a file,
        a save of the same bytes) leave the saved queries' findings as they are; the other
        sources still check their outside inputs."""
        try:
            if self._whole_next:
                self._whole_next = False
                self.last = self.refresher.run(store, summary.batch_id)
            elif self.last is None or _changed_facts(summary):
                self.last = self.refresher.run(
                    store, summary.batch_id, summary, defer=not self._sync_waiting()
                )
        except GraphsvcError as exc:
            self._failed(exc, f"findings refresh after batch {summary.batch_id} failed")
        else:
            self._succeeded()
        sources: list[Callable[[], object]] = [
            lambda: self.dependencies.refresh(self.refresher, store, summary.batch_id),
            lambda: self.capabilities.refresh(self.refresher, store, summary),
            lambda: self.contracts.refresh(self.refresher, store, summary),
            lambda: self.knowledge.refresh(self.refresher, store, summary),
        ]
        wrote = []
        for source in sources:  # Python work: it would hold the GIL from the next batch
            self.yield_to_indexer()
            wrote.append(source())
        if any(result is not None for result in wrote):
            self._feed_moved()

    def _catch_up(self, store: Store) -> None:
        """Run every finding query (the service is idle): those a busy stream of batches
        deferred, or all of them after a failed refresh."""
        self._whole_next = False
        try:
            self.last = self.refresher.run(store, self._as_of())
        except GraphsvcError as exc:
            self._failed(exc, "deferred finding queries failed")
            return
        self._succeeded()
        self._feed_moved()

    def _feed_moved(self) -> None:
        """A non-SQL source wrote events: the last refresh's feed position follows, so
        whatever reads it (the event stream, /status) sees them without waiting for a batch."""
        if self.last is not None:
            self.last.last_seq = max(self.last.last_seq, self.refresher.last_seq)


def _changed_facts(summary: IndexSummary) -> bool:
    """Whether the batch changed any fact a saved query reads (a file or doc read, removed,
    touched or re-linked; an unknown re-link set counts as a change)."""
    return bool(
        summary.parsed
        or summary.removed
        or summary.vanished
        or summary.touched
        or summary.failed
        or summary.skipped
        or summary.docs_parsed
        or summary.docs_removed
        or summary.docs_touched
        or summary.relinked is None
        or summary.relinked
    )
