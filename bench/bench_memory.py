"""Serve memory: RSS of `graphsvc serve` on a stdlib-size tree, allocator settings A/B.

Each variant starts `graphsvc serve` on a fresh copy of the standard library with some
environment (the default: graphsvc's own allocator settings; `jemalloc-defaults`: DuckDB's
jemalloc and glibc malloc left as they come), and reads the service's RSS from /status after
start-up, after N saves (each waited for), after a storm rewriting every file, and after N more
saves. Variants alternate, run after run, so that machine load hits them alike; the table gives
medians, the ratio against the default and the RSS floor (everything imported, nothing indexed).

--baseline DIR runs another checkout of graphsvc (``git archive`` of a commit, put first on
PYTHONPATH) as the first variant, alternating with this checkout (graphsvc's allocator
settings in both): the A/B of a memory change.

--breakdown instead runs the service in this process (no HTTP server) on a stdlib copy, makes
--saves saves (each waited for with ``Service.sync``) and says where its RSS is: anonymous
and file-backed pages, the largest mappings (the brk heap, anonymous mmaps, shared
libraries), DuckDB's own account (``duckdb_memory()``), the Python objects each resident
part of the service holds (``sys.getsizeof`` over everything reachable from it, each object
counted once, in the table's order) and, in a second service run under tracemalloc (which
inflates RSS, so its RSS is not reported), the Python heap by the module that allocated it.
With PYTHONPATH set to another checkout it breaks down that checkout's service.

Prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
from bench_index import emit_section, machine, revision, stdlib_tree
from bench_serve import MB, Served, rss_floor, save_latency, storm

from graphsvc.config import load_settings
from graphsvc.service import Service, index_in_child
from graphsvc.store import Store

VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    # jemalloc reads an empty conf as "no options"; 16 arenas is glibc's default on 2 cores.
    "jemalloc-defaults": {"DUCKDB_JE_MALLOC_CONF": "", "MALLOC_ARENA_MAX": "16"},
}
PHASES = ("start", "saves", "storm", "saves2", "peak")
# The steady RSS is the idle service's: after the last save is synced the service gives memory
# back when idle (malloc_trim, DuckDB's buffer pool: its indexer thread looks every 0.25-1 s)
IDLE_S = 1.5


def one_run(env: dict[str, str], saves: int, indexed: bool = False) -> dict[str, float]:
    """RSS (MB) of one service at each phase (``indexed``: the database is indexed by
    ``graphsvc index`` first, so the service starts as a restarted one does: a reconcile that
    finds nothing to do, then the first findings refresh)."""
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-memory-") as tmp:
        work = Path(tmp)
        tree = stdlib_tree(work)
        if indexed:
            command = [sys.executable, "-m", "graphsvc", "index", str(tree)]
            command += ["--db", str(work / "live.duckdb")]
            # from the temp dir: `python -m` puts the working directory first on sys.path
            subprocess.run(
                command, env={**os.environ, **env}, check=True, capture_output=True, cwd=work
            )
        served = Served(tree, work / "live.duckdb", work / "serve.log", env=env)
        try:
            out: dict[str, float] = {}
            time.sleep(2)  # the linker's warm-up after the start-up reconcile
            out["start"] = served.get("/status")["rss_bytes"] / MB
            save_latency(served, tree, saves, atomic=False)
            time.sleep(IDLE_S)
            out["saves"] = served.get("/status")["rss_bytes"] / MB
            storm(served, tree, 1)
            time.sleep(2)
            out["storm"] = served.get("/status")["rss_bytes"] / MB
            save_latency(served, tree, saves, atomic=False)
            time.sleep(IDLE_S)
            out["saves2"] = served.get("/status")["rss_bytes"] / MB
            out["peak"] = served.peak_rss / MB
            return out
        finally:
            served.stop()


def _mappings(top: int) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """This process's RSS by kind (MB, /proc/self/status) and its ``top`` mappings by RSS."""
    kinds = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("RssAnon", "RssFile", "RssShmem")):
            name, value = line.split(":")
            kinds[name] = int(value.split()[0]) / 1024
    sizes: dict[str, float] = {}
    name = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            name = parts[5] if len(parts) > 5 else "[anonymous mmap]"
            name = name.replace(str(Path(sys.prefix)), "venv")
        elif parts and parts[0] == "Rss:":
            sizes[name] = sizes.get(name, 0.0) + int(parts[1]) / 1024
    return kinds, sorted(sizes.items(), key=lambda item: -item[1])[:top]


def _deep_mb(named: list[tuple[str, object]]) -> list[tuple[str, float]]:
    """MB of the Python objects reachable from each of ``named`` (``sys.getsizeof``; an
    object reachable from several counts for the first; types, modules and functions are
    not followed)."""
    seen: set[int] = set()
    out: list[tuple[str, float]] = []
    for name, root in named:
        total = 0
        stack = [root]
        while stack:
            obj = stack.pop()
            if id(obj) in seen or isinstance(
                obj, (type, types.ModuleType, types.FunctionType, types.MethodType)
            ):
                continue
            seen.add(id(obj))
            total += sys.getsizeof(obj)
            stack.extend(gc.get_referents(obj))
        out.append((name, total / MB))
    return out


def _resident(service: Service) -> list[tuple[str, object]]:
    """The parts of a service that live across batches, by name."""
    refresher = service.findings
    engine = refresher.dead_code
    parts: list[tuple[str, object]] = [
        ("findings refresh: findings of each query's last run (_rendered)", refresher._rendered),
        ("findings refresh: the findings table as last written (_stored)", refresher._stored),
        ("dead_code engine: the graph (deadgraph.py)", engine.graph),
        ("dead_code engine: the evidence (deadnames.py)", engine.evidence),
        ("dead_code engine: the rest (deadcode.py)", engine),
        ("findings refresh: the rest", refresher),
        ("linker (graphsvc/link/)", service.linker),
        ("store", service.store),
    ]
    return parts


def _served_in_process(
    tree: Path, db: Path, saves: int, trace: bool
) -> tuple[dict[str, Any], list[str]]:
    """Serve ``tree`` in this process, make ``saves`` saves, then read where memory is."""
    settings = load_settings(tree)
    if trace:
        tracemalloc.start(1)
    out: dict[str, Any] = {}
    lines: list[str] = []
    with Store.open(db) as store:
        service = Service(tree, store, settings)
        service.start()
        try:
            service.sync(600)
            out["start"] = psutil.Process().memory_info().rss / MB
            targets = sorted(
                p
                for p in tree.rglob("*.py")
                if p.name != "__init__.py" and p.stat().st_size < 40_000
            )[::14][:50]
            originals = {p: p.read_bytes() for p in targets}
            for i in range(saves):
                path = targets[i % len(targets)]
                path.write_bytes(
                    originals[path] + f"\n\ndef bench_{i}():\n    return {i}\n".encode()
                )
                service.sync(600)
            gc.collect()
            out["saves"] = psutil.Process().memory_info().rss / MB
            cursor = store.cursor()
            out["duckdb"] = cursor.execute(
                "SELECT tag, memory_usage_bytes / 2^20 FROM duckdb_memory() "
                "WHERE memory_usage_bytes > 0 ORDER BY 2 DESC"
            ).fetchall()
            cursor.close()
            out["kinds"], out["maps"] = _mappings(8)
            if not trace:
                out["resident"] = _deep_mb(_resident(service))
            if trace:
                stats = tracemalloc.take_snapshot().statistics("filename")
                out["python"] = sum(s.size for s in stats) / MB
                root = str(Path(__file__).resolve().parents[1]) + "/"
                for stat in stats[:10]:
                    where = stat.traceback[0].filename.replace(root, "")
                    lines.append(f"| {where} | {stat.size / MB:.1f} |")
        finally:
            service.stop()
            tracemalloc.stop()
    return out, lines


def breakdown(saves: int, write: bool) -> int:
    """Where the RSS of a serving process goes (see the module doc)."""
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-memory-breakdown-") as tmp:
        work = Path(tmp)
        host = machine(work)
        tree = stdlib_tree(work)
        files = sum(1 for _ in tree.rglob("*.py"))
        floor = rss_floor() / MB
        db = work / "live.duckdb"
        index_in_child(tree, load_settings(tree), db)
        size = db.stat().st_size / MB
        plain, _ = _served_in_process(tree, db, saves, trace=False)
        traced, python = _served_in_process(tree, db, saves, trace=True)
    lines = [
        f"## Serve memory: where it goes, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *host,
        f"- corpus: standard library copy, {files} files; database {size:.1f} MB on disk; the "
        f"service in the bench's process (no HTTP server), {saves} saves each waited for",
        f"- RSS floor (everything imported, nothing indexed, another process): {floor:.0f} MB",
        "",
        "| measure | MB |",
        "|---|---|",
        f"| RSS after start-up (reconcile, first findings refresh) | {plain['start']:.0f} |",
        f"| RSS after the saves | {plain['saves']:.0f} |",
        *(f"| {kind} | {mb:.0f} |" for kind, mb in plain["kinds"].items()),
        *(f"| mapping {name} | {mb:.1f} |" for name, mb in plain["maps"]),
        *(f"| DuckDB {tag} (duckdb_memory()) | {mb:.1f} |" for tag, mb in plain["duckdb"]),
        f"| Python heap, traced (second run, under tracemalloc) | {traced['python']:.1f} |",
        "",
        "Python objects each resident part of the service holds (first run, after the saves;"
        " sys.getsizeof, each object counted once, in this order):",
        "",
        "| part | MB |",
        "|---|---|",
        *(f"| {name} | {mb:.1f} |" for name, mb in plain["resident"]),
        f"| all of the above | {sum(mb for _, mb in plain['resident']):.1f} |",
        "",
        "Python heap by the module that allocated it (second run):",
        "",
        "| module | MB |",
        "|---|---|",
        *python,
        "",
        "- budget: steady RSS <= 150 MB (issue #5)",
    ]
    emit_section(lines, write)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs per variant (alternating)")
    parser.add_argument("--saves", type=int, default=200, help="saves per save phase")
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), help="to run"
    )
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    parser.add_argument(
        "--breakdown", action="store_true", help="where the RSS goes (see the module doc)"
    )
    parser.add_argument(
        "--indexed",
        action="store_true",
        help="index the tree before the service starts (a restarted service's start-up)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of graphsvc to run first, alternating with this one",
    )
    args = parser.parse_args(argv)
    if args.breakdown:
        return breakdown(args.saves, args.write)
    variants = {name: VARIANTS[name] for name in args.variants}
    if args.baseline is not None:
        variants = {f"baseline {revision(args.baseline)}": {"PYTHONPATH": str(args.baseline)}}
        variants["this checkout"] = {}
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-memory-host-") as tmp:
        host = machine(Path(tmp))
    floor = rss_floor() / MB
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for run in range(args.runs):
        for name, env in variants.items():
            results[name].append(one_run(env, args.saves, args.indexed))
            print(f"run {run + 1} {name}: {results[name][-1]}", flush=True)
    median = {
        name: {phase: statistics.median(r[phase] for r in runs) for phase in PHASES}
        for name, runs in results.items()
    }
    lines = [
        f"## Serve memory (allocator A/B), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *host,
        f"- corpus: standard library copy; {args.saves} saves a phase; {args.runs} runs a variant,"
        " alternating; RSS from /status, MB, medians",
        "- start-up: "
        + (
            "the tree indexed by `graphsvc index` first (a restarted service: its reconcile"
            " finds nothing to do)"
            if args.indexed
            else "a fresh database (the service's start-up is a cold index)"
        ),
        f"- RSS floor (everything imported, nothing indexed): {floor:.0f} MB",
        "",
        "| variant | after start | after saves | after a storm | after more saves | peak |"
        f" after more saves / {next(iter(median))} |",
        "|---|---|---|---|---|---|---|",
    ]
    base = median[next(iter(median))]["saves2"]
    for name, values in median.items():
        cells = " | ".join(f"{values[phase]:.0f}" for phase in PHASES)
        lines.append(f"| {name} | {cells} | {values['saves2'] / base:.2f} |")
    lines += [
        "",
        "- budget: steady RSS <= 150 MB (issue #5)",
    ]
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
