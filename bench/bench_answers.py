#!/usr/bin/env python3
"""Saved queries over HTTP: ``GET /queries/{name}`` answered from the findings refresh.

A `graphsvc serve` process over the ~1,400-file corpus (bench_link.thousand_files): after the
start-up's refresh, and again after a one-file edit and its ``/sync``, each finding query is
fetched ``--runs`` times over HTTP with its default parameters; the table gives the median
latency and which path answered (header ``X-Graphsvc-Answered-By``: ``refresh`` or ``sql``).
The baseline, in the same run: each query's SQL run in process on the same database after the
service stopped (``run_query``, as ``graphsvc query`` runs it), medians of ``--runs``.
Prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_index import emit_section, machine, percentile
from bench_link import thousand_files
from bench_serve import Served

from graphsvc.queries import load_queries, run_query
from graphsvc.store import Store

BUDGET_MS = 100.0  # #8: each finding query on a ~1,000-file tree


def fetch(port: int, name: str) -> tuple[float, str]:
    """One GET of ``name``'s rows: (milliseconds, who answered)."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/queries/{name}", timeout=600) as got:
        got.read()
        by = got.headers.get("X-Graphsvc-Answered-By", "?")
    return (time.perf_counter() - started) * 1000, by


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    names = [q.name for q in load_queries().finding_queries()]
    with tempfile.TemporaryDirectory(prefix="graphsvc-answers-") as tmp:
        work = Path(tmp)
        tree, files = thousand_files(work)
        db = work / "graph.duckdb"
        served = Served(tree, db, work / "serve.log")
        http: dict[str, dict[str, list[float]]] = {"start": {}, "edit": {}}
        by: dict[str, dict[str, set[str]]] = {"start": {}, "edit": {}}
        try:
            for phase in ("start", "edit"):
                if phase == "edit":
                    target = sorted(tree.rglob("*.py"))[files // 2]
                    with target.open("a", encoding="utf-8") as out:
                        out.write("\n\ndef added_by_bench_answers():\n    return 1\n")
                served.call("POST", "/sync")
                for name in names:
                    for _ in range(args.runs):
                        ms, who = fetch(served.port, name)
                        http[phase].setdefault(name, []).append(ms)
                        by[phase].setdefault(name, set()).add(who)
        finally:
            served.stop()
        sql: dict[str, list[float]] = {}
        catalog = load_queries()
        with Store.open(db) as store:
            for _ in range(args.runs):
                for name in names:
                    started = time.perf_counter()
                    run_query(store, catalog.get(name))
                    sql.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        lines = [
            f"## Saved queries over HTTP, answered from the findings refresh, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            "",
            *machine(work),
            "",
            f"- corpus: {files} files; `GET /queries/{{name}}` with default parameters, "
            f"{args.runs} runs each after the start-up's refresh and after a one-file edit's "
            "`/sync`; SQL: `run_query` in process on the same database after the service "
            "stopped (medians)",
            "",
            "| query | answered by (start / edit) | HTTP p50 ms (start / edit) | HTTP p95 ms "
            "(edit) | SQL ms | HTTP after edit / SQL |",
            "|---|---|---|---|---|---|",
        ]
        verdicts = []
        for name in names:
            start, edit = (
                statistics.median(http["start"][name]),
                statistics.median(http["edit"][name]),
            )
            base = statistics.median(sql[name])
            who = f"{'/'.join(sorted(by['start'][name]))} / {'/'.join(sorted(by['edit'][name]))}"
            lines.append(
                f"| `{name}` | {who} | {start:.1f} / {edit:.1f} | "
                f"{percentile(http['edit'][name], 0.95):.1f} | {base:.1f} | {edit / base:.2f}x |"
            )
            verdicts.append(
                f"- {'PASS' if edit <= BUDGET_MS else 'FAIL'} {name} over HTTP after an edit "
                f"{edit:.1f} ms <= {BUDGET_MS:.0f} ms"
            )
        emit_section([*lines, "", *verdicts], args.write)


if __name__ == "__main__":
    main()
