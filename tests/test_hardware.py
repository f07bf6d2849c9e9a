"""The hardware inventory and its findings. CPU, memory and disks are this machine's (real
psutil); NVML is faked at ``pynvml`` (see nvml_fake.py) for 0, 1 and 2 GPUs, a PCIe x8 link,
unsupported fields, NVML missing and NVML failing mid-sample."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pynvml
import pytest
from nvml_fake import GIB, FakeGpu, FakeNvml, two_gpus

from graphsvc.findings import Finding, HardwareRules, Thresholds
from graphsvc.hardware import HardwareSample, Probe, cuda_version_text
from graphsvc.hardware.host import cpuinfo


def sample_with(paths: dict[str, Path] | None = None) -> tuple[Probe, HardwareSample]:
    probe = Probe(paths)  # type: ignore[arg-type]
    return probe, probe.sample()


def ids(found: list[Finding]) -> list[str]:
    return [f.id for f in found]


def test_no_nvml_is_a_state_not_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeNvml(monkeypatch, init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    probe, sample = sample_with({"tree": tmp_path, "db": tmp_path / "db" / "g.duckdb"})
    again = probe.sample()
    probe.close()
    assert sample.gpus == [] and sample.gpu_state == "unavailable"
    assert sample.gpu_reason == "NVML not available: NVML Shared Library Not Found"
    assert (sample.vendor, sample.cuda_available, sample.tensor_cores) == (None, False, False)
    assert sample.total_vram_mb == sample.available_vram_mb == 0
    assert fake.calls["nvmlInit"] == 1 and again.gpu_reason == sample.gpu_reason  # not retried
    assert "nvmlShutdown" not in fake.calls  # nothing to shut down
    # The host part is this machine's, read for real.
    assert sample.ram_total_mb == psutil.virtual_memory().total >> 20
    assert 0 < sample.ram_available_mb <= sample.ram_total_mb
    assert sample.cpu.threads == psutil.cpu_count() and sample.cpu_cores
    assert sample.cpu.percent is None and again.cpu.percent is not None  # needs a baseline
    assert [d.role for d in sample.disks] == ["tree", "db"]
    db_disk = sample.disks[1]  # its folder does not exist yet: the nearest parent's disk
    assert db_disk.error is None and db_disk.total_mb and db_disk.mountpoint
    assert sample.discovered_at == sample.sampled_at


def test_zero_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml(monkeypatch, [])
    _, sample = sample_with()
    assert sample.gpus == [] and sample.gpu_state == "unavailable"
    assert sample.gpu_reason == "NVML reports no GPU"
    assert sample.driver_version == "550.54.15" and not sample.cuda_available


def test_one_gpu_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = 2**22 + 17  # above the kernel's pid_max: no such process
    gpu = FakeGpu(used=30 * GIB, compute_pids=[(os.getpid(), 3 * GIB), (gone, None)])
    fake = FakeNvml(monkeypatch, [gpu])
    probe, sample = sample_with()
    probe.close()
    [info] = sample.gpus
    assert info.model_dump(exclude={"processes"}) == {
        "index": 0, "uuid": gpu.uuid, "name": "NVIDIA H100 80GB HBM3", "vendor": "nvidia",
        "pci_bus_id": "00000000:19:00.0", "memory_total_mb": 81920, "memory_used_mb": 30720,
        "memory_free_mb": 50688, "memory_reserved_mb": 512, "utilization_percent": 50,
        "memory_utilization_percent": 20,
        "temperature_c": 45, "power_draw_w": 300.0, "power_limit_w": 700.0,
        "compute_capability": "9.0", "tensor_cores": True, "pcie_generation_current": 5,
        "pcie_generation_max": 5, "pcie_width_current": 16, "pcie_width_max": 16,
    }  # fmt: skip
    assert [(p.pid, p.name, p.used_memory_mb, p.type) for p in info.processes or []] == [
        (os.getpid(), psutil.Process().name(), 3072, "compute"),
        (gone, None, None, "compute"),
    ]
    assert (sample.gpu_state, sample.gpu_reason, sample.vendor) == ("ok", None, "nvidia")
    assert sample.cuda_version == "12.4" and sample.cuda_available and sample.tensor_cores
    assert (sample.total_vram_mb, sample.available_vram_mb) == (81920, 50688)
    assert fake.calls["nvmlInit"] == 1 and fake.calls["nvmlShutdown"] == 1


def test_driver_without_memory_v2_counts_the_reservation_as_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A driver before 510 has only NVML's v1 memory call: its `used` includes the driver's
    reservation, and the reservation is unknown (None), not 0."""
    FakeNvml(monkeypatch, [FakeGpu(used=30 * GIB, memory_v2=False)])
    _, sample = sample_with()
    [info] = sample.gpus
    assert (info.memory_used_mb, info.memory_free_mb, info.memory_reserved_mb) == (
        30720 + 512,
        50688,
        None,
    )
    assert sample.gpu_state == "ok"


def test_unsupported_fields_are_null_not_a_failed_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = FakeGpu(
        unsupported={
            "nvmlDeviceGetTemperature", "nvmlDeviceGetPowerUsage", "nvmlDeviceGetCurrPcieLinkWidth",
            "nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses",
            "nvmlDeviceGetCudaComputeCapability",
        }
    )  # fmt: skip
    FakeNvml(monkeypatch, [gpu])
    _, sample = sample_with()
    [info] = sample.gpus
    assert sample.gpu_state == "ok"
    assert info.temperature_c is None and info.power_draw_w is None
    assert info.pcie_width_current is None and info.pcie_width_max == 16
    assert info.processes is None
    assert info.compute_capability is None and info.tensor_cores is None  # unknown, not False
    assert info.power_limit_w == 700.0 and info.memory_total_mb == 81920


def test_nvml_failing_mid_sample_empties_that_sample_only(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml(monkeypatch, two_gpus())
    probe = Probe()
    first = probe.sample()
    fake.raise_in["nvmlDeviceGetUtilizationRates"] = pynvml.NVML_ERROR_GPU_IS_LOST
    failed = probe.sample()
    del fake.raise_in["nvmlDeviceGetUtilizationRates"]
    back = probe.sample()
    probe.close()
    assert len(first.gpus) == 2 and first.gpu_state == "ok"
    assert failed.gpus == [] and failed.gpu_state == "failed"
    assert failed.gpu_reason == "NVML failed while sampling: GPU is lost"
    assert failed.ram_total_mb == first.ram_total_mb  # the host part is still there
    assert len(back.gpus) == 2 and back.gpu_state == "ok"
    assert fake.calls["nvmlInit"] == 1  # one session throughout


def test_two_gpus_and_their_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    gpus = two_gpus()
    gpus[1].capability = (6, 1)  # a Pascal card: no tensor cores
    gpus[1].name = "Tesla P40"
    FakeNvml(monkeypatch, gpus)
    _, sample = sample_with()
    assert [g.tensor_cores for g in sample.gpus] == [True, False]
    found = {f.id: f for f in HardwareRules().evaluate(sample, 0.0)}
    assert "multi_gpu_parallelization" in found and "tensor_cores_gpu0" in found
    assert "tensor_cores_gpu1" not in found
    multi = found["multi_gpu_parallelization"]
    assert multi.evidence == (
        "gpu_count: 2",
        "gpu0: NVIDIA H100 80GB HBM3 (81920 MiB)",
        "gpu1: Tesla P40 (81920 MiB)",
    )
    assert multi.hypothesis == "MULTI_GPU_PARALLELIZATION" and multi.query == "hardware"
    assert (multi.action_class, multi.autonomy, multi.capability_key) == (
        "explore", 2, "hardware.gpu.multi_gpu"
    )  # fmt: skip
    assert 0 < multi.value_estimate <= 1 and 0 < multi.cost <= 1
    tensor = found["tensor_cores_gpu0"]
    assert "tensor_core_precisions: fp8, bf16, tf32, fp16" in tensor.evidence


def test_pcie_x8_link_is_a_bottleneck(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = FakeGpu(width=(8, 16))
    fake = FakeNvml(monkeypatch, [gpu])
    probe = Probe()
    rules = HardwareRules()
    first = {f.id: f for f in rules.evaluate(probe.sample(), 0.0)}
    pcie = first["pcie_bottleneck_gpu0"]
    assert "reason: link width x8 below the x16 the device and slot allow" in pcie.evidence
    assert pcie.hypothesis == "PCIE_BOTTLENECK_GPU0" and pcie.severity == "medium"
    fake.gpus[0] = FakeGpu(width=(8, 8))  # an x8 slot: the device cannot do better there
    slot = {f.id: f for f in rules.evaluate(probe.sample(), 1.0)}["pcie_bottleneck_gpu0"]
    assert "reason: widest possible link is x8, below x16" in slot.evidence
    assert slot.evidence_hash != pcie.evidence_hash
    fake.gpus[0] = FakeGpu(gen=(1, 5), util=0)  # an idle GPU saves power on a slower link
    assert "pcie_bottleneck_gpu0" not in ids(rules.evaluate(probe.sample(), 2.0))
    fake.gpus[0] = FakeGpu(gen=(3, 5), util=90)  # ... but not under load
    assert "pcie_bottleneck_gpu0" in ids(rules.evaluate(probe.sample(), 3.0))


def test_underutilisation_needs_the_whole_window(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml(monkeypatch, [FakeGpu(util=3)])
    probe = Probe()
    rules = HardwareRules(Thresholds(window_s=300, gpu_util_min_percent=10))

    def underused(now: float) -> bool:
        return "gpu_underutilization_gpu0" in ids(rules.evaluate(probe.sample(), now))

    assert not underused(0.0) and not underused(299.0)
    assert underused(300.0)
    fake.gpus[0].util = 40  # one busy sample ends it, and the window starts over
    assert not underused(301.0)
    fake.gpus[0].util = 0
    assert not underused(400.0) and not underused(699.0) and underused(700.0)
    fake.raise_in["nvmlDeviceGetCount"] = pynvml.NVML_ERROR_UNKNOWN  # a failed sample ...
    assert underused(701.0)  # ... keeps the GPU findings it had
    del fake.raise_in["nvmlDeviceGetCount"]
    fake.gpus.clear()  # the GPU is gone: its findings go with it
    assert not underused(702.0)


def test_memory_pressure_vram_and_simd_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml(monkeypatch, [FakeGpu(used=76 * GIB)])  # 95% of 80 GiB
    _, sample = sample_with()
    memory = sample.memory
    tight = sample.model_copy(
        update={"memory": memory.model_copy(update={"available_mb": memory.total_mb // 20})}
    )
    rules = HardwareRules(Thresholds(ram_available_min_percent=10, vram_used_max_percent=90))
    found = {f.id: f for f in rules.evaluate(tight, 0.0)}
    pressure = found["memory_pressure_investigation"]
    assert pressure.severity == "high" and pressure.action_class == "investigate"
    assert f"ram_total_mb: {memory.total_mb}" in pressure.evidence
    assert found["vram_optimization_strategy"].evidence == (
        "gpu0: NVIDIA H100 80GB HBM3 (81920 MiB)",
        "threshold_percent: 90",
    )
    relaxed = HardwareRules(Thresholds(ram_available_min_percent=1, vram_used_max_percent=99))
    assert not {"memory_pressure_investigation", "vram_optimization_strategy"} & set(
        ids(relaxed.evaluate(tight, 0.0))
    )
    wide = {"avx2", "avx512f", "asimd", "sve"} & set(sample.cpu.simd_flags)
    assert ("cpu_simd_opportunity" in found) == bool(wide)  # this machine's CPU, read for real


def test_cpuinfo_parsing_of_x86_and_arm(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
        "flags\t\t: fpu pni ssse3 avx avx2 avx512f amx_tile fma\n\n"
        "processor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n"
    )
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm sve aes\nCPU part\t: 0xd4f\n")
    assert cpuinfo(x86) == (
        "Intel(R) Xeon(R) Platinum 8480+",
        ("amx_tile", "avx", "avx2", "avx512f", "fma", "sse3", "ssse3"),
    )
    assert cpuinfo(arm) == (None, ("asimd", "sve"))
    assert cpuinfo(tmp_path / "missing") == (None, ())


def test_cuda_version_text() -> None:
    assert cuda_version_text(12040) == "12.4"
    assert cuda_version_text(11080) == "11.8"
    assert cuda_version_text(0) is None and cuda_version_text(None) is None
