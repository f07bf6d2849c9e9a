#!/usr/bin/env python3
"""Where a saved query's time goes: each of its CTEs computed alone, in order, on one thread.

Each top-level CTE of the query (``name AS (`` at the start of a line, up to the line ``)`` or
``),``) is written into a temporary table of its name with ``CREATE TEMP TABLE``, in the
query's order, so that each later CTE reads the earlier ones as tables; then the query's final
SELECT runs on them. Reported per CTE: its rows and the median CPU ms of --runs runs (this
process; DuckDB's threads at 1, so CPU time is the work, not the spinning of idle threads),
beside the whole query's CPU ms and the planning times DuckDB's profiler gives for it. A CTE's
time includes writing its temporary table and planning its own statement, which the whole
query does not pay for (sum > whole); read the column for the shares, not the totals. It
prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from bench_index import emit_section, machine

from graphsvc.queries import load_queries
from graphsvc.queries.run import bind_params

CTE_START = re.compile(
    r"^(?:WITH RECURSIVE\s+|WITH\s+)?([a-z_]+)(\([a-z_, ]+\))? AS (?:MATERIALIZED )?\($"
)
CTE_END = re.compile(r"^\),?$")


def ctes(sql: str) -> tuple[list[tuple[str, str, str]], str]:
    """The query's top-level CTEs as (name, column list, body), and its final statement."""
    lines = sql.split("\n")
    found: list[tuple[str, str, str]] = []
    start: tuple[str, str, int] | None = None
    last = 0
    for i, line in enumerate(lines):
        match = CTE_START.match(line)
        if match:
            start = (match.group(1), match.group(2) or "", i)
        elif start is not None and CTE_END.match(line):
            found.append((start[0], start[1], "\n".join(lines[start[2] + 1 : i])))
            start, last = None, i
    return found, "\n".join(lines[last + 1 :])


def cpu_ms(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object], runs: int) -> float:
    """Median CPU ms of ``runs`` runs of ``sql`` (its rows fetched)."""
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    samples = []
    for _ in range(runs):
        started = time.process_time()
        con.execute(sql, used).fetchall()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def planning(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object], out: Path) -> str:
    """Binding, optimising and physical planning ms of one profiled run of ``sql``."""
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{out}'")
    con.execute(sql, params).fetchall()
    con.execute("PRAGMA disable_profiling")
    profile = json.loads(out.read_text(encoding="utf-8"))
    parts = [
        (k, profile.get(k, {}).get("total_time", 0.0))
        for k in ("planner", "optimizer", "physical_planner")
    ]
    return ", ".join(f"{k} {v * 1000:.1f}" for k, v in parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", help="a saved query's name (queries/NAME.sql)")
    parser.add_argument("--db", type=Path, required=True, help="an indexed database")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    query = load_queries().get(args.query)
    params: dict[str, object] = dict(bind_params(query, None))
    if query.partition is not None:
        params["partition"] = None
    found, final = ctes(query.sql)
    con = duckdb.connect(str(args.db), read_only=True)
    con.execute("SET threads = 1")
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-stages-") as tmp:
        info = machine(Path(tmp))
        con.execute(query.sql, params).fetchall()  # warm: the first run reads from disk
        whole = cpu_ms(con, query.sql, params, args.runs)
        plan = planning(con, query.sql, params, Path(tmp) / "profile.json")
        rows = []
        for name, columns, body in found:
            statement = body
            if f"FROM {name} AS" in body:  # recursive: keep its WITH RECURSIVE around it
                statement = f"WITH RECURSIVE {name}{columns} AS ({body}) SELECT * FROM {name}"
            ms = cpu_ms(
                con, f"CREATE OR REPLACE TEMP TABLE {name} AS {statement}", params, args.runs
            )
            count = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            rows.append((name, count, ms))
        rows.append(("(final SELECT)", None, cpu_ms(con, final, params, args.runs)))
    lines = [f"## Query stages: `{args.query}`, {info[0][8:]}", "", *info, ""]
    lines += [
        f"- database: `{args.db}`; DuckDB threads 1; median CPU ms of {args.runs} runs",
        f"- whole query: {whole:.1f} ms CPU; planning (profiler, one run, ms): {plan}",
        "",
        "| CTE | rows | CPU ms alone |",
        "|---|---|---|",
    ]
    lines += [f"| `{n}` | {'' if c is None else c} | {ms:.1f} |" for n, c, ms in rows]
    lines += ["", f"- sum of the stages: {sum(ms for *_, ms in rows):.1f} ms CPU"]
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
