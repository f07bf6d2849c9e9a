#!/usr/bin/env python3
"""Linker benchmark: cold linking and export of the stdlib, one-file re-link on ~1,000 files.

Each number sits beside the tree-sitter parse-only floor of the same corpus, measured in the
same run; medians of --runs with min-max. The one-file re-link is the linker's part of a
one-file change with a resident linker (as `graphsvc serve` keeps it): from the committed facts
batch to the committed links. It prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench_index import (
    STDLIB_EXCLUDES,
    Corpus,
    copy_corpus,
    emit_section,
    machine,
    percentile,
    spread,
    stopwatch,
)

from graphsvc import navigate
from graphsvc.config import load_settings
from graphsvc.link import Linker
from graphsvc.parsing import decode_source, parse
from graphsvc.store import Store
from graphsvc.update import index_tree
from graphsvc.walk import walk

BUDGET_RELINK_P95_MS = 30.0
BUDGET_EXPORT_S = 2.0
TARGET_FILES = 1000


def parse_floor(tree: Path, exclude: list[str]) -> float:
    files = [tree / e.path for e in walk(tree, exclude=exclude).files]
    data = [decode_source(p.read_bytes()).data for p in files]
    return stopwatch(lambda: [parse(d) for d in data])


def cold_link(tree: Path, db: Path, exclude: list[str]) -> tuple[float, float, int]:
    """Facts first (not timed), then a full link: (link seconds, export seconds, links)."""
    db.unlink(missing_ok=True)
    with Store.open(db) as store:
        settings = load_settings(tree, exclude=exclude)
        index_tree(tree, store, settings)
        store.con.execute("DELETE FROM link_state")  # the next run re-links everything
        summary = Linker().run(store)
        export = stopwatch(lambda: navigate.callgraph(store))
        return summary.seconds, export, summary.links


def cli_export(tree: Path, db: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "graphsvc", "export", "callgraph", "--db", str(db), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def indexed_db(work: Path, db: Path | None) -> tuple[Path, int]:
    """``db`` (default: ``work/repo.duckdb``) indexed from :func:`thousand_files`, unless it
    exists already (then reused as it is), and its number of files."""
    db = db or work / "repo.duckdb"
    if not db.exists():
        tree, files = thousand_files(work)
        with Store.open(db) as store:
            index_tree(tree, store, load_settings(tree), linker=Linker())
        return db, files
    with Store.open(db) as store:
        return db, int(store.con.execute("SELECT count(*) FROM files").fetchall()[0][0])


def thousand_files(work: Path, target: int = TARGET_FILES) -> tuple[Path, int]:
    """Whole top-level packages of site-packages, in name order, until about ``target`` files."""
    source = Path(sysconfig.get_paths()["purelib"])
    tree = work / "repo"
    tree.mkdir()
    count = 0
    for entry in sorted(source.iterdir()):
        if count >= target:
            break
        if entry.is_dir() and entry.name.isidentifier():
            files = list(entry.rglob("*.py"))
            if files:
                shutil.copytree(entry, tree / entry.name, ignore=shutil.ignore_patterns("*.pyc"))
                count += len(files)
    return tree, count


def one_file_relinks(tree: Path, db: Path, edits: int) -> tuple[list[float], list[int]]:
    """Edit random files one at a time (a new function: a changed module), re-index with a
    resident linker, and time the linker's run."""
    rng = random.Random(7)
    settings = load_settings(tree)
    linker = Linker()
    timings: list[float] = []
    relinked: list[int] = []
    with Store.open(db) as store:
        index_tree(tree, store, settings, linker=linker)
        paths = sorted(tree.rglob("*.py"))
        for n in range(edits):
            path = rng.choice(paths)
            with path.open("a", encoding="utf-8") as out:
                out.write(f"\n\ndef _bench_edit_{n}():\n    return {n}\n")
            original = linker.run

            def timed(store: Store, _run=original) -> object:
                summary = _run(store)
                timings.append(summary.seconds)
                relinked.append(summary.files)
                return summary

            linker.run = timed  # type: ignore[method-assign]
            index_tree(tree, store, settings, linker=linker)
            linker.run = original  # type: ignore[method-assign]
    return timings, relinked


def status_counts(db: Path) -> list[tuple[str, str, int]]:
    with Store.open(db, read_only=True) as store:
        return store.query(
            "SELECT site, status, count(*) FROM links GROUP BY ALL ORDER BY 1, 3 DESC"
        ).rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    stdlib = Corpus("stdlib", Path(sysconfig.get_paths()["stdlib"]), STDLIB_EXCLUDES)
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-link-") as tmp:
        work = Path(tmp)
        info = machine(work)
        tree = copy_corpus(stdlib, work)
        floors, links, exports, clis = [], [], [], []
        count = 0
        for run in range(args.runs):
            floors.append(parse_floor(tree, stdlib.exclude))
            link_s, export_s, count = cold_link(tree, work / "std.duckdb", stdlib.exclude)
            links.append(link_s)
            exports.append(export_s)
            clis.append(cli_export(tree, work / "std.duckdb", work / f"cg{run}.json"))
        counts = status_counts(work / "std.duckdb")
        repo, repo_files = thousand_files(work)
        repo_floor = parse_floor(repo, [])
        relinks, relinked = one_file_relinks(repo, work / "repo.duckdb", args.edits)
    floor = sorted(floors)[len(floors) // 2]
    p50, p95 = percentile(relinks, 0.5) * 1000, percentile(relinks, 0.95) * 1000
    rows = [
        ("stdlib parse-only floor, 1 process (s)", spread(floors)),
        (f"stdlib cold link, all {count:,} links (s)", spread(links)),
        ("stdlib cold link / floor", f"{sorted(links)[len(links) // 2] / floor:.2f}x"),
        ("stdlib export callgraph from links, in process (s)", spread(exports)),
        ("stdlib `graphsvc export callgraph` CLI, wall (s)", spread(clis)),
        (f"{repo_files}-file repo parse-only floor (s)", f"{repo_floor:.3g}"),
        (
            f"{repo_files}-file repo one-file re-link p50 / p95 (ms, n={len(relinks)})",
            f"{p50:.1f} / {p95:.1f} (max {max(relinks) * 1000:.1f})",
        ),
        (
            "files re-linked per edit, median (max)",
            f"{sorted(relinked)[len(relinked) // 2]} ({max(relinked)})",
        ),
    ]
    cli_median = sorted(clis)[len(clis) // 2]
    lines = [f"## Linker, {info[0][8:]}", "", *info, "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    lines += [
        "",
        "stdlib links by site and status:",
        "",
        "| site | status | links |",
        "|---|---|---|",
    ]
    lines += [f"| {site} | {status} | {n:,} |" for site, status, n in counts]
    lines += [
        "",
        "Budgets:",
        "",
        f"- {'PASS' if p95 <= BUDGET_RELINK_P95_MS else 'FAIL'} one-file re-link p95 "
        f"{p95:.1f} ms <= {BUDGET_RELINK_P95_MS:.0f} ms",
        f"- {'PASS' if cli_median <= BUDGET_EXPORT_S else 'FAIL'} stdlib export callgraph "
        f"(CLI, from the database) {cli_median:.2f} s <= {BUDGET_EXPORT_S:.0f} s",
    ]
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
