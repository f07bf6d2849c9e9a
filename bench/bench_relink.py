#!/usr/bin/env python3
"""One-file change on a ~1,000-file tree: the linker's re-link and the store's apply, with the
DuckDB statements each one runs.

The re-link is bench_link's: a function appended to a random file, ``index_tree`` with a
resident linker, the linker's run timed. The apply is bench_index's one-file part: a function
appended to a file, ``index_bytes`` then ``store.apply`` of that file (bytes to committed
transaction), spread over the tree (the first edit after the cold index), then each of those
files once more (a save loop edits the same files again), then once more by a store opened
afresh on the same database (the first edit after a restart: the store knows nothing it
wrote). Statements are counted (and timed, per statement text) by wrapping the store's
connection. Each sample has its wall time and its CPU time (the process's, all threads): on a
shared machine other work stretches the first, hardly the second.

With ``--baseline DIR`` (another checkout of graphsvc) both run in rounds, one side after the
other, each in a subprocess with its checkout first on the path, over one copy of the tree
(``--work`` keeps it between invocations); the ratios are the numbers to read. Prints a
Markdown section; --write appends it to BENCHMARKS.md.
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

from bench_index import emit_section, in_checkout, machine, percentile, revision
from bench_link import thousand_files

from graphsvc.config import load_settings
from graphsvc.indexer import index_bytes
from graphsvc.layout import detect_layout
from graphsvc.link import Linker, LinkSummary
from graphsvc.store import Batch, Store
from graphsvc.update import index_tree
from graphsvc.walk import walk

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# sample lists of one measurement: wall and CPU seconds of re-links, of bytes to commit and of
# store.apply alone
SAMPLES = (
    "relink",
    "relink_cpu",
    "total",
    "total_cpu",
    "apply",
    "apply_cpu",
    "again",
    "again_cpu",
    "restart",
    "restart_cpu",
)


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


def relinks(tree: Path, db: Path, edits: int) -> dict[str, list[float]]:
    """Wall and CPU seconds and statements of the linker's run after each one-file edit, then
    after a second edit of each of the same files (a save loop: "relink_again")."""
    rng = random.Random(7)
    settings = load_settings(tree)
    linker = Linker()
    found: dict[str, list[float]] = {
        "relink": [],
        "relink_cpu": [],
        "statements": [],
        "relink_again": [],
        "relink_again_cpu": [],
    }
    originals: dict[Path, bytes] = {}
    with Store.open(db) as store:
        index_tree(tree, store, settings, linker=linker)
        paths = sorted(tree.rglob("*.py"))
        real = store.con
        run: Callable[[Store], LinkSummary] = linker.run
        edited = [rng.choice(paths) for _ in range(edits)]
        for n, path in enumerate([*edited, *edited]):
            again = n >= edits
            originals.setdefault(path, path.read_bytes())
            with path.open("a", encoding="utf-8") as out:
                out.write(f"\n\ndef _bench_edit_{n}():\n    return {n}\n")

            def timed(
                store: Store,
                _run: Callable[[Store], LinkSummary] = run,
                _key: str = "relink_again" if again else "relink",
            ) -> LinkSummary:
                counting = Counting(real)
                store.con = counting  # type: ignore[assignment]
                cpu = time.process_time()
                try:
                    summary = _run(store)
                finally:
                    store.con = real
                found[f"{_key}_cpu"].append(time.process_time() - cpu)
                found[_key].append(summary.seconds)
                if _key == "relink":
                    found["statements"].append(counting.count)
                return summary

            linker.run = timed  # type: ignore[method-assign]
            index_tree(tree, store, settings, linker=linker)
            linker.run = run  # type: ignore[method-assign]
    for path, data in originals.items():
        path.write_bytes(data)
    return found


def _appended(tree: Path, path: str, *names: str) -> bytes:
    """The file's bytes with a small function appended per name (an edit that changes rows of
    a few fact tables: symbols, flows, mentions, ...)."""
    tail = "".join(f"\n\ndef {name}():\n    return {len(name)}\n" for name in names)
    return (tree / path).read_bytes() + tail.encode()


def applies(tree: Path, db: Path, edits: int) -> tuple[dict[str, list[float]], Counting]:
    """Bytes-to-commit and store.apply wall and CPU seconds of one-file batches, and their
    statements (of the first edits, after the cold index)."""
    found_files = walk(tree, exclude=[])
    layout = detect_layout(tree, found_files.project_dirs, [])
    files = sorted(e.path for e in found_files.files)
    picks = [files[i * len(files) // edits] for i in range(edits)]
    found: dict[str, list[float]] = {k: [] for k in SAMPLES[2:]}
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree))
        real = store.con
        counting = Counting(real)
        for n, path in enumerate(picks):
            raw = _appended(tree, path, f"_bench_apply_{n}")
            mtime = (tree / path).stat().st_mtime_ns
            store.con = counting  # type: ignore[assignment]
            cpu, started = time.process_time(), time.perf_counter()
            facts = index_bytes(path, raw, layout.module_for(path), mtime)
            cpu_applying, applying = time.process_time(), time.perf_counter()
            store.apply(Batch(upserts=[facts]))
            cpu_done, done = time.process_time(), time.perf_counter()
            store.con = real
            found["total"].append(done - started)
            found["total_cpu"].append(cpu_done - cpu)
            found["apply"].append(done - applying)
            found["apply_cpu"].append(cpu_done - cpu_applying)
            real.execute("DELETE FROM link_pending")  # no linker runs here
        # the same files edited once more (a save loop edits the same files again)
        for n, path in enumerate(picks):
            raw = _appended(tree, path, f"_bench_apply_{n}", f"_bench_again_{n}")
            _timed_apply(store, path, raw, layout, found, "again")
    # and once more after a restart: a new store on the same database
    with Store.open(db) as store:
        restarted = Counting(store.con)
        store.con = restarted  # type: ignore[assignment]
        for n, path in enumerate(picks):
            names = (f"_bench_apply_{n}", f"_bench_again_{n}", f"_bench_restart_{n}")
            _timed_apply(store, path, _appended(tree, path, *names), layout, found, "restart")
        store.con = restarted._con
    found["restart_statements"] = [restarted.count / max(len(picks), 1)]
    return found, counting


def _timed_apply(
    store: Store, path: str, raw: bytes, layout: Any, found: dict[str, list[float]], key: str
) -> None:
    """Bytes to commit of ``raw`` as ``path``, its wall and CPU seconds added under ``key``."""
    mtime = time.time_ns()
    cpu, started = time.process_time(), time.perf_counter()
    store.apply(Batch(upserts=[index_bytes(path, raw, layout.module_for(path), mtime)]))
    found[key].append(time.perf_counter() - started)
    found[f"{key}_cpu"].append(time.process_time() - cpu)
    con = store.con._con if isinstance(store.con, Counting) else store.con  # not counted
    con.execute("DELETE FROM link_pending")  # no linker runs here


def measure(tree: Path, tmp: Path, edits: int, count: int) -> dict[str, Any]:
    """One side's samples (see SAMPLES), statements per re-link and apply, and the applies'
    statements by text with their total seconds."""
    found: dict[str, Any] = relinks(tree, tmp / "relink.duckdb", edits)
    sampled, counting = applies(tree, tmp / "apply.duckdb", count)
    found |= sampled
    found["apply_statements"] = counting.count / max(count, 1)
    found["by_statement"] = {sql: sum(spent) for sql, spent in counting.seconds.items()}
    return found


def measure_in(tree: str, edits: int, count: int) -> dict[str, Any]:
    """:func:`measure` in a temporary folder of its own (as :func:`bench_index.in_checkout`
    calls it, with paths as strings)."""
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-relink-") as tmp:
        return measure(Path(tree), Path(tmp), edits, count)


def _ms(samples: list[float]) -> str:
    return f"{percentile(samples, 0.5) * 1000:.1f} / {percentile(samples, 0.95) * 1000:.1f}"


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _one_side(found: dict[str, Any], info: list[str], count: int) -> list[str]:
    lines = [f"## One-file re-link and apply (bench_relink.py), {info[0][8:]}", "", *info]
    lines += [f"- corpus: {count} files (bench_link's ~1,000-file repo)", ""]
    lines += ["| metric | wall p50 / p95 | CPU p50 / p95 |", "|---|---|---|"]
    statements = found["statements"]
    lines += [
        f"| one-file re-link (ms, n={len(found['relink'])}) | {_ms(found['relink'])} |"
        f" {_ms(found['relink_cpu'])} |",
        f"| one-file re-link, same file again (ms) | {_ms(found['relink_again'])} |"
        f" {_ms(found['relink_again_cpu'])} |",
        f"| one file bytes to commit (ms, n={len(found['total'])}) | {_ms(found['total'])} |"
        f" {_ms(found['total_cpu'])} |",
        f"| store.apply alone (ms) | {_ms(found['apply'])} | {_ms(found['apply_cpu'])} |",
        f"| bytes to commit, same file again (ms) | {_ms(found['again'])} |"
        f" {_ms(found['again_cpu'])} |",
        f"| bytes to commit, after a restart (ms) | {_ms(found['restart'])} |"
        f" {_ms(found['restart_cpu'])} |",
        "",
        f"- statements per re-link, median (max): {_median(statements):.0f} ({max(statements)})",
        f"- statements per apply: {found['apply_statements']:.0f}"
        f" ({found['restart_statements'][0]:.0f} after a restart)",
    ]
    lines += ["", "Statements of the applies, by total time:", "", "| ms per apply | statement |"]
    lines += ["|---|---|"]
    ranked = sorted(found["by_statement"].items(), key=lambda kv: -kv[1])
    for sql, spent in ranked[:12]:
        lines.append(f"| {spent * 1000 / max(len(found['total']), 1):.2f} | `{sql}` |")
    p95_link = percentile(found["relink"], 0.95) * 1000
    p95_apply = percentile(found["total"], 0.95) * 1000
    return [
        *lines,
        "",
        "Budgets:",
        "",
        f"- {'PASS' if p95_link <= 30 else 'FAIL'} one-file re-link p95 {p95_link:.1f} ms <= 30 ms",
        f"- {'PASS' if p95_apply <= 50 else 'FAIL'} one file bytes to commit p95 "
        f"{p95_apply:.1f} ms <= 50 ms",
    ]


def _compared(
    rounds: list[dict[str, dict[str, Any]]], revs: dict[str, str], info: list[str], count: int
) -> list[str]:
    lines = [
        f"## One-file re-link and apply, this against a baseline (bench_relink.py --baseline),"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *info,
        f"- corpus: {count} files (bench_link's ~1,000-file repo); {len(rounds)} rounds, the"
        " baseline first in each, each side in a subprocess with its checkout first on the path",
        "",
        f"| metric (ms; median of rounds) | baseline {revs['baseline']} | this {revs['this']} |"
        " this / baseline |",
        "|---|---|---|---|",
    ]
    for label, key in (
        ("re-link", "relink"),
        ("re-link CPU", "relink_cpu"),
        ("re-link, same file again", "relink_again"),
        ("re-link, same file again CPU", "relink_again_cpu"),
        ("bytes to commit", "total"),
        ("bytes to commit CPU", "total_cpu"),
        ("store.apply alone", "apply"),
        ("store.apply alone CPU", "apply_cpu"),
        ("bytes to commit, same file again", "again"),
        ("bytes to commit, same file again CPU", "again_cpu"),
        ("bytes to commit, after a restart", "restart"),
        ("bytes to commit, after a restart CPU", "restart_cpu"),
    ):
        for name, q in (("p50", 0.5), ("p95", 0.95)):
            sides = {
                side: _median([percentile(r[side][key], q) * 1000 for r in rounds])
                for side in ("baseline", "this")
            }
            lines.append(
                f"| {label} {name} | {sides['baseline']:.1f} | {sides['this']:.1f} |"
                f" {sides['this'] / sides['baseline']:.2f}x |"
            )
    both = ("baseline", "this")
    cells = [_median([_median(r[side]["statements"]) for r in rounds]) for side in both]
    lines.append(f"| statements per re-link (median) | {cells[0]:.0f} | {cells[1]:.0f} | |")
    cells = [_median([r[side]["apply_statements"] for r in rounds]) for side in both]
    lines.append(f"| statements per apply | {cells[0]:.1f} | {cells[1]:.1f} | |")
    cells = [_median([r[side]["restart_statements"][0] for r in rounds]) for side in both]
    lines.append(f"| statements per apply after a restart | {cells[0]:.1f} | {cells[1]:.1f} | |")
    lines += ["", "Per round (wall p50 / p95 ms, baseline vs this):", ""]
    lines += ["| round | re-link | bytes to commit | store.apply alone |", "|---|---|---|---|"]
    for n, r in enumerate(rounds, 1):
        cells = [f"{_ms(r['baseline'][k])} vs {_ms(r['this'][k])}" for k in SAMPLES[:6:2]]
        lines.append(f"| {n} | {' | '.join(cells)} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=40, help="one-file re-links")
    parser.add_argument("--applies", type=int, default=100, help="one-file applies")
    parser.add_argument("--work", type=Path, help="folder to keep the copied tree in")
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="rounds with --baseline")
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
        if args.baseline is None:
            found = measure(tree, Path(tmp), args.edits, args.applies)
            emit_section(_one_side(found, info, count), args.write)
            return 0
        sides = {"baseline": args.baseline.resolve(), "this": REPO}
        rounds: list[dict[str, dict[str, Any]]] = []
        for _ in range(args.rounds):
            rounds.append(
                {
                    side: in_checkout(
                        checkout, "bench_relink", "measure_in", tree, args.edits, args.applies
                    )
                    for side, checkout in sides.items()
                }
            )
        revs = {side: revision(checkout) for side, checkout in sides.items()}
    emit_section(_compared(rounds, revs, info, count), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
