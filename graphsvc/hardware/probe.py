"""One hardware sample (:class:`Probe`) and the background sampler that keeps the latest one
(:class:`Sampler`): requests read the cache and never wait on NVML."""

from __future__ import annotations

import datetime as dt
import logging
import platform
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from graphsvc.hardware.host import HostProbe
from graphsvc.hardware.model import HardwareSample
from graphsvc.hardware.nvml import Nvml

log = logging.getLogger(__name__)


class Probe:
    """Takes samples; holds the NVML session (initialised at the first sample, shut down by
    :meth:`close`). Use one probe from one thread at a time.

    Args:
        paths: the watched tree and the database, whose file systems are reported.
    """

    def __init__(self, paths: dict[Literal["tree", "db"], Path] | None = None) -> None:
        self.host = HostProbe(paths or {})
        self.nvml = Nvml()
        self._hostname = socket.gethostname()
        self._os = platform.platform()

    def sample(self) -> HardwareSample:
        """The machine now."""
        started = time.perf_counter()
        at = dt.datetime.now(dt.UTC)
        cpu = self.host.cpu()
        memory = self.host.memory()
        disks = self.host.disks()
        report = self.nvml.sample()
        gpus = report.gpus
        return HardwareSample(
            sampled_at=at,
            sample_ms=round((time.perf_counter() - started) * 1000, 3),
            hostname=self._hostname,
            os=self._os,
            cpu=cpu,
            memory=memory,
            disks=disks,
            gpus=gpus,
            gpu_state=report.state,
            gpu_reason=report.reason,
            driver_version=report.driver_version,
            cuda_version=report.cuda_version,
            vendor="nvidia" if gpus else None,
            tensor_cores=any(g.tensor_cores for g in gpus),
            cuda_available=bool(gpus) and report.cuda_version is not None,
            total_vram_mb=sum(g.memory_total_mb or 0 for g in gpus),
            available_vram_mb=sum(g.memory_free_mb or 0 for g in gpus),
            cpu_cores=cpu.cores or cpu.threads,
            ram_total_mb=memory.total_mb,
            ram_available_mb=memory.available_mb,
            discovered_at=at,
        )

    def close(self) -> None:
        """Release NVML."""
        self.nvml.close()


class Sampler:
    """A thread that samples every ``interval_s`` seconds, keeps the latest sample and hands
    each to ``on_sample`` (called on the sampler thread; an exception there is logged).

    Args:
        probe: takes the samples (closed by :meth:`stop`).
        interval_s: seconds between samples.
        on_sample: called with each sample and the monotonic time it was taken.
    """

    def __init__(
        self,
        probe: Probe,
        interval_s: float,
        on_sample: Callable[[HardwareSample, float], None] | None = None,
    ) -> None:
        self.probe = probe
        self.interval_s = interval_s
        self.on_sample = on_sample
        self.samples = 0
        self.last_error: str | None = None
        self._latest: HardwareSample | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def latest(self) -> HardwareSample | None:
        """The newest sample (None before the first); reading it never blocks."""
        return self._latest

    def start(self) -> None:
        """Take the first sample on the calling thread (so ``latest`` is set once this
        returns), then sample every ``interval_s`` on a thread of its own."""
        self.sample_once()
        self._thread = threading.Thread(target=self._run, name="graphsvc-hardware", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling, wait for the thread, shut NVML down."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.probe.close()

    def sample_once(self) -> HardwareSample | None:
        """Take one sample now (the thread's step); None when even the host part failed."""
        try:
            sample = self.probe.sample()
        except Exception as exc:  # psutil on an odd platform: keep the last good sample
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("hardware sample failed: %s", self.last_error, exc_info=True)
            return None
        self._latest = sample
        self.samples += 1
        self.last_error = None
        if self.on_sample is not None:
            try:
                self.on_sample(sample, time.monotonic())
            except Exception:
                log.error("handling a hardware sample failed", exc_info=True)
        return sample

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_once()
