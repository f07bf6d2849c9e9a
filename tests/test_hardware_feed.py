"""Hardware findings in the findings feed, the endpoints and the command: a real DuckDB file,
a real service with its sampler thread, TestClient; NVML faked at ``pynvml``."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pynvml
import pytest
from conftest import WriteTree
from fastapi.testclient import TestClient
from nvml_fake import FakeGpu, FakeNvml, two_gpus
from typer.testing import CliRunner

from graphsvc.api import create_app
from graphsvc.cli import app
from graphsvc.config import load_settings
from graphsvc.errors import GraphsvcError
from graphsvc.findings import Finding, HardwareRules, Refresher, all_findings, events_since
from graphsvc.hardware import Probe
from graphsvc.queries import load_queries
from graphsvc.service import Service
from graphsvc.store import Store
from graphsvc.update import index_tree

DEADLINE = 60.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    pause = threading.Event()
    for _ in range(int(DEADLINE / 0.02)):
        if condition():
            return
        pause.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def hardware_findings(monkeypatch: pytest.MonkeyPatch, gpus: list[FakeGpu]) -> list[Finding]:
    FakeNvml(monkeypatch, gpus)
    probe = Probe()
    try:
        return HardwareRules().evaluate(probe.sample(), 0.0)
    finally:
        probe.close()


def events(store: Store) -> list[tuple[str, str]]:
    return [(e.finding_id, e.event) for e in events_since(store, 0)]


def test_source_findings_share_the_feed_and_only_the_source_fixes_them(
    monkeypatch: pytest.MonkeyPatch, write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree({"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import helper\n"})
    write_tree({"pkg/b.py": ""})
    catalog = load_queries(None, [])
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        refresher = Refresher(catalog, tree)
        refresher.run(store)
        gpus = two_gpus()
        gpus[1].width = (8, 16)
        found = hardware_findings(monkeypatch, gpus)
        result = refresher.run_source(store, "hardware", found)
        assert result.events == {"new": len(found)} and refresher.last_seq == result.last_seq
        assert ("pcie_bottleneck_gpu1", "new") in events(store)
        assert ("missing_wiring_helper_pkg.b", "new") in events(store)
        # A query refresh (here: a fresh process's, as `graphsvc index` runs it) leaves them.
        Refresher(catalog, tree).run(store)
        again = refresher.run_source(store, "hardware", found)
        assert again.events == {} and again.rewritten == 0
        # The link is fixed: only that finding is, and through the same feed.
        gpus[1].width = (16, 16)
        now = hardware_findings(monkeypatch, gpus)
        fixed = refresher.run_source(store, "hardware", now)
        assert fixed.events == {"fixed": 1}
        assert events(store)[-1] == ("pcie_bottleneck_gpu1", "fixed")
        stored = all_findings(store)
        assert stored["pcie_bottleneck_gpu1"].status == "fixed"
        assert stored["missing_wiring_helper_pkg.b"].status == "open"
        assert stored["multi_gpu_parallelization"].status == "open"
        # Back again: reopened, first_seen kept.
        refresher.run_source(store, "hardware", found)
        assert events(store)[-1] == ("pcie_bottleneck_gpu1", "reopened")
        first = all_findings(store)["pcie_bottleneck_gpu1"]
        assert first.first_seen == stored["pcie_bottleneck_gpu1"].first_seen
        # Ids are the source's own.
        with pytest.raises(GraphsvcError, match="unknown finding source"):
            refresher.run_source(store, "sensors", found)
        sql_owned = stored["missing_wiring_helper_pkg.b"]
        with pytest.raises(GraphsvcError, match="belongs to query missing_wiring"):
            refresher.run_source(store, "hardware", [*found, _as_hardware(sql_owned)])


def _as_hardware(finding: Finding) -> Finding:
    import dataclasses

    return dataclasses.replace(finding, query="hardware")


def test_suppressed_by_kind_in_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gpus = two_gpus()
    gpus[0].width = (8, 16)
    found = hardware_findings(monkeypatch, gpus)
    with Store.open(tmp_path / "g.duckdb") as store:
        refresher = Refresher(load_queries(None, []), None, ["pcie_bottleneck"])
        refresher.run_source(store, "hardware", found)
        stored = all_findings(store)
    assert stored["pcie_bottleneck_gpu0"].status == "suppressed"
    assert stored["pcie_bottleneck_gpu0"].suppressed_by == "config: pcie_bottleneck"
    assert stored["multi_gpu_parallelization"].status == "open"


@contextlib.contextmanager
def serving(tmp_path: Path, **settings: Any) -> Iterator[tuple[Service, TestClient]]:
    tree = tmp_path / "tree"
    tree.mkdir(exist_ok=True)
    with Store.open(tmp_path / "live.duckdb") as store:
        service = Service(tree, store, load_settings(tree, jobs=1, **settings))
        service.start()
        try:
            service.sync(timeout=DEADLINE)
            yield service, TestClient(create_app(service))
        finally:
            service.stop()


def test_service_samples_serves_from_cache_and_feeds_findings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gpus = two_gpus()
    gpus[1].width = (8, 16)
    fake = FakeNvml(monkeypatch, gpus)
    with serving(tmp_path, hardware_interval_s=0.02) as (service, client):

        def feed() -> list[tuple[str, str]]:
            with service.store.reader() as reader:
                return events(reader)

        wait_until(lambda: ("pcie_bottleneck_gpu1", "new") in feed(), "the x8 link's finding")
        answer = client.get("/hardware").json()
        assert answer["as_of"] == service.as_of and answer["interval_s"] == 0.02
        assert answer["cuda_available"] and answer["total_vram_mb"] == 2 * 81920
        assert [g["pcie_width_current"] for g in answer["gpus"]] == [16, 8]
        gpu_answer = client.get("/hardware/gpus").json()
        assert gpu_answer["state"] == "ok" and gpu_answer["reason"] is None
        assert [g["uuid"] for g in gpu_answer["gpus"]] == [g.uuid for g in gpus]
        page = client.get("/findings", params={"kind": "pcie_bottleneck"}).json()
        [finding] = page["findings"]
        assert finding["id"] == "pcie_bottleneck_gpu1" and finding["status"] == "open"
        assert finding["query"] == "hardware" and finding["hypothesis"] == "PCIE_BOTTLENECK_GPU1"
        since = page["last_seq"]
        # The link is fixed: the next samples fix the finding through the same feed.
        fake.gpus[1].width = (16, 16)
        wait_until(lambda: ("pcie_bottleneck_gpu1", "fixed") in feed(), "the fix")
        changed = client.get("/findings", params={"since": since}).json()["findings"]
        assert [(f["id"], f["status"]) for f in changed] == [("pcie_bottleneck_gpu1", "fixed")]
        fixed_seq = changed[0]["last_changed"]["seq"]
        assert service.findings_seq >= fixed_seq
        # The feed position readers use follows the hardware events, no batch needed.
        wait_until(
            lambda: service.status()["findings"]["last_seq"] >= fixed_seq, "the feed position"
        )
        # NVML failing mid-sample: the endpoint says so, the GPU findings stay open.
        fake.raise_in["nvmlDeviceGetMemoryInfo"] = pynvml.NVML_ERROR_GPU_IS_LOST
        wait_until(lambda: client.get("/hardware/gpus").json()["state"] == "failed", "failure")
        failed = client.get("/hardware/gpus").json()
        assert (
            failed["gpus"] == [] and failed["reason"] == "NVML failed while sampling: GPU is lost"
        )
        with service.store.reader() as reader:
            assert all_findings(reader)["multi_gpu_parallelization"].status == "open"
    assert fake.calls["nvmlInit"] == 1 and fake.calls["nvmlShutdown"] == 1


def test_sampler_off_answers_503(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeNvml(monkeypatch, [FakeGpu()])
    with serving(tmp_path, hardware_interval_s=0) as (_, client):
        answer = client.get("/hardware")
        assert answer.status_code == 503 and "GRAPHSVC_HARDWARE_INTERVAL_S=0" in answer.text
        assert client.get("/hardware/gpus").status_code == 503
    assert "nvmlInit" not in fake.calls


def test_openapi_describes_the_hardware_routes(tmp_path: Path) -> None:
    with serving(tmp_path, hardware_interval_s=0) as (_, client):
        spec = client.get("/openapi.json").json()
    assert spec["paths"]["/hardware"]["get"]["tags"] == ["hardware"]
    gpu = spec["components"]["schemas"]["GpuInfo"]["properties"]
    assert gpu["tensor_cores"]["description"].startswith("Compute capability 7.0")


def test_cli_hardware_json_table_and_no_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    gpus = two_gpus()
    gpus[0].width = (8, 16)
    fake = FakeNvml(monkeypatch, gpus)
    runner = CliRunner()
    result = runner.invoke(app, ["hardware", "--format", "json", "--findings"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [g["pci_bus_id"] for g in data["gpus"]] == ["00000000:19:00.0", "00000000:3B:00.0"]
    assert data["vendor"] == "nvidia" and data["cuda_version"] == "12.4"
    found = {f["id"] for f in data["findings"]}
    assert {"multi_gpu_parallelization", "pcie_bottleneck_gpu0", "tensor_cores_gpu1"} <= found
    assert fake.calls["nvmlShutdown"] == 1
    table = runner.invoke(app, ["hardware"])
    assert table.exit_code == 0 and "NVIDIA H100 80GB HBM3" in table.stdout
    fake.init_error = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    missing = runner.invoke(app, ["hardware", "--format", "csv"])
    assert missing.exit_code == 0
    assert "gpu_reason,NVML not available: Driver Not Loaded" in missing.stdout
    plain = runner.invoke(app, ["hardware"])
    assert "No GPUs: NVML not available: Driver Not Loaded" in plain.stdout


def test_first_sample_is_in_the_feed_before_the_service_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    FakeNvml(monkeypatch, two_gpus())
    tree = tmp_path / "tree"
    tree.mkdir()
    with Store.open(tmp_path / "live.duckdb") as store:
        service = Service(tree, store, load_settings(tree, hardware_interval_s=3600))
        service.start()  # no sync: the start-up reconcile may still run
        try:
            with service.store.reader() as reader:
                ids = [event[0] for event in events(reader)]
            assert "multi_gpu_parallelization" in ids
            assert service.findings_seq >= len(ids)
            answer = TestClient(create_app(service)).get("/hardware/gpus")
            assert answer.status_code == 200 and len(answer.json()["gpus"]) == 2
        finally:
            service.stop()
