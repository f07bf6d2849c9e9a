"""Filesystem events → a set of dirty paths; anything that may have lost events → a reconcile.

The watcher never decides what changed: it only says *which paths may have changed*. Every
event (created, modified, deleted, moved, of files or directories) marks its source and its
destination path dirty; the indexer reads whatever is there now. A storm of events therefore
costs memory in proportion to distinct paths, and an editor's atomic save (write a temp file,
rename it over the real one) is just one more event for the real path.

What cannot be expressed as dirty paths asks for a **reconcile** (a stat walk of the whole
tree against the store): inotify queue overflow (watchdog only logs it, so a log handler
listens for it), a changed ``.gitignore`` or package marker (they change which files are
indexed, or their module names), the watched root itself moving, or the observer dying.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from graphsvc.config import DEFAULT_EXCLUDES
from graphsvc.walk import PROJECT_MARKERS, is_python

log = logging.getLogger(__name__)

COOKIE_PREFIX = ".graphsvc-cookie-"  # sync cookies, written in the watched root
RECONCILE_NAMES = frozenset({*PROJECT_MARKERS, ".gitignore"})
OVERFLOW_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")
IGNORED_EVENTS = frozenset({"opened", "closed_no_write"})

ObserverFactory = Callable[[], BaseObserver]


@dataclass(slots=True)
class Pending:
    """Work taken from the dirty set for one batch."""

    paths: set[str]
    reasons: list[str]  # non-empty: reconcile the whole tree
    generation: int  # every change noted up to this generation is in this batch or before


@dataclass(slots=True)
class DirtySet:
    """Thread-safe set of dirty relative paths plus pending reconcile reasons.

    ``generation`` counts notes; a batch taken at generation g covers every note up to g, so a
    caller that saw generation g may wait until a batch at or above g has been committed.
    """

    _cond: threading.Condition = field(default_factory=threading.Condition)
    _paths: set[str] = field(default_factory=set)
    _reasons: list[str] = field(default_factory=list)
    _generation: int = 0
    _first: float = 0.0  # monotonic time of the oldest note not yet taken
    _last: float = 0.0  # monotonic time of the newest note
    _hurry: bool = False
    _closed: bool = False

    def add(self, path: str) -> None:
        with self._cond:
            self._note()
            self._paths.add(path)

    def request_reconcile(self, reason: str) -> int:
        """Ask for a reconcile; returns the generation that covers it."""
        with self._cond:
            self._note()
            if reason not in self._reasons:
                self._reasons.append(reason)
            return self._generation

    def _note(self) -> None:
        now = time.monotonic()
        if not self._paths and not self._reasons:
            self._first = now
        self._last = now
        self._generation += 1
        self._cond.notify_all()

    @property
    def generation(self) -> int:
        with self._cond:
            return self._generation

    def __len__(self) -> int:
        with self._cond:
            return len(self._paths)

    def reconcile_pending(self) -> list[str]:
        with self._cond:
            return list(self._reasons)

    def hurry(self) -> None:
        """Let the next batch start without waiting for the quiet period (a sync waits)."""
        with self._cond:
            self._hurry = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def take(self, quiet: float, max_delay: float, timeout: float) -> Pending | None:
        """Wait for work, then return it once ``quiet`` seconds passed without a new note (or
        ``max_delay`` since the oldest one, or a sync is waiting). None after ``timeout``
        seconds with nothing to do, or when closed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if self._paths or self._reasons:
                    due = min(self._last + quiet, self._first + max_delay)
                    if self._hurry or now >= due:
                        return self._take()
                    self._cond.wait(due - now)
                elif now >= deadline:
                    return None
                else:
                    self._cond.wait(deadline - now)
            return None

    def _take(self) -> Pending:
        pending = Pending(self._paths, self._reasons, self._generation)
        self._paths, self._reasons, self._hurry = set(), [], False
        return pending


class _Handler(FileSystemEventHandler):
    """Turns watchdog events into notes on the dirty set."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in IGNORED_EVENTS:
            return
        if event.is_directory and event.event_type == "modified":
            return  # a file inside changed: that file has its own event
        self.watcher.note(os.fsdecode(event.src_path), event.is_directory)
        if event.dest_path:
            self.watcher.note(os.fsdecode(event.dest_path), event.is_directory)


class _OverflowListener(logging.Handler):
    """watchdog reports a lost inotify queue only as a WARNING log line: listen for it."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.watchers: weakref.WeakSet[Watcher] = weakref.WeakSet()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "overflow" in message.lower() or "unable to rebuild" in message.lower():
            for watcher in list(self.watchers):
                watcher.overflowed(message)


_LISTENER = _OverflowListener()
for _name in OVERFLOW_LOGGERS:
    _logger = logging.getLogger(_name)
    _logger.addHandler(_LISTENER)
    if _logger.getEffectiveLevel() > logging.WARNING:
        _logger.setLevel(logging.WARNING)  # a quiet root logger must not hide the signal


class Watcher:
    """Watches ``root`` (recursively) and notes dirty paths relative to it on ``dirty``.

    ``ignore`` lists relative directories whose events mean nothing (the database folder).
    ``on_cookie`` is called with the name of a sync cookie file seen in the root. inotify is
    used where it works; when watches cannot be added (watch or instance limit reached) the
    watcher falls back to polling the tree and says so in ``mode`` and ``fallback_reason``.
    """

    def __init__(
        self,
        root: Path,
        dirty: DirtySet,
        *,
        ignore: tuple[str, ...] = (),
        on_cookie: Callable[[str], None] | None = None,
        poll_interval: float = 1.0,
        observer_factory: ObserverFactory | None = None,
        is_doc: Callable[[str], bool] | None = None,
    ) -> None:
        self.root = root
        self.is_doc = is_doc  # relative path -> documentation file (indexed too)
        self.dirty = dirty
        self.ignore = tuple(i.strip("/") for i in ignore if i.strip("/"))
        self.on_cookie = on_cookie
        self.poll_interval = poll_interval
        self.observer_factory: ObserverFactory = observer_factory or Observer
        self.mode = "stopped"  # inotify | polling | stopped
        self.fallback_reason: str | None = None
        self.overflows = 0
        self.restarts = 0
        self._prefix = str(root).rstrip(os.sep) + os.sep
        self._observer: BaseObserver | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Start watching; falls back to polling when native watches cannot be added."""
        with self._lock:
            self._start()
        _LISTENER.watchers.add(self)

    def _start(self) -> None:
        if self.fallback_reason is None:
            try:
                self._observer = self._run(self.observer_factory())
                self.mode = "native"
                return
            except OSError as exc:
                self.fallback_reason = _why(exc)
                log.warning("cannot watch %s natively (%s): polling instead", self.root, exc)
        self._observer = self._run(PollingObserver(timeout=self.poll_interval))
        self.mode = "polling"

    def _run(self, observer: BaseObserver) -> BaseObserver:
        try:
            observer.schedule(_Handler(self), str(self.root), recursive=True)
            observer.start()
        except BaseException:
            _stop(observer)
            raise
        return observer

    def stop(self) -> None:
        _LISTENER.watchers.discard(self)
        with self._lock:
            observer, self._observer = self._observer, None
            self.mode = "stopped"
        if observer is not None:
            _stop(observer)

    def healthy(self) -> str | None:
        """None while the observer and all its emitter threads run; otherwise what died."""
        observer = self._observer
        if observer is None:
            return None if self.mode == "stopped" else "no observer"
        if not observer.is_alive():
            return "the observer thread stopped"
        for emitter in observer.emitters:
            if not emitter.is_alive():
                return f"the event reader for {emitter.watch.path} stopped"
        return None

    def restart(self, why: str) -> None:
        """Replace a dead observer (the caller reconciles what it may have missed)."""
        log.warning("watcher of %s restarts: %s", self.root, why)
        with self._lock:
            old, self._observer = self._observer, None
            if old is not None:
                _stop(old)
            self._start()
            self.restarts += 1

    def unwatched(self) -> int | None:
        """How many directories under the root have no inotify watch (None: not known here).

        watchdog swallows a failure to watch a subdirectory (only the root's failure reaches
        the caller), so a tree that outgrows ``fs.inotify.max_user_watches`` would lose its
        events silently. Linux lists every watch of the process in ``/proc/self/fdinfo``;
        fewer watches than directories means some are missing (other inotify users of the
        process only add watches, so this never reports a false shortfall).
        """
        if self.mode != "native" or not os.path.isdir("/proc/self/fdinfo"):
            return None
        watches = 0
        for fd in os.listdir("/proc/self/fdinfo"):
            try:
                with open(f"/proc/self/fdinfo/{fd}", encoding="ascii", errors="replace") as info:
                    watches += info.read().count("inotify wd:")
            except OSError:
                continue  # closed meanwhile
        directories = sum(1 for _ in _directories(self.root))
        return max(0, directories - watches)

    def fall_back(self, reason: str) -> None:
        """Give up native watching for good: poll the tree from now on."""
        self.fallback_reason = reason
        self.restart(reason)

    @property
    def observer(self) -> BaseObserver | None:
        """The running watchdog observer (None while stopped)."""
        return self._observer

    @property
    def native(self) -> str:
        """The kind of native observer (e.g. InotifyObserver), for /status."""
        observer = self._observer
        return type(observer).__name__ if observer is not None else "none"

    # ------------------------------------------------------------------ events

    def overflowed(self, message: str) -> None:
        self.overflows += 1
        log.warning("events were lost (%s): reconciling %s", message, self.root)
        self.dirty.request_reconcile("event queue overflowed: events were lost")

    def note(self, path: str, is_directory: bool) -> None:
        """One event's path (absolute): mark it dirty, or ask for a reconcile."""
        if path == str(self.root):
            self.dirty.request_reconcile("the watched root itself changed")
            return
        if not path.startswith(self._prefix):
            return  # the outside end of a move
        rel = path[len(self._prefix) :].replace(os.sep, "/")
        parent, _, name = rel.rpartition("/")
        if not parent and name.startswith(COOKIE_PREFIX):
            if self.on_cookie is not None:
                self.on_cookie(name)
            return
        if any(rel == i or rel.startswith(i + "/") for i in self.ignore):
            return
        if any(part in DEFAULT_EXCLUDES for part in rel.split("/")):
            return
        if name in RECONCILE_NAMES:
            self.dirty.request_reconcile(f"{rel} changed")
        elif is_directory or is_python(name) or (self.is_doc is not None and self.is_doc(rel)):
            self.dirty.add(rel)


def _directories(root: Path) -> Iterator[str]:
    """Every directory watchdog puts a watch on: the root and all below, symlinks not followed."""
    yield str(root)
    for folder, names, _ in os.walk(root, followlinks=False):
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                yield path


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"inotify watch limit reached (fs.inotify.max_user_watches): {exc}"
    if exc.errno == errno.EMFILE:
        return f"inotify instance limit reached (fs.inotify.max_user_instances): {exc}"
    return str(exc)


def _stop(observer: BaseObserver) -> None:
    """Stop an observer; its own bookkeeping errors (watchdog can raise KeyError tearing down
    watches of a directory that was moved away and re-created) must not stop the service."""
    try:
        observer.stop()
    except Exception as exc:
        log.warning("stopping the watchdog observer raised %r; going on", exc)
    try:
        if observer.is_alive():
            observer.join(timeout=5)
    except RuntimeError:  # never started
        pass
