"""Row groups: the store's reads on the same rows written with several row group sizes
(DuckDB's default 122,880 and smaller ones), on the ~1,000-file tree (bench_link's).

The tree is indexed once by this checkout; the database is then rewritten once per size
(``ATTACH ... (ROW_GROUP_SIZE n)`` + ``COPY FROM DATABASE``: the same rows in the same order,
each file compact). Then, alternating between the files, each round measures the CPU time
(one DuckDB thread, so it is this thread's work) of:

- the findings refresh's per-file checks: every finding query's ``file_inputs`` digest and
  ``partition_keys`` for one file (graphsvc/findings/partread.py), over sample files;
- the ``dead_code`` engine's per-batch read of one file's rows (``deadparts.ROWS_SQL``);
- the global inputs' digests (every query with ``global_inputs``);
- every finding query whole (``run_rows``; its rows must be equal on every file).

Medians over the samples and rounds; ratios against the first size in the same run. Prints
a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_index import emit_section, machine
from bench_link import thousand_files

from graphsvc.config import load_settings
from graphsvc.findings.deadparts import ROWS_SQL, rows_params
from graphsvc.findings.partread import file_digests, file_keys, global_digest
from graphsvc.link import Linker
from graphsvc.queries import SavedQuery, load_queries, run_rows
from graphsvc.store import ROW_GROUP_SIZE, Store
from graphsvc.update import index_tree

DEFAULT_ROW_GROUP_SIZE = 122_880
MEASURES = ("file checks", "dead_code rows", "global inputs", "whole queries")


def cpu_ms(action: Callable[[], object]) -> float:
    started = time.process_time()
    action()
    return (time.process_time() - started) * 1000


def rewrite(source: Path, dest: Path, row_group_size: int) -> None:
    """Copy ``source``'s tables and rows into a new ``dest`` written with ``row_group_size``."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{source}' AS s (READ_ONLY)")
        con.execute(
            f"ATTACH '{dest}' AS d (ROW_GROUP_SIZE {row_group_size}, STORAGE_VERSION 'v1.5.0')"
        )
        con.execute("COPY FROM DATABASE s TO d")
    finally:
        con.close()


def measure(db: Path, queries: list[SavedQuery], samples: int) -> tuple[dict[str, float], dict]:
    out: dict[str, list[float]] = {m: [] for m in MEASURES}
    rows: dict[str, int] = {}
    with Store.open(db) as store:
        store.con.execute("SET threads = 1")
        ids = [
            int(r[0]) for r in store.con.execute("SELECT file_id FROM files ORDER BY 1").fetchall()
        ]
        for file_id in ids[:: max(1, len(ids) // samples)][:samples]:

            def checks(file_id: int = file_id) -> None:
                for query in queries:
                    if query.file_inputs is not None:
                        file_digests(store, query, query.file_inputs, {file_id})
                    if query.partition is not None:
                        file_keys(store, query, query.partition, {file_id})

            out["file checks"].append(cpu_ms(checks))
            out["dead_code rows"].append(
                cpu_ms(lambda f=file_id: store.con.execute(ROWS_SQL, rows_params([f])).fetchall())
            )
        for _ in range(3):
            out["global inputs"].append(
                cpu_ms(lambda: [global_digest(store, q) for q in queries if q.global_inputs])
            )

        def whole() -> None:
            for query in queries:
                rows[query.name] = len(run_rows(store, query))

        out["whole queries"].append(cpu_ms(whole))
        store.con.execute("RESET threads")
    return {m: statistics.median(v) for m, v in out.items()}, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=20, help="files per round")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[DEFAULT_ROW_GROUP_SIZE, 8192, ROW_GROUP_SIZE]
    )
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    queries = load_queries().finding_queries()
    with tempfile.TemporaryDirectory(prefix="graphsvc-rowgroups-") as tmp:
        work = Path(tmp)
        tree, files = thousand_files(work)
        indexed = work / "indexed.duckdb"
        with Store.open(indexed) as store:
            index_tree(tree, store, load_settings(tree), linker=Linker())
        variants = {size: work / f"rg{size}.duckdb" for size in args.sizes}
        for size, db in variants.items():
            rewrite(indexed, db, size)
        results: dict[int, dict[str, list[float]]] = {
            v: {m: [] for m in MEASURES} for v in variants
        }
        answers: dict[int, dict] = {}
        for _ in range(args.rounds):
            for size, db in variants.items():
                medians, answers[size] = measure(db, queries, args.samples)
                for name, value in medians.items():
                    results[size][name].append(value)
        if any(rows != answers[args.sizes[0]] for rows in answers.values()):
            print("the files gave different rows", file=sys.stderr)
            return 1
        sizes = {v: db.stat().st_size / 1e6 for v, db in variants.items()}
        base = args.sizes[0]
        lines = [
            "## Row groups (bench_rowgroups.py), "
            + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "",
            *machine(work),
            f"- corpus: {files} files (bench_link's ~1,000-file tree), {args.rounds} rounds "
            f"alternating, {args.samples} files a round; CPU ms with DuckDB's threads at 1",
            "",
            f"- the indexed database (this checkout's cold index, {ROW_GROUP_SIZE:,}-row groups):"
            f" {indexed.stat().st_size / 1e6:.1f} MB",
            "",
            "| measure | " + " | ".join(f"{size:,} rows" for size in args.sizes) + " |",
            "|---|" + "---|" * len(args.sizes),
        ]
        for name in MEASURES:
            at = {size: statistics.median(results[size][name]) for size in args.sizes}
            cells = [f"{at[size]:.1f} ({at[size] / at[base]:.2f}x)" for size in args.sizes]
            lines.append(f"| {name} (CPU ms, median) | " + " | ".join(cells) + " |")
        cells = [f"{sizes[size]:.1f} ({sizes[size] / sizes[base]:.2f}x)" for size in args.sizes]
        lines.append("| database file, rewritten (MB) | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(f"- the {len(queries)} finding queries gave the same rows on both files")
        emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
