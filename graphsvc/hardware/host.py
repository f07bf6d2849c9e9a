"""CPU, memory and disks through psutil and ``/proc/cpuinfo``."""

from __future__ import annotations

import functools
import logging
import os
import platform
from pathlib import Path
from typing import Literal

import psutil

from graphsvc.hardware.model import CpuInfo, DiskInfo, MemoryInfo

log = logging.getLogger(__name__)
MIB = 1 << 20
CPUINFO = Path("/proc/cpuinfo")
# Flags that name vector or matrix units, as /proc/cpuinfo spells them (x86 "flags", Arm
# "Features"); "pni" is SSE3's name there.
_SIMD_PREFIXES = ("sse", "ssse", "avx", "amx", "fma", "f16c", "asimd", "neon", "sve")
_RENAMED = {"pni": "sse3"}


@functools.cache
def cpuinfo(path: Path = CPUINFO) -> tuple[str | None, tuple[str, ...]]:
    """(model name, SIMD flags) from the first processor of ``path`` (read once: it does not
    change while the machine runs). A missing or unreadable file gives (None, ())."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        log.debug("cannot read %s: %s", path, exc)
        return None, ()
    model: str | None = None
    flags: set[str] = set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and model is None and value.strip():
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = {_RENAMED.get(f, f) for f in value.split()}
    simd = tuple(sorted(f for f in flags if f.startswith(_SIMD_PREFIXES)))
    return model, simd


class HostProbe:
    """Samples the CPU, memory and the disks of the given paths (keeps what it needs between
    samples: the CPU-time baseline and the mount table)."""

    def __init__(self, paths: dict[Literal["tree", "db"], Path]) -> None:
        self.paths = paths
        self._primed = False
        self._fstypes: dict[str, str] | None = None

    def cpu(self) -> CpuInfo:
        """The processor now (``percent`` is the utilisation since the previous call)."""
        model, simd = cpuinfo()
        percent = psutil.cpu_percent(interval=None)  # never blocks: since the last call
        if not self._primed:
            self._primed = True
            percent_or_none: float | None = None
        else:
            percent_or_none = float(percent)
        try:
            freq = psutil.cpu_freq()
        except (OSError, NotImplementedError, FileNotFoundError):  # containers, some VMs
            freq = None
        try:
            loads: tuple[float, ...] | None = os.getloadavg()
        except OSError:
            loads = None
        return CpuInfo(
            model=model or platform.processor() or None,
            architecture=platform.machine(),
            cores=psutil.cpu_count(logical=False),
            threads=psutil.cpu_count(logical=True),
            simd_flags=list(simd),
            frequency_mhz=_positive(freq.current) if freq else None,
            frequency_max_mhz=_positive(freq.max) if freq else None,
            load_1m=round(loads[0], 2) if loads else None,
            load_5m=round(loads[1], 2) if loads else None,
            load_15m=round(loads[2], 2) if loads else None,
            percent=percent_or_none,
        )

    @staticmethod
    def memory() -> MemoryInfo:
        """RAM and swap now."""
        ram = psutil.virtual_memory()
        swap = psutil.swap_memory()
        return MemoryInfo(
            total_mb=ram.total // MIB,
            available_mb=ram.available // MIB,
            used_mb=ram.used // MIB,
            percent=float(ram.percent),
            swap_total_mb=swap.total // MIB,
            swap_used_mb=swap.used // MIB,
            swap_percent=float(swap.percent),
        )

    def disks(self) -> list[DiskInfo]:
        """The file system of each path (a path not created yet: its nearest existing parent)."""
        return [self._disk(role, path) for role, path in self.paths.items()]

    def _disk(self, role: Literal["tree", "db"], path: Path) -> DiskInfo:
        existing = _existing(path)
        mount = _mountpoint(existing) if existing is not None else None
        base = DiskInfo(
            role=role, path=str(path), mountpoint=mount, fstype=self._fstype(mount), error=None
        )
        if existing is None:
            return base.model_copy(update={"error": "no existing parent folder"})
        try:
            usage = psutil.disk_usage(str(existing))
        except OSError as exc:
            return base.model_copy(update={"error": f"{type(exc).__name__}: {exc}"})
        return base.model_copy(
            update={
                "total_mb": usage.total // MIB,
                "used_mb": usage.used // MIB,
                "free_mb": usage.free // MIB,
                "percent": float(usage.percent),
            }
        )

    def _fstype(self, mount: str | None) -> str | None:
        if mount is None:
            return None
        if self._fstypes is None or mount not in self._fstypes:  # read again after a new mount
            try:
                parts = psutil.disk_partitions(all=True)
            except OSError:
                parts = []
            self._fstypes = {p.mountpoint: p.fstype for p in parts}
        return self._fstypes.get(mount)


def _positive(value: float | None) -> float | None:
    return round(float(value), 1) if value else None


def _existing(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return None


def _mountpoint(path: Path) -> str:
    current = path.resolve()
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return str(current)
