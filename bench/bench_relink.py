#!/usr/bin/env python3
"""One-file change on a ~1,000-file tree: the linker's re-link and the store's apply, with the
DuckDB statements each one runs.

The re-link is bench_link's: a function appended to a random file, ``index_tree`` with a
resident linker, the linker's run timed. The apply is bench_index's one-file part: a line
appended to a file, ``index_bytes`` then ``store.apply`` of that file (bytes to committed
transaction), spread over the tree. Statements are counted (and timed, per statement text) by
wrapping the store's connection. To compare two checkouts under the same load, run this script
from each in turn, alternating, with the same ``--work`` folder (the tree is copied once).
Prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_index import emit_section, machine, percentile
from bench_link import thousand_files

from graphsvc.config import load_settings
from graphsvc.indexer import index_bytes
from graphsvc.layout import detect_layout
from graphsvc.link import Linker, LinkSummary
from graphsvc.store import Batch, Store
from graphsvc.update import index_tree
from graphsvc.walk import walk


class Counting:
    """A DuckDB connection that counts and times the statements run through it."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.count = 0
        self.seconds: dict[str, list[float]] = {}

    def execute(self, sql: str, *args: Any) -> Any:
        self.count += 1
        started = time.perf_counter()
        try:
            return self._con.execute(sql, *args)
        finally:
            key = " ".join(sql.split())[:90]
            self.seconds.setdefault(key, []).append(time.perf_counter() - started)

    def from_arrow(self, data: Any) -> Any:
        """A relation whose ``insert_into`` is counted and timed like a statement."""
        return _CountedRelation(self, self._con.from_arrow(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class _CountedRelation:
    """An Arrow relation of a :class:`Counting` connection (the store's bulk inserts)."""

    def __init__(self, counting: Counting, relation: Any) -> None:
        self._counting = counting
        self._relation = relation

    def insert_into(self, table: str) -> None:
        counting = self._counting
        counting.count += 1
        started = time.perf_counter()
        try:
            self._relation.insert_into(table)
        finally:
            key = f'INSERT INTO "{table}" (Arrow relation)'
            counting.seconds.setdefault(key, []).append(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._relation, name)


def relinks(tree: Path, db: Path, edits: int) -> tuple[list[float], list[int]]:
    """Seconds and statements of the linker's run after each one-file edit."""
    rng = random.Random(7)
    settings = load_settings(tree)
    linker = Linker()
    seconds: list[float] = []
    statements: list[int] = []
    originals: dict[Path, bytes] = {}
    with Store.open(db) as store:
        index_tree(tree, store, settings, linker=linker)
        paths = sorted(tree.rglob("*.py"))
        real = store.con
        run: Callable[[Store], LinkSummary] = linker.run
        for n in range(edits):
            path = rng.choice(paths)
            originals.setdefault(path, path.read_bytes())
            with path.open("a", encoding="utf-8") as out:
                out.write(f"\n\ndef _bench_edit_{n}():\n    return {n}\n")

            def timed(store: Store, _run: Callable[[Store], LinkSummary] = run) -> LinkSummary:
                counting = Counting(real)
                store.con = counting  # type: ignore[assignment]
                try:
                    summary = _run(store)
                finally:
                    store.con = real
                seconds.append(summary.seconds)
                statements.append(counting.count)
                return summary

            linker.run = timed  # type: ignore[method-assign]
            index_tree(tree, store, settings, linker=linker)
            linker.run = run  # type: ignore[method-assign]
    for path, data in originals.items():
        path.write_bytes(data)
    return seconds, statements


def applies(tree: Path, db: Path, edits: int) -> tuple[list[float], list[float], Counting]:
    """Bytes-to-commit and store.apply seconds of one-file batches, and their statements."""
    found = walk(tree, exclude=[])
    layout = detect_layout(tree, found.project_dirs, [])
    files = sorted(e.path for e in found.files)
    picks = [files[i * len(files) // edits] for i in range(edits)]
    total: list[float] = []
    alone: list[float] = []
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree))
        real = store.con
        counting = Counting(real)
        for n, path in enumerate(picks):
            raw = (tree / path).read_bytes() + f"# bench apply {n}\n".encode()
            mtime = (tree / path).stat().st_mtime_ns
            store.con = counting  # type: ignore[assignment]
            started = time.perf_counter()
            facts = index_bytes(path, raw, layout.module_for(path), mtime)
            applying = time.perf_counter()
            store.apply(Batch(upserts=[facts]))
            done = time.perf_counter()
            store.con = real
            total.append(done - started)
            alone.append(done - applying)
            real.execute("DELETE FROM link_pending")  # no linker runs here
    return total, alone, counting


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=40, help="one-file re-links")
    parser.add_argument("--applies", type=int, default=100, help="one-file applies")
    parser.add_argument("--work", type=Path, help="folder to keep the copied tree in")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-relink-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        info = machine(work)
        tree = work / "repo"
        if not tree.is_dir():
            thousand_files(work)
        count = sum(1 for _ in tree.rglob("*.py"))
        db = Path(tmp) / "relink.duckdb"
        seconds, statements = relinks(tree, db, args.edits)
        db.unlink(missing_ok=True)
        total, alone, counting = applies(tree, Path(tmp) / "apply.duckdb", args.applies)

    def ms(samples: list[float]) -> str:
        return f"{percentile(samples, 0.5) * 1000:.1f} / {percentile(samples, 0.95) * 1000:.1f}"

    per_apply = counting.count / max(len(total), 1)
    lines = [f"## One-file re-link and apply (bench_relink.py), {info[0][8:]}", "", *info]
    lines += [f"- corpus: {count} files (bench_link's ~1,000-file repo)", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [
        f"| one-file re-link p50 / p95 (ms, n={len(seconds)}) | {ms(seconds)} |",
        f"| statements per re-link, median (max) | {sorted(statements)[len(statements) // 2]}"
        f" ({max(statements)}) |",
        f"| one file bytes to commit p50 / p95 (ms, n={len(total)}) | {ms(total)} |",
        f"| store.apply alone p50 / p95 (ms) | {ms(alone)} |",
        f"| statements per apply | {per_apply:.0f} |",
    ]
    lines += ["", "Statements of the applies, by total time:", "", "| ms per apply | statement |"]
    lines += ["|---|---|"]
    ranked = sorted(counting.seconds.items(), key=lambda kv: -sum(kv[1]))
    for sql, spent in ranked[:12]:
        lines.append(f"| {sum(spent) * 1000 / max(len(total), 1):.2f} | `{sql}` |")
    p95_link, p95_apply = percentile(seconds, 0.95) * 1000, percentile(total, 0.95) * 1000
    lines += [
        "",
        "Budgets:",
        "",
        f"- {'PASS' if p95_link <= 30 else 'FAIL'} one-file re-link p95 {p95_link:.1f} ms <= 30 ms",
        f"- {'PASS' if p95_apply <= 50 else 'FAIL'} one file bytes to commit p95 "
        f"{p95_apply:.1f} ms <= 50 ms",
    ]
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
