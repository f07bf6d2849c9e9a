"""C heap kept per saved-query run: what each finding query leaves in glibc's heap.

In a serving process the C heap's bytes in use (glibc ``mallinfo2``: allocated and not freed)
grew ~0.7 MB a save for the first ~100 saves on the standard library while the Python heap
(tracemalloc) stayed flat, and stayed flat with the findings refresh switched off. This bench
indexes a stdlib copy, then runs each finding query (``run_rows``, as the refresh does) once to
warm it and ``--runs`` times more, and reports the bytes in use the runs added per run; a
``SELECT count(*)`` over the query's statement (no rows to Python) and two plain statements
beside them say whether the growth is DuckDB's (the statement) or the Python client's (the
rows). Linux with glibc only. Prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench_index import emit_section, machine, stdlib_tree

from graphsvc.config import load_settings
from graphsvc.queries import load_queries, run_rows
from graphsvc.queries.run import bind_params
from graphsvc.service import index_in_child
from graphsvc.store import Store

MB = 2**20


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _in_use() -> Callable[[], int]:
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2

    def in_use() -> int:
        """Bytes glibc has handed out and not got back (every arena; mmapped blocks too)."""
        info = libc.mallinfo2()
        return int(info.uordblks + info.hblkhd)

    return in_use


def kept_per_run(action: Callable[[], object], runs: int, in_use: Callable[[], int]) -> float:
    """KB of C heap in use that each of ``runs`` runs of ``action`` added (after one warm-up)."""
    action()
    gc.collect()
    before = in_use()
    for _ in range(runs):
        action()
    gc.collect()
    return (in_use() - before) / runs / 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each query after a warm-up")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        raise SystemExit("glibc's mallinfo2 is needed (Linux)")
    in_use = _in_use()
    started = time.perf_counter()
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-query-heap-") as tmp:
        work = Path(tmp)
        host = machine(work)
        tree = stdlib_tree(work)
        files = sum(1 for _ in tree.rglob("*.py"))
        db = work / "graph.duckdb"
        index_in_child(tree, load_settings(tree), db)
        with Store.open(db) as store:
            cursor = store.cursor()
            plain = {
                "SELECT 1": kept_per_run(
                    lambda: cursor.execute("SELECT 1").fetchall(), 200, in_use
                ),
                "SELECT qualname FROM symbols": kept_per_run(
                    lambda: cursor.execute("SELECT qualname FROM symbols").fetchall(), 20, in_use
                ),
            }
            for query in load_queries().finding_queries():
                bound = bind_params(query, None)
                sql = f"SELECT count(*) FROM ({query.sql})"
                rows.append(
                    (
                        query.name,
                        kept_per_run(lambda q=query: run_rows(store, q), args.runs, in_use),
                        kept_per_run(
                            lambda s=sql, b=bound: cursor.execute(s, b).fetchall(),
                            args.runs,
                            in_use,
                        ),
                    )
                )
                print(f"{rows[-1][0]}: {rows[-1][1]:.0f} / {rows[-1][2]:.0f} KB", flush=True)
            cursor.close()
    lines = [
        "## C heap kept per saved-query run (bench_query_heap.py), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *host,
        f"- corpus: standard library copy, {files} files; each finding query run once to warm"
        f" up, then {args.runs} times; glibc's bytes in use (mallinfo2) before and after,"
        " after gc.collect()",
        "",
        "| query | KB kept per run (run_rows) | KB kept per run (SELECT count(*) over it) |",
        "|---|---|---|",
        *(f"| {name} | {rows_kb:.0f} | {count_kb:.0f} |" for name, rows_kb, count_kb in rows),
        *(f"| (plain) {sql} | {kb:.1f} | |" for sql, kb in plain.items()),
        "",
        f"- all finding queries once: {sum(r[1] for r in rows):.0f} KB kept; median per query"
        f" {statistics.median(r[1] for r in rows):.0f} KB",
        f"- bench wall time: {time.perf_counter() - started:.0f} s",
    ]
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
