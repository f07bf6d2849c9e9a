#!/usr/bin/env python3
"""Snapshot benchmark: publishing the read-only snapshot of a stdlib graph, two ways.

- checkpoint + copy: what ``graphsvc.snapshot.publish_snapshot`` does after a committed batch
  (CHECKPOINT on the writer, ``cp`` to a temp name, fsync, rename);
- ATTACH + COPY FROM DATABASE into a new file in the v1.5.0 storage format (the alternative).

Before each run one file is re-written (a committed batch), so each checkpoint has work to do.
Medians of --runs with min-max, in ms; the floor is a plain ``cp`` of the same file measured in
the same run. It prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

from bench_index import (
    STDLIB_EXCLUDES,
    Corpus,
    append_section,
    copy_corpus,
    machine,
    spread,
    stopwatch,
)

from graphsvc.config import Settings, load_settings
from graphsvc.snapshot import publish_snapshot
from graphsvc.store import STORAGE_COMPATIBILITY, Store
from graphsvc.update import index_tree


def rewrite_one(store: Store, tree: Path, settings: Settings, run: int) -> None:
    """One committed batch: a file of the tree with a line appended, re-indexed."""
    path = min(tree.glob("*.py"))
    with path.open("a", encoding="utf-8") as out:
        out.write(f"\nBENCH_{run} = {run}\n")
    index_tree(tree, store, settings)


def attach_copy(store: Store, dest: Path) -> float:
    started = time.perf_counter()
    database = store.con.execute("SELECT current_database()").fetchall()[0][0]
    store.con.execute(f"ATTACH '{dest}' AS snap (STORAGE_VERSION '{STORAGE_COMPATIBILITY}')")
    store.con.execute(f'COPY FROM DATABASE "{database}" TO snap')
    store.con.execute("DETACH snap")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    stdlib = Corpus("stdlib", Path(sysconfig.get_paths()["stdlib"]), STDLIB_EXCLUDES)
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-snapshot-") as tmp:
        work = Path(tmp)
        info = machine(work)
        tree = copy_corpus(stdlib, work)
        db = work / "graph.duckdb"
        settings = load_settings(tree, exclude=stdlib.exclude)
        publishes, attaches, copies = [], [], []
        with Store.open(db) as store:
            index_tree(tree, store, settings)
            files = store.con.execute("SELECT count(*) FROM files").fetchall()[0][0]
            for run in range(args.runs):
                rewrite_one(store, tree, settings, run)
                publishes.append(publish_snapshot(store).ms / 1000)
                rewrite_one(store, tree, settings, run + args.runs)
                attaches.append(attach_copy(store, work / f"attach{run}.duckdb"))
                copies.append(
                    stopwatch(
                        lambda: subprocess.run(
                            ["cp", str(db), str(work / "plain.duckdb")], check=True
                        )
                    )
                )
            size = db.stat().st_size
    rows = [
        ("files in the graph / database file (MB)", f"{files:,} / {size / 1024**2:.0f}"),
        ("floor: `cp` of the database file (ms)", spread(copies, 1000)),
        ("checkpoint + copy + rename, `publish_snapshot` (ms)", spread(publishes, 1000)),
        ("ATTACH + COPY FROM DATABASE, v1.5.0 storage (ms)", spread(attaches, 1000)),
        (
            "ATTACH + COPY / checkpoint + copy",
            f"{sorted(attaches)[len(attaches) // 2] / sorted(publishes)[len(publishes) // 2]:.1f}x",
        ),
    ]
    lines = [f"## Snapshot, {info[0][8:]}", "", *info, "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        append_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
