"""``graphsvc hardware``: one hardware sample now, no service needed (registered on the app
in :mod:`graphsvc.cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from graphsvc.cli_options import DbOpt, FormatOpt, TreeOpt, settings_for
from graphsvc.findings import HardwareRules, Thresholds
from graphsvc.formats import Format, render
from graphsvc.hardware import HardwareSample, Probe


def _flat(prefix: str, value: Any) -> list[tuple[str, Any]]:
    """``{"cpu": {"cores": 2}}`` as ``[("cpu.cores", 2)]``; lists of models get their index."""
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = []
        for key, inner in value.items():
            items.extend(_flat(f"{prefix}.{key}" if prefix else str(key), inner))
        return items
    if isinstance(value, list) and value and isinstance(value[0], dict):
        items = []
        for i, inner in enumerate(value):
            items.extend(_flat(f"{prefix}[{i}]", inner))
        return items
    if isinstance(value, list):
        return [(prefix, ", ".join(map(str, value)))]
    return [(prefix, value)]


def _table(sample: HardwareSample) -> str:
    data = sample.model_dump(mode="json")
    gpus = data.pop("gpus")
    parts = [render(["field", "value"], _flat("", data), Format.table)]
    if gpus:  # one column per GPU: a row per field stays readable on a terminal
        for gpu in gpus:
            procs = gpu.pop("processes")
            gpu["processes"] = (
                "not reported"
                if procs is None
                else ", ".join(f"{p['pid']} {p['name'] or '?'}" for p in procs) or "none"
            )
        fields = list(gpus[0])
        rows = [[field, *(gpu[field] for gpu in gpus)] for field in fields]
        parts.append(render(["gpu", *(f"gpu{g['index']}" for g in gpus)], rows, Format.table))
    else:
        parts.append(f"No GPUs: {sample.gpu_reason}")
    return "\n\n".join(parts)


def hardware(
    path: TreeOpt = Path("."),
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
    with_findings: Annotated[
        bool,
        typer.Option(
            "--findings",
            help="Also list the hardware findings this one sample supports (not "
            "gpu_underutilization, which needs the service's sampling window)",
        ),
    ] = False,
) -> None:
    """Sample the hardware now: CPU (model, cores, SIMD flags, clock, load), memory, the disks
    of the tree and its database, and every NVIDIA GPU through NVML. No GPU or no NVML is
    reported (gpus empty, gpu_reason), not an error."""
    settings, database = settings_for(path, db)
    probe = Probe({"tree": path.resolve(), "db": database.resolve()})
    try:
        sample = probe.sample()
    finally:
        probe.close()
    found = HardwareRules(Thresholds.of(settings)).evaluate(sample, 0.0)
    if fmt is Format.json:
        data = sample.model_dump(mode="json")
        if with_findings:
            data["findings"] = [f.to_dict() for f in found]
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if fmt is Format.csv:
        typer.echo(render(["field", "value"], _flat("", sample.model_dump(mode="json")), fmt))
    else:
        typer.echo(_table(sample))
    if with_findings:
        rows = [(f.id, f.severity, f.action_class, f.question) for f in found]
        typer.echo("")
        typer.echo(render(["id", "severity", "action", "question"], rows, fmt))
