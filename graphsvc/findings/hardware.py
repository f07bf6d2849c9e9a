"""Hardware findings: what a hardware sample suggests, in the finding contract's shape.

They are not rows of a saved query: :class:`HardwareRules` turns each sample into findings
(``query`` is ``hardware``) and :meth:`Refresher.run_source` diffs them into the same
``findings`` table and ``finding_events`` feed. Ids are fixed (``multi_gpu_parallelization``,
``tensor_cores_gpu<i>``, ``pcie_bottleneck_gpu<i>``, ``gpu_underutilization_gpu<i>``,
``memory_pressure_investigation``, ``vram_optimization_strategy``, ``cpu_simd_opportunity``).

Evidence holds only what stays put while a condition lasts (names, sizes, link widths,
thresholds), never the moving numbers (load, free memory): a finding changes its
``evidence_hash`` when the situation changes, not at every sample. The live numbers are at
``GET /hardware``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from graphsvc.config import Settings
from graphsvc.errors import GraphsvcError
from graphsvc.findings.model import Finding
from graphsvc.findings.refresh import Refresher, RefreshResult
from graphsvc.hardware import GpuInfo, HardwareSample
from graphsvc.store import Store

log = logging.getLogger(__name__)
SOURCE = "hardware"  # the findings' ``query``: the Refresher's name for this source
_WIDE_SIMD = ("avx2", "avx512f", "amx_tile", "asimd", "sve")
_PRECISIONS = (((9, 0), "fp8"), ((8, 0), "bf16"), ((8, 0), "tf32"), ((7, 0), "fp16"))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the hardware findings fire (GRAPHSVC_HARDWARE_* settings)."""

    window_s: float = 300.0  # gpu_underutilization: below the threshold for this long
    gpu_util_min_percent: float = 10.0
    ram_available_min_percent: float = 10.0
    vram_used_max_percent: float = 90.0

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        """The thresholds the GRAPHSVC_HARDWARE_* settings give."""
        return cls(
            window_s=settings.hardware_window_s,
            gpu_util_min_percent=settings.hardware_gpu_util_min_percent,
            ram_available_min_percent=settings.hardware_ram_available_min_percent,
            vram_used_max_percent=settings.hardware_vram_used_max_percent,
        )


def _finding(fid: str, kind: str, question: str, evidence: list[str], **fields: Any) -> Finding:
    """A hardware finding: its id is also its hypothesis; ``fields`` as :meth:`Finding.of`."""
    return Finding.of(
        id=fid, kind=kind, query=SOURCE, hypothesis=fid, question=question, evidence=evidence,
        **fields,
    )  # fmt: skip


def _gpu_line(gpu: GpuInfo) -> str:
    return f"gpu{gpu.index}: {gpu.name or 'unknown'} ({gpu.memory_total_mb or '?'} MiB)"


class HardwareRules:
    """Turns samples into findings; keeps, per GPU, since when it has been below the
    utilisation threshold (the sampling window of ``gpu_underutilization``).

    Args:
        thresholds: when the findings fire.
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._idle_since: dict[str, float] = {}  # gpu uuid (or index) -> monotonic time
        self._gpu_findings: list[Finding] = []  # the last sample's GPU findings

    def evaluate(self, sample: HardwareSample, now: float) -> list[Finding]:
        """The findings ``sample`` (taken at monotonic time ``now``) supports, by id.

        When NVML failed during this sample (``gpu_state`` failed) the GPU findings of the
        previous sample stand: a transient driver error must not read as "fixed".
        """
        if sample.gpu_state == "failed":
            gpu_findings = self._gpu_findings
        else:
            gpu_findings = self._gpus(sample, now)
            self._gpu_findings = gpu_findings
        found = [*gpu_findings, *self._host(sample)]
        return sorted(found, key=lambda f: f.id)

    # ------------------------------------------------------------------ GPUs

    def _gpus(self, sample: HardwareSample, now: float) -> list[Finding]:
        found: list[Finding] = []
        gpus = sample.gpus
        if len(gpus) >= 2:
            names = ", ".join(sorted({g.name or "unknown" for g in gpus}))
            found.append(
                _finding(
                    "multi_gpu_parallelization",
                    "multi_gpu_parallelization",
                    f"This machine has {len(gpus)} NVIDIA GPUs ({names}); does the workload "
                    "spread across them (one job per GPU, data or model parallelism)?",
                    [f"gpu_count: {len(gpus)}", *(_gpu_line(g) for g in gpus)],
                    severity="medium",
                    confidence=0.9,
                    action="explore",
                    autonomy=2,
                    value=0.6,
                    cost=0.5,
                    capability="hardware.gpu.multi_gpu",
                    metadata={"gpu_count": len(gpus)},
                )
            )
        for gpu in gpus:
            found.extend(self._one_gpu(gpu, now))
        seen = {_key(g) for g in gpus}
        for key in set(self._idle_since) - seen:  # a GPU that went away starts over
            del self._idle_since[key]
        vram = self._vram(gpus)
        if vram is not None:
            found.append(vram)
        return found

    def _one_gpu(self, gpu: GpuInfo, now: float) -> list[Finding]:
        found: list[Finding] = []
        i = gpu.index
        base = [f"gpu_index: {i}", f"gpu_name: {gpu.name or 'unknown'}"]
        if gpu.tensor_cores:
            precisions = ", ".join(p for since, p in _PRECISIONS if _cc(gpu) >= since)
            found.append(
                _finding(
                    f"tensor_cores_gpu{i}",
                    "tensor_cores",
                    f"GPU {i} ({gpu.name}, compute capability {gpu.compute_capability}) has "
                    f"tensor cores; does the code run its matrix work in {precisions} "
                    "(mixed precision) so they are used?",
                    [
                        *base,
                        f"compute_capability: {gpu.compute_capability}",
                        f"tensor_core_precisions: {precisions}",
                    ],
                    severity="low",
                    confidence=0.8,
                    action="experiment",
                    autonomy=2,
                    value=0.5,
                    cost=0.3,
                    capability="hardware.gpu.tensor_cores",
                )
            )
        pcie = self._pcie(gpu, base)
        if pcie is not None:
            found.append(pcie)
        idle = self._idle(gpu, now, base)
        if idle is not None:
            found.append(idle)
        return found

    def _pcie(self, gpu: GpuInfo, base: list[str]) -> Finding | None:
        """Link narrower than the device and slot allow, a slot narrower than x16, or (while
        the GPU is busy: idle GPUs lower their link speed to save power) a lower generation."""
        width, width_max = gpu.pcie_width_current, gpu.pcie_width_max
        gen, gen_max = gpu.pcie_generation_current, gpu.pcie_generation_max
        reasons: list[str] = []
        if width is not None and width_max is not None and width < width_max:
            reasons.append(f"link width x{width} below the x{width_max} the device and slot allow")
        if width_max is not None and width_max < 16:
            reasons.append(f"widest possible link is x{width_max}, below x16")
        busy = (gpu.utilization_percent or 0) >= self.thresholds.gpu_util_min_percent
        if gen is not None and gen_max is not None and gen < gen_max and busy:
            reasons.append(f"running at PCIe gen{gen} under load, gen{gen_max} possible")
        if not reasons:
            return None
        evidence = [*base, *(f"reason: {r}" for r in reasons)]
        if width is not None:
            evidence.append(f"pcie_width_current: x{width}")
        evidence.extend(
            f"{key}: {value}"
            for key, value in (("pcie_width_max", width_max), ("pcie_generation_max", gen_max))
            if value is not None
        )
        return _finding(
            f"pcie_bottleneck_gpu{gpu.index}",
            "pcie_bottleneck",
            f"GPU {gpu.index} ({gpu.name}) has a limited PCIe link ({'; '.join(reasons)}); is "
            "host-to-device transfer slowing the workload, and would another slot or riser fix "
            "it?",
            evidence,
            severity="medium",
            confidence=0.7,
            action="investigate",
            autonomy=1,
            value=0.4,
            cost=0.3,
            capability="hardware.gpu.pcie",
        )

    def _idle(self, gpu: GpuInfo, now: float, base: list[str]) -> Finding | None:
        t = self.thresholds
        key = _key(gpu)
        util = gpu.utilization_percent
        if util is None or util >= t.gpu_util_min_percent:
            self._idle_since.pop(key, None)
            return None
        since = self._idle_since.setdefault(key, now)
        if now - since < t.window_s:
            return None
        return _finding(
            f"gpu_underutilization_gpu{gpu.index}",
            "gpu_underutilization",
            f"GPU {gpu.index} ({gpu.name}) stayed below {t.gpu_util_min_percent:g}% "
            f"utilisation for {t.window_s:g} s; is work that could use it running on the CPU, "
            "or could it be given to another job?",
            [*base, f"threshold_percent: {t.gpu_util_min_percent:g}", f"window_s: {t.window_s:g}"],
            severity="low",
            confidence=0.7,
            action="investigate",
            autonomy=2,
            value=0.5,
            cost=0.4,
            capability="hardware.gpu.utilization",
        )

    def _vram(self, gpus: list[GpuInfo]) -> Finding | None:
        limit = self.thresholds.vram_used_max_percent
        full = [
            g
            for g in gpus
            if g.memory_total_mb and (g.memory_used_mb or 0) * 100 >= limit * g.memory_total_mb
        ]
        if not full:
            return None
        which = ", ".join(f"GPU {g.index}" for g in full)
        return _finding(
            "vram_optimization_strategy",
            "vram_optimization",
            f"GPU memory is at least {limit:g}% used on {which}; would mixed precision, "
            "quantisation, smaller batches or activation checkpointing leave headroom?",
            [*(_gpu_line(g) for g in full), f"threshold_percent: {limit:g}"],
            severity="medium",
            confidence=0.7,
            action="experiment",
            autonomy=2,
            value=0.6,
            cost=0.4,
            capability="hardware.gpu.vram",
        )

    # ------------------------------------------------------------------ host

    def _host(self, sample: HardwareSample) -> list[Finding]:
        found: list[Finding] = []
        memory = sample.memory
        limit = self.thresholds.ram_available_min_percent
        if memory.total_mb and memory.available_mb * 100 < limit * memory.total_mb:
            found.append(
                _finding(
                    "memory_pressure_investigation",
                    "memory_pressure",
                    f"Less than {limit:g}% of RAM ({memory.total_mb} MiB) is available; which "
                    "process holds it, and is the machine about to swap or kill processes?",
                    [
                        f"ram_total_mb: {memory.total_mb}",
                        f"swap_total_mb: {memory.swap_total_mb}",
                        f"threshold_percent: {limit:g}",
                    ],
                    severity="high",
                    confidence=0.8,
                    action="investigate",
                    autonomy=1,
                    value=0.7,
                    cost=0.3,
                    capability="hardware.memory",
                )
            )
        simd = [f for f in sample.cpu.simd_flags if f.startswith(_WIDE_SIMD)]
        if simd:
            found.append(
                _finding(
                    "cpu_simd_opportunity",
                    "cpu_simd",
                    f"The CPU ({sample.cpu.model or 'unknown'}) supports {', '.join(simd[:4])}"
                    f"{' and more' if len(simd) > 4 else ''}; are the numeric libraries built "
                    "to use these vector units (not a generic baseline build)?",
                    [f"cpu_model: {sample.cpu.model or 'unknown'}", f"simd: {', '.join(simd)}"],
                    severity="low",
                    confidence=0.6,
                    action="explore",
                    autonomy=1,
                    value=0.3,
                    cost=0.2,
                    capability="hardware.cpu.simd",
                )
            )
        return found


def _key(gpu: GpuInfo) -> str:
    return gpu.uuid or f"index-{gpu.index}"


def _cc(gpu: GpuInfo) -> tuple[int, int]:
    major, _, minor = (gpu.compute_capability or "0.0").partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return 0, 0


class HardwareFeed:
    """Carries hardware findings from the sampler thread to the writer thread.

    :meth:`on_sample` runs on the sampler thread (rules only, no database); :meth:`flush`
    runs on the thread that owns the writer and diffs the newest set into the feed. Only the
    newest set waits: a slow writer skips intermediate samples, never queues them.
    """

    def __init__(self, rules: HardwareRules) -> None:
        self.rules = rules
        self._pending: list[Finding] | None = None
        self._lock = threading.Lock()

    def on_sample(self, sample: HardwareSample, now: float) -> None:
        """Evaluate ``sample`` (taken at monotonic ``now``) and keep its findings for flush."""
        found = self.rules.evaluate(sample, now)
        with self._lock:
            self._pending = found

    def flush(self, refresher: Refresher, store: Store, as_of: int) -> RefreshResult | None:
        """Diff the newest findings into ``store`` (None: nothing new since the last flush).
        A failed write is logged and retried at the next flush."""
        with self._lock:
            found, self._pending = self._pending, None
        if found is None:
            return None
        try:
            return refresher.run_source(store, SOURCE, found, as_of)
        except Exception as exc:  # a source must never fail the batch that flushed it
            log.error(
                "hardware findings not written (retried): %s",
                exc,
                exc_info=not isinstance(exc, GraphsvcError),
            )
            with self._lock:
                if self._pending is None:
                    self._pending = found
            return None
