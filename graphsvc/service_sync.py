"""Read-your-writes for the live service: when has the watcher seen every earlier change?

:meth:`graphsvc.service.Service.sync` waits until every change made to the tree before the
call is committed. Which changes those are is found with Watchman's cookie protocol:
:class:`Cookies` writes a uniquely named cookie file into the watched root and waits until the
watcher reports it; the dirty set's generation at that moment covers every change noted before
it. When no cookie can be written or seen, a reconcile's generation stands in. It is a module
of its own because it talks only to the filesystem and the watcher, never to the store.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graphsvc.errors import GraphsvcError
from graphsvc.watch import COOKIE_PREFIX, DirtySet


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


class Cookies:
    """Cookie files in the watched root, and the generations at which the watcher saw them.

    Args:
        tree: the watched root (cookies are written there).
        dirty: the watcher's dirty set (its generation is read when a cookie is seen).
        timeout_s: longest wait for one cookie.
        polling: whether the watcher polls (its events of one scan come in no order).
    """

    def __init__(
        self, tree: Path, dirty: DirtySet, timeout_s: float, polling: Callable[[], bool]
    ) -> None:
        self.tree = tree
        self.dirty = dirty
        self.timeout_s = timeout_s
        self._polling = polling
        self._cookies: dict[str, tuple[threading.Event, list[int]]] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    def generation(self, deadline: float) -> tuple[int, str]:
        """The dirty-set generation when the watcher saw our cookie (everything noted before it
        was caused by earlier changes), or a reconcile's generation when that fails; and which
        of the two (``cookie`` or ``reconcile``).

        inotify reports events in order, so one cookie suffices. A polling observer reports a
        scan's changes in no particular order, so the cookie may come before other changes of
        the same scan: a second cookie, written once the first was seen, lands in a later scan,
        after every event of the first one.
        """
        rounds = 2 if self._polling() else 1
        generation = 0
        for _ in range(rounds):
            found, failure = self._one_cookie(deadline)
            if found is None:
                return self.dirty.request_reconcile(failure), "reconcile"
            generation = found
        return generation, "cookie"

    def seen(self, name: str) -> None:
        """The watcher saw the cookie ``name`` (its ``on_cookie`` callback)."""
        with self._lock:
            waiting = self._cookies.get(name)
        if waiting is not None and not waiting[0].is_set():
            waiting[1].append(self.dirty.generation)
            waiting[0].set()

    def _one_cookie(self, deadline: float) -> tuple[int | None, str]:
        """The generation when the watcher saw a new cookie, or None and why not."""
        name = f"{COOKIE_PREFIX}{os.getpid()}-{next(self._counter)}"
        seen = threading.Event()
        generation: list[int] = []
        with self._lock:
            self._cookies[name] = (seen, generation)
        cookie = self.tree / name
        try:
            cookie.write_bytes(b"")
        except OSError as exc:
            self._forget(name)
            return None, f"sync without a cookie (cannot write {name}: {exc.strerror or exc})"
        try:
            wait = min(self.timeout_s, max(0.0, deadline - time.monotonic()))
            if seen.wait(wait):
                return generation[0], ""
            return None, "sync cookie not seen by the watcher"
        finally:
            self._forget(name)
            cookie.unlink(missing_ok=True)

    def _forget(self, name: str) -> None:
        with self._lock:
            self._cookies.pop(name, None)
