#!/usr/bin/env python3
"""Incremental dead_code: its time after a one-file code edit beside the saved query's.

On a ~1,000-file tree (whole site-packages packages, bench_link's), indexed with a resident
linker as the service does: each edit changes one random Python file (a new function; every
fifth edit also a call of an existing function of the file's package instead, every seventh
removes the function an earlier edit added), brings the database up to date, then times the
incremental engine (graphsvc/findings/deadcode.py, resident as in the Refresher) and the saved
query (``run_rows`` of queries/dead_code.sql) on the same database, in alternating order, and
checks their rows are equal. Reported: p50/p95 of both, their ratio, what the engine did (full
recomputes, evidence recomputed), its first (full) run, and the Python memory its state keeps
(tracemalloc, after the first run). It prints a Markdown section; --write appends it to
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench_index import emit_section, machine, percentile, spread, stdlib_tree
from bench_link import thousand_files

from graphsvc.config import load_settings
from graphsvc.findings.deadcode import DeadCode
from graphsvc.link import Linker
from graphsvc.queries import load_queries, run_rows
from graphsvc.store import Store
from graphsvc.update import index_tree

BUDGET_MS = 100.0  # #8: each finding query <= 100 ms on a ~1,000-file tree
CORPORA = {
    "site-packages": "whole site-packages packages, name order",
    "stdlib": "the standard library without its tests",
}


def _edit(rng: random.Random, paths: list[Path], tree: Path, n: int, added: list[Path]) -> str:
    if n % 7 == 6 and added:
        path = added.pop(0)
        text = path.read_text(encoding="utf-8")
        start = text.index("\n\n\ndef _bench_dead_")
        end = text.index("\n", text.index("return", start)) + 1
        path.write_text(text[:start] + text[end:], encoding="utf-8")
        return "remove"
    path = rng.choice(paths)
    if n % 4 == 1:
        # a class with a method (deriving from the file's first top-level class, if any):
        # a change of the class hierarchy, as adding or renaming a method or class is
        found = re.search(r"^class ([A-Za-z_][A-Za-z0-9_]*)", path.read_text("utf-8"), re.M)
        base = f"({found.group(1)})" if found else ""
        with path.open("a", encoding="utf-8") as out:
            out.write(
                f"\n\n\nclass _BenchDead{n}{base}:\n    def _bench_dead_{n}(self):\n"
                "        return None\n"
            )
        return "class"
    body = "return None"
    kind = "function"
    if n % 5 == 4:
        package = path.relative_to(tree).parts[0]
        body = f"import {package}\n    return {package}.__name__"
        kind = "call"
    with path.open("a", encoding="utf-8") as out:
        out.write(f"\n\n\ndef _bench_dead_{n}():\n    {body}\n")
    added.append(path)
    return kind


def measure(tree: Path, db: Path, edits: int) -> dict[str, object]:
    rng = random.Random(13)
    settings = load_settings(tree)
    linker = Linker()
    query = load_queries().get("dead_code")
    engine = DeadCode()
    ours: list[float] = []
    theirs: list[float] = []
    facts: list[int] = []
    stages: dict[str, list[float]] = {}  # the engine's own timers (DeadCode.last.ms) per edit
    kinds: dict[str, int] = {}
    full = 0
    same = True
    added: list[Path] = []
    with Store.open(db) as store:
        engine.note(index_tree(tree, store, settings, linker=linker))
        run_rows(store, query)  # warm: the first run reads the tables from disk
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        engine.rows(store, 0.8)
        first_ms = (time.perf_counter() - started) * 1000
        gc.collect()
        kept_mb = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
        paths = sorted(p for p in tree.rglob("*.py") if p.stat().st_size < 200_000)
        for n in range(edits):
            kind = _edit(rng, paths, tree, n, added)
            kinds[kind] = kinds.get(kind, 0) + 1
            engine.note(index_tree(tree, store, settings, linker=linker))
            order = ("engine", "query") if n % 2 == 0 else ("query", "engine")
            got: dict[str, str] = {}
            for who in order:
                started = time.perf_counter()
                rows = engine.rows(store, 0.8) if who == "engine" else run_rows(store, query)
                ms = (time.perf_counter() - started) * 1000
                (ours if who == "engine" else theirs).append(ms)
                got[who] = json.dumps(rows, sort_keys=True, default=str)
            same = same and got["engine"] == got["query"]
            full += engine.last.full
            facts.append(engine.last.facts)
            for stage, ms in engine.last.ms.items():
                stages.setdefault(stage, []).append(ms)
            candidates = engine.last.candidates
    return {
        "ours": ours,
        "theirs": theirs,
        "same": same,
        "full": full,
        "facts": facts,
        "candidates": candidates,
        "first_ms": first_ms,
        "kept_mb": kept_mb,
        "kinds": kinds,
        "stages": stages,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument(
        "--corpus",
        choices=("site-packages", "stdlib"),
        default="site-packages",
        help="site-packages: bench_link's ~1,000 files; stdlib: the standard library without "
        "its tests (~730 files; not well-formed: dbm/__init__.py binds ndbm)",
    )
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-dead-") as tmp:
        work = Path(tmp)
        info = machine(work)
        if args.corpus == "stdlib":
            tree = stdlib_tree(work)
            files = sum(1 for _ in tree.rglob("*.py"))
        else:
            tree, files = thousand_files(work)
        got = measure(tree, work / "repo.duckdb", args.edits)
    ours: list[float] = got["ours"]  # type: ignore[assignment]
    theirs: list[float] = got["theirs"]  # type: ignore[assignment]
    facts: list[int] = got["facts"]  # type: ignore[assignment]
    o50, o95 = percentile(ours, 0.5), percentile(ours, 0.95)
    t50, t95 = percentile(theirs, 0.5), percentile(theirs, 0.95)
    lines = [f"## Incremental dead_code after one-file edits, {info[0][8:]}", "", *info, ""]
    lines += [
        f"- corpus: {files} files ({CORPORA[args.corpus]}); {args.edits} edits "
        f"({', '.join(f'{k} {v}' for k, v in sorted(got['kinds'].items()))}), each indexed "  # type: ignore[attr-defined]
        "with a resident linker; the engine and `run_rows` of the saved query alternate order",
        "",
        "| metric | incremental engine | saved query | ratio |",
        "|---|---|---|---|",
        f"| dead_code after a one-file edit, p50 (ms) | {o50:.1f} | {t50:.1f} | {o50 / t50:.2f}x |",
        f"| p95 (ms) | {o95:.1f} | {t95:.1f} | {o95 / t95:.2f}x |",
        f"| spread (ms) | {spread(ours)} | {spread(theirs)} | |",
        f"| first run of the process (full, ms) | {got['first_ms']:.1f} | | |",
        "",
        f"- rows equal to the saved query's after every edit: {'yes' if got['same'] else 'NO'}",
        f"- full recomputes after edits: {got['full']} of {args.edits}; evidence recomputed per "
        f"edit: median {statistics.median(facts):.0f} of {got['candidates']} candidates "
        f"(max {max(facts)})",
        f"- Python memory the engine keeps after its first run: {got['kept_mb']:.1f} MiB "
        "(tracemalloc)",
        "- the engine's own timers per edit, median / max ms (a statement or step that ran in "
        "only some edits counts those): "
        + ", ".join(
            f"{stage} {statistics.median(ms):.1f} / {max(ms):.1f} (n={len(ms)})"
            for stage, ms in got["stages"].items()  # type: ignore[attr-defined]
        ),
        f"- budget (#8, {BUDGET_MS:.0f} ms): p50 {'PASS' if o50 <= BUDGET_MS else 'FAIL'} "
        f"{o50:.1f} ms, p95 {'PASS' if o95 <= BUDGET_MS else 'FAIL'} {o95:.1f} ms",
    ]
    emit_section(lines, args.write)
    return 0 if got["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
