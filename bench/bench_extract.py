"""Extraction CPU time against the parse-only floor, in one process; print a markdown section.

Run: ``.venv/bin/python bench/bench_extract.py [--runs 5] [--write]``. On a copy-free walk of the
interpreter's standard library (tests excluded, as ``bench_index.py``), each run measures, in
CPU seconds of this process (``time.process_time``: what other processes on a shared machine do
moves it far less than wall time):

- the floor: decode + tree-sitter parse of every file;
- ``index_bytes`` of every file (parse, every extractor, the file row);
- the same with channel extraction off, and with clone fingerprints off (the switches
  ``graphsvc.extract.CHANNELS`` / ``CLONES``), so that their share of extraction is measured
  in the same run (#7: channels <= 25%, #8: clones <= 20% of the cold index).

The variants alternate within each run; medians of ``--runs``. To compare two versions, run it
with each one's source first on ``PYTHONPATH`` (from a directory outside both trees).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import graphsvc
import graphsvc.extract as extraction
from graphsvc.config import load_settings
from graphsvc.indexer import index_bytes
from graphsvc.layout import detect_layout
from graphsvc.parsing import decode_source, parse
from graphsvc.walk import walk

STDLIB_EXCLUDES = ["test", "tests", "idle_test", "site-packages"]
STAMP = "%Y-%m-%d %H:%M UTC"


def cpu(action: Callable[[], object]) -> float:
    started = time.process_time()
    action()
    return time.process_time() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    root = Path(sysconfig.get_paths()["stdlib"])
    found = walk(root, exclude=STDLIB_EXCLUDES)
    layout = detect_layout(root, found.project_dirs, load_settings(root).package_roots)
    files = [e.path for e in found.files]
    raws = {p: (root / p).read_bytes() for p in files}
    modules = {p: layout.module_for(p) for p in files}

    def parse_all() -> None:
        for raw in raws.values():
            parse(decode_source(raw).data)

    def extract_all() -> None:
        for p in files:
            index_bytes(p, raws[p], modules[p], 0)

    def switched(name: str) -> Callable[[], None]:
        def run() -> None:
            setattr(extraction, name, False)
            try:
                extract_all()
            finally:
                setattr(extraction, name, True)

        return run

    variants = {
        "floor": parse_all,
        "all": extract_all,
        "no channels": switched("CHANNELS"),
        "no clones": switched("CLONES"),
    }
    samples: dict[str, list[float]] = {k: [] for k in variants}
    extract_all()  # warm: imports, rule vocabulary, caches
    gc.collect()
    for _ in range(args.runs):
        for name, action in variants.items():
            samples[name].append(cpu(action))
            gc.collect()
    med = {k: statistics.median(v) for k, v in samples.items()}

    def row(k: str) -> str:
        values = samples[k]
        return f"{med[k]:.2f} ({min(values):.2f}-{max(values):.2f})"

    source = Path(graphsvc.__file__).resolve().parent.parent
    lines = [
        f"## Extraction CPU time (bench_extract.py), {time.strftime(STAMP, time.gmtime())}",
        "",
        f"- graphsvc from `{source}`; Python {sys.version.split()[0]}; runs: {args.runs}",
        f"- corpus: the stdlib, {len(files)} files, {sum(map(len, raws.values())) / 2**20:.1f} MB",
        "",
        "| CPU seconds, one process | median (min-max) | / floor |",
        "|---|---|---|",
    ]
    for k in variants:
        lines.append(f"| {k} | {row(k)} | {med[k] / med['floor']:.2f}x |")
    channels = (med["all"] - med["no channels"]) / med["no channels"]
    clones = (med["all"] - med["no clones"]) / med["no clones"]
    lines += [
        "",
        f"- channel extraction adds {channels:.1%} to extraction"
        " (budget #7: <= 25% of the cold index)",
        f"- clone fingerprints add {clones:.1%} to extraction"
        " (budget #8: <= 20% of the cold index)",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        target = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
        target.write_text(target.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
