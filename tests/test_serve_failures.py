"""The live service when its findings thread fails: reported, never fatal, healed.

A real service over a real temp tree and a real DuckDB file. The failure is real too: the
``findings`` table is renamed away under the running service (with the findings thread's lock
held, so no refresh is half-way), so every write of a refresh fails in DuckDB itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from graphsvc.config import load_settings
from graphsvc.service import Service
from graphsvc.store import Store

Deadline = 60.0  # generous: a deadline, not a measurement
FINDING = "missing_wiring_helper_pkg.b"  # pkg/a.py imports a name pkg/b.py lacks


@contextlib.contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[Service, Store]]:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg/__init__.py").write_text("")
    (tree / "pkg/b.py").write_text("")
    with Store.open(tmp_path / "live.duckdb") as store:
        service = Service(tree, store, load_settings(tree, jobs=1, hardware_interval_s=0))
        service.start()
        try:
            service.sync(timeout=Deadline)
            yield service, store
        finally:
            service.stop()


def rename_findings(service: Service, store: Store, old: str, new: str) -> None:
    with service.findings_worker.lock:  # no refresh is writing
        con = store.cursor()
        try:
            con.execute(f"ALTER TABLE {old} RENAME TO {new}")
        finally:
            con.close()


def findings(store: Store) -> dict[str, str]:
    with store.reader() as reader:
        rows: list[tuple[Any, ...]] = reader.query("SELECT id, status FROM findings").rows
    return {row[0]: row[1] for row in rows}


def test_a_failed_refresh_is_reported_and_the_next_one_catches_up(tmp_path: Path) -> None:
    with serving(tmp_path) as (service, store):
        tree = service.tree
        assert service.status()["findings_failures"] == 0
        assert service.status()["findings_error"] is None
        rename_findings(service, store, "findings", "findings_away")

        # the batch commits; its refresh fails; the sync still returns (the facts are there)
        (tree / "pkg/a.py").write_text("from pkg.b import helper\n")
        service.sync(timeout=Deadline)
        status = service.status()
        assert status["findings_failures"] >= 1
        assert "findings" in status["findings_error"]
        with store.reader() as reader:
            assert reader.query("SELECT count(*) FROM files WHERE path = 'pkg/a.py'").rows == [(1,)]
        assert service.findings_worker.failures == status["findings_failures"]

        # the table comes back: the next batch's refresh runs every query on every file, so
        # the finding of the batch whose refresh failed is found
        rename_findings(service, store, "findings_away", "findings")
        assert FINDING not in findings(store)
        (tree / "pkg/c.py").write_text("X = 1\n")
        service.sync(timeout=Deadline)
        status = service.status()
        assert status["findings_error"] is None
        assert findings(store).get(FINDING) == "open"

        # and the thread keeps following batches
        (tree / "pkg/b.py").write_text("def helper():\n    pass\n")
        service.sync(timeout=Deadline)
        assert findings(store)[FINDING] == "fixed"


def test_a_failed_refresh_heals_while_idle(tmp_path: Path) -> None:
    with serving(tmp_path) as (service, store):
        rename_findings(service, store, "findings", "findings_away")
        (service.tree / "pkg/a.py").write_text("from pkg.b import helper\n")
        service.sync(timeout=Deadline)
        failures = service.status()["findings_failures"]
        assert failures >= 1
        rename_findings(service, store, "findings_away", "findings")
        # no batch comes; the idle thread retries every query after its back-off
        worker, pause = service.findings_worker, threading.Event()
        for _ in range(int(Deadline / 0.05)):
            if worker.last_error is None:
                break
            pause.wait(0.05)
        assert worker.last_error is None
        assert service.status()["findings_failures"] == failures
        assert findings(store).get(FINDING) == "open"
