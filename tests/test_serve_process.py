"""`graphsvc serve` as a real process: HTTP, signals, a real inotify overflow, kill -9."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_same_as_cold, graph_facts

from graphsvc.store import Store

DEADLINE = 120.0


class Served:
    """A `graphsvc serve` subprocess on a free port."""

    def __init__(self, tree: Path, db: Path, log: Path, *extra: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = log
        command = [sys.executable, "-m", "graphsvc", "serve", str(tree), "--db", str(db)]
        command += ["--port", str(self.port), "--jobs", "1", *extra]
        with log.open("ab") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=sink)
        self.wait_until(lambda: self.get("/status")["as_of"] >= 1, "the start-up reconcile")

    def call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=DEADLINE) as response:
            answer: dict[str, Any] = json.load(response)
        return answer

    def get(self, path: str) -> dict[str, Any]:
        return self.call("GET", path)

    def sync(self) -> dict[str, Any]:
        return self.call("POST", f"/sync?timeout={DEADLINE}")

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        pause = threading.Event()
        for _ in range(int(DEADLINE / 0.05)):
            assert self.process.poll() is None, f"serve exited: {self.log.read_text()[-2000:]}"
            try:
                if condition():
                    return
            except (urllib.error.URLError, ConnectionError):
                pass  # not listening yet
            pause.wait(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=DEADLINE)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=DEADLINE)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "tree"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("from .a import f\n")
    (root / "pkg" / "a.py").write_text("def f():\n    return 1\n")
    yield root


def _cold_equal(tree: Path, db: Path, cold: Path) -> None:
    with Store.open(db) as store:
        warm = graph_facts(store)
    assert_same_as_cold(warm, tree, cold)


def test_serve_syncs_logs_json_and_stops_cleanly(tree: Path, tmp_path: Path) -> None:
    served = Served(tree, tmp_path / "g.duckdb", tmp_path / "serve.log", "--log-format", "json")
    try:
        (tree / "pkg" / "b.py").write_text("def g():\n    return 2\n")
        synced = served.sync()
        assert synced["method"] == "cookie"
        assert served.get("/status")["files"] == 3
        assert served.get("/health")["as_of"] == synced["as_of"]
    finally:
        code = served.stop()
    assert code == 0
    lines = [json.loads(line) for line in served.log.read_text().splitlines()]
    batches = [line["batch"] for line in lines if "batch" in line]
    assert [b["kind"] for b in batches][:2] == ["reconcile", "watch"]
    assert batches[1]["parsed"] == 1 and batches[1]["batch_id"] == synced["as_of"]
    assert any("stopped" in line["message"] for line in lines)
    _cold_equal(tree, tmp_path / "g.duckdb", tmp_path / "cold.duckdb")


def test_inotify_overflow_is_detected_and_reconciled(tree: Path, tmp_path: Path) -> None:
    """A real overflow: the process is stopped while more events than the kernel queue holds
    (fs.inotify.max_queued_events, 16384 by default) happen; only a reconcile can find them."""
    queue = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    files = queue // 2 + 1_000  # each new file makes at least created + modified + closed
    served = Served(tree, tmp_path / "g.duckdb", tmp_path / "serve.log")
    try:
        served.process.send_signal(signal.SIGSTOP)
        try:
            for i in range(files):
                (tree / "pkg" / f"m{i}.py").write_text(f"v = {i}\n")
        finally:
            served.process.send_signal(signal.SIGCONT)
        served.sync()
        status = served.get("/status")
        assert status["files"] == files + 2
        assert status["watcher"]["overflows"] >= 1
        reasons = [r["reason"] for r in status["recent_reconciles"]]
        assert any("overflowed" in reason for reason in reasons), reasons
    finally:
        assert served.stop() == 0
    _cold_equal(tree, tmp_path / "g.duckdb", tmp_path / "cold.duckdb")


def test_kill_9_during_a_batch_then_restart_equals_cold(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "g.duckdb"
    served = Served(tree, db, tmp_path / "serve.log")
    try:
        for i in range(3_000):
            (tree / "pkg" / f"m{i}.py").write_text(f"def f{i}():\n    return f{i - 1}()\n")
        served.wait_until(lambda: served.get("/status")["indexing"], "a batch in progress")
    finally:
        served.kill()
    (tree / "pkg" / "a.py").write_text("def f():\n    return 2\n")  # while it is down
    (tree / "pkg" / "m7.py").unlink()
    served = Served(tree, db, tmp_path / "serve.log")
    try:
        served.sync()
        assert served.get("/status")["files"] == 3_001
    finally:
        assert served.stop() == 0
    _cold_equal(tree, db, tmp_path / "cold.duckdb")


def test_a_second_service_on_the_same_database_fails_clearly(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "g.duckdb"
    served = Served(tree, db, tmp_path / "serve.log")
    try:
        second = subprocess.run(
            [sys.executable, "-m", "graphsvc", "serve", str(tree), "--db", str(db), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert second.returncode == 2
        assert "in use by another graphsvc process" in second.stderr
    finally:
        assert served.stop() == 0


def test_sync_command_talks_to_the_service(tree: Path, tmp_path: Path) -> None:
    served = Served(tree, tmp_path / "g.duckdb", tmp_path / "serve.log")
    try:
        (tree / "pkg" / "c.py").write_text("x = 1\n")
        url = f"http://127.0.0.1:{served.port}"
        done = subprocess.run(
            [sys.executable, "-m", "graphsvc", "sync", "--url", url],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
        )
        assert done.returncode == 0, done.stderr
        as_of = served.get("/status")["as_of"]
        assert f"in sync as of batch {as_of} (cookie" in done.stdout
    finally:
        assert served.stop() == 0
    nobody = subprocess.run(
        [sys.executable, "-m", "graphsvc", "sync", "--url", url, "--timeout", "5"],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert nobody.returncode == 2 and "no answer" in nobody.stderr


def test_findings_stream_resumes_and_follows_edits(tree: Path, tmp_path: Path) -> None:
    """Server-sent events from a real server: a new finding arrives as an event; a client
    reconnecting with Last-Event-ID gets only what came after."""
    served = Served(tree, tmp_path / "g.duckdb", tmp_path / "serve.log")
    url = f"http://127.0.0.1:{served.port}/findings/stream?heartbeat=0.2"
    try:
        with urllib.request.urlopen(url, timeout=DEADLINE) as stream:
            (tree / "pkg" / "c.py").write_text("from pkg.a import nothing_here\n")
            served.sync()
            event = _next_event(stream)
        assert event["event"] == "finding"
        data = json.loads(event["data"])
        assert data["finding_id"] == "missing_wiring_nothing_here_pkg.a"
        assert data["event"] == "new" and event["id"] == str(data["seq"])
        (tree / "pkg" / "c.py").write_text("from pkg.a import f\n")
        served.sync()
        resumed = urllib.request.Request(url, headers={"Last-Event-ID": event["id"]})
        with urllib.request.urlopen(resumed, timeout=DEADLINE) as stream:
            fixed = json.loads(_next_event(stream)["data"])
        assert (fixed["finding_id"], fixed["event"]) == (data["finding_id"], "fixed")
        assert fixed["seq"] > data["seq"]
        listening = urllib.request.urlopen(url, timeout=DEADLINE)  # still open at SIGTERM
    finally:
        assert served.stop() == 0
    listening.close()


def _next_event(stream: Any) -> dict[str, str]:
    """Read the stream up to the next event (heartbeat comments skipped)."""
    fields: dict[str, str] = {}
    for raw in stream:
        line = raw.decode().rstrip("\n")
        if not line:
            if fields:
                return fields
            continue
        if line.startswith(":"):
            continue  # heartbeat
        key, _, value = line.partition(":")
        fields[key] = value.removeprefix(" ")
    raise AssertionError("the stream ended")


def test_serving_beyond_loopback_needs_a_token(tree: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "graphsvc", "serve", str(tree), "--host", "0.0.0.0"]
    env = {k: v for k, v in os.environ.items() if k != "GRAPHSVC_TOKEN"}
    done = subprocess.run(
        [*command, "--db", str(tmp_path / "g.duckdb")],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=env,
    )
    assert done.returncode == 2 and "GRAPHSVC_TOKEN" in done.stderr


def test_query_command_reads_the_snapshot_while_serve_holds_the_database(
    tree: Path, tmp_path: Path
) -> None:
    """`graphsvc query` cannot open a database a service holds (DuckDB's lock); it falls back
    to the service's published snapshot, says so, and follows the service's later commits."""
    db = tmp_path / "g.duckdb"
    (tree / "pkg" / "b.py").write_text("from pkg.a import gone\n")
    served = Served(tree, db, tmp_path / "serve.log")

    def snapshot_caught_up() -> bool:
        snapshot = served.get("/status")["snapshot"]
        return not snapshot["pending"] and Path(snapshot["path"]).is_file()

    def query(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "graphsvc", "query", "missing_wiring", "--db", str(db)]
        return subprocess.run([*command, *extra], capture_output=True, text=True, timeout=DEADLINE)

    try:
        served.sync()
        served.wait_until(snapshot_caught_up, "the snapshot")
        found = query("--format", "json", "--fail-on-findings")
        assert found.returncode == 1, found.stderr  # findings exist: the CI exit code
        assert "database in use; reading its snapshot" in found.stderr
        rows = json.loads(found.stdout)
        assert [(r["id"], r["locations"]) for r in rows] == [
            ("missing_wiring_gone_pkg.a", ["pkg/b.py:1"])
        ]
        (tree / "pkg" / "a.py").write_text("def f():\n    return 1\n\n\ngone = f\n")
        served.sync()
        served.wait_until(snapshot_caught_up, "the snapshot after the fix")
        fixed = query("--format", "json", "--fail-on-findings")
        assert fixed.returncode == 0, fixed.stderr
        assert json.loads(fixed.stdout) == [] and "reading its snapshot" in fixed.stderr
        assert served.process.poll() is None  # the service kept its lock and kept running
    finally:
        assert served.stop() == 0
