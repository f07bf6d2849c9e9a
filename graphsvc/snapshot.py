# pyright: strict
"""Read-only snapshots of the graph for the ``duckdb`` shell while the service writes.

While a process holds a read-write DuckDB connection, no other process can open the file at all
("Could not set lock on file"), so the shell gets a copy: ``graph.snapshot.duckdb`` next to the
database. A snapshot is a CHECKPOINT (everything committed goes into the file, the WAL ends up
empty) and a plain file copy, made by a child process (see :func:`_copy_in_child`), to a
temporary name in the same folder, renamed over the previous
snapshot: a reader sees the old file or the new one, never a partial one, and a shell that has
the old one open keeps reading it. The copy keeps the database's storage format, ``v1.5.0`` since
graphsvc creates its databases that way, which the PyPI ``duckdb`` CLI 1.5 reads.

Measured on a stdlib-size graph (see the README): checkpoint + copy is several times faster than
``ATTACH`` + ``COPY FROM DATABASE``, and it needs no ``ATTACH``, which the ad-hoc SQL sandbox
forbids instance-wide (``enable_external_access = false``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graphsvc.errors import DatabaseError, DatabaseLocked, SnapshotError
from graphsvc.store import STORAGE_COMPATIBILITY, Store

log = logging.getLogger(__name__)

# The storage formats the duckdb CLI from PyPI (1.5) reads: the one graphsvc creates databases in
# ("v1.5.0" -> "v1.5"); a duckdb 2.0 "latest" file is version 69, which it cannot read.
READABLE_STORAGE = (STORAGE_COMPATIBILITY.rsplit(".", 1)[0],)


def snapshot_path(db: Path) -> Path:
    """Where the snapshot of ``db`` lives: ``graph.duckdb`` -> ``graph.snapshot.duckdb``."""
    return db.with_name(f"{db.stem}.snapshot{db.suffix or '.duckdb'}")


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """One published snapshot."""

    path: Path
    size: int  # bytes
    ms: float  # checkpoint + copy + rename


def publish_snapshot(store: Store, dest: Path | None = None) -> SnapshotInfo:
    """Write a read-only snapshot of ``store`` to ``dest`` (default :func:`snapshot_path`).

    Call it from the thread that owns the writer, between batches: nothing may commit while the
    file is copied (readers may run; they never write the file).

    Raises:
        SnapshotError: the database's storage format is one the duckdb CLI 1.5 cannot read, the
            store is read-only, or the copy failed (no partial file is left behind).
    """
    target = dest if dest is not None else snapshot_path(store.path)
    if store.read_only:
        raise SnapshotError(str(target), "the database is open read-only; cannot checkpoint it")
    version = store.storage_version()
    if not version.startswith(READABLE_STORAGE):
        raise SnapshotError(
            str(target),
            f"{store.path} is in storage format {version}, which the duckdb CLI 1.5 cannot read;"
            " delete it and run `graphsvc index` to rebuild it in the v1.5.0 format",
        )
    started = time.perf_counter()
    try:
        store.checkpoint()
    except DatabaseError as exc:
        raise SnapshotError(str(target), exc.reason) from exc
    size = _copy_atomically(store.path, target)
    info = SnapshotInfo(target, size, (time.perf_counter() - started) * 1000)
    log.debug("snapshot %s bytes=%d ms=%.1f", target, size, info.ms)
    return info


def _copy_atomically(source: Path, target: Path) -> int:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Left by a publisher that died mid-copy; only the holder of the write lock publishes.
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise SnapshotError(str(target), f"cannot write its folder: {exc}") from exc
    tmp = Path(tmp_name)
    try:
        _copy_in_child(source, tmp)
        os.chmod(tmp, source.stat().st_mode & 0o777)  # mkstemp made it private (0600)
        with tmp.open("rb+") as out:  # the copy's own inode: closing it releases no lock
            os.fsync(out.fileno())
        # A WAL left next to an old snapshot (someone opened it read-write) must never be
        # replayed into the new file.
        Path(f"{target}.wal").unlink(missing_ok=True)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SnapshotError(str(target), f"copy failed: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def _copy_in_child(source: Path, dest: Path) -> None:
    """Copy the database file from another process.

    DuckDB holds the database's write lock with a POSIX ``fcntl`` lock, and POSIX drops every
    lock a process holds on a file when the process closes *any* descriptor of that file: an
    in-process ``open()`` + ``close()`` of the database (shutil.copyfile included) silently let
    other processes open it read-write while the service was writing (measured). A child's
    descriptors are its own.
    """
    cp = shutil.which("cp")
    if cp is None:
        raise OSError("no `cp` on PATH to copy the database with")
    command = [cp, str(source), str(dest)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(done.stderr.strip() or f"{command[0]} exited {done.returncode}")


class SnapshotPublisher:
    """Publishes snapshots at most once per ``min_interval_s``, for the service loop.

    Call :meth:`maybe_publish` after each committed batch, and with ``committed=False`` when the
    loop is idle (:meth:`due_in` says when), from the thread that owns the writer; a burst of
    batches then costs one snapshot per interval and the last batch still gets published.

    The writer waits while a snapshot is taken (about 0.4 s for a 430 MB graph), so the interval
    also stretches to ``last duration / max_share``: snapshots take at most that share of the
    writer's time however large the graph grows.
    """

    def __init__(
        self,
        store: Store,
        dest: Path | None = None,
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        max_share: float = 0.1,
    ) -> None:
        self.store = store
        self.dest = dest if dest is not None else snapshot_path(store.path)
        self.min_interval_s = min_interval_s
        self.max_share = max_share
        self.pending = False  # a commit not yet in a snapshot
        self.last: SnapshotInfo | None = None
        self._clock = clock
        self._last_try: float | None = None

    def due_in(self, now: float | None = None) -> float | None:
        """Seconds until a pending snapshot may be published (0: now); None: nothing pending."""
        if not self.pending:
            return None
        if self._last_try is None:
            return 0.0
        now = self._clock() if now is None else now
        return max(0.0, self._last_try + self.interval_s - now)

    @property
    def last_published_at(self) -> float | None:
        """Clock time of the last publish (or attempt), None before the first."""
        return self._last_try

    @property
    def interval_s(self) -> float:
        """The current minimum interval: ``min_interval_s``, longer for slow snapshots."""
        if self.last is None or self.max_share <= 0:
            return self.min_interval_s
        return max(self.min_interval_s, self.last.ms / 1000 / self.max_share)

    def maybe_publish(
        self, now: float | None = None, *, committed: bool = True
    ) -> SnapshotInfo | None:
        """Note a commit (unless ``committed`` is False) and publish if one is due.

        A failure is logged (WARNING) and retried after the interval: a snapshot is a
        convenience and never stops the service.

        Returns:
            The snapshot published now, or None.
        """
        if committed:
            self.pending = True
        due = self.due_in(now)
        if due is None or due > 0:
            return None
        self._last_try = self._clock() if now is None else now
        try:
            return self._publish()
        except SnapshotError as exc:
            log.warning("snapshot not published, will retry: %s", exc)
            return None

    def publish_now(self) -> SnapshotInfo:
        """Publish a snapshot now, whatever the interval.

        Raises:
            SnapshotError: see :func:`publish_snapshot`.
        """
        self._last_try = self._clock()
        return self._publish()

    def _publish(self) -> SnapshotInfo:
        self.pending = False
        try:
            info = publish_snapshot(self.store, self.dest)
        except BaseException:
            self.pending = True
            raise
        self.last = info
        return info


def shell_snapshot(db: Path) -> tuple[Path, bool]:
    """The snapshot the shell should open, and whether it was published just now.

    With no process holding ``db``, a fresh snapshot is published; while a service holds it,
    the service's latest snapshot is used.

    Raises:
        DatabaseError: ``db`` does not exist or cannot be opened.
        SnapshotError: the service holds ``db`` and has published no snapshot yet.
    """
    if not db.is_file():
        raise DatabaseError(str(db), "no such database; run `graphsvc index` first")
    target = snapshot_path(db)
    try:
        store = Store.open(db)
    except DatabaseLocked as exc:
        if target.is_file():
            return target, False
        raise SnapshotError(
            str(target),
            "the database is in use by a running graphsvc and it has published no snapshot yet;"
            " try again in a few seconds (it publishes one after each batch, at most once a"
            " second)",
        ) from exc
    with store:
        publish_snapshot(store, target)
    return target, True


def duckdb_cli() -> Path:
    """The ``duckdb`` shell: next to the running interpreter (the venv's), else on PATH.

    Raises:
        SnapshotError: no ``duckdb`` executable was found.
    """
    candidates = [Path(sys.executable).parent / "duckdb"]
    found = shutil.which("duckdb")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        with contextlib.suppress(OSError):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    raise SnapshotError("duckdb", "no duckdb shell found; `pip install 'duckdb-cli>=1.5,<1.6'`")
