"""Snapshots: the real duckdb CLI reads the graph while a writer in this process keeps writing."""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from graphsvc.errors import DatabaseError, SnapshotError
from graphsvc.facts import ModuleInfo
from graphsvc.indexer import index_bytes
from graphsvc.sandbox import SqlSandbox
from graphsvc.snapshot import (
    SnapshotPublisher,
    duckdb_cli,
    publish_snapshot,
    shell_snapshot,
    snapshot_path,
)
from graphsvc.store import Batch, Store

SOURCE = b"import os\n\ndef f():\n    return os.getcwd()\n"


def _facts(path: str):
    module = path.removesuffix(".py").replace("/", ".")
    return index_bytes(path, SOURCE, ModuleInfo(module, False, ""), 1)


def _cli(db: Path, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(duckdb_cli()), "-readonly", str(db), "-csv", "-noheader", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _graphsvc(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graphsvc", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_snapshot_path_sits_next_to_the_database() -> None:
    db = Path(".graphsvc/graph.duckdb")
    assert snapshot_path(db) == Path(".graphsvc/graph.snapshot.duckdb")


def test_published_snapshot_is_read_by_the_duckdb_cli(tmp_path: Path) -> None:
    with Store.open(tmp_path / "graph.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py"), _facts("b.py")]))
        info = publish_snapshot(store)
        assert info.path == tmp_path / "graph.snapshot.duckdb"
        assert info.size == info.path.stat().st_size > 0
        assert info.path.stat().st_mode == store.path.stat().st_mode  # as readable as the graph
        result = _cli(info.path, "SELECT count(*) FROM files")
        store.apply(Batch(upserts=[_facts("c.py")]))  # the writer still commits
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.duckdb", "graph.snapshot.duckdb"]


def test_publishing_keeps_the_writers_lock(tmp_path: Path) -> None:
    """Regression: an in-process open()/close() of the database file drops DuckDB's POSIX lock."""
    with Store.open(tmp_path / "graph.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py")]))
        publish_snapshot(store)
        other = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])", store.path],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert other.returncode != 0 and "Conflicting lock is held" in other.stderr


def test_cli_reads_snapshots_while_the_writer_keeps_writing(tmp_path: Path) -> None:
    batches = 30
    with Store.open(tmp_path / "graph.duckdb") as store, SqlSandbox(store) as sandbox:
        store.apply(Batch(upserts=[_facts("seed.py")]))
        publisher = SnapshotPublisher(store, min_interval_s=0.05)
        publisher.publish_now()
        done = threading.Event()
        failures: list[BaseException] = []

        def writer() -> None:  # the service thread: it owns the writer and the publisher
            try:
                for i in range(batches):
                    store.apply(Batch(upserts=[_facts(f"m{i}.py")]))
                    publisher.maybe_publish()
                    time.sleep(0.02)  # pacing, so that readers overlap many commits
                while publisher.pending:
                    time.sleep(publisher.due_in() or 0)
                    publisher.maybe_publish(committed=False)
            except BaseException as exc:
                failures.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=writer)
        thread.start()
        seen: list[tuple[int, int, int]] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (not done.is_set() or len(seen) < 3):
            result = _cli(
                publisher.dest,
                "SELECT count(*), count(DISTINCT file_id), (SELECT count(*) FROM modules)"
                " FROM files",
            )
            assert result.returncode == 0, result.stderr
            assert "lock" not in result.stderr.lower()
            files, distinct, modules = map(int, result.stdout.strip().split(","))
            seen.append((files, distinct, modules))
            # The ad-hoc SQL sandbox reads the live database meanwhile.
            assert sandbox.run("SELECT count(*) FROM files").rows[0][0] >= files
        thread.join(timeout=60)
        assert not failures, failures
        assert not publisher.pending
    counts = [files for files, _, _ in seen]
    # Every snapshot is one committed state: one module row per file, ids unique.
    assert all(files == distinct == modules for files, distinct, modules in seen)
    assert counts == sorted(counts) and counts[0] >= 1 and counts[-1] <= batches + 1
    final = _cli(tmp_path / "graph.snapshot.duckdb", "SELECT count(*) FROM files")
    assert final.stdout.strip() == str(batches + 1)  # the last batch was published too
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_publisher_rate_limits_and_publishes_the_last_commit(tmp_path: Path) -> None:
    with Store.open(tmp_path / "graph.duckdb") as store:
        clock = [100.0]
        # an unbounded share: the interval stays 1 s however long a publish takes on a loaded
        # machine (the stretching is checked with `slow` below)
        publisher = SnapshotPublisher(
            store, min_interval_s=1.0, max_share=math.inf, clock=lambda: clock[0]
        )
        assert publisher.due_in() is None and publisher.maybe_publish(committed=False) is None
        store.apply(Batch(upserts=[_facts("a.py")]))
        first = publisher.maybe_publish(100.0)
        assert first is not None and not publisher.pending
        store.apply(Batch(upserts=[_facts("b.py")]))
        assert publisher.maybe_publish(100.4) is None  # too soon: kept pending
        assert publisher.pending and publisher.due_in(100.4) == pytest.approx(0.6)
        assert publisher.maybe_publish(101.0, committed=False) is not None
        assert not publisher.pending and publisher.due_in(101.0) is None
        result = _cli(publisher.dest, "SELECT count(*) FROM files")
        assert result.stdout.strip() == "2"
        # A slow snapshot stretches the interval to keep the writer's share bounded.
        slow = SnapshotPublisher(store, min_interval_s=1.0, max_share=1e-9)
        slow.publish_now()
        assert slow.interval_s > 1.0
        assert slow.maybe_publish(time.monotonic() + 2.0) is None and slow.pending


def test_a_copy_left_by_a_dead_publisher_is_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".graph.snapshot.duckdb.abc123.tmp"
    stale.write_bytes(b"half a database")
    unrelated = tmp_path / ".other.tmp"
    unrelated.write_bytes(b"not ours")
    with Store.open(tmp_path / "graph.duckdb") as store:
        publish_snapshot(store)
    assert not stale.exists() and unrelated.exists()


def test_a_failed_publish_leaves_no_partial_file_and_is_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "snap.duckdb"
    dest.mkdir()  # nothing can be renamed over a directory
    with Store.open(tmp_path / "graph.duckdb") as store:
        with pytest.raises(SnapshotError, match="copy failed"):
            publish_snapshot(store, dest)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.duckdb", "snap.duckdb"]
        assert list(dest.iterdir()) == []
        publisher = SnapshotPublisher(store, dest, min_interval_s=0.0)
        with caplog.at_level(logging.WARNING, logger="graphsvc.snapshot"):
            assert publisher.maybe_publish() is None
        assert publisher.pending and "will retry" in caplog.text
        dest.rmdir()
        assert publisher.maybe_publish(committed=False) is not None and dest.is_file()


def test_a_database_in_a_format_the_cli_cannot_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "graph.duckdb"
    duckdb.connect(str(path)).close()  # created by duckdb 2.0 in its latest storage format
    with Store.open(path) as store:
        assert not store.storage_version().startswith("v1.5")
        with pytest.raises(SnapshotError, match=r"duckdb CLI 1\.5 cannot read"):
            publish_snapshot(store)
    assert not snapshot_path(path).exists()
    with Store.open(path, read_only=True) as store, pytest.raises(SnapshotError, match="read-only"):
        publish_snapshot(store)


def test_shell_snapshot_publishes_when_no_service_holds_the_database(tmp_path: Path) -> None:
    db = tmp_path / "graph.duckdb"
    with pytest.raises(DatabaseError, match="run `graphsvc index` first"):
        shell_snapshot(db)
    with Store.open(db) as store:
        store.apply(Batch(upserts=[_facts("a.py")]))
    snapshot, fresh = shell_snapshot(db)
    assert fresh and snapshot == snapshot_path(db)
    assert _cli(snapshot, "SELECT count(*) FROM files").stdout.strip() == "1"


def test_graphsvc_shell_and_sql_while_a_writer_holds_the_database(tmp_path: Path) -> None:
    db = tmp_path / "graph.duckdb"
    count = "SELECT count(*) FROM files"
    with Store.open(db) as store:  # this process holds the write lock, like a service
        store.apply(Batch(upserts=[_facts("a.py"), _facts("b.py")]))
        none_yet = _graphsvc("shell", "--db", db, "--", "-c", count)
        assert none_yet.returncode == 2
        assert "has published no snapshot yet" in none_yet.stderr
        sql_none = _graphsvc("sql", count, "--db", db)
        assert sql_none.returncode == 2 and "no snapshot yet" in sql_none.stderr
        publish_snapshot(store)
        store.apply(Batch(upserts=[_facts("c.py")]))  # not in the snapshot
        shell = _graphsvc("shell", "--db", db, "--", "-csv", "-noheader", "-c", count)
        sql = _graphsvc("sql", count, "--db", db, "-f", "csv")
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == "2" and "opening its snapshot" in shell.stderr
    assert sql.returncode == 0, sql.stderr
    assert sql.stdout.splitlines()[1:] == ["2"] and "querying its snapshot" in sql.stderr
    fresh = _graphsvc("shell", "--db", db, "--", "-csv", "-noheader", "-c", count)
    assert fresh.returncode == 0 and fresh.stdout.strip() == "3"  # no holder: published anew


def test_duckdb_cli_is_found_next_to_the_interpreter_or_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = duckdb_cli()
    assert found.name == "duckdb" and os.access(found, os.X_OK)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SnapshotError, match="pip install"):
        duckdb_cli()
    shutil.copy(found, tmp_path / "duckdb")
    assert duckdb_cli() == tmp_path / "duckdb"
