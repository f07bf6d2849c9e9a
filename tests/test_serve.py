"""The live service: a real watchdog observer on a real temp tree, a real DuckDB file.

Nothing here sleeps to wait: ``Service.sync`` (the cookie protocol) is the condition every
test waits on, and each ends by comparing the live database with a cold index of the tree.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pytest
from conftest import assert_same_as_cold, graph_facts
from fastapi.encoders import jsonable_encoder
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule
from watchdog.observers import Observer, inotify_c
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

import graphsvc.service_findings as findings_thread_module
from graphsvc.api import ANSWERED_BY, create_app
from graphsvc.config import load_settings
from graphsvc.queries import bind_params, run_query
from graphsvc.service import Service, SyncTimeout
from graphsvc.service_findings import trim_heap
from graphsvc.store import Store
from graphsvc.update import IndexSummary, merge_summaries
from graphsvc.watch import DirtySet, ObserverFactory

Deadline = 60.0  # generous: a deadline, not a measurement


@dataclass
class Live:
    """A running service over ``tree`` with its database outside the tree."""

    tree: Path
    store: Store
    service: Service

    def sync(self) -> str:
        return self.service.sync(timeout=Deadline).method

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.store.reader() as reader:  # the indexer thread may be writing
            return reader.query(sql).rows

    def paths(self) -> list[str]:
        return [r[0] for r in self.query("SELECT path FROM files ORDER BY path")]

    def symbols(self) -> set[str]:
        return {r[0] for r in self.query("SELECT qualname FROM symbols")}

    def assert_cold(self, tmp: Path) -> None:
        self.sync()
        with self.store.reader() as reader:
            facts = graph_facts(reader)
        assert_same_as_cold(facts, self.tree, tmp / "cold.duckdb")


@contextlib.contextmanager
def start(
    tmp_path: Path, factory: ObserverFactory | None = None, **settings: Any
) -> Iterator[Live]:
    tree = tmp_path / "tree"
    tree.mkdir(exist_ok=True)
    with Store.open(tmp_path / "live.duckdb") as store:
        service = Service(
            tree, store, load_settings(tree, jobs=1, **settings), observer_factory=factory
        )
        service.start()
        try:
            live = Live(tree, store, service)
            live.sync()  # the start-up reconcile is done
            yield live
        finally:
            service.stop()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with start(tmp_path) as running:
        yield running


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail after the deadline."""
    pause = threading.Event()
    for _ in range(int(Deadline / 0.02)):
        if condition():
            return
        pause.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# ----------------------------------------------------------------- memory

GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_trim_heap_gives_freed_heap_pages_back() -> None:
    process = psutil.Process()
    blocks = [bytes(2000) for _ in range(40_000)]  # ~80 MB of glibc heap (over 512 B each)
    kept = blocks[::64]  # scattered survivors: the heap's top never becomes free
    del blocks
    before = process.memory_info().rss
    assert trim_heap()
    freed = before - process.memory_info().rss
    assert freed > 40 * 2**20, f"only {freed / 2**20:.1f} MB given back"
    assert len(kept) == 625


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_the_findings_thread_trims_the_heap_after_a_refresh(live: Live) -> None:
    before = live.service.heap_trims
    write(live.tree / "a.py", "def f():\n    return 1\n")
    live.sync()
    wait_until(lambda: live.service.heap_trims > before, "a trim after the save's refresh")


def test_the_buffer_pool_is_evicted_when_idle_and_the_next_batch_is_right(
    live: Live, tmp_path: Path
) -> None:
    """After each findings refresh the idle service empties DuckDB's buffer pool (#5): the
    limit is the configured one again, and the next save's facts and findings are right."""
    wait_until(lambda: live.service.buffer_evictions >= 1, "an eviction after the start-up")
    configured = duckdb.connect()
    configured.execute("SET memory_limit = $l", {"l": live.service.settings.sql_memory_limit})
    expected = configured.execute("SELECT current_setting('memory_limit')").fetchall()
    configured.close()
    assert live.query("SELECT current_setting('memory_limit')") == expected
    before = live.service.buffer_evictions
    write(live.tree / "pkg/__init__.py", "")
    write(live.tree / "pkg/a.py", "from pkg.b import helper\n")
    write(live.tree / "pkg/b.py", "")
    live.sync()
    fid = "missing_wiring_helper_pkg.b"
    sql = f"SELECT event, status FROM finding_events WHERE finding_id = '{fid}' ORDER BY seq"
    assert live.query(sql) == [("new", "open")]
    wait_until(lambda: live.service.buffer_evictions > before, "an eviction after the save")
    write(live.tree / "pkg/b.py", "def helper():\n    pass\n")
    live.sync()
    assert live.query(sql) == [("new", "open"), ("fixed", "fixed")]
    assert live.query("SELECT current_setting('memory_limit')") == expected
    live.assert_cold(tmp_path)


# ----------------------------------------------------------------- dirty set


def test_dirty_set_grows_with_distinct_paths_not_events() -> None:
    dirty = DirtySet()
    for i in range(100_000):
        dirty.add(f"pkg/m{i % 10}.py")
    assert len(dirty) == 10
    pending = dirty.take(quiet=0, max_delay=1, timeout=1)
    assert pending is not None and pending.paths == {f"pkg/m{i}.py" for i in range(10)}
    assert pending.generation == 100_000 and not pending.reasons
    assert dirty.take(quiet=0, max_delay=1, timeout=0) is None  # taken: nothing left


def test_dirty_set_keeps_each_reconcile_reason_once() -> None:
    dirty = DirtySet()
    first = dirty.request_reconcile("overflow")
    second = dirty.request_reconcile("overflow")
    assert second == first + 1
    pending = dirty.take(quiet=0, max_delay=1, timeout=1)
    assert pending is not None and pending.reasons == ["overflow"]


# ----------------------------------------------------------------- file events


def test_create_modify_delete_reach_the_graph(live: Live, tmp_path: Path) -> None:
    write(live.tree / "pkg" / "__init__.py", "")
    write(live.tree / "pkg" / "a.py", "def f():\n    return 1\n")
    assert live.sync() == "cookie"
    assert "pkg.a.f" in live.symbols()
    write(live.tree / "pkg" / "a.py", "def g():\n    return f()\n")
    live.sync()
    assert "pkg.a.g" in live.symbols() and "pkg.a.f" not in live.symbols()
    (live.tree / "pkg" / "a.py").unlink()
    live.sync()
    assert live.paths() == ["pkg/__init__.py"]
    live.assert_cold(tmp_path)


def test_atomic_saves_are_seen(live: Live, tmp_path: Path) -> None:
    target = live.tree / "mod.py"
    write(target, "def before():\n    pass\n")
    live.sync()
    # An editor's atomic save: write a temp file next to it, rename it over the real one.
    write(live.tree / ".mod.py.tmp1234", "def after():\n    pass\n")
    os.replace(live.tree / ".mod.py.tmp1234", target)
    live.sync()
    assert "mod.after" in live.symbols() and "mod.before" not in live.symbols()
    # vim's way: move the original to a backup, write a new file under the real name.
    os.rename(target, live.tree / "mod.py~")
    write(target, "def third():\n    pass\n")
    (live.tree / "mod.py~").unlink()
    live.sync()
    assert live.paths() == ["mod.py"] and "mod.third" in live.symbols()
    live.assert_cold(tmp_path)


def test_same_size_rewrite_with_the_same_mtime_is_seen(live: Live, tmp_path: Path) -> None:
    target = live.tree / "m.py"
    write(target, "x = 1\n")
    live.sync()
    stat = target.stat()
    write(target, "y = 2\n")  # same size; force the same mtime, as within one clock tick
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    live.sync()
    assert "m.y" in live.symbols() and "m.x" not in live.symbols()


def test_directory_moved_in_from_outside(live: Live, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "pkg"
    write(outside / "__init__.py", "from .a import f\n")
    write(outside / "a.py", "def f():\n    return 1\n")
    write(outside / "deep" / "b.py", "def g():\n    pass\n")
    os.rename(outside, live.tree / "pkg")
    live.sync()
    assert live.paths() == ["pkg/__init__.py", "pkg/a.py", "pkg/deep/b.py"]
    live.assert_cold(tmp_path)


def test_directory_moved_out_leaves_no_orphans_or_phantoms(live: Live, tmp_path: Path) -> None:
    write(live.tree / "keep.py", "x = 1\n")
    write(live.tree / "pkg" / "a.py", "def f():\n    pass\n")
    write(live.tree / "pkg" / "sub" / "b.py", "def g():\n    pass\n")
    live.sync()
    outside = tmp_path / "moved-away"
    os.rename(live.tree / "pkg", outside)
    live.sync()
    assert live.paths() == ["keep.py"]
    # watchdog keeps the old watches: edits out there arrive under the old in-tree path.
    write(outside / "a.py", "def changed():\n    pass\n")
    write(outside / "sub" / "new.py", "z = 1\n")
    live.sync()
    assert live.paths() == ["keep.py"]
    orphans = live.query(
        "SELECT count(*) FROM symbols WHERE file_id NOT IN (SELECT file_id FROM files)"
    )
    assert orphans == [(0,)]
    live.assert_cold(tmp_path)


def test_directory_renamed_within_and_deleted(live: Live, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write(live.tree / "old" / f"{name}.py", f"def {name}():\n    pass\n")
    write(live.tree / "gone" / "x.py", "x = 1\n")
    live.sync()
    os.rename(live.tree / "old", live.tree / "new")
    shutil.rmtree(live.tree / "gone")
    live.sync()
    assert live.paths() == ["new/a.py", "new/b.py", "new/c.py"]
    live.assert_cold(tmp_path)


def test_new_directories_with_files_written_at_once(live: Live, tmp_path: Path) -> None:
    # Files created before the watch on their new directory exists are found by the walk.
    expected = []
    for depth in range(1, 6):
        rel = "/".join(f"d{i}" for i in range(depth)) + f"/m{depth}.py"
        write(live.tree / rel, f"v{depth} = {depth}\n")
        expected.append(rel)
    live.sync()
    assert live.paths() == sorted(expected)
    live.assert_cold(tmp_path)


def test_gitignore_change_reconciles(live: Live, tmp_path: Path) -> None:
    write(live.tree / "gen" / "a.py", "x = 1\n")
    write(live.tree / "src.py", "y = 1\n")
    live.sync()
    assert live.paths() == ["gen/a.py", "src.py"]
    write(live.tree / ".gitignore", "gen/\n")
    live.sync()
    assert live.paths() == ["src.py"]
    reasons = [r["reason"] for r in live.service.status()["recent_reconciles"]]
    assert ".gitignore changed" in reasons
    write(live.tree / "gen" / "b.py", "z = 1\n")  # ignored: stays out
    (live.tree / ".gitignore").write_text("# nothing\n")
    live.sync()
    assert live.paths() == ["gen/a.py", "gen/b.py", "src.py"]
    live.assert_cold(tmp_path)


def test_package_marker_change_renames_modules(live: Live, tmp_path: Path) -> None:
    write(live.tree / "sub" / "pkg" / "m.py", "x = 1\n")
    live.sync()
    assert "sub.pkg.m.x" in live.symbols()
    write(live.tree / "sub" / "pyproject.toml", "[project]\nname = 'sub'\nversion = '0'\n")
    live.sync()
    assert "pkg.m.x" in live.symbols()
    live.assert_cold(tmp_path)


def test_database_folder_inside_the_tree_is_ignored(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write(tree / "a.py", "x = 1\n")
    with Store.open(tree / "state" / "graph.duckdb") as store:
        service = Service(tree, store, load_settings(tree, jobs=1))
        assert service.watcher.ignore == ("state",)
        service.watcher.note(str(tree / "state" / "x.py"), False)
        service.watcher.note(str(tree / ".graphsvc" / "y.py"), False)
        service.watcher.note(str(tree / "a.py"), False)
        pending = service.dirty.take(quiet=0, max_delay=1, timeout=1)
    assert pending is not None and pending.paths == {"a.py"}


def test_many_files_written_fast_then_sync(live: Live, tmp_path: Path) -> None:
    for i in range(5_000):
        path = live.tree / f"p{i % 50}" / f"m{i}.py"
        if i < 50:
            path.parent.mkdir()
        path.write_text(f"def f{i}():\n    return {i}\n")
    live.sync()
    assert len(live.paths()) == 5_000
    live.assert_cold(tmp_path)


def test_edits_made_while_stopped_are_picked_up(tmp_path: Path) -> None:
    with start(tmp_path) as live:
        write(live.tree / "a.py", "x = 1\n")
        write(live.tree / "b.py", "y = 1\n")
        live.sync()
    write(live.tree / "a.py", "x = 2\nz = 3\n")
    (live.tree / "b.py").unlink()
    write(live.tree / "c.py", "w = 1\n")
    with start(tmp_path) as live:
        assert live.paths() == ["a.py", "c.py"] and "a.z" in live.symbols()
        live.assert_cold(tmp_path)


# ----------------------------------------------------------------- degraded watching


class _NoWatches(Observer):  # type: ignore[misc,valid-type]
    """An inotify observer on a machine whose watch limit is used up (faked at the boundary)."""

    def schedule(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


def test_polling_fallback_when_native_watches_fail(tmp_path: Path) -> None:
    with start(tmp_path, _NoWatches, poll_interval_s=0.1) as live:
        watcher = live.service.status()["watcher"]
        assert watcher["mode"] == "polling"
        assert "max_user_watches" in watcher["fallback_reason"]
        write(live.tree / "a.py", "def f():\n    pass\n")
        assert live.sync() == "cookie"  # the poller saw the cookie
        assert live.paths() == ["a.py"]


def _slow_poller() -> BaseObserver:
    return PollingObserver(timeout=3600)  # sees nothing after its first scan


def test_sync_reconciles_when_the_cookie_is_not_seen(tmp_path: Path) -> None:
    with start(tmp_path, _slow_poller, cookie_timeout_s=0.2) as live:
        write(live.tree / "late.py", "x = 1\n")
        assert live.sync() == "reconcile"
        assert live.paths() == ["late.py"]
        reasons = [r["reason"] for r in live.service.status()["recent_reconciles"]]
        assert "sync cookie not seen by the watcher" in reasons


def test_dead_observer_is_replaced_and_reconciled(live: Live, tmp_path: Path) -> None:
    observer = live.service.watcher.observer
    assert observer is not None
    observer.stop()
    observer.join()
    write(live.tree / "missed.py", "x = 1\n")  # nobody watches: only a reconcile finds it
    wait_until(lambda: live.service.watcher.restarts == 1, "the supervisor to restart")
    assert live.service.watcher.observer not in (None, observer)
    live.sync()
    assert live.paths() == ["missed.py"]
    status = live.service.status()
    assert status["watcher"]["restarts"] == 1
    assert any("watcher restarted" in r["reason"] for r in status["recent_reconciles"])


def test_sync_times_out_with_a_clear_error(live: Live) -> None:
    live.service.dirty.close()  # the indexer takes no more work: nothing new can commit
    write(live.tree / "a.py", "x = 1\n")
    with pytest.raises(SyncTimeout, match="not in sync after"):
        live.service.sync(timeout=0.5)


# ----------------------------------------------------------------- HTTP


def test_health_status_and_sync_over_http(live: Live) -> None:
    client = TestClient(create_app(live.service))
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["as_of"] >= 1
    write(live.tree / "a.py", "def f():\n    pass\n")
    synced = client.post("/sync").json()
    assert synced["method"] == "cookie" and synced["as_of"] > health["as_of"]
    status = client.get("/status").json()
    assert status["as_of"] == synced["as_of"] and status["files"] == 1
    assert status["pending_paths"] == 0 and status["watcher"]["mode"] == "native"
    assert status["last_batch"]["kind"] == "watch" and status["rss_bytes"] > 0
    assert status["last_reconcile"]["reason"] == "start-up"
    assert client.post("/sync?timeout=-1").status_code == 422
    found = client.get("/symbols/a.f").json()
    assert found["as_of"] == synced["as_of"]
    assert found["symbols"] == [
        {"qualname": "a.f", "name": "f", "kind": "function", "parent": "a", "path": "a.py",
         "line": 1, "end_line": 2, "docstring": None, "decorators": [], "is_async": False}
    ]  # fmt: skip
    missing = client.get("/symbols/a.nope")
    assert missing.status_code == 404 and "a.nope" in missing.json()["detail"]
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/health", "/status", "/sync"}


# ----------------------------------------------------------------- random operations

FILES = ("a.py", "pkg/__init__.py", "pkg/b.py", "pkg/sub/c.py", "other/d.py")
DIRS = ("pkg", "pkg/sub", "other")
TEXTS = (
    "def f():\n    return 1\n",
    "def f():\n    return 2\n",  # same size as the first
    "from pkg.b import f\n\n\ndef g():\n    return f()\n",
    "def broken(:\n",
    "",
)


OPERATION = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(FILES), st.sampled_from(TEXTS), st.booleans()),
    st.tuples(st.just("delete"), st.sampled_from(FILES)),
    st.tuples(st.just("rename"), st.sampled_from(FILES), st.sampled_from(FILES)),
    st.tuples(st.just("move_dir"), st.sampled_from(DIRS), st.sampled_from(DIRS), st.booleans()),
    st.tuples(st.just("delete_dir"), st.sampled_from(DIRS)),
    st.tuples(st.just("gitignore"), st.sampled_from(("", "other/\n", "*.py\n!a.py\n"))),
)


class LiveTree(RuleBasedStateMachine):
    """Bursts of random file operations against a running service; after each burst a sync,
    then the live graph must equal a cold index of the tree."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="graphsvc-live-"))
        self.runs = start(self.tmp)
        self.live = self.runs.__enter__()
        self.checks = 0
        self.moves = 0

    @initialize(files=st.dictionaries(st.sampled_from(FILES), st.sampled_from(TEXTS), min_size=3))
    def populate(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            write(self.live.tree / rel, text)
        self.checkpoint()

    @rule(operations=st.lists(OPERATION, min_size=1, max_size=6))
    def burst(self, operations: list[tuple[Any, ...]]) -> None:
        for operation in operations:
            getattr(self, f"_{operation[0]}")(*operation[1:])
        self.checkpoint()

    def _write(self, rel: str, text: str, atomic: bool) -> None:
        path = self.live.tree / rel
        if atomic:
            write(path.with_name(path.name + ".tmp"), text)
            os.replace(path.with_name(path.name + ".tmp"), path)
        else:
            write(path, text)

    def _delete(self, rel: str) -> None:
        (self.live.tree / rel).unlink(missing_ok=True)

    def _rename(self, src: str, dst: str) -> None:
        if (self.live.tree / src).is_file() and src != dst:
            (self.live.tree / dst).parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.live.tree / src, self.live.tree / dst)

    def _move_dir(self, src: str, dst: str, away: bool) -> None:
        source = self.live.tree / src
        if not source.is_dir():
            return
        if away:
            self.moves += 1
            os.rename(source, self.tmp / f"away-{self.moves}")  # out of the tree
        elif not (self.live.tree / dst).exists() and not dst.startswith(src + "/"):
            (self.live.tree / dst).parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, self.live.tree / dst)

    def _delete_dir(self, rel: str) -> None:
        shutil.rmtree(self.live.tree / rel, ignore_errors=True)

    def _gitignore(self, ignore: str) -> None:
        write(self.live.tree / ".gitignore", ignore)

    def checkpoint(self) -> None:
        self.checks += 1
        self.live.sync()
        with self.live.store.reader() as reader:
            facts = graph_facts(reader)
        assert_same_as_cold(facts, self.live.tree, self.tmp / f"cold-{self.checks}.duckdb")

    def teardown(self) -> None:
        self.runs.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)


LiveTree.TestCase.settings = hypothesis_settings(
    max_examples=20,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    database=None,
)
# 20 runs of bursts, a sync and a cold index each: minutes on a loaded 2-core box (300 s at
# load 6-10), where the default 120 s safety net (a hang guard, not a timing check) cut it
# short; each sync has its own 60 s deadline, so a hang still fails well before this.
test_random_operations_with_sync_equal_cold_index = pytest.mark.timeout(900)(LiveTree.TestCase)


def test_sql_and_snapshot_while_serving(live: Live) -> None:
    client = TestClient(create_app(live.service))
    write(live.tree / "a.py", "def f():\n    return g()\n\n\ndef g():\n    return 1\n")
    client.post("/sync")
    found = client.post("/sql", json={"sql": "SELECT qualname FROM symbols ORDER BY 1"}).json()
    assert found["columns"] == ["qualname"] and found["rows"] == [["a"], ["a.f"], ["a.g"]]
    assert found["truncated"] is False and found["as_of"] == live.service.as_of
    capped = client.post("/sql", json={"sql": "SELECT * FROM range(10)", "max_rows": 3}).json()
    assert len(capped["rows"]) == 3 and capped["truncated"] is True
    refused = client.post("/sql", json={"sql": "DROP TABLE files"})
    assert refused.status_code == 400 and "refused" in refused.json()["detail"]
    escape = client.post("/sql", json={"sql": "SELECT * FROM read_text('/etc/passwd')"})
    assert escape.status_code == 400
    endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r"
    timed_out = client.post("/sql", json={"sql": endless, "timeout_s": 0.2})
    assert timed_out.status_code == 408
    assert client.post("/sql", json={"sql": ""}).status_code == 422
    # The indexer still writes after all that, and the shell's snapshot follows it.
    write(live.tree / "b.py", "x = 1\n")
    client.post("/sync")
    snapshot = Path(client.get("/status").json()["snapshot"]["path"])

    def snapshot_files() -> int:
        with Store.open(snapshot, read_only=True) as copy:
            return int(copy.query("SELECT count(*) FROM files").rows[0][0])

    wait_until(lambda: snapshot.exists() and snapshot_files() == 2, "the snapshot to follow")


def test_silently_failed_subdirectory_watches_switch_to_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """watchdog swallows ENOSPC for subdirectories; the audit notices and polls instead. The
    failure is faked at the libc boundary (inotify_add_watch), the rest is the real observer."""
    real = inotify_c.inotify_add_watch

    def add_watch(fd: int, path: bytes, mask: int) -> int:
        if b"/deaf" in path:
            ctypes.set_errno(errno.ENOSPC)
            return -1
        return real(fd, path, mask)

    monkeypatch.setattr(inotify_c, "inotify_add_watch", add_watch)
    tree = tmp_path / "tree"
    write(tree / "deaf" / "inner" / "a.py", "x = 1\n")
    with start(tmp_path, watch_audit_s=0.05, poll_interval_s=0.1) as live:
        # (the audit may switch before the test looks: the count is in the reason it gives)
        wait_until(lambda: live.service.watcher.mode == "polling", "the switch to polling")
        reason = live.service.watcher.fallback_reason or ""
        assert reason.startswith("2 directories could not be watched"), reason
        write(live.tree / "deaf" / "inner" / "b.py", "y = 1\n")
        live.sync()
        assert live.paths() == ["deaf/inner/a.py", "deaf/inner/b.py"]


# ----------------------------------------------------------------- findings


def test_findings_follow_each_batch(live: Live) -> None:
    write(live.tree / "pkg/__init__.py", "")
    write(live.tree / "pkg/a.py", "from pkg.b import helper\n")
    write(live.tree / "pkg/b.py", "")
    live.sync()  # a sync returns after the batch's findings refresh
    fid = "missing_wiring_helper_pkg.b"

    def feed() -> list[tuple[Any, ...]]:
        return live.query(
            f"SELECT event, status FROM finding_events WHERE finding_id = '{fid}' ORDER BY seq"
        )

    assert feed() == [("new", "open")]
    write(live.tree / "pkg/b.py", "def helper():\n    pass\n")
    live.sync()
    assert feed() == [("new", "open"), ("fixed", "fixed")]
    status = live.service.status()["findings"]
    assert status["as_of"] == live.service.as_of and status["open"] == 0
    # the feed position, not the last refresh's events: under load the editor's write can be
    # two batches (truncate, then the bytes), and the second refresh has no events of its own
    assert status["last_seq"] == live.query("SELECT max(seq) FROM finding_events")[0][0]
    assert "new" not in status["events"]


def test_queries_and_findings_over_http(live: Live) -> None:
    client = TestClient(create_app(live.service))
    listed = client.get("/queries").json()
    names = {q["name"]: q for q in listed["queries"]}
    assert {"missing_wiring", "import_cycles"} <= names.keys() and listed["errors"] == []
    assert names["missing_wiring"]["kind"] and names["missing_wiring"]["source"] == "builtin"
    write(live.tree / "pkg/__init__.py", "")
    write(live.tree / "pkg/a.py", "from pkg.b import helper\n")
    write(live.tree / "pkg/b.py", "")
    synced = client.post("/sync").json()
    page = client.get("/findings", params={"status": "open"}).json()
    assert page["as_of"] == synced["as_of"]
    ids = [f["id"] for f in page["findings"]]
    assert "missing_wiring_helper_pkg.b" in ids
    one = client.get("/findings/missing_wiring_helper_pkg.b").json()["finding"]
    assert one["status"] == "open" and one["hypothesis"].startswith("MISSING_WIRING_")
    assert client.get("/findings/nope").status_code == 404
    rows = client.get("/queries/missing_wiring").json()
    assert rows["as_of"] == synced["as_of"] and rows["rows"]
    assert client.get("/queries/nope").status_code == 404
    assert client.get("/queries/import_cycles", params={"unknown": "1"}).status_code == 422
    # The feed: after the fix, only the change since the last position comes back.
    write(live.tree / "pkg/b.py", "def helper():\n    pass\n")
    client.post("/sync")
    changed = client.get("/findings", params={"since": page["last_seq"]}).json()
    assert [(f["id"], f["status"]) for f in changed["findings"]] == [
        ("missing_wiring_helper_pkg.b", "fixed")
    ]
    assert client.get("/findings", params={"status": "bogus"}).status_code == 422
    # Polls that have seen everything are answered without a read: empty, at the position.
    position = changed["last_seq"]
    assert position == live.service.feed_position
    for since in (position, position + 5):
        idle = client.get("/findings", params={"since": since}).json()
        assert idle["findings"] == [] and idle["last_seq"] == position
        assert idle["next_cursor"] is None and idle["as_of"] == live.service.as_of
    everything = client.get("/findings", params={"since": 0}).json()["findings"]
    # Hardware findings share the feed; a batch that saw a.py before b.py may have opened (and
    # since fixed) a finding for the module itself.
    from_code = {f["id"]: f["status"] for f in everything if f["kind"] == "missing_wiring"}
    assert from_code.get("missing_wiring_helper_pkg.b") == "fixed"
    assert set(from_code.values()) == {"fixed"}


def test_finding_queries_are_answered_from_the_refresh(live: Live) -> None:
    """A finding query with its default parameters is answered from the rows the refresh
    computed for the current batch: the rows the SQL gives, without running it."""
    client = TestClient(create_app(live.service))
    write(live.tree / "pkg/__init__.py", "")
    write(live.tree / "pkg/a.py", "def used():\n    return 1\n\n\ndef unused():\n    return 2\n")
    write(
        live.tree / "main.py", "from pkg.a import used\n\nif __name__ == '__main__':\n    used()\n"
    )
    synced = client.post("/sync").json()

    def sql(name: str, **params: object) -> list[list[Any]]:
        saved = live.service.findings.catalog.get(name)
        with live.store.reader() as reader:
            rows = run_query(reader, saved, bind_params(saved, params)).rows
        return jsonable_encoder([list(row) for row in rows])

    answer = client.get("/queries/dead_code")
    assert answer.headers[ANSWERED_BY] == "refresh"
    body = answer.json()
    assert body["as_of"] == synced["as_of"] and body["rows"] == sql("dead_code")
    assert any("pkg.a.unused" in row for row in body["rows"])
    # a partitioned query: its rows put back in the SQL's order
    parts = client.get("/queries/uninitialized_components")
    assert parts.headers[ANSWERED_BY] == "refresh"
    assert parts.json()["rows"] == sql("uninitialized_components")
    # other parameters, a query that is no finding query: the SQL runs
    other = client.get("/queries/dead_code", params={"min_confidence": "0.5"})
    assert other.headers[ANSWERED_BY] == "sql"
    assert other.json()["rows"] == sql("dead_code", min_confidence=0.5)
    assert client.get("/queries/channel_topology").headers[ANSWERED_BY] == "sql"
    # the next batch: the rows of its refresh
    write(
        live.tree / "main.py",
        "from pkg.a import unused, used\n\nif __name__ == '__main__':\n    used()\n    unused()\n",
    )
    synced = client.post("/sync").json()
    answer = client.get("/queries/dead_code")
    assert answer.headers[ANSWERED_BY] == "refresh"
    body = answer.json()
    assert body["as_of"] == synced["as_of"] and body["rows"] == sql("dead_code")
    assert not any("pkg.a.unused" in row for row in body["rows"])


def test_token_and_size_limits(tmp_path: Path) -> None:
    with start(tmp_path, token="s3cret", max_body_bytes=200, max_query_bytes=50) as live:
        client = TestClient(create_app(live.service))
        assert client.get("/health").status_code == 200  # liveness needs no token
        denied = client.get("/status")
        assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        assert client.get("/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
        auth = {"Authorization": "Bearer s3cret"}
        assert client.get("/status", headers=auth).status_code == 200
        big = client.post("/sql", json={"sql": "SELECT " + "1 + " * 100 + "1"}, headers=auth)
        assert big.status_code == 413
        assert client.get("/findings?kind=" + "x" * 60, headers=auth).status_code == 414
        assert client.post("/sql", json={"sql": "SELECT 1"}, headers=auth).status_code == 200


def test_prometheus_metrics(live: Live) -> None:
    client = TestClient(create_app(live.service))
    write(live.tree / "pkg/__init__.py", "")
    write(live.tree / "pkg/a.py", "from pkg.b import helper\n")
    write(live.tree / "pkg/b.py", "")
    synced = client.post("/sync").json()
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in answer.text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples["graphsvc_as_of"] == synced["as_of"]
    assert samples['graphsvc_batches_total{kind="reconcile"}'] == 1  # the start-up one
    assert samples['graphsvc_batches_total{kind="watch"}'] >= 1
    assert samples["graphsvc_files_parsed_total"] >= 3 and samples["graphsvc_files"] == 3
    assert samples['graphsvc_batch_seconds_count{kind="watch"}'] >= 1
    assert samples['graphsvc_findings{kind="missing_wiring",status="open"}'] == 1
    assert samples["graphsvc_rss_bytes"] > 0 and samples["graphsvc_watcher_polling"] == 0


def test_parser_processes_yield_the_cpu() -> None:
    """Parser processes run with the configured niceness added (indexing a checkout must not
    starve the API); their niceness is read from inside the worker."""
    from graphsvc.update_pool import _pool  # the pool every multi-process index uses

    mine = os.nice(0)
    with _pool(1, nice=7) as pool:
        assert pool.submit(os.nice, 0).result(timeout=Deadline) == min(19, mine + 7)
    assert load_settings(Path("."), jobs=1).parser_nice == 10


def test_deferred_finding_queries_catch_up_when_idle_and_on_sync(tmp_path: Path) -> None:
    """Every query counts as slow and is deferred for an hour while batches come: the idle
    service still runs them within a second or so, and a sync's batch runs them at once."""

    def open_ids() -> set[str]:
        rows = live.query("SELECT id FROM findings WHERE status = 'open'")
        return {r[0] for r in rows}

    with start(tmp_path, refresh_defer_ms=1e-9, refresh_defer_s=3600) as live:
        write(live.tree / "pkg" / "__init__.py", "")
        write(live.tree / "pkg" / "b.py", "")
        write(live.tree / "pkg" / "a.py", "from pkg.b import f\n")
        live.sync()
        assert "missing_wiring_f_pkg.b" in open_ids()  # a sync's batch defers nothing
        write(live.tree / "pkg" / "c.py", "from pkg.b import g\n")  # no sync: a plain batch
        wait_until(lambda: "missing_wiring_g_pkg.b" in open_ids(), "the idle catch-up")
        assert live.service.findings.deferrals > 0 and not live.service.findings.deferred


def test_facts_do_not_wait_for_the_findings_refresh(live: Live) -> None:
    """The findings thread is held (as a slow finding query would hold it): saves still
    commit and are queryable one after another, and once it is free the findings catch up with
    every batch committed meanwhile (refreshed together)."""
    write(live.tree / "pkg/__init__.py", "")
    write(live.tree / "pkg/b.py", "")
    live.sync()
    with live.service.findings_worker.lock:
        before = live.service.findings_as_of
        for i in range(3):
            write(live.tree / f"pkg/a{i}.py", f"from pkg.b import helper{i}\n")
            wait_until(lambda i=i: f"pkg/a{i}.py" in live.paths(), f"pkg/a{i}.py committed")
        # three batches (as_of follows each commit), none waited for the findings
        wait_until(lambda: live.service.as_of >= before + 3, "as_of of the third batch")
        assert live.service.findings_as_of == before
    live.sync()
    assert live.service.findings_as_of == live.service.as_of
    rows = live.query(
        "SELECT finding_id FROM finding_events WHERE event = 'new' AND finding_id LIKE"
        " 'missing_wiring_helper%' ORDER BY 1"
    )
    assert [r[0] for r in rows] == [f"missing_wiring_helper{i}_pkg.b" for i in range(3)]


def test_merged_summaries_add_up_and_union_the_relinked_files() -> None:
    first = IndexSummary(parsed=2, removed=1, batch_id=7, relinked=frozenset({1, 2}))
    first.failures.append("a.py: unreadable")
    second = IndexSummary(parsed=1, docs_parsed=3, batch_id=8, relinked=frozenset({2, 5}))
    merged = merge_summaries([first, second])
    assert (merged.parsed, merged.removed, merged.docs_parsed, merged.batch_id) == (3, 1, 3, 8)
    assert merged.relinked == frozenset({1, 2, 5}) and merged.failures == ["a.py: unreadable"]
    unknown = merge_summaries([first, IndexSummary(batch_id=9, relinked=None)])
    assert unknown.relinked is None and unknown.batch_id == 9
    assert merge_summaries([first]) is first


def test_the_findings_thread_yields_to_the_indexer(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between finding queries the findings thread waits while changes wait for the indexer,
    for at most FINDINGS_YIELD_MAX_S; with nothing waiting it goes straight on."""
    service = live.service
    assert service.findings.pause == service.findings_worker.yield_to_indexer
    live.sync()
    service.findings_worker.yield_to_indexer()  # idle: returns
    monkeypatch.setattr(findings_thread_module, "FINDINGS_YIELD_MAX_S", 0.0)
    with live.service.findings_worker.lock:  # no refresh
        write(live.tree / "pkg_wait.py", "")
        wait_until(lambda: "pkg_wait.py" in live.paths(), "the save committed")
        service.dirty.add("pkg_pending.py")  # a change the indexer has not taken yet
        service.findings_worker.yield_to_indexer()  # bounded: returns
    live.sync()
    assert "pkg_pending.py" not in live.paths()  # noted, but no such file: nothing indexed


# a user query that scans a trillion rows once the tree has three modules, and none before
SLOW_QUERY = """\
-- name: slow_modules
-- title: One finding per module, slow with three
-- kind: slow_modules
-- id: slow_modules_{name}
-- hypothesis: SLOW_MODULES_{name}
-- question: Is {name} fine?
-- evidence: name
-- severity: low
-- action: explore
-- autonomy: 1
-- value: 0.1
-- cost: 0.1
SELECT name FROM modules
WHERE (SELECT count(*) FROM (SELECT count(*) AS n FROM modules) AS k,
       range(CASE WHEN k.n > 2 THEN 1000000000000 ELSE 0 END)) >= 0
"""


def test_a_batch_stops_the_finding_query_of_the_batch_before(tmp_path: Path) -> None:
    """The indexer interrupts the finding query running when its next batch starts: a query
    that would never end is stopped by the next save, and the refresh after that save runs it
    again (here instantly) with the findings of every module."""
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "slow_modules.sql").write_text(SLOW_QUERY, encoding="utf-8")
    with start(tmp_path, query_dirs=[tmp_path / "q"]) as live:
        findings = live.service.findings
        try:
            write(live.tree / "a.py", "")
            live.sync()
            write(live.tree / "b.py", "")
            write(live.tree / "c.py", "")  # three modules: the refresh's query never ends
            wait_until(lambda: findings.running_query == "slow_modules", "the slow query")
            stopped = findings.interruptions
            (live.tree / "c.py").unlink()  # the next batch
            wait_until(lambda: findings.interruptions > stopped, "the query stopped by the batch")
            live.sync()
            open_ids = {r[0] for r in live.query("SELECT id FROM findings WHERE status = 'open'")}
            assert {"slow_modules_a", "slow_modules_b"} <= open_ids
            assert "slow_modules_c" not in open_ids
        finally:
            findings.interrupt()  # never leave the service stuck in the query (a failure)
