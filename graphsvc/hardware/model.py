"""What one hardware sample holds: CPU, memory, disks and NVIDIA GPUs (response models too).

Sizes are in MiB (``*_mb``), times are UTC. A value the platform or the driver does not report
is ``None``, never a guess.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GpuState = Literal["ok", "unavailable", "failed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CpuInfo(_Frozen):
    """The processor."""

    model: str | None = Field(
        description="Model name from /proc/cpuinfo", examples=["AMD EPYC 9654 96-Core Processor"]
    )
    architecture: str = Field(description="Machine type", examples=["x86_64"])
    cores: int | None = Field(description="Physical cores", examples=[16])
    threads: int | None = Field(description="Logical CPUs (hardware threads)", examples=[32])
    simd_flags: list[str] = Field(
        description="Vector and matrix extensions the CPU reports (SSE, AVX, AVX-512, AMX, "
        "NEON/ASIMD, SVE), sorted",
        examples=[["avx", "avx2", "avx512f", "fma", "sse4_2"]],
    )
    frequency_mhz: float | None = Field(description="Current clock", examples=[2400.0])
    frequency_max_mhz: float | None = Field(description="Maximum clock", examples=[3700.0])
    load_1m: float | None = Field(description="Load average over 1 minute", examples=[0.52])
    load_5m: float | None = Field(description="Load average over 5 minutes")
    load_15m: float | None = Field(description="Load average over 15 minutes")
    percent: float | None = Field(
        description="CPU utilisation since the previous sample (None on the first)",
        examples=[12.5],
    )


class MemoryInfo(_Frozen):
    """RAM and swap."""

    total_mb: int = Field(examples=[128_000])
    available_mb: int = Field(description="Available to new processes without swapping")
    used_mb: int
    percent: float = Field(description="Used share of RAM", examples=[41.2])
    swap_total_mb: int
    swap_used_mb: int
    swap_percent: float


class DiskInfo(_Frozen):
    """The file system under the watched tree or the database."""

    role: Literal["tree", "db"] = Field(description="Which path this is", examples=["tree"])
    path: str = Field(description="The path asked about")
    mountpoint: str | None = Field(description="Mount point holding it", examples=["/"])
    fstype: str | None = Field(description="File system type", examples=["ext4"])
    total_mb: int | None = None
    used_mb: int | None = None
    free_mb: int | None = None
    percent: float | None = Field(default=None, description="Used share of the file system")
    error: str | None = Field(default=None, description="Why the usage could not be read")


class GpuProcess(_Frozen):
    """A process with a context on a GPU."""

    pid: int
    name: str | None = Field(description="Process name (None: not visible from here)")
    used_memory_mb: int | None = Field(description="GPU memory it uses (None: not reported)")
    type: Literal["compute", "graphics"]


class GpuInfo(_Frozen):
    """One NVIDIA GPU as NVML reports it; a field the device does not support is None."""

    index: int = Field(examples=[0])
    uuid: str | None = Field(examples=["GPU-5d1c0a3e-8b6e-4f7a-9c1d-2e3f4a5b6c7d"])
    name: str | None = Field(examples=["NVIDIA H100 80GB HBM3"])
    vendor: str = Field(default="nvidia", examples=["nvidia"])
    pci_bus_id: str | None = Field(examples=["00000000:19:00.0"])
    memory_total_mb: int | None = Field(examples=[81_559])
    memory_used_mb: int | None = Field(
        default=None,
        description="Memory in use by processes, as nvidia-smi counts it: without the driver's "
        "own reservation (memory_reserved_mb)",
    )
    memory_free_mb: int | None = None
    memory_reserved_mb: int | None = Field(
        default=None,
        description="Memory the driver reserves for itself (NVML memory v2; None on drivers "
        "without it)",
    )
    utilization_percent: int | None = Field(
        description="GPU busy share over the driver's last sampling period", examples=[87]
    )
    memory_utilization_percent: int | None = Field(
        description="Share of time device memory was read or written"
    )
    temperature_c: int | None = Field(examples=[54])
    power_draw_w: float | None = Field(examples=[312.4])
    power_limit_w: float | None = Field(description="Enforced power limit", examples=[700.0])
    compute_capability: str | None = Field(examples=["9.0"])
    tensor_cores: bool | None = Field(
        description="Compute capability 7.0 or newer (Volta and later); None when unknown"
    )
    pcie_generation_current: int | None = Field(examples=[5])
    pcie_generation_max: int | None = Field(description="Highest the device and slot allow")
    pcie_width_current: int | None = Field(examples=[16])
    pcie_width_max: int | None = Field(description="Widest the device and slot allow")
    processes: list[GpuProcess] | None = Field(
        description="Compute and graphics processes (None: not reported)"
    )


class HardwareSample(_Frozen):
    """One inventory of the machine: what ``GET /hardware`` and ``graphsvc hardware`` show."""

    sampled_at: dt.datetime = Field(description="When this sample was taken (UTC)")
    sample_ms: float = Field(description="How long taking it took")
    hostname: str
    os: str = Field(examples=["Linux-6.8.0-x86_64-with-glibc2.39"])
    cpu: CpuInfo
    memory: MemoryInfo
    disks: list[DiskInfo]
    gpus: list[GpuInfo]
    gpu_state: GpuState = Field(
        description="ok | unavailable (no NVML, no driver, no GPU) | failed (NVML raised "
        "while sampling: gpus is empty for this sample)"
    )
    gpu_reason: str | None = Field(
        description="Why gpus is empty",
        examples=["NVML not available: NVML Shared Library Not Found"],
    )
    driver_version: str | None = Field(examples=["550.54.15"])
    cuda_version: str | None = Field(
        description="Highest CUDA the driver supports", examples=["12.4"]
    )
    # The fields the curiosity core's old hardware monitor already read.
    vendor: str | None = Field(description="nvidia when a GPU was found", examples=["nvidia"])
    tensor_cores: bool = Field(description="Some GPU has tensor cores")
    cuda_available: bool = Field(description="A CUDA driver and at least one GPU are present")
    total_vram_mb: int = Field(description="Sum over the GPUs")
    available_vram_mb: int = Field(description="Free GPU memory, summed")
    cpu_cores: int | None = Field(description="Physical cores (logical when unknown)")
    ram_total_mb: int
    ram_available_mb: int
    discovered_at: dt.datetime = Field(description="Same as sampled_at")
