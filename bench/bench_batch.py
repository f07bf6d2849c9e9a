#!/usr/bin/env python3
"""One watcher batch of one edited file, in process: ``update.refresh`` as the service's indexer
thread runs it (read, parse, extract, apply, re-link, channel pass, entry rules, history), on
~1,000 files of site-packages, with the time of each step from cProfile.

With ``--baseline DIR`` (another checkout of graphsvc) the same edits run under both, one
side after the other in rounds, each in a subprocess with its checkout first on the path and a
tree copy of its own, so a shared machine's load hits both alike; the ratio is the number to
read; each batch also has its CPU time (the process's, all threads), which other work on a
shared machine stretches far less than the wall time. Prints a Markdown section; --write
appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench_index import emit_section, in_checkout, machine, percentile, revision
from bench_link import thousand_files

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# the steps a one-file batch is made of: (label, source file, function) in the profile
STEPS = (
    ("read, parse, extract", "graphsvc/indexer.py", "index_files"),
    ("store apply", "graphsvc/store.py", "apply"),
    ("re-link", "graphsvc/link/linker.py", "run"),
    ("channel pass", "graphsvc/link/channels.py", "run"),
    ("entry rules", "graphsvc/update.py", "_entry_rules"),
    ("batch record", "graphsvc/update.py", "record"),
)


def one_side(tree: Path, db: Path, edits: int, seed: int) -> dict[str, object]:
    """Index ``tree`` into ``db``, then time ``edits`` one-file refreshes (the first two warm
    up and are not counted); cumulative seconds per step from the profile of the rest."""
    from graphsvc.config import load_settings
    from graphsvc.link import Linker
    from graphsvc.store import Store
    from graphsvc.update import reconcile, refresh

    settings = load_settings(tree)
    linker = Linker()
    files = sorted(tree.rglob("*.py"))
    rng = random.Random(seed)
    times: list[float] = []
    cpu: list[float] = []  # the process's CPU seconds (all threads) of each counted batch
    profile = cProfile.Profile()
    with Store.open(db) as store:
        _, layout = reconcile(tree, store, settings, None, linker)
        for n in range(edits + 2):
            path = rng.choice(files)
            with path.open("a", encoding="utf-8") as out:
                out.write(f"\n\ndef _bench_batch_{seed}_{n}():\n    return {n}\n")
            relative = str(path.relative_to(tree))
            counted = n >= 2
            if counted:
                profile.enable()
            started, cpu_started = time.perf_counter(), time.process_time()
            refresh(tree, store, settings, layout, [relative], linker=linker)
            elapsed, cpu_elapsed = time.perf_counter() - started, time.process_time() - cpu_started
            if counted:
                profile.disable()
                times.append(elapsed)
                cpu.append(cpu_elapsed)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    steps: dict[str, float] = {}
    for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
        for label, module, name in STEPS:
            if function == name and filename.endswith(module):
                steps[label] = steps.get(label, 0.0) + cumulative / len(times)
    return {"times": times, "cpu": cpu, "steps": steps}


def one_side_in(tree: str, db: str, edits: int, seed: int) -> dict:
    """:func:`one_side` as :func:`bench_index.in_checkout` calls it (paths as strings)."""
    return one_side(Path(tree), Path(db), edits, seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--edits", type=int, default=20, help="counted edits per round")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    sides = {"this": REPO} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    times: dict[str, list[float]] = {label: [] for label in sides}
    cpu: dict[str, list[float]] = {label: [] for label in sides}
    steps: dict[str, list[dict[str, float]]] = {label: [] for label in sides}
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-batch-") as tmp:
        work = Path(tmp)
        source, count = thousand_files(work)
        host = machine(work)
        for r in range(args.rounds):
            for label, checkout in sorted(sides.items()):
                tree = work / f"{label}-{r}"
                shutil.copytree(source, tree)
                db = work / f"{label}-{r}.duckdb"
                result = in_checkout(
                    checkout, "bench_batch", "one_side_in", tree, db, args.edits, r
                )
                times[label] += result["times"]
                cpu[label] += result["cpu"]
                steps[label].append(result["steps"])
                shutil.rmtree(tree)
    revs = {label: revision(checkout) for label, checkout in sides.items()}
    labels = sorted(sides)
    head = " | ".join(f"{label} {revs[label]}" for label in labels)
    lines = [
        f"## bench_batch.py: one-file watcher batch in process — "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *host,
        f"- tree: {count} files of site-packages; {args.rounds} rounds x {args.edits} one-file "
        "edits per side (a function appended to a random file), `update.refresh` with a "
        "resident linker; steps: mean ms per batch from cProfile (its overhead included); "
        "CPU: the process's CPU time of a batch (all threads; cProfile's overhead included)",
        "",
        f"| metric | {head} |",
        "|---|" + "---|" * len(labels),
    ]
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        cells = " | ".join(f"{1000 * percentile(times[label], q):.1f}" for label in labels)
        lines.append(f"| batch {name} (ms) | {cells} |")
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        cells = " | ".join(f"{1000 * percentile(cpu[label], q):.1f}" for label in labels)
        lines.append(f"| batch CPU {name} (ms) | {cells} |")
    for step, _, _ in STEPS:
        cells = " | ".join(
            f"{1000 * sorted(s.get(step, 0.0) for s in steps[label])[len(steps[label]) // 2]:.1f}"
            for label in labels
        )
        lines.append(f"| {step} (ms, median of rounds) | {cells} |")
    if "baseline" in sides:
        ratio = percentile(times["this"], 0.95) / percentile(times["baseline"], 0.95)
        median = percentile(times["this"], 0.5) / percentile(times["baseline"], 0.5)
        cpu_p50 = percentile(cpu["this"], 0.5) / percentile(cpu["baseline"], 0.5)
        cpu_p95 = percentile(cpu["this"], 0.95) / percentile(cpu["baseline"], 0.95)
        lines += [
            "",
            f"- this / baseline: p50 {median:.2f}x, p95 {ratio:.2f}x; CPU p50 {cpu_p50:.2f}x,"
            f" p95 {cpu_p95:.2f}x",
        ]
    lines += ["", f"- bench wall time: {time.perf_counter() - started:.0f} s", ""]
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
