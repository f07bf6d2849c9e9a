"""The supervisor thread of the live service: keeps the watcher watching, and notices pauses.

Once a second it checks that the observer still runs (restarting it, and reconciling, when it
died); every ``watch_audit_s`` that no directory lacks its watch (two audits in a row with
unwatched directories: polling instead); and that the process was not paused (suspend,
SIGSTOP), after which the kernel's event queue may have overflowed unseen. It is a module of
its own because it never touches the store: everything it finds becomes a reconcile request
on the dirty set, which the indexer thread (:mod:`graphsvc.service`) carries out.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from graphsvc.config import Settings
from graphsvc.service_state import ServiceState
from graphsvc.watch import DirtySet, Watcher

log = logging.getLogger(__name__)
SUPERVISE_EVERY_S = 1.0


class Supervisor:
    """The supervisor thread's work (:meth:`run` is its body).

    Args:
        tree: the watched root (named in errors).
        watcher: the watcher to keep running.
        dirty: where reconciles are requested.
        settings: ``watch_audit_s`` and ``pause_threshold_s``.
        state: the service's record (pauses and errors are counted there).
        stopping: set when the service stops.
    """

    def __init__(
        self,
        tree: Path,
        watcher: Watcher,
        dirty: DirtySet,
        settings: Settings,
        state: ServiceState,
        stopping: threading.Event,
    ) -> None:
        self.tree = tree
        self.watcher = watcher
        self.dirty = dirty
        self.settings = settings
        self.state = state
        self._stopping = stopping

    def run(self) -> None:
        """Check the watcher and the clock every ``SUPERVISE_EVERY_S`` until the service stops."""
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
                self.state.pauses += 1
                log.warning("the service was paused for %.1f s: reconciling", gap)
                self.dirty.request_reconcile(f"the process was paused for {gap:.0f} s")
            why = self.watcher.healthy()
            if why is not None and not self._stopping.is_set():
                self.dirty.request_reconcile(f"watcher restarted: {why}")
                try:
                    self.watcher.restart(why)
                except OSError as exc:  # not even polling works: say so, try again next tick
                    self.state.last_error = f"cannot watch {self.tree}: {exc}"
                    log.error("%s", self.state.last_error)

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


def _boot_clock() -> float:
    """Seconds on a clock that keeps running while the machine sleeps (Linux BOOTTIME)."""
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.clock_gettime(clock)
