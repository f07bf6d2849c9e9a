#!/usr/bin/env python3
"""Findings refresh benchmark: the refresh after a one-file change on a ~1,000-file tree.

A resident linker and a resident Refresher (as `graphsvc serve` keeps them): each edit changes
one random file (a new function; every fifth edit also an import of a name its package lacks,
so findings come and go; one in five a new function that calls a function the file defines,
so dead code can come back to life; every fourth edit appends a line to a documentation file
of the tree instead, when it has any), brings the database up to date (the batch: read, parse,
write, link), then refreshes the findings.
p50/p95 of the refresh sit beside the batch's own time; per-query
medians and the cold refresh after the first index are reported too, and so is the time of the
non-SQL finding sources the service runs after each refresh (dependencies, capabilities). It
prints a Markdown section; --write appends it to BENCHMARKS.md. --docs-only makes every edit a
doc edit (every other one then names a function a file defines, whose file inputs the
refresh reads again), with the refresh's CPU per kind of edit beside its wall time.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from bench_index import emit_section, machine, percentile, spread
from bench_link import thousand_files

from graphsvc.config import load_settings
from graphsvc.findings import CapabilitySource, DependencySource, Refresher
from graphsvc.link import Linker
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree

TARGET_P95_MS = 50.0
DEF = re.compile(r"^def ([A-Za-z_][A-Za-z0-9_]*)\(", re.MULTILINE)


def measure(tree: Path, db: Path, edits: int, docs_only: bool = False) -> dict[str, object]:
    rng = random.Random(11)
    settings = load_settings(tree)
    linker = Linker()
    started = time.perf_counter()
    catalog = load_queries()
    load_ms = (time.perf_counter() - started) * 1000
    refresher = Refresher(catalog, tree)
    dependencies = DependencySource(tree, None)
    capabilities = CapabilitySource(tree)
    sources: list[float] = []  # the non-SQL sources after each refresh (dependencies, files)
    batches: list[float] = []
    refreshes: list[float] = []
    refresh_cpu: list[float] = []  # CPU of this process (every DuckDB thread) in the refresh
    by_kind: dict[str, list[float]] = {"body": [], "call": [], "import": [], "doc": []}
    cpu_by_kind: dict[str, list[float]] = {kind: [] for kind in by_kind}
    per_query: dict[str, list[float]] = {}
    events = 0
    with Store.open(db) as store:
        index_tree(tree, store, settings, linker=linker)
        cold = refresher.run(store)
        paths = sorted(p for p in tree.rglob("*.py") if p.stat().st_size < 200_000)
        docs = [  # the indexed Markdown and reST docs
            tree / str(row[0])
            for row in store.con.execute(
                "SELECT path FROM doc_files WHERE format IN ('markdown', 'rst') ORDER BY path"
            ).fetchall()
        ]
        for n in range(edits):
            kind = (
                "doc"
                if docs and (docs_only or n % 4 == 3)
                else "import"
                if n % 5 == 0
                else "call"
                if n % 5 == 2
                else "body"
            )
            if kind == "call":  # a new function that calls one the file defines
                path = rng.choice(paths)
                called = DEF.findall(path.read_text(encoding="utf-8", errors="replace"))
                with path.open("a", encoding="utf-8") as out:
                    target = rng.choice(called) if called else "print"
                    out.write(f"\n\n\ndef _bench_call_{n}():\n    return {target}()\n")
            elif kind == "doc":
                with rng.choice(docs).open("a", encoding="utf-8") as out:
                    named = f"{rng.choice(paths).stem}_bench_{n}"  # a name nothing defines
                    if docs_only and n % 2:  # or, every other edit, one a file defines
                        defined = DEF.findall(rng.choice(paths).read_text(errors="replace"))
                        named = rng.choice(defined) if defined else named
                    out.write(f"\n\nSee `{named}` too.\n")
            else:
                path = rng.choice(paths)
                package = path.relative_to(tree).parts[0]
                extra = f"from {package} import _bench_missing_{n}\n" if kind == "import" else ""
                with path.open("a", encoding="utf-8") as out:
                    out.write(f"\n{extra}\n\ndef _bench_edit_{n}():\n    return {n}\n")
            t0 = time.perf_counter()
            summary = index_tree(tree, store, settings, linker=linker)
            t1, c1 = time.perf_counter(), time.process_time()
            result = refresher.run(store, summary.batch_id, summary)
            t2 = time.perf_counter()
            refresh_cpu.append(time.process_time() - c1)
            dependencies.refresh(refresher, store, summary.batch_id)
            capabilities.refresh(refresher, store, summary)
            sources.append(time.perf_counter() - t2)
            batches.append(t1 - t0)
            refreshes.append(t2 - t1)
            by_kind[kind].append(t2 - t1)
            cpu_by_kind[kind].append(refresh_cpu[-1])
            events += sum(result.events.values())
            for name, ms in result.query_ms.items():
                per_query.setdefault(name, []).append(ms / 1000)
    return {
        "load_ms": load_ms,
        "cold": cold,
        "batches": batches,
        "refreshes": refreshes,
        "refresh_cpu": refresh_cpu,
        "by_kind": by_kind,
        "cpu_by_kind": cpu_by_kind,
        "per_query": per_query,
        "events": events,
        "sources": sources,
        "dependencies_skipped": dependencies.skipped,
        "reads": refresher.suppressor.reads,
        "last": result,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    parser.add_argument(
        "--docs-only",
        action="store_true",
        help="every edit a doc edit (every other one naming a function a file defines)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-findings-") as tmp:
        work = Path(tmp)
        info = machine(work)
        tree, files = thousand_files(work)
        got = measure(tree, work / "repo.duckdb", args.edits, args.docs_only)
    refreshes: list[float] = got["refreshes"]  # type: ignore[assignment]
    batches: list[float] = got["batches"]  # type: ignore[assignment]
    per_query: dict[str, list[float]] = got["per_query"]  # type: ignore[assignment]
    cold = got["cold"]
    last = got["last"]
    p50, p95 = percentile(refreshes, 0.5) * 1000, percentile(refreshes, 0.95) * 1000
    b50, b95 = percentile(batches, 0.5) * 1000, percentile(batches, 0.95) * 1000
    rows = [
        ("load and check the shipped queries (ms)", f"{got['load_ms']:.1f}"),
        (
            "cold refresh after the first index (ms; findings open)",
            f"{cold.ms:.1f}; {cold.open}",  # type: ignore[attr-defined]
        ),
        (
            f"one-file change: refresh p50 / p95 (ms, n={len(refreshes)})",
            f"{p50:.1f} / {p95:.1f} (max {max(refreshes) * 1000:.1f})",
        ),
        ("one-file change: the batch itself p50 / p95 (ms)", f"{b50:.1f} / {b95:.1f}"),
        ("refresh / batch, medians", f"{p50 / b50:.2f}x"),
        ("refresh spread (ms)", spread(refreshes, 1000)),
        (
            "one-file change: refresh CPU p50 / p95 (ms; this process, every DuckDB thread)",
            f"{percentile(got['refresh_cpu'], 0.5) * 1000:.1f} / "  # type: ignore[arg-type]
            f"{percentile(got['refresh_cpu'], 0.95) * 1000:.1f}",  # type: ignore[arg-type]
        ),
        (
            "then the dependencies and capabilities sources p50 / p95 (ms; dependency runs "
            "skipped)",
            f"{percentile(got['sources'], 0.5) * 1000:.1f} / "  # type: ignore[arg-type]
            f"{percentile(got['sources'], 0.95) * 1000:.1f}"  # type: ignore[arg-type]
            f" ({got['dependencies_skipped']} of {len(refreshes)} skipped)",
        ),
        ("events over all edits", str(got["events"])),
        ("files read for ignore comments over all refreshes", str(got["reads"])),
        (
            "findings at the end: open / suppressed",
            f"{last.open} / {last.suppressed}",  # type: ignore[attr-defined]
        ),
    ]
    by_kind: dict[str, list[float]] = got["by_kind"]  # type: ignore[assignment]
    labels = {
        "body": "edits that change no import (a new function)",
        "call": "edits that add a function calling one of the file's",
        "import": "edits that add an import of a missing name",
        "doc": "edits of a documentation file",
    }
    rows += [
        (
            f"refresh p50 / p95 after {labels[kind]} (ms, n={len(samples)})",
            f"{percentile(samples, 0.5) * 1000:.1f} / {percentile(samples, 0.95) * 1000:.1f}",
        )
        for kind, samples in by_kind.items()
        if samples
    ]
    cpu_by_kind: dict[str, list[float]] = got["cpu_by_kind"]  # type: ignore[assignment]
    rows += [  # the CPU beside the wall time: other processes share the two cores
        (
            f"refresh CPU p50 / p95 after {labels[kind]} (ms)",
            f"{percentile(samples, 0.5) * 1000:.1f} / {percentile(samples, 0.95) * 1000:.1f}",
        )
        for kind, samples in cpu_by_kind.items()
        if samples
    ]
    rows += [
        (f"query `{name}` p50 / p95 (ms)", f"{percentile(s, 0.5) * 1000:.1f} / "
         f"{percentile(s, 0.95) * 1000:.1f}")
        for name, s in sorted(per_query.items())
    ]  # fmt: skip
    lines = [f"## Findings refresh, {info[0][8:]}", "", *info, ""]
    lines += [f"- corpus: {files} files (whole site-packages packages, name order)", ""]
    lines += ["| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    verdict = "PASS" if p95 <= TARGET_P95_MS else "FAIL"
    lines += ["", f"- {verdict} refresh p95 {p95:.1f} ms <= {TARGET_P95_MS:.0f} ms"]
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
