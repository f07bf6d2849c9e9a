"""NVIDIA GPUs through NVML (``pynvml`` of ``nvidia-ml-py``).

No NVML, no driver or no GPU is a state, not an error: the sample has ``gpus: []`` and says
why. NVML is initialised once per :class:`Nvml` and shut down by :meth:`Nvml.close`. A field
the device does not support (or that this user may not read, or that this driver lacks) is
None; any other NVML error while sampling fails the GPU part of that sample only
(``gpu_state`` ``failed``), and the next sample tries again.

Every call goes through the ``pynvml`` module's attributes at call time, so tests replace
``pynvml`` functions (the library boundary) and nothing of ours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psutil
import pynvml

from graphsvc.hardware.model import GpuInfo, GpuProcess, GpuState

log = logging.getLogger(__name__)
MIB = 1 << 20
T = TypeVar("T")
_VERSION_REFUSED = frozenset({pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH})
# Per-field errors that mean "this value is not available here", not "NVML is broken".
_FIELD_UNAVAILABLE = frozenset(
    {
        pynvml.NVML_ERROR_NOT_SUPPORTED,
        pynvml.NVML_ERROR_NO_PERMISSION,
        pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
    }
)
TENSOR_CORES_SINCE = (7, 0)  # Volta


@dataclass(frozen=True, slots=True)
class GpuReport:
    """The GPU part of a sample."""

    gpus: list[GpuInfo]
    state: GpuState
    reason: str | None
    driver_version: str | None
    cuda_version: str | None


def _optional(call: Callable[..., T], *args: object) -> T | None:
    """``call(*args)``, or None when NVML says the value is unsupported / not permitted."""
    try:
        return call(*args)
    except pynvml.NVMLError as exc:
        if getattr(exc, "value", None) in _FIELD_UNAVAILABLE:
            return None
        raise


def _memory_info(handle: object) -> Any:
    """Memory of one GPU as nvidia-smi counts it: NVML's v2 struct, whose ``used`` leaves out
    what the driver reserves for itself (``reserved``); the v1 struct counts that reservation as
    used (615 MiB on an idle H200 whose nvidia-smi says 0 MiB). A driver without v2 (before
    510) answers v1, and then ``reserved`` is unknown."""
    try:
        return pynvml.nvmlDeviceGetMemoryInfo(handle, version=pynvml.nvmlMemory_v2)
    except pynvml.NVMLError as exc:
        if getattr(exc, "value", None) not in _FIELD_UNAVAILABLE | _VERSION_REFUSED:
            raise
    return _optional(pynvml.nvmlDeviceGetMemoryInfo, handle)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def cuda_version_text(version: int | None) -> str | None:
    """NVML's CUDA driver version number (12040) as text ("12.4")."""
    if not version:
        return None
    return f"{version // 1000}.{(version % 1000) // 10}"


class Nvml:
    """An NVML session: :meth:`sample` lists the GPUs; :meth:`close` shuts NVML down."""

    def __init__(self) -> None:
        self._initialised = False
        self._unavailable: str | None = None  # why NVML could not start (not retried)

    def _start(self) -> str | None:
        if self._initialised or self._unavailable is not None:
            return self._unavailable
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            self._unavailable = f"NVML not available: {exc}"
            log.info("%s; reporting no GPUs", self._unavailable)
        except OSError as exc:  # a broken libnvidia-ml (wrong architecture, ...)
            self._unavailable = f"NVML not available: {exc}"
            log.warning("%s; reporting no GPUs", self._unavailable)
        else:
            self._initialised = True
        return self._unavailable

    def sample(self) -> GpuReport:
        """Every GPU now; never raises for NVML's sake."""
        unavailable = self._start()
        if unavailable is not None:
            return GpuReport([], "unavailable", unavailable, None, None)
        try:
            driver = _text(_optional(pynvml.nvmlSystemGetDriverVersion))
            cuda = cuda_version_text(_optional(pynvml.nvmlSystemGetCudaDriverVersion))
            count = pynvml.nvmlDeviceGetCount()
            gpus = [self._gpu(index) for index in range(count)]
        except pynvml.NVMLError as exc:
            reason = f"NVML failed while sampling: {exc}"
            log.warning("%s; no GPUs in this sample", reason)
            return GpuReport([], "failed", reason, None, None)
        if not gpus:
            return GpuReport([], "unavailable", "NVML reports no GPU", driver, cuda)
        return GpuReport(gpus, "ok", None, driver, cuda)

    def close(self) -> None:
        """Shut NVML down (once; a failure is logged)."""
        if not self._initialised:
            return
        self._initialised = False
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError as exc:
            log.warning("NVML shutdown failed: %s", exc)

    @staticmethod
    def _gpu(index: int) -> GpuInfo:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        memory = _memory_info(handle)
        reserved = getattr(memory, "reserved", None)  # v2 only
        util = _optional(pynvml.nvmlDeviceGetUtilizationRates, handle)
        pci = _optional(pynvml.nvmlDeviceGetPciInfo, handle)
        power = _optional(pynvml.nvmlDeviceGetPowerUsage, handle)
        limit = _optional(pynvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        capability = _optional(pynvml.nvmlDeviceGetCudaComputeCapability, handle)
        return GpuInfo(
            index=index,
            uuid=_text(_optional(pynvml.nvmlDeviceGetUUID, handle)),
            name=_text(_optional(pynvml.nvmlDeviceGetName, handle)),
            pci_bus_id=_text(getattr(pci, "busId", None)) if pci is not None else None,
            memory_total_mb=int(memory.total) // MIB if memory is not None else None,
            memory_used_mb=int(memory.used) // MIB if memory is not None else None,
            memory_free_mb=int(memory.free) // MIB if memory is not None else None,
            memory_reserved_mb=int(reserved) // MIB if reserved is not None else None,
            utilization_percent=int(util.gpu) if util is not None else None,
            memory_utilization_percent=int(util.memory) if util is not None else None,
            temperature_c=_optional(
                pynvml.nvmlDeviceGetTemperature, handle, pynvml.NVML_TEMPERATURE_GPU
            ),
            power_draw_w=round(power / 1000, 1) if power is not None else None,
            power_limit_w=round(limit / 1000, 1) if limit is not None else None,
            compute_capability=f"{capability[0]}.{capability[1]}" if capability else None,
            tensor_cores=tuple(capability) >= TENSOR_CORES_SINCE if capability else None,
            pcie_generation_current=_optional(pynvml.nvmlDeviceGetCurrPcieLinkGeneration, handle),
            pcie_generation_max=_optional(pynvml.nvmlDeviceGetMaxPcieLinkGeneration, handle),
            pcie_width_current=_optional(pynvml.nvmlDeviceGetCurrPcieLinkWidth, handle),
            pcie_width_max=_optional(pynvml.nvmlDeviceGetMaxPcieLinkWidth, handle),
            processes=_processes(handle),
        )


def _processes(handle: object) -> list[GpuProcess] | None:
    compute = _optional(pynvml.nvmlDeviceGetComputeRunningProcesses, handle)
    graphics = _optional(pynvml.nvmlDeviceGetGraphicsRunningProcesses, handle)
    if compute is None and graphics is None:
        return None
    found: list[GpuProcess] = []
    seen: set[tuple[int, str]] = set()
    for kind, entries in (("compute", compute or []), ("graphics", graphics or [])):
        for entry in entries:
            pid = int(entry.pid)
            if (pid, kind) in seen:
                continue
            seen.add((pid, kind))
            used: Any = getattr(entry, "usedGpuMemory", None)
            found.append(
                GpuProcess(
                    pid=pid,
                    name=_process_name(pid),
                    used_memory_mb=int(used) // MIB if used is not None else None,
                    type=kind,  # type: ignore[arg-type]
                )
            )
    return found


def _process_name(pid: int) -> str | None:
    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):  # gone, another container's pid, not permitted
        return None
