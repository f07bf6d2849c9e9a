#!/usr/bin/env python3
"""Hardware benchmark: the cost of one hardware sample and of GET /hardware from the cache.

- A sample (`Probe.sample`: CPU, memory, two disks, NVML) on this machine, many times, beside
  the floor of the bare psutil calls it is built on (cpu_percent, cpu_freq, virtual_memory,
  swap_memory, two disk_usage) measured in the same run. On a machine without NVIDIA GPUs the
  NVML part is the "not available" path; a second series replaces `pynvml` functions with
  instant Python fakes of two GPUs (one process each) to measure our own per-GPU work (not the
  driver's). On a GPU machine the first series is the real thing.
- GET /hardware and GET /hardware/gpus from a running service (answered from the sampler's
  cache) served by uvicorn on loopback, over one kept-alive HTTP connection (as a polling
  consumer holds one), beside GET /health over the same connection.

Targets: a sample <= 20 ms (median), the endpoint <= 5 ms (p95). It prints a Markdown section;
--write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pynvml
import uvicorn
from bench_index import emit_section, machine, percentile, spread

from graphsvc.api import create_app
from graphsvc.config import load_settings
from graphsvc.hardware import Probe
from graphsvc.service import Service
from graphsvc.store import Store

TARGET_SAMPLE_MS = 20.0
TARGET_ENDPOINT_P95_MS = 5.0


def timed(action: Callable[[], object], runs: int) -> list[float]:
    action()  # warm-up
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def psutil_floor(paths: list[Path]) -> None:
    psutil.cpu_percent(interval=None)
    psutil.cpu_freq()
    psutil.virtual_memory()
    psutil.swap_memory()
    for path in paths:
        psutil.disk_usage(str(path))


def fake_two_gpus() -> dict[str, Any]:
    """Instant NVML answers for two GPUs (what the test suite fakes, without the counting)."""
    gib = 1 << 30
    gpus = [SimpleNamespace(index=i, uuid=f"GPU-{i}", pid=os.getpid()) for i in range(2)]
    return {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlSystemGetDriverVersion": lambda: "550.54.15",
        "nvmlSystemGetCudaDriverVersion": lambda: 12040,
        "nvmlDeviceGetCount": lambda: len(gpus),
        "nvmlDeviceGetHandleByIndex": lambda i: gpus[i],
        "nvmlDeviceGetName": lambda g: "NVIDIA H100 80GB HBM3",
        "nvmlDeviceGetUUID": lambda g: g.uuid,
        "nvmlDeviceGetPciInfo": lambda g: SimpleNamespace(busId=f"00000000:{g.index:02X}:00.0"),
        "nvmlDeviceGetMemoryInfo": lambda g, version=None: SimpleNamespace(  # v2: reserved
            total=80 * gib, used=gib, free=79 * gib - gib // 2, reserved=gib // 2
        ),
        "nvmlDeviceGetUtilizationRates": lambda g: SimpleNamespace(gpu=50, memory=20),
        "nvmlDeviceGetTemperature": lambda g, sensor: 45,
        "nvmlDeviceGetPowerUsage": lambda g: 300_000,
        "nvmlDeviceGetEnforcedPowerLimit": lambda g: 700_000,
        "nvmlDeviceGetCudaComputeCapability": lambda g: (9, 0),
        "nvmlDeviceGetCurrPcieLinkGeneration": lambda g: 5,
        "nvmlDeviceGetMaxPcieLinkGeneration": lambda g: 5,
        "nvmlDeviceGetCurrPcieLinkWidth": lambda g: 16,
        "nvmlDeviceGetMaxPcieLinkWidth": lambda g: 16,
        "nvmlDeviceGetComputeRunningProcesses": lambda g: [
            SimpleNamespace(pid=g.pid, usedGpuMemory=gib)
        ],
        "nvmlDeviceGetGraphicsRunningProcesses": lambda g: [],
    }


def sample_series(work: Path, runs: int) -> dict[str, list[float]]:
    paths = {"tree": work, "db": work / "db" / "graph.duckdb"}
    probe = Probe(paths)  # type: ignore[arg-type]
    real = timed(probe.sample, runs)
    state = probe.sample().gpu_state
    probe.close()
    floor = timed(lambda: psutil_floor([work, work]), runs)
    saved = {name: getattr(pynvml, name) for name in fake_two_gpus()}
    for name, fn in fake_two_gpus().items():
        setattr(pynvml, name, fn)
    try:
        fake_probe = Probe(paths)  # type: ignore[arg-type]
        fake = timed(fake_probe.sample, runs)
        assert len(fake_probe.sample().gpus) == 2
        fake_probe.close()
    finally:
        for name, fn in saved.items():
            setattr(pynvml, name, fn)
    return {"real": real, "floor": floor, "fake": fake, "state": [0.0 if state == "ok" else 1.0]}


def endpoint_series(work: Path, runs: int) -> dict[str, list[float]]:
    tree = work / "tree"
    tree.mkdir()
    (tree / "m.py").write_text("x = 1\n", encoding="utf-8")
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    with Store.open(work / "live.duckdb") as store:
        service = Service(tree, store, load_settings(tree, jobs=1, hardware_interval_s=1.0))
        service.start()
        config = uvicorn.Config(
            create_app(service), host="127.0.0.1", port=port, log_config=None,
            access_log=False, lifespan="off",
        )  # fmt: skip
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            service.sync(timeout=60)
            deadline = time.monotonic() + 30
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.01)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

            def get(path: str) -> Callable[[], object]:
                def call() -> object:
                    connection.request("GET", path)
                    answer = connection.getresponse()
                    body = answer.read()
                    assert answer.status == 200, body
                    return body

                return call

            series = {
                "hardware": timed(get("/hardware"), runs),
                "gpus": timed(get("/hardware/gpus"), runs),
                "health": timed(get("/health"), runs),
            }
            connection.close()
            return series
        finally:
            server.should_exit = True
            thread.join()
            service.stop()


def ms(samples: list[float], q: float) -> float:
    return percentile(samples, q) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-hardware-") as tmp:
        work = Path(tmp)
        info = machine(work)
        sample = sample_series(work, args.runs)
        endpoint = endpoint_series(work, args.runs)
    real, floor, fake = sample["real"], sample["floor"], sample["fake"]
    gpu_note = "NVML ok" if sample["state"] == [0.0] else "no NVML here: the unavailable path"
    rows = [
        (f"sample, this machine ({gpu_note}): p50 / p95 (ms, n={len(real)})",
         f"{ms(real, 0.5):.3f} / {ms(real, 0.95):.3f}"),
        ("sample spread (ms)", spread(real, 1000)),
        ("floor: the bare psutil calls, p50 / p95 (ms)",
         f"{ms(floor, 0.5):.3f} / {ms(floor, 0.95):.3f}"),
        ("sample / floor, medians", f"{ms(real, 0.5) / ms(floor, 0.5):.2f}x"),
        ("sample with two fake GPUs (our per-GPU work, no driver): p50 / p95 (ms)",
         f"{ms(fake, 0.5):.3f} / {ms(fake, 0.95):.3f}"),
        ("two fake GPUs / this machine's sample, medians", f"{ms(fake, 0.5) / ms(real, 0.5):.2f}x"),
    ]  # fmt: skip
    for name, label in (("hardware", "GET /hardware"), ("gpus", "GET /hardware/gpus")):
        series = endpoint[name]
        rows.append(
            (f"{label} from cache, uvicorn, kept-alive connection: p50 / p95 (ms, n={len(series)})",
             f"{ms(series, 0.5):.3f} / {ms(series, 0.95):.3f}")
        )  # fmt: skip
    health = endpoint["health"]
    rows += [
        ("GET /health, same connection (floor): p50 / p95 (ms)",
         f"{ms(health, 0.5):.3f} / {ms(health, 0.95):.3f}"),
        ("GET /hardware / GET /health, p95",
         f"{ms(endpoint['hardware'], 0.95) / ms(health, 0.95):.2f}x"),
    ]  # fmt: skip
    lines = [f"## Hardware sample and endpoint, {info[0][8:]}", "", *info, ""]
    lines += ["| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    sample_ok = ms(real, 0.5) <= TARGET_SAMPLE_MS and ms(fake, 0.5) <= TARGET_SAMPLE_MS
    endpoint_p95 = max(ms(endpoint["hardware"], 0.95), ms(endpoint["gpus"], 0.95))
    lines += [
        "",
        f"- {'PASS' if sample_ok else 'FAIL'} sample median <= {TARGET_SAMPLE_MS:.0f} ms",
        f"- {'PASS' if endpoint_p95 <= TARGET_ENDPOINT_P95_MS else 'FAIL'} endpoint p95 "
        f"{endpoint_p95:.2f} ms <= {TARGET_ENDPOINT_P95_MS:.0f} ms",
    ]
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
