"""Serve memory by start-up phase: what each step of a restarted service's start-up adds, by
allocator.

A stdlib copy is indexed once (in a child, as `graphsvc serve` does); then, for each variant
(this checkout; with --baseline DIR also another checkout, a ``git archive`` of a commit put
first on PYTHONPATH, runs alternating), a fresh interpreter opens the database and goes through
the service's start-up steps one by one, in this process and without threads: the linker's
resident index (``Linker.warm``), the first findings refresh of every saved query
(``Refresher.run``, the ``dead_code`` engine's first, full run among them), glibc's
``malloc_trim`` (the findings thread's ``trim_heap``), DuckDB's buffer pool evicted
(what the service does when idle after each refresh since session 15,
``Store.evict_buffers``; done here in SQL so that a baseline checkout without that method
runs the same step), then an experiment: the ``dead_code`` engine dropped.
After each step it reads RSS (anonymous and file pages), pymalloc's arenas and the bytes in
its blocks (``sys._debugmallocstats``), glibc's heap in use and free (``mallinfo2``) and
DuckDB's own account (``duckdb_memory()``).

Prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
from bench_query_heap import MallInfo2

MB = 2**20
COLUMNS = ("rss", "anon", "file", "arenas", "pymalloc", "glibc", "glibc_free", "duckdb")
HEADS = (
    "RSS",
    "RssAnon",
    "RssFile",
    "pymalloc arenas",
    "pymalloc in blocks",
    "glibc in use",
    "glibc free",
    "DuckDB",
)


def _pymalloc() -> tuple[float, float]:
    """pymalloc's arenas and the bytes in its allocated blocks, MB (its stats go to fd 2)."""
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as out:
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    arenas = re.search(r"# arenas allocated current\s*=\s*([\d,]+)", text)
    used = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", text)
    if arenas is None or used is None:
        return 0.0, 0.0
    # arenas are 1 MiB since Python 3.10
    return float(arenas.group(1).replace(",", "")), int(used.group(1).replace(",", "")) / MB


def _measure(con: object) -> dict[str, float]:
    gc.collect()
    kinds = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "RssAnon", "RssFile")):
            name, value = line.split(":")
            kinds[name] = int(value.split()[0]) / 1024
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    arenas, used = _pymalloc()
    cursor = con.cursor()  # type: ignore[attr-defined]
    rows = cursor.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
    cursor.close()
    return {
        "rss": kinds["VmRSS"],
        "anon": kinds["RssAnon"],
        "file": kinds["RssFile"],
        "arenas": arenas,
        "pymalloc": used,
        "glibc": info.uordblks / MB,
        "glibc_free": info.fordblks / MB,
        "duckdb": float(rows[0][0] or 0) / MB,
    }


def _evict(con: object) -> str:
    """What ``Store.evict_buffers`` does (in SQL: a baseline checkout may not have it): ask
    for a ``memory_limit`` of 2MB, which evicts every unpinned block and is refused where more
    stays pinned (the limit then never moves), else set the limit back; what happened."""
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]  # type: ignore[attr-defined]
    try:
        con.execute("SET memory_limit = '2MB'")  # type: ignore[attr-defined]
    except duckdb.OutOfMemoryException:
        return "2MB refused"
    con.execute("SET memory_limit = $limit", {"limit": before})  # type: ignore[attr-defined]
    return "2MB"


def child(tree: Path, db: Path) -> None:
    """One run of the start-up steps (see the module doc); prints its rows as JSON."""
    from graphsvc.config import load_settings
    from graphsvc.findings import Refresher
    from graphsvc.link import Linker
    from graphsvc.queries import load_queries, user_query_dirs
    from graphsvc.store import Store

    settings = load_settings(tree)
    steps: list[tuple[str, dict[str, float]]] = []
    with Store.open(db) as store:
        steps.append(("database opened", _measure(store.con)))
        linker = Linker(settings.python)
        linker.warm(store)
        steps.append(("+ linker's resident index", _measure(store.con)))
        refresher = Refresher(
            load_queries(None, user_query_dirs(tree, settings)), tree, settings.suppress
        )
        writer = store.writer()
        try:
            refresher.run(writer, store.as_of())
        finally:
            writer.close()
        steps.append(("+ first findings refresh", _measure(store.con)))
        ctypes.CDLL(None).malloc_trim(0)
        steps.append(("+ malloc_trim", _measure(store.con)))
        took = _evict(store.con)
        steps.append((f"+ DuckDB buffer pool evicted ({took})", _measure(store.con)))
        refresher.dead_code = None  # type: ignore[assignment]
        steps.append(("+ dead_code engine dropped", _measure(store.con)))
    print(json.dumps(steps))


def _run_child(tree: Path, db: Path, env: dict[str, str]) -> list[tuple[str, dict[str, float]]]:
    command = [sys.executable, __file__, "--child", str(tree), str(db)]
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return [tuple(step) for step in json.loads(done.stdout.strip().splitlines()[-1])]  # type: ignore[misc]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per variant (alternating)")
    parser.add_argument("--baseline", type=Path, help="another checkout, run alternating")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    from bench_index import emit_section, machine, revision, stdlib_tree

    from graphsvc.config import load_settings
    from graphsvc.service import index_in_child

    variants: dict[str, dict[str, str]] = {}
    if args.baseline is not None:
        variants[f"baseline {revision(args.baseline)}"] = {"PYTHONPATH": str(args.baseline)}
    variants[f"this checkout {revision(Path(__file__).resolve().parents[1])}"] = {}
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-memory-phases-") as tmp:
        work = Path(tmp)
        host = machine(work)
        tree = stdlib_tree(work)
        files = sum(1 for _ in tree.rglob("*.py"))
        db = work / "live.duckdb"
        index_in_child(tree, load_settings(tree), db)
        size = db.stat().st_size / MB
        results: dict[str, list[list[tuple[str, dict[str, float]]]]] = {v: [] for v in variants}
        for run in range(args.runs):
            for name, env in variants.items():
                copy = work / f"run-{run}-{len(results[name])}-{abs(hash(name))}.duckdb"
                copy.write_bytes(db.read_bytes())
                results[name].append(_run_child(tree, copy, env))
                copy.unlink()
                print(f"run {run + 1} {name}: done", file=sys.stderr, flush=True)
    lines = [
        "## Serve memory by start-up phase (bench_memory_phases.py), "
        + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "",
        *host,
        f"- corpus: standard library copy, {files} files; database {size:.1f} MB on disk, indexed"
        f" in a child first; each run a fresh interpreter on a copy of it; {args.runs} runs a"
        " variant, alternating; MB, medians (each step's state, not its increment)",
        "",
    ]
    for name, runs in results.items():
        lines += [f"{name}:", "", "| step | " + " | ".join(HEADS) + " |"]
        lines.append("|---" * (len(HEADS) + 1) + "|")
        for i, (step, _) in enumerate(runs[0]):
            cells = [statistics.median(r[i][1][c] for r in runs) for c in COLUMNS]
            lines.append(f"| {step} | " + " | ".join(f"{v:.0f}" for v in cells) + " |")
        lines.append("")
    lines.append("- budget: steady RSS <= 150 MB (issue #5)")
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
