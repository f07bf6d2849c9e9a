"""Hardware inventory: CPU, memory, disks (psutil) and NVIDIA GPUs (NVML), sampled in the
background by the service and on demand by ``graphsvc hardware``. No GPU is a state, not an
error. See README, *Hardware*."""

from graphsvc.hardware.model import (
    CpuInfo,
    DiskInfo,
    GpuInfo,
    GpuProcess,
    GpuState,
    HardwareSample,
    MemoryInfo,
)
from graphsvc.hardware.nvml import GpuReport, Nvml, cuda_version_text
from graphsvc.hardware.probe import Probe, Sampler

__all__ = [
    "CpuInfo",
    "DiskInfo",
    "GpuInfo",
    "GpuProcess",
    "GpuReport",
    "GpuState",
    "HardwareSample",
    "MemoryInfo",
    "Nvml",
    "Probe",
    "Sampler",
    "cuda_version_text",
]
