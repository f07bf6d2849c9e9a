"""Serve memory: RSS of `graphsvc serve` on a stdlib-size tree, allocator settings A/B.

Each variant starts `graphsvc serve` on a fresh copy of the standard library with some
environment (the default: graphsvc's own allocator settings; `jemalloc-defaults`: DuckDB's
jemalloc and glibc malloc left as they come), and reads the service's RSS from /status after
start-up, after N saves (each waited for), after a storm rewriting every file, and after N more
saves. Variants alternate, run after run, so that machine load hits them alike; the table gives
medians, the ratio against the default and the RSS floor (everything imported, nothing indexed).

Prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_index import STDLIB_EXCLUDES, Corpus, append_section, copy_corpus, machine
from bench_serve import MB, Served, rss_floor, save_latency, storm

VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    # jemalloc reads an empty conf as "no options"; 16 arenas is glibc's default on 2 cores.
    "jemalloc-defaults": {"DUCKDB_JE_MALLOC_CONF": "", "MALLOC_ARENA_MAX": "16"},
}
PHASES = ("start", "saves", "storm", "saves2", "peak")


def _tree(work: Path) -> Path:
    stdlib = Corpus("stdlib", Path(sysconfig.get_paths()["stdlib"]), STDLIB_EXCLUDES)
    tree = copy_corpus(stdlib, work)
    for name in STDLIB_EXCLUDES:
        for folder in list(tree.rglob(name)):
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
    return tree


def one_run(env: dict[str, str], saves: int) -> dict[str, float]:
    """RSS (MB) of one service at each phase."""
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-memory-") as tmp:
        work = Path(tmp)
        tree = _tree(work)
        served = Served(tree, work / "live.duckdb", work / "serve.log", env=env)
        try:
            out: dict[str, float] = {}
            time.sleep(2)  # the linker's warm-up after the start-up reconcile
            out["start"] = served.get("/status")["rss_bytes"] / MB
            save_latency(served, tree, saves, atomic=False)
            out["saves"] = served.get("/status")["rss_bytes"] / MB
            storm(served, tree, 1)
            time.sleep(2)
            out["storm"] = served.get("/status")["rss_bytes"] / MB
            save_latency(served, tree, saves, atomic=False)
            out["saves2"] = served.get("/status")["rss_bytes"] / MB
            out["peak"] = served.peak_rss / MB
            return out
        finally:
            served.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs per variant (alternating)")
    parser.add_argument("--saves", type=int, default=200, help="saves per save phase")
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), help="to run"
    )
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    variants = {name: VARIANTS[name] for name in args.variants}
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-memory-host-") as tmp:
        host = machine(Path(tmp))
    floor = rss_floor() / MB
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for run in range(args.runs):
        for name, env in variants.items():
            results[name].append(one_run(env, args.saves))
            print(f"run {run + 1} {name}: {results[name][-1]}", flush=True)
    median = {
        name: {phase: statistics.median(r[phase] for r in runs) for phase in PHASES}
        for name, runs in results.items()
    }
    lines = [
        f"## Serve memory (allocator A/B), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *host,
        f"- corpus: standard library copy; {args.saves} saves a phase; {args.runs} runs a variant,"
        " alternating; RSS from /status, MB, medians",
        f"- RSS floor (everything imported, nothing indexed): {floor:.0f} MB",
        "",
        "| variant | after start | after saves | after a storm | after more saves | peak |"
        f" after more saves / {next(iter(median))} |",
        "|---|---|---|---|---|---|---|",
    ]
    base = median[next(iter(median))]["saves2"]
    for name, values in median.items():
        cells = " | ".join(f"{values[phase]:.0f}" for phase in PHASES)
        lines.append(f"| {name} | {cells} | {values['saves2'] / base:.2f} |")
    lines += [
        "",
        "- budget: steady RSS <= 150 MB (issue #5)",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        append_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
