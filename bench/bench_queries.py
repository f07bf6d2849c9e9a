#!/usr/bin/env python3
"""Finding query budgets: every shipped finding query on a ~1,000-file tree, beside a baseline.

Each finding query runs as the refresh runs it (``run_rows``: the SQL in a read-only
transaction, then its finder) on one database of whole site-packages packages (bench_link's
tree), and so does the same query from a BASELINE folder of query files (e.g. a clean export
of main's ``queries/``: ``git archive main queries | tar -x -C /tmp/base``), alternating run by
run so that both see the same machine load. Each query's rows must equal the baseline's (a
faster query that finds something else is a bug, not a win). Reported per query: medians and
spreads of --runs runs, the ratio to the baseline (of wall time, and of this process's CPU
time, every DuckDB thread: steadier than wall time on a loaded machine), and the budget
verdict (#8: each query <= 100 ms; #7: orphaned_queues <= 50 ms). It prints a Markdown
section; --write appends it to BENCHMARKS.md.

A branch that changes a view the queries read (a migration's CREATE OR REPLACE VIEW) would
otherwise have the baseline queries read the new view too: --baseline-views FILE runs FILE's
statements (e.g. the view as main's migrations define it) on a copy of the database, and the
baseline queries run on that copy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_index import emit_section, machine, spread
from bench_link import indexed_db

from graphsvc.queries import Catalog, load_queries, run_rows
from graphsvc.store import Store

BUDGET_MS = {"orphaned_queues": 50.0}  # #7; every other query: #8's 100 ms
DEFAULT_BUDGET_MS = 100.0


def _timed(store: Store, catalog: Catalog, name: str) -> tuple[float, float, str]:
    """Wall and CPU ms of one run (CPU: this process, every DuckDB thread), and its rows."""
    started, cpu = time.perf_counter(), time.process_time()
    rows = run_rows(store, catalog.get(name))
    ms = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - cpu) * 1000
    return ms, cpu_ms, json.dumps(rows, sort_keys=True, default=str)


Timings = tuple[list[float], list[float]]  # wall ms, CPU ms


def measure(
    db: Path, baseline: Catalog | None, runs: int, only: list[str], base_db: Path | None = None
) -> list[tuple[str, Timings, Timings, bool, int]]:
    """Per query: (name, branch ms, baseline ms, same rows, rows); the baseline queries run on
    ``base_db`` when given (default: ``db``)."""
    catalog = load_queries()
    names = [q.name for q in catalog.finding_queries() if not only or q.name in only]
    out = []
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(Store.open(db))
        # one store when both sides read the same file: DuckDB refuses a second attach of it
        base_store = store if base_db is None else stack.enter_context(Store.open(base_db))
        for name in names:
            ours: Timings = ([], [])
            theirs: Timings = ([], [])
            same = True
            rows = 0
            _timed(store, catalog, name)  # warm: the first run reads the tables from disk
            for _ in range(runs):
                ms, cpu_ms, got = _timed(store, catalog, name)
                ours[0].append(ms)
                ours[1].append(cpu_ms)
                rows = len(json.loads(got))
                if baseline is not None and name in {q.name for q in baseline.finding_queries()}:
                    base_ms, base_cpu, expected = _timed(base_store, baseline, name)
                    theirs[0].append(base_ms)
                    theirs[1].append(base_cpu)
                    same = same and got == expected
            out.append((name, ours, theirs, same, rows))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="a folder of baseline query files")
    parser.add_argument(
        "--db", type=Path, help="an indexed database to reuse (built there when it is missing)"
    )
    parser.add_argument("--only", nargs="*", default=[], help="these queries only")
    parser.add_argument(
        "--baseline-views",
        type=Path,
        help="SQL run on a copy of the database that the baseline queries then read",
    )
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    baseline = load_queries(args.baseline) if args.baseline else None
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-queries-") as tmp:
        work = Path(tmp)
        info = machine(work)
        db, files = indexed_db(work, args.db)
        base_db = None
        if args.baseline_views is not None:
            base_db = work / "baseline.duckdb"
            shutil.copy(db, base_db)
            with Store.open(base_db) as store:  # migrated first: the copy keeps the views run
                store.con.execute(args.baseline_views.read_text(encoding="utf-8"))
        got = measure(db, baseline, args.runs, args.only, base_db)
    lines = [f"## Finding query budgets, {info[0][8:]}", "", *info, ""]
    lines += [
        f"- corpus: {files} files (whole site-packages packages, name order); "
        f"`run_rows` (SQL + finder), median of {args.runs} runs each"
        + (f", alternating with the baseline queries of `{args.baseline}`" if baseline else "")
        + (
            f" on a copy of the database with `{args.baseline_views}` run on it"
            if args.baseline_views
            else ""
        ),
        "",
        "| query | rows | ms (spread) | baseline ms | ratio | CPU ms | baseline CPU ms "
        "| CPU ratio | same rows | budget |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name, (ours, ours_cpu), (theirs, theirs_cpu), same, rows in got:
        med = statistics.median(ours)
        cpu = statistics.median(ours_cpu)
        budget = BUDGET_MS.get(name, DEFAULT_BUDGET_MS)
        base = f"{statistics.median(theirs):.1f}" if theirs else "-"
        ratio = f"{med / statistics.median(theirs):.2f}x" if theirs else "-"
        base_cpu = f"{statistics.median(theirs_cpu):.1f}" if theirs_cpu else "-"
        cpu_ratio = f"{cpu / statistics.median(theirs_cpu):.2f}x" if theirs_cpu else "-"
        verdict = "PASS" if med <= budget else "FAIL"
        verdicts.append(f"{verdict} {name} {med:.1f} ms <= {budget:.0f} ms")
        lines.append(
            f"| `{name}` | {rows} | {spread(ours, 1.0)} | {base} | {ratio} | {cpu:.1f} | "
            f"{base_cpu} | {cpu_ratio} | {'yes' if same else 'NO'} | {verdict} ({budget:.0f}) |"
        )
    lines += ["", *(f"- {v}" for v in verdicts)]
    emit_section(lines, args.write)
    return 0 if all(same for _, _, _, same, _ in got) else 1


if __name__ == "__main__":
    sys.exit(main())
