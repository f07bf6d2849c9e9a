#!/usr/bin/env python3
"""Finding queries run whole with DuckDB's threads at 1 beside its default, alternating.

Each named finding query runs as ``graphsvc query`` runs it (``run_rows``: the SQL in a
read-only transaction, then its finder) on one indexed database (bench_link's ~1,000-file
tree, or --db), once with ``SET threads = 1`` and once with the threads the store opened with,
alternating run by run so that both see the same machine load. The rows of the two must be
equal. Reported per query: medians and spreads of wall and CPU ms (this process, every DuckDB
thread) and the ratios of threads 1 to the default. It prints a Markdown section; --write
appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_index import emit_section, machine, spread
from bench_link import indexed_db

from graphsvc.queries import load_queries, run_rows
from graphsvc.store import Store

Timings = tuple[list[float], list[float]]  # wall ms, CPU ms


def measure(
    db: Path, runs: int, only: list[str]
) -> tuple[int, list[tuple[str, Timings, Timings, bool]]]:
    """The default thread count, and per query: (name, threads 1, default, same rows)."""
    catalog = load_queries()
    names = [q.name for q in catalog.finding_queries() if not only or q.name in only]
    out = []
    with Store.open(db) as store:
        default = int(store.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        for name in names:
            query = catalog.get(name)
            got: dict[int, Timings] = {1: ([], []), default: ([], [])}
            rows: dict[int, str] = {}
            run_rows(store, query)  # warm: the first run reads the tables from disk
            for _ in range(runs):
                for threads in (1, default):
                    store.con.execute(f"SET threads = {threads}")
                    started, cpu = time.perf_counter(), time.process_time()
                    result = run_rows(store, query)
                    got[threads][0].append((time.perf_counter() - started) * 1000)
                    got[threads][1].append((time.process_time() - cpu) * 1000)
                    rows[threads] = json.dumps(result, sort_keys=True, default=str)
            store.con.execute(f"SET threads = {default}")
            out.append((name, got[1], got[default], rows[1] == rows[default]))
    return default, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--db", type=Path, help="an indexed database to reuse (built there when it is missing)"
    )
    parser.add_argument("--only", nargs="*", default=[], help="these queries only")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-threads-") as tmp:
        work = Path(tmp)
        info = machine(work)
        db, files = indexed_db(work, args.db)
        default, got = measure(db, args.runs, args.only)
    lines = [f"## Finding queries whole, threads 1 vs {default}, {info[0][8:]}", "", *info, ""]
    lines += [
        f"- corpus: {files} files; `run_rows` (SQL + finder), median of {args.runs} runs "
        f"each, threads 1 and {default} alternating",
        "",
        f"| query | ms, threads 1 | ms, threads {default} | wall ratio | CPU ms, threads 1 "
        f"| CPU ms, threads {default} | CPU ratio | same rows |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, (one, one_cpu), (many, many_cpu), same in got:
        wall = statistics.median(one) / statistics.median(many)
        cpu = statistics.median(one_cpu) / statistics.median(many_cpu)
        lines.append(
            f"| `{name}` | {spread(one)} | {spread(many)} | {wall:.2f}x | "
            f"{statistics.median(one_cpu):.1f} | {statistics.median(many_cpu):.1f} | {cpu:.2f}x | "
            f"{'yes' if same else 'NO'} |"
        )
    emit_section(lines, args.write)
    return 0 if all(same for *_, same in got) else 1


if __name__ == "__main__":
    sys.exit(main())
