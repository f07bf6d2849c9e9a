"""A fake NVML at the library boundary: replaces ``pynvml`` functions, nothing of graphsvc's.

The fake answers the NVML calls graphsvc makes from :class:`FakeGpu` values; tests change the
GPUs (or make a call raise) between samples. Errors are the real ``pynvml.NVMLError``
subclasses, built from NVML's error codes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

GIB = 1 << 30
MIB = 1 << 20


@dataclass
class FakeGpu:
    """One GPU as the fake reports it; ``unsupported`` names NVML functions that raise
    NVMLError_NotSupported for it."""

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    bus_id: str = "00000000:19:00.0"
    total: int = 80 * GIB
    used: int = 1 * GIB  # by processes; v1 of the memory call adds `reserved` to it
    reserved: int = 512 * MIB  # the driver's own (NVML memory v2 reports it apart)
    memory_v2: bool = True  # False: a driver before 510, whose NVML lacks the v2 memory call
    util: int = 50
    mem_util: int = 20
    temperature: int = 45
    power_mw: int = 300_000
    limit_mw: int = 700_000
    capability: tuple[int, int] = (9, 0)
    gen: tuple[int, int] = (5, 5)  # current, max
    width: tuple[int, int] = (16, 16)
    compute_pids: list[tuple[int, int | None]] = field(default_factory=list)  # pid, bytes
    unsupported: set[str] = field(default_factory=set)


def error(code: int) -> pynvml.NVMLError:
    return pynvml.NVMLError(code)


class FakeNvml:
    """Installs itself over ``pynvml`` via ``monkeypatch``.

    Args:
        gpus: the GPUs (change the list or its items between samples).
        init_error: an NVML error code nvmlInit raises (NVML missing: LIBRARY_NOT_FOUND).
    """

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gpus: list[FakeGpu] | None = None,
        init_error: int | None = None,
    ) -> None:
        self.gpus = gpus if gpus is not None else []
        self.init_error = init_error
        self.raise_in: dict[str, int] = {}  # function name -> error code raised (mid-sample)
        self.calls: dict[str, int] = {}
        for name, fn in self._functions().items():
            monkeypatch.setattr(pynvml, name, self._counted(name, fn))

    def _counted(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if name in self.raise_in:
                raise error(self.raise_in[name])
            if args and isinstance(args[0], FakeGpu) and name in args[0].unsupported:
                raise error(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return fn(*args, **kwargs)

        return call

    def _init(self) -> None:
        if self.init_error is not None:
            raise error(self.init_error)

    def _functions(self) -> dict[str, Callable[..., Any]]:
        def handle(index: int) -> FakeGpu:
            if index >= len(self.gpus):
                raise error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            return self.gpus[index]

        def processes(gpu: FakeGpu) -> list[SimpleNamespace]:
            return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in gpu.compute_pids]

        def memory(gpu: FakeGpu, version: int | None = None) -> SimpleNamespace:
            free = gpu.total - gpu.used - gpu.reserved
            if version is None:  # v1: the driver's reservation counts as used
                return SimpleNamespace(total=gpu.total, used=gpu.used + gpu.reserved, free=free)
            if version != pynvml.nvmlMemory_v2 or not gpu.memory_v2:
                raise error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
            return SimpleNamespace(
                version=version, total=gpu.total, reserved=gpu.reserved, free=free, used=gpu.used
            )

        return {
            "nvmlInit": self._init,
            "nvmlShutdown": lambda: None,
            "nvmlSystemGetDriverVersion": lambda: "550.54.15",
            "nvmlSystemGetCudaDriverVersion": lambda: 12040,
            "nvmlDeviceGetCount": lambda: len(self.gpus),
            "nvmlDeviceGetHandleByIndex": handle,
            "nvmlDeviceGetName": lambda g: g.name,
            "nvmlDeviceGetUUID": lambda g: g.uuid,
            "nvmlDeviceGetPciInfo": lambda g: SimpleNamespace(busId=g.bus_id),
            "nvmlDeviceGetMemoryInfo": memory,
            "nvmlDeviceGetUtilizationRates": lambda g: SimpleNamespace(
                gpu=g.util, memory=g.mem_util
            ),
            "nvmlDeviceGetTemperature": lambda g, sensor: g.temperature,
            "nvmlDeviceGetPowerUsage": lambda g: g.power_mw,
            "nvmlDeviceGetEnforcedPowerLimit": lambda g: g.limit_mw,
            "nvmlDeviceGetCudaComputeCapability": lambda g: g.capability,
            "nvmlDeviceGetCurrPcieLinkGeneration": lambda g: g.gen[0],
            "nvmlDeviceGetMaxPcieLinkGeneration": lambda g: g.gen[1],
            "nvmlDeviceGetCurrPcieLinkWidth": lambda g: g.width[0],
            "nvmlDeviceGetMaxPcieLinkWidth": lambda g: g.width[1],
            "nvmlDeviceGetComputeRunningProcesses": processes,
            "nvmlDeviceGetGraphicsRunningProcesses": lambda g: [],
        }


def two_gpus() -> list[FakeGpu]:
    return [
        FakeGpu(compute_pids=[(os.getpid(), 2 * GIB)]),
        FakeGpu(
            name="NVIDIA H100 80GB HBM3",
            uuid="GPU-11111111-1111-1111-1111-111111111111",
            bus_id="00000000:3B:00.0",
        ),
    ]
