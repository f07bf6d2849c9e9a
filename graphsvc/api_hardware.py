"""``GET /hardware`` and ``GET /hardware/gpus``: the background sampler's latest sample.

Answered from the sampler's cache, never by sampling: a request costs the same with or
without GPUs and never waits on NVML.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from graphsvc.hardware import GpuInfo, GpuState, HardwareSample
from graphsvc.service import Service

RETRY_AFTER_S = 1


class HardwareModel(HardwareSample):
    """The machine as last sampled (``sampled_at``), with the graph's ``as_of``."""

    as_of: int = Field(description="Last committed batch", examples=[42])
    interval_s: float = Field(description="Seconds between samples", examples=[5.0])


class GpusModel(BaseModel):
    """The NVIDIA GPUs as last sampled; ``gpus`` is empty with a ``reason`` when there is no
    NVML, no driver or no GPU, or NVML failed during that sample."""

    as_of: int = Field(description="Last committed batch")
    sampled_at: dt.datetime
    gpus: list[GpuInfo]
    state: GpuState
    reason: str | None = Field(examples=[None])
    driver_version: str | None
    cuda_version: str | None
    cuda_available: bool
    total_vram_mb: int
    available_vram_mb: int


class NotSampled(BaseModel):
    detail: str


def hardware_router(service: Service) -> APIRouter:
    """The hardware routes over ``service``'s sampler."""
    router = APIRouter(tags=["hardware"])
    unavailable = {
        503: {"model": NotSampled, "description": "No sample yet, or the sampler is off"}
    }

    def latest() -> HardwareSample:
        sample = service.hardware.latest
        if sample is not None:
            return sample
        if service.settings.hardware_interval_s <= 0:
            detail = "hardware sampling is off (GRAPHSVC_HARDWARE_INTERVAL_S=0)"
        else:
            detail = "no hardware sample yet; retry in a moment"
        raise HTTPException(503, detail, headers={"Retry-After": str(RETRY_AFTER_S)})

    @router.get("/hardware", responses=unavailable)  # type: ignore[arg-type]
    def hardware() -> HardwareModel:
        """CPU (model, cores, SIMD flags, clock, load), memory and swap, the disks of the tree
        and the database, and every NVIDIA GPU, as of the last background sample."""
        sample = latest()
        return HardwareModel(
            **dict(sample), as_of=service.as_of, interval_s=service.hardware.interval_s
        )

    @router.get("/hardware/gpus", responses=unavailable)  # type: ignore[arg-type]
    def gpus() -> GpusModel:
        """The NVIDIA GPUs only (NVML): memory, utilisation, temperature, power, compute
        capability, PCIe link, processes."""
        sample = latest()
        return GpusModel(
            as_of=service.as_of,
            sampled_at=sample.sampled_at,
            gpus=sample.gpus,
            state=sample.gpu_state,
            reason=sample.gpu_reason,
            driver_version=sample.driver_version,
            cuda_version=sample.cuda_version,
            cuda_available=sample.cuda_available,
            total_vram_mb=sample.total_vram_mb,
            available_vram_mb=sample.available_vram_mb,
        )

    return router
