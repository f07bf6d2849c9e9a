"""The live service: watch the tree, update the store in batches, answer "is it fresh yet?".

Threads:

- the watchdog observer notes dirty paths on a :class:`~graphsvc.watch.DirtySet`;
- the **indexer** thread writes the facts: it takes the dirty set after a quiet period, brings
  those paths up to date (or reconciles the whole tree when events may have been lost), and
  records each committed batch (its number is the ``as_of`` of every answer);
- the **findings** thread refreshes the findings after committed batches, on a connection of its
  own (it writes only the findings tables), so a slow finding query never holds up the next
  save: the facts of a save are queryable as soon as its batch commits, and the findings follow.
  Batches that commit while a refresh runs are refreshed together in the next one;
- the **supervisor** thread checks once a second that the observer still runs (restarting it,
  and reconciling, when it died) and that the process was not paused (suspend, SIGSTOP), after
  which the kernel's event queue may have overflowed unseen.

:meth:`Service.sync` gives read-your-writes: it writes a cookie file into the watched root and
waits until the watcher has seen it and every change noted before it is committed and its
findings refreshed (Watchman's cookie protocol); if no cookie can be written or seen, it
reconciles instead.
"""

from __future__ import annotations

import ctypes
import dataclasses
import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa

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
from graphsvc.hardware import Probe, Sampler
from graphsvc.layout import Layout
from graphsvc.link import Linker
from graphsvc.metrics import Metrics
from graphsvc.queries import load_queries, user_query_dirs
from graphsvc.sandbox import SandboxLimits, SqlSandbox
from graphsvc.snapshot import SnapshotPublisher
from graphsvc.store import Store
from graphsvc.update import IndexSummary, index_tree, merge_summaries, reconcile, refresh
from graphsvc.walk import DocGlobs
from graphsvc.watch import COOKIE_PREFIX, DirtySet, ObserverFactory, Pending, Watcher

log = logging.getLogger(__name__)
SUPERVISE_EVERY_S = 1.0
SNAPSHOT_IDLE_S = 0.25  # publish the shell's snapshot after this long without events
FINDINGS_YIELD_MAX_S = 1.0  # longest the findings thread waits for the indexer per query
FINDINGS_YIELD_POLL_S = 0.002
SNAPSHOT_STALE_S = 5.0  # ... or, under a steady stream of saves, once it is this old
RETRY_AFTER_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # back-off after failed batches


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


class SyncTimeout(GraphsvcError):
    """A sync did not complete within its deadline."""

    def __init__(self, seconds: float, pending: int) -> None:
        super().__init__(f"not in sync after {seconds:.1f}s ({pending} paths still pending)")


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What a sync waited for."""

    as_of: int
    method: str  # cookie | reconcile
    waited_ms: float


@dataclass(slots=True)
class BatchInfo:
    """The last committed batch, for /status."""

    batch_id: int
    kind: str
    reason: str | None
    paths: int
    parsed: int
    removed: int
    ms: float
    at: float  # wall clock (epoch seconds)


@dataclass(slots=True)
class _State:
    as_of: int = 0
    files: int = 0
    batches: int = 0
    failed_batches: int = 0
    last_batch: BatchInfo | None = None
    last_reconcile: BatchInfo | None = None
    reconciles: deque[BatchInfo] = field(default_factory=lambda: deque(maxlen=20))
    indexing_since: float | None = None
    last_error: str | None = None
    pauses: int = 0


class Service:
    """Keeps ``store`` equal to ``tree`` while running. Start with :meth:`start`, end with
    :meth:`stop` (finishes the batch in progress, stops watching; the caller closes the store).
    """

    def __init__(
        self,
        tree: Path,
        store: Store,
        settings: Settings,
        *,
        observer_factory: ObserverFactory | None = None,
    ) -> None:
        self.tree = tree.resolve()
        self.store = store
        self.settings = settings
        self.dirty = DirtySet()
        self.linker = Linker(settings.python)
        self.layout: Layout | None = None
        self.started_at = time.time()
        self._state = _State(as_of=store.as_of())
        self._done = threading.Condition()
        self._done_generation = -1  # nothing is committed before the start-up reconcile
        # Committed batches waiting for their findings refresh: (summary, dirty generation).
        self._refresh_queue: list[tuple[IndexSummary, int]] = []
        self._refresh_wanted = threading.Condition()
        self._findings_stop = threading.Event()
        # Held by the findings thread while it writes, and by a snapshot's checkpoint + copy
        # (nothing may commit while the file is copied).
        self._findings_lock = threading.Lock()
        self.heap_trims = 0  # trim_heap() calls after refreshes (0 where it cannot trim)
        self._cookies: dict[str, tuple[threading.Event, list[int]]] = {}
        self._cookie_lock = threading.Lock()
        self._counter = itertools.count(1)
        self._stopping = threading.Event()
        self._ignore = _inside(self.tree, store.path.parent)
        self.watcher = Watcher(
            self.tree,
            self.dirty,
            ignore=self._ignore,
            on_cookie=self._cookie_seen,
            poll_interval=settings.poll_interval_s,
            observer_factory=observer_factory,
            is_doc=DocGlobs(settings.doc_globs).matches,
        )
        self._threads: list[threading.Thread] = []
        # Ad-hoc SQL runs on the same database instance, locked down (instance-wide: no
        # connection can change a setting afterwards), from per-thread cursors.
        self.sandbox = SqlSandbox(
            store,
            SandboxLimits(
                max_rows=settings.sql_max_rows,
                timeout_s=settings.sql_timeout_s,
                memory_limit=settings.sql_memory_limit,
            ),
        )
        self.metrics = Metrics(self.status, self._findings_by_kind)
        # The duckdb shell reads a snapshot: no other process can open the file while we write.
        self.snapshots = SnapshotPublisher(store)
        # Findings are refreshed on the findings thread after committed batches.
        self.findings = Refresher(
            load_queries(None, user_query_dirs(self.tree, settings)),
            self.tree,
            settings.suppress,
            defer_ms=settings.refresh_defer_ms,
            defer_s=settings.refresh_defer_s,
            pause=self._yield_to_indexer,
        )
        self._sync_waiters = 0  # syncs waiting: their batches run every finding query
        self._waiters_lock = threading.Lock()
        for error in self.findings.catalog.errors:
            log.error("saved query not loaded: %s", error)
        self.last_findings: RefreshResult | None = None
        self.dependencies = DependencySource(self.tree, settings.python)
        self.capabilities = CapabilitySource(self.tree)
        self.contracts = ContractSource(self.tree, settings.contracts)
        self.knowledge = KnowledgeSource(
            self.tree,
            settings.knowledge_index,
            settings.knowledge_index_sql,
            bool(settings.doc_globs),
        )
        # Hardware: sampled on its own thread; its findings are written by the findings thread.
        self.hardware_feed = HardwareFeed(HardwareRules(Thresholds.of(settings)))
        self.hardware = Sampler(
            Probe({"tree": self.tree, "db": store.path}),
            settings.hardware_interval_s,
            self.hardware_feed.on_sample,
        )

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Watch first, then reconcile: a change made during the start-up walk is both seen by
        the walk or noted by the watcher, never neither."""
        self.watcher.start()
        self.dirty.request_reconcile("start-up")
        if self.settings.hardware_interval_s > 0:
            # The first sample's findings are in the feed before any client can connect
            # (the indexer thread does not run yet: this thread owns the writer).
            self.hardware.start()
            self._flush_hardware(self.store, self._state.as_of)
        loops = (
            ("indexer", self._index_loop),
            ("supervisor", self._supervise),
            ("findings", self._findings_loop),
        )
        for name, target in loops:
            thread = threading.Thread(target=target, name=f"graphsvc-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop watching, let the indexer finish (commit) the batch in progress and the
        findings thread refresh what was committed."""
        self._stopping.set()
        self.dirty.close()
        self.watcher.stop()
        self.hardware.stop()
        for thread in self._threads[:2]:  # the indexer and the supervisor
            thread.join()
        with self._refresh_wanted:
            self._findings_stop.set()
            self._refresh_wanted.notify_all()
        for thread in self._threads[2:]:
            thread.join()
        with self._done:
            self._done.notify_all()
        if self.snapshots.pending:  # the indexer has ended: this thread owns the writer now
            self.snapshots.maybe_publish(committed=False, now=float("inf"))
        self.sandbox.close()

    # ------------------------------------------------------------------ indexing

    def _index_loop(self) -> None:
        """Take batches; publish the shell's snapshot when idle.

        A snapshot holds the writer for its checkpoint and copy (tens of milliseconds on a
        stdlib-size graph), so it waits until no event came for ``SNAPSHOT_IDLE_S``: a save that
        arrives right after a batch is not queued behind it. Under a steady stream of saves it is
        published anyway once the last one is ``SNAPSHOT_STALE_S`` old.
        """
        failures = 0
        while not self._stopping.is_set():
            idle = SNAPSHOT_IDLE_S if self.snapshots.pending else SUPERVISE_EVERY_S
            pending = self.dirty.take(
                self.settings.batch_quiet_ms / 1000,
                self.settings.batch_max_delay_ms / 1000,
                timeout=idle,
            )
            if pending is None:
                self._publish_snapshot()
                continue
            try:
                self._batch(pending)
                failures = 0
            except Exception as exc:  # a batch must never kill the indexer
                failures += 1
                self._failed(pending, exc, failures)
            else:
                self.snapshots.pending = True
                stale = self.snapshots.last_published_at
                if stale is None or time.monotonic() - stale > SNAPSHOT_STALE_S:
                    self._publish_snapshot()

    def _publish_snapshot(self) -> None:
        """Publish the shell's snapshot if one is due, unless the findings thread is writing
        (the copy must see no commit); a skipped one stays pending and is tried again."""
        if not self._findings_lock.acquire(blocking=False):
            return
        try:
            self.snapshots.maybe_publish(committed=False)
        finally:
            self._findings_lock.release()

    def _batch(self, pending: Pending) -> None:
        self._state.indexing_since = time.time()
        # a finding query of the last batch would share the two cores with this one: it is
        # stopped, and runs again in the refresh after this batch (not while a sync waits:
        # it returns once the findings are complete)
        if self._sync_waiters == 0:
            self.findings.interrupt()
        try:
            if pending.reasons or self.layout is None:
                reason = "; ".join(pending.reasons) or "layout unknown"
                summary, self.layout = reconcile(
                    self.tree,
                    self.store,
                    self.settings,
                    linker=self.linker,
                    reason=reason,
                    recheck=pending.paths,
                )
                info = self._committed(summary, "reconcile", reason, summary.seen)
                self._state.last_reconcile = info
                self._state.reconciles.append(info)
                self.linker.warm(self.store)  # the first save after start stays fast
            else:
                summary = refresh(
                    self.tree,
                    self.store,
                    self.settings,
                    self.layout,
                    pending.paths,
                    linker=self.linker,
                )
                self._committed(summary, "watch", None, len(pending.paths))
        finally:
            self._state.indexing_since = None
        with self._refresh_wanted:
            self._refresh_queue.append((summary, pending.generation))
            self._refresh_wanted.notify_all()

    def _committed(
        self, summary: IndexSummary, kind: str, reason: str | None, paths: int
    ) -> BatchInfo:
        state = self._state
        info = BatchInfo(
            batch_id=summary.batch_id,
            kind=kind,
            reason=reason,
            paths=paths,
            parsed=summary.parsed,
            removed=summary.removed + summary.vanished,
            ms=round(summary.seconds * 1000, 3),
            at=time.time(),
        )
        row = self.store.con.execute("SELECT count(*) FROM files").fetchone()
        state.files = int(row[0]) if row else 0
        state.as_of = summary.batch_id
        state.batches += 1
        self.metrics.batch(kind, summary.seconds, summary.parsed, info.removed)
        state.last_batch = info
        state.last_error = None
        log.info(
            "batch %d %s: %d paths, %d parsed, %d removed, %d failed in %.1f ms%s",
            info.batch_id,
            kind,
            paths,
            summary.parsed,
            info.removed,
            summary.failed,
            info.ms,
            f" ({reason})" if reason else "",
            extra={"batch": dataclasses.asdict(info) | {"failed": summary.failed}},
        )
        return info

    # ------------------------------------------------------------------ findings

    def _findings_loop(self) -> None:
        """Refresh the findings after committed batches, all those committed since the last
        refresh at once; when nothing is waiting, write the hardware findings and, once the
        indexer is idle too, run the finding queries a busy stream of batches deferred.

        The thread writes through a connection of its own (only the findings tables), so the
        indexer commits the next batch meanwhile; a refresh reads what is committed when each
        of its queries runs, and the refresh after the next batch sees that batch in full.
        """
        store = self.store.writer()
        try:
            while True:
                with self._refresh_wanted:
                    if not self._refresh_queue and not self._findings_stop.is_set():
                        self._refresh_wanted.wait(SUPERVISE_EVERY_S)
                    queue, self._refresh_queue = self._refresh_queue, []
                    if not queue and self._findings_stop.is_set():
                        return
                with self._findings_lock:
                    if queue:
                        summary = merge_summaries([summary for summary, _ in queue])
                        self._refresh_findings(store, summary)
                    elif self.findings.deferred and self._indexer_idle():
                        self._catch_up_findings(store)
                    self._flush_hardware(store, self._state.as_of)
                if queue:
                    with self._done:
                        self._done_generation = max(generation for _, generation in queue)
                        self._done.notify_all()
                    if self._indexer_idle() and trim_heap():
                        self.heap_trims += 1
        finally:
            store.close()

    def _indexer_idle(self) -> bool:
        return self._state.indexing_since is None and not len(self.dirty)

    def _yield_to_indexer(self) -> None:
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

    def _refresh_findings(self, store: Store, summary: IndexSummary) -> None:
        """Diff the findings after committed batches. A failure is logged, not retried: the
        facts are committed, and the next batch's refresh catches up. Batches that changed no
        fact (an editor touching a file, a save of the same bytes) leave the saved queries'
        findings as they are; the other sources still check their outside inputs."""
        try:
            if self.last_findings is None or _changed_facts(summary):
                self.last_findings = self.findings.run(
                    store, summary.batch_id, summary, defer=self._sync_waiters == 0
                )
        except GraphsvcError as exc:
            log.error("findings refresh after batch %d failed: %s", summary.batch_id, exc)
        sources: list[Callable[[], object]] = [
            lambda: self.dependencies.refresh(self.findings, store, summary.batch_id),
            lambda: self.capabilities.refresh(self.findings, store, summary),
            lambda: self.contracts.refresh(self.findings, store, summary),
            lambda: self.knowledge.refresh(self.findings, store, summary),
        ]
        wrote = []
        for source in sources:  # Python work: it would hold the GIL from the next batch
            self._yield_to_indexer()
            wrote.append(source())
        if any(result is not None for result in wrote):
            self._feed_moved()

    def _catch_up_findings(self, store: Store) -> None:
        """Run the finding queries a busy stream of batches deferred (the service is idle)."""
        try:
            self.last_findings = self.findings.run(store, self._state.as_of)
        except GraphsvcError as exc:
            log.error("deferred finding queries failed: %s", exc)
            return
        self._feed_moved()

    def _flush_hardware(self, store: Store, as_of: int) -> None:
        if self.hardware_feed.flush(self.findings, store, as_of) is not None:
            self._feed_moved()

    def _feed_moved(self) -> None:
        """A non-SQL source wrote events: the last refresh's feed position follows, so
        whatever reads it (the event stream, /status) sees them without waiting for a batch."""
        if self.last_findings is not None:
            self.last_findings.last_seq = max(self.last_findings.last_seq, self.findings.last_seq)

    def _failed(self, pending: Pending, exc: Exception, failures: int) -> None:
        """Nothing is lost: the failed work comes back as a reconcile after a back-off."""
        self._state.failed_batches += 1
        self.metrics.failed.inc()
        self._state.last_error = f"{type(exc).__name__}: {exc}"
        log.error("batch failed (%s); reconciling after a pause", self._state.last_error)
        self.dirty.request_reconcile(f"retry after a failed batch: {self._state.last_error}")
        self._stopping.wait(RETRY_AFTER_S[min(failures, len(RETRY_AFTER_S)) - 1])

    # ------------------------------------------------------------------ supervision

    def _audit_watches(self, shortfall: list[int]) -> None:
        """Two audits in a row with unwatched directories: poll instead (a directory created a
        moment ago may not have its watch yet, so one audit is not enough)."""
        missing = self.watcher.unwatched()
        shortfall.append(missing or 0)
        del shortfall[:-2]
        if len(shortfall) == 2 and min(shortfall) > 0:
            reason = (
                f"{missing} directories could not be watched (inotify watch limit? raise "
                "fs.inotify.max_user_watches)"
            )
            log.error("%s: polling the tree instead", reason)
            self.dirty.request_reconcile(f"polling instead: {reason}")
            self.watcher.fall_back(reason)
            shortfall.clear()

    def _supervise(self) -> None:
        last = _boot_clock()
        audited = time.monotonic()
        shortfall: list[int] = []
        while not self._stopping.wait(SUPERVISE_EVERY_S):
            if time.monotonic() - audited >= self.settings.watch_audit_s:
                audited = time.monotonic()
                self._audit_watches(shortfall)
            now = _boot_clock()
            gap, last = now - last, now
            if gap > self.settings.pause_threshold_s:
                self._state.pauses += 1
                log.warning("the service was paused for %.1f s: reconciling", gap)
                self.dirty.request_reconcile(f"the process was paused for {gap:.0f} s")
            why = self.watcher.healthy()
            if why is not None and not self._stopping.is_set():
                self.dirty.request_reconcile(f"watcher restarted: {why}")
                try:
                    self.watcher.restart(why)
                except OSError as exc:  # not even polling works: say so, try again next tick
                    self._state.last_error = f"cannot watch {self.tree}: {exc}"
                    log.error("%s", self._state.last_error)

    # ------------------------------------------------------------------ sync

    def sync(self, timeout: float | None = None) -> SyncResult:
        """Return once every change made to the tree before this call is committed and the
        findings are refreshed after it.

        Raises:
            SyncTimeout: not in sync within ``timeout`` seconds (default: the setting).
        """
        started = time.monotonic()
        deadline = started + (timeout if timeout is not None else self.settings.sync_timeout_s)
        with self._waiters_lock:
            self._sync_waiters += 1
        try:
            target, method = self._cookie_generation(deadline)
            self.dirty.hurry()
            with self._done:
                while self._done_generation < target:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._stopping.is_set():
                        raise SyncTimeout(time.monotonic() - started, len(self.dirty))
                    self._done.wait(left)
        finally:
            with self._waiters_lock:
                self._sync_waiters -= 1
        waited = (time.monotonic() - started) * 1000
        return SyncResult(self._state.as_of, method, round(waited, 3))

    def _cookie_generation(self, deadline: float) -> tuple[int, str]:
        """The dirty-set generation when the watcher saw our cookie (everything noted before it
        was caused by earlier changes), or a reconcile's generation when that fails.

        inotify reports events in order, so one cookie suffices. A polling observer reports a
        scan's changes in no particular order, so the cookie may come before other changes of
        the same scan: a second cookie, written once the first was seen, lands in a later scan,
        after every event of the first one.
        """
        rounds = 2 if self.watcher.mode == "polling" else 1
        generation = 0
        for _ in range(rounds):
            found, failure = self._one_cookie(deadline)
            if found is None:
                return self.dirty.request_reconcile(failure), "reconcile"
            generation = found
        return generation, "cookie"

    def _one_cookie(self, deadline: float) -> tuple[int | None, str]:
        """The generation when the watcher saw a new cookie, or None and why not."""
        name = f"{COOKIE_PREFIX}{os.getpid()}-{next(self._counter)}"
        seen = threading.Event()
        generation: list[int] = []
        with self._cookie_lock:
            self._cookies[name] = (seen, generation)
        cookie = self.tree / name
        try:
            cookie.write_bytes(b"")
        except OSError as exc:
            self._forget(name)
            return None, f"sync without a cookie (cannot write {name}: {exc.strerror or exc})"
        try:
            wait = min(self.settings.cookie_timeout_s, max(0.0, deadline - time.monotonic()))
            if seen.wait(wait):
                return generation[0], ""
            return None, "sync cookie not seen by the watcher"
        finally:
            self._forget(name)
            cookie.unlink(missing_ok=True)

    def _cookie_seen(self, name: str) -> None:
        with self._cookie_lock:
            waiting = self._cookies.get(name)
        if waiting is not None and not waiting[0].is_set():
            waiting[1].append(self.dirty.generation)
            waiting[0].set()

    def _forget(self, name: str) -> None:
        with self._cookie_lock:
            self._cookies.pop(name, None)

    # ------------------------------------------------------------------ status

    def _snapshot_status(self) -> dict[str, Any]:
        last = self.snapshots.last
        return {
            "path": str(self.snapshots.dest),
            "published_ms": None if last is None else last.ms,
            "bytes": None if last is None else last.size,
            "pending": self.snapshots.pending,
        }

    def _findings_by_kind(self) -> list[tuple[str, str, int]]:
        with self.store.reader() as reader:
            rows = reader.query(
                "SELECT kind, status, count(*) FROM findings GROUP BY ALL ORDER BY ALL"
            ).rows
        return [(str(k), str(s), int(n)) for k, s, n in rows]

    @property
    def findings_seq(self) -> int:
        """The feed's position after the last findings write (0 before the first)."""
        return self.findings.last_seq

    @property
    def feed_position(self) -> int | None:
        """The feed's position after the last findings refresh of this process; None before
        it (the table may hold events of an earlier run), so readers must ask the database."""
        result = self.last_findings
        return result.last_seq if result is not None else None

    @property
    def as_of(self) -> int:
        return self._state.as_of

    @property
    def findings_as_of(self) -> int:
        """The batch the findings were last refreshed after (it may trail :attr:`as_of` while
        a refresh runs); :attr:`as_of` before the first refresh of this process."""
        result = self.last_findings
        return result.as_of if result is not None else self._state.as_of

    def status(self) -> dict[str, Any]:
        """Everything /status reports."""
        state = self._state
        reconciling = self.dirty.reconcile_pending()
        return {
            "as_of": state.as_of,
            "tree": str(self.tree),
            "db": str(self.store.path),
            "files": state.files,
            "pending_paths": len(self.dirty),
            "pending_reconcile": reconciling,
            "indexing": state.indexing_since is not None,
            "indexing_since": state.indexing_since,
            "batches": state.batches,
            "failed_batches": state.failed_batches,
            "last_error": state.last_error,
            "last_batch": _fields(state.last_batch),
            "last_reconcile": _fields(state.last_reconcile),
            "recent_reconciles": [_fields(r) for r in state.reconciles],
            "watcher": {
                "mode": self.watcher.mode,
                "observer": self.watcher.native,
                "fallback_reason": self.watcher.fallback_reason,
                "overflows": self.watcher.overflows,
                "restarts": self.watcher.restarts,
                "pauses": state.pauses,
            },
            "snapshot": self._snapshot_status(),
            "findings": _findings_status(self.last_findings),
            "rss_bytes": psutil.Process().memory_info().rss,
            "started_at": self.started_at,
            "pid": os.getpid(),
        }


def index_in_child(tree: Path, settings: Settings, db: Path) -> int:
    """Bring ``db`` up to date with ``tree`` in a child process; returns its exit code.

    A cold index of a large tree leaves the heap of the process that ran it at its high-water
    mark (freed memory stays with the allocators), so a long-running service does the heavy
    first pass in a process that then exits, and starts from the indexed database with a small
    heap. The service's own start-up reconcile then only reads what changed meanwhile.
    """
    context = multiprocessing.get_context("spawn")  # the caller may already run threads
    child = context.Process(
        target=_index_child,
        args=(str(tree), settings.model_dump(mode="json"), str(db)),
        name="graphsvc-start-up-index",
    )
    child.start()
    child.join()
    return child.exitcode if child.exitcode is not None else 1


def _index_child(tree: str, settings: dict[str, Any], db: str) -> None:
    """Process entry of :func:`index_in_child` (warnings reach stderr; the parent logs)."""
    pa.set_memory_pool(pa.system_memory_pool())  # as the CLI does: freed Arrow memory goes back
    chosen = Settings(**settings)
    with Store.open(Path(db), memory_mb=chosen.db_memory_mb) as store:
        index_tree(Path(tree), store, chosen)


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


def _fields(info: BatchInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return dataclasses.asdict(info)


def _findings_status(result: RefreshResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "as_of": result.as_of,
        "last_seq": result.last_seq,
        "open": result.open,
        "suppressed": result.suppressed,
        "events": result.events,
        "ms": round(result.ms, 3),
        "failed": result.failed,
        "deferred": result.deferred,
        "interrupted": result.interrupted,
    }


def _inside(tree: Path, folder: Path) -> tuple[str, ...]:
    """``folder`` relative to ``tree`` when it lies inside (its events are ignored)."""
    try:
        rel = folder.resolve().relative_to(tree).as_posix()
    except ValueError:
        return ()
    return () if rel == "." else (rel,)


def _boot_clock() -> float:
    """Seconds on a clock that keeps running while the machine sleeps (Linux BOOTTIME)."""
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.clock_gettime(clock)
