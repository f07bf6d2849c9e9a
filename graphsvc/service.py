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

This module holds :class:`Service` (its life cycle, the indexer thread, /status) and the
start-up index in a child process; the other threads' work and the shared records live beside
it: :mod:`graphsvc.service_findings` (the findings thread), :mod:`graphsvc.service_supervise`
(the supervisor), :mod:`graphsvc.service_sync` (the cookie protocol of ``sync``) and
:mod:`graphsvc.service_state` (the batches and counters /status reports).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa

from graphsvc.config import Settings
from graphsvc.findings import Refresher
from graphsvc.hardware import Probe, Sampler
from graphsvc.layout import Layout
from graphsvc.link import Linker
from graphsvc.metrics import Metrics
from graphsvc.sandbox import SandboxLimits, SqlSandbox
from graphsvc.service_findings import FindingsWorker
from graphsvc.service_state import BatchInfo, ServiceState, batch_fields, findings_status
from graphsvc.service_supervise import SUPERVISE_EVERY_S, Supervisor
from graphsvc.service_sync import Cookies, SyncResult, SyncTimeout
from graphsvc.snapshot import SnapshotPublisher
from graphsvc.store import Store
from graphsvc.update import IndexSummary, index_tree, reconcile, refresh
from graphsvc.walk import DocGlobs
from graphsvc.watch import DirtySet, ObserverFactory, Pending, Watcher

# SyncResult and SyncTimeout are what Service.sync returns and raises.
__all__ = ["Service", "SyncResult", "SyncTimeout", "index_in_child"]

log = logging.getLogger(__name__)
SNAPSHOT_IDLE_S = 0.25  # publish the shell's snapshot after this long without events
SNAPSHOT_STALE_S = 5.0  # ... or, under a steady stream of saves, once it is this old
RETRY_AFTER_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # back-off after failed batches


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
        self._state = ServiceState(as_of=store.as_of())
        self._done = threading.Condition()
        self._done_generation = -1  # nothing is committed before the start-up reconcile
        self._stopping = threading.Event()
        self._ignore = _inside(self.tree, store.path.parent)
        self._cookies = Cookies(
            self.tree,
            self.dirty,
            settings.cookie_timeout_s,
            polling=lambda: self.watcher.mode == "polling",
        )
        self.watcher = Watcher(
            self.tree,
            self.dirty,
            ignore=self._ignore,
            on_cookie=self._cookies.seen,
            poll_interval=settings.poll_interval_s,
            observer_factory=observer_factory,
            is_doc=DocGlobs(settings.doc_globs).matches,
        )
        self._supervisor = Supervisor(
            self.tree, self.watcher, self.dirty, settings, self._state, self._stopping
        )
        self._threads: dict[str, threading.Thread] = {}  # by role (see start)
        # Ad-hoc SQL runs on the same database instance, locked down (instance-wide: no
        # connection can change a setting afterwards), from per-thread cursors.
        self.sandbox = SqlSandbox(
            store,
            SandboxLimits(
                max_rows=settings.sql_max_rows,
                timeout_s=settings.sql_timeout_s,
                memory_limit=settings.sql_memory_limit,
                evictable=True,  # _evict_when_idle
            ),
        )
        self.buffer_evictions = 0  # DuckDB's buffer pool emptied at idle (_evict_when_idle)
        self._evicted_after: object = None  # the findings refresh the last eviction followed
        self.metrics = Metrics(self.status, self._findings_by_kind)
        # The duckdb shell reads a snapshot: no other process can open the file while we write.
        self.snapshots = SnapshotPublisher(store)
        self._sync_waiters = 0  # syncs waiting: their batches run every finding query
        self._waiters_lock = threading.Lock()
        # Findings are refreshed on the findings thread after committed batches.
        self.findings_worker = FindingsWorker(
            self.tree,
            store,
            settings,
            stopping=self._stopping,
            indexer_idle=self._indexer_idle,
            as_of=lambda: self._state.as_of,
            sync_waiting=lambda: self._sync_waiters != 0,
            finished=self._finished,
        )
        self.findings: Refresher = self.findings_worker.refresher
        # Hardware: sampled on its own thread; its findings are written by the findings thread.
        self.hardware = Sampler(
            Probe({"tree": self.tree, "db": store.path}),
            settings.hardware_interval_s,
            self.findings_worker.hardware_feed.on_sample,
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
            self.findings_worker.flush_hardware(self.store, self._state.as_of)
        loops = (
            ("indexer", self._index_loop),
            ("supervisor", self._supervisor.run),
            ("findings", self.findings_worker.run),
        )
        for name, target in loops:
            thread = threading.Thread(target=target, name=f"graphsvc-{name}", daemon=True)
            thread.start()
            self._threads[name] = thread

    def stop(self) -> None:
        """Stop watching, let the indexer finish (commit) the batch in progress and the
        findings thread refresh what was committed."""
        self._stopping.set()
        self.dirty.close()
        self.watcher.stop()
        self.hardware.stop()
        for name in ("indexer", "supervisor"):
            if name in self._threads:
                self._threads[name].join()
        self.findings_worker.stop()  # after the indexer's last batch: it refreshes that too
        if "findings" in self._threads:
            self._threads["findings"].join()
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
                self._evict_when_idle()
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
        lock = self.findings_worker.lock
        if not lock.acquire(blocking=False):
            return
        try:
            self.snapshots.maybe_publish(committed=False)
        finally:
            lock.release()

    def _evict_when_idle(self) -> None:
        """Empty DuckDB's buffer pool once after each findings refresh, when no batch and no
        refresh runs (the service is idle most of the time): the blocks the refresh's queries
        read stayed cached, ~20 MB of RSS on the standard library, until the pool filled up
        (BENCHMARKS.md "Serve memory: the buffer pool evicted at idle", #5). The limit is
        as configured before any work starts (Store.evict_buffers: on such a graph it never
        moves): the findings thread waits for its lock, the indexer is this thread, and the
        requests' readers hold the store's ReadGate (while one reads, the next idle moment
        tries again: a query of theirs failed for memory where the limit did drop). The next
        batch reads its blocks again (from the OS page cache)."""
        last = self.findings_worker.last
        if last is None or last is self._evicted_after or not self._indexer_idle():
            return
        lock = self.findings_worker.lock
        if not lock.acquire(blocking=False):
            return
        try:
            previous, self._evicted_after = self._evicted_after, last
            done = self.store.evict_buffers(self.sandbox.limits.memory_limit)
            if done is None:  # a request was reading: the next idle moment tries again
                self._evicted_after = previous
            elif done:
                self.buffer_evictions += 1
        except Exception:  # never the indexer's end: the limit is set back, or the next try does
            log.exception("emptying DuckDB's buffer pool failed")
            with contextlib.suppress(Exception):
                self.store.con.execute(
                    "SET memory_limit = $limit", {"limit": self.sandbox.limits.memory_limit}
                )
            self._evicted_after = None
        finally:
            lock.release()

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
        self.findings_worker.committed(summary, pending.generation)

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
        rows = self.store.con.execute("SELECT count(*) FROM files").fetchall()
        state.files = int(rows[0][0]) if rows else 0
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

    def _indexer_idle(self) -> bool:
        return self._state.indexing_since is None and not len(self.dirty)

    def _finished(self, generation: int) -> None:
        """The findings thread refreshed the findings of every change noted up to
        ``generation``: wake the syncs waiting for it."""
        with self._done:
            self._done_generation = generation
            self._done.notify_all()

    def _failed(self, pending: Pending, exc: Exception, failures: int) -> None:
        """Nothing is lost: the failed work comes back as a reconcile after a back-off."""
        self._state.failed_batches += 1
        self.metrics.failed.inc()
        self._state.last_error = f"{type(exc).__name__}: {exc}"
        log.error("batch failed (%s); reconciling after a pause", self._state.last_error)
        self.dirty.request_reconcile(f"retry after a failed batch: {self._state.last_error}")
        self._stopping.wait(RETRY_AFTER_S[min(failures, len(RETRY_AFTER_S)) - 1])

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
            target, method = self._cookies.generation(deadline)
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
    def heap_trims(self) -> int:
        """Heap trims after findings refreshes (0 where the C library cannot trim)."""
        return self.findings_worker.heap_trims

    @property
    def findings_seq(self) -> int:
        """The feed's position after the last findings write (0 before the first)."""
        return self.findings.last_seq

    @property
    def feed_position(self) -> int | None:
        """The feed's position after the last findings refresh of this process; None before
        it (the table may hold events of an earlier run), so readers must ask the database."""
        result = self.findings_worker.last
        return result.last_seq if result is not None else None

    @property
    def as_of(self) -> int:
        return self._state.as_of

    @property
    def findings_as_of(self) -> int:
        """The batch the findings were last refreshed after (it may trail :attr:`as_of` while
        a refresh runs); :attr:`as_of` before the first refresh of this process."""
        result = self.findings_worker.last
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
            "last_batch": batch_fields(state.last_batch),
            "last_reconcile": batch_fields(state.last_reconcile),
            "recent_reconciles": [batch_fields(r) for r in state.reconciles],
            "watcher": {
                "mode": self.watcher.mode,
                "observer": self.watcher.native,
                "fallback_reason": self.watcher.fallback_reason,
                "overflows": self.watcher.overflows,
                "restarts": self.watcher.restarts,
                "pauses": state.pauses,
            },
            "snapshot": self._snapshot_status(),
            "findings": findings_status(self.findings_worker.last),
            "findings_failures": self.findings_worker.failures,
            "findings_error": self.findings_worker.last_error,
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


def _inside(tree: Path, folder: Path) -> tuple[str, ...]:
    """``folder`` relative to ``tree`` when it lies inside (its events are ignored)."""
    try:
        rel = folder.resolve().relative_to(tree).as_posix()
    except ValueError:
        return ()
    return () if rel == "." else (rel,)
