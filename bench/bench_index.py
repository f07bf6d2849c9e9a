"""Benchmark graphsvc indexing against a parse-only floor and vulture; print a markdown section.

Run: ``.venv/bin/python bench/bench_index.py [--runs 5] [--corpus stdlib|site-packages|all]
[--quick] [--write]``. Every corpus is copied (``.py`` files and project markers only) into a
temporary directory first, so nothing ever writes into the real stdlib or site-packages.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from corpus import copy_sources

from graphsvc.config import DEFAULT_EXCLUDES, Settings, load_settings
from graphsvc.facts import FileFacts, ModuleInfo
from graphsvc.indexer import index_bytes
from graphsvc.layout import detect_layout
from graphsvc.link import Linker, LinkSummary
from graphsvc.parsing import decode_source, parse
from graphsvc.store import Batch, Store
from graphsvc.update import index_tree
from graphsvc.walk import walk

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STDLIB_EXCLUDES = ["test", "tests", "idle_test", "site-packages"]
EDITED_FILES = 20
MB = 1024 * 1024


@dataclass
class Corpus:
    name: str
    source: Path
    exclude: list[str]


@dataclass
class Result:
    runs: int
    rows: dict[str, str] = field(default_factory=dict)
    budgets: list[tuple[str, bool]] = field(default_factory=list)


def fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def spread(samples: Sequence[float], scale: float = 1.0) -> str:
    values = [s * scale for s in samples]
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def repeat(runs: int, action: Callable[[int], float]) -> list[float]:
    return [action(run) for run in range(runs)]


def copy_corpus(corpus: Corpus, dest: Path) -> Path:
    return copy_sources(corpus.source, dest / "tree")


def stdlib_tree(dest: Path, name: str = "tree") -> Path:
    """A copy of the standard library's sources under ``dest/name`` without its tests and
    site-packages (the folders ``STDLIB_EXCLUDES`` names), for benches that edit or serve it."""
    tree = copy_sources(Path(sysconfig.get_paths()["stdlib"]), dest / name)
    for excluded in STDLIB_EXCLUDES:
        for folder in list(tree.rglob(excluded)):
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
    return tree


def stopwatch(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# Linux keeps a process's peak RSS across fork + exec, so a CLI started straight from this
# (large) process would report our peak as its own: start it from a small wrapper instead.
WRAPPER = """import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps([done.returncode, wall, peak, done.stderr.decode()[-2000:]]))
"""


def cli_cold(tree: Path, db: Path, exclude: list[str]) -> tuple[float, float, float, float]:
    """Wall seconds, main peak MB, max child peak MB, peak sampled tree RSS MB of one CLI run."""
    db.unlink(missing_ok=True)
    cmd = [str(BIN / "graphsvc"), "index", str(tree), "--db", str(db), "-q"]
    for pattern in exclude:
        cmd += ["--exclude", pattern]
    wrapper = subprocess.Popen([sys.executable, "-c", WRAPPER, *cmd], stdout=subprocess.PIPE)
    parent = psutil.Process(wrapper.pid)
    child_hwm: dict[int, int] = {}
    tree_peak = 0
    while wrapper.poll() is None:
        total = 0
        with contextlib.suppress(psutil.Error):
            for proc in parent.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
                    if proc.ppid() != wrapper.pid:  # not the CLI itself: forkserver, workers
                        child_hwm[proc.pid] = max(child_hwm.get(proc.pid, 0), _hwm_kb(proc.pid))
        tree_peak = max(tree_peak, total)
        time.sleep(0.02)
    assert wrapper.stdout is not None
    code, wall, main_kb, errors = json.loads(wrapper.stdout.read())
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}): {errors}")
    worker = max(child_hwm.values(), default=0)
    return wall, main_kb / 1024, worker / 1024, tree_peak / MB


def vulture_cmd(tree: Path, exclude: list[str]) -> list[str]:
    # vulture wraps a plain pattern in *...* ("test" would drop unittest/): match whole dirs.
    patterns = [f"*/{name}/*" for name in (*exclude, *DEFAULT_EXCLUDES)]
    return [str(BIN / "vulture"), str(tree), "--exclude", ",".join(patterns)]


def vulture_files(tree: Path, exclude: list[str]) -> int:
    done = subprocess.run(
        [*vulture_cmd(tree, exclude), "--verbose"], capture_output=True, text=True, check=False
    )
    return sum(line.startswith("Scanning:") for line in done.stdout.splitlines())


@dataclass
class Tree:
    """A copied corpus, walked once: every measurement uses this file list."""

    root: Path
    work: Path
    settings: Settings
    files: list[str]
    raws: dict[str, bytes]
    modules: dict[str, ModuleInfo]
    mtimes: dict[str, int]

    @classmethod
    def prepare(cls, corpus: Corpus, work: Path) -> Tree:
        root = copy_corpus(corpus, work)
        settings = load_settings(root, exclude=corpus.exclude)
        found = walk(root, exclude=corpus.exclude)
        files = [e.path for e in found.files]
        layout = detect_layout(root, found.project_dirs, settings.package_roots)
        return cls(
            root,
            work,
            settings,
            files,
            {path: (root / path).read_bytes() for path in files},
            {path: layout.module_for(path) for path in files},
            {e.path: e.mtime_ns for e in found.files},
        )


def measure_parts(tree: Tree, runs: int, out: Result) -> list[float]:
    """Size, the parse-only floor, extraction alone and DB writes alone; returns the floor."""
    raws = tree.raws.values()
    lines = sum(r.count(b"\n") + (0 if not r or r.endswith(b"\n") else 1) for r in raws)
    out.rows["files / MB / lines"] = f"{len(raws)} / {sum(map(len, raws)) / MB:.1f} / {lines:,}"

    def parse_all() -> None:
        for raw in raws:
            parse(decode_source(raw).data)

    def extract_all() -> list[FileFacts]:
        return [index_bytes(p, tree.raws[p], tree.modules[p], tree.mtimes[p]) for p in tree.files]

    floor = repeat(runs, lambda _: stopwatch(parse_all))
    out.rows["floor: parse only, 1 process"] = spread(floor)
    out.rows["index_bytes, 1 process (no DB)"] = spread(
        repeat(runs, lambda _: stopwatch(extract_all))
    )
    facts, step = extract_all(), tree.settings.batch_files

    def apply_all(run: int) -> float:
        with Store.open(tree.work / f"apply{run}.duckdb") as store:
            started = time.perf_counter()
            for i in range(0, len(facts), step):
                store.apply(Batch(upserts=facts[i : i + step]))
            return time.perf_counter() - started

    out.rows["store.apply, all facts (fresh DB)"] = spread(repeat(runs, apply_all))
    return floor


class TimedLinker(Linker):
    """A linker that remembers how long its last run took."""

    seconds = 0.0

    def run(self, store: Store) -> LinkSummary:
        summary = super().run(store)
        self.seconds = summary.seconds
        return summary


def cold(tree: Tree, db: Path, jobs: int = 0) -> tuple[float, float, float]:
    """Seconds of one in-process cold ``index_tree`` (facts, then linking) and of the
    open + close around it."""
    db.unlink(missing_ok=True)
    settings = tree.settings.model_copy(update={"jobs": jobs})
    linker = TimedLinker()
    started = time.perf_counter()
    store = Store.open(db)
    opened = time.perf_counter()
    summary = index_tree(tree.root, store, settings, linker=linker)
    indexed = time.perf_counter()
    store.close()
    closed = time.perf_counter()
    if summary.parsed != len(tree.files):
        raise RuntimeError(f"cold index parsed {summary.parsed} of {len(tree.files)} files")
    facts = indexed - opened - linker.seconds
    return facts, linker.seconds, (opened - started) + (closed - indexed)


def measure_incremental(
    tree: Tree, runs: int, edits: int, db: Path, out: Result, budget_no_change: bool
) -> None:
    """No-change re-index, then one appended line per file: bytes-to-commit and index_tree."""
    with Store.open(db) as store:

        def no_change(_: int) -> float:
            summary = index_tree(tree.root, store, tree.settings)
            if summary.parsed:
                raise RuntimeError(f"no-change re-index parsed {summary.parsed} files")
            return summary.seconds

        unchanged = repeat(runs, no_change)
        picks = [tree.files[i * len(tree.files) // edits] for i in range(edits)]
        samples: list[float] = []
        reindex: list[float] = []
        for run in range(runs):
            for n, path in enumerate(picks):
                target = tree.root / path
                with target.open("ab") as handle:
                    handle.write(f"# bench edit {run}.{n}\n".encode())
                raw, mtime = target.read_bytes(), target.stat().st_mtime_ns
                started = time.perf_counter()
                store.apply(Batch(upserts=[index_bytes(path, raw, tree.modules[path], mtime)]))
                samples.append(time.perf_counter() - started)
            with (tree.root / picks[run % edits]).open("ab") as handle:
                handle.write(f"# bench reindex {run}\n".encode())
            summary = index_tree(tree.root, store, tree.settings)
            if summary.parsed != 1:
                raise RuntimeError(f"one-file re-index parsed {summary.parsed} files")
            reindex.append(summary.seconds)
    out.rows["no-change re-index"] = spread(unchanged)
    median = statistics.median(unchanged)
    if budget_no_change:
        out.budgets.append((f"no-change re-index {median:.3f} s <= 0.5 s", median <= 0.5))
    p50, p95 = percentile(samples, 0.5) * 1000, percentile(samples, 0.95) * 1000
    out.rows["one file: bytes to commit, p50 / p95 (ms)"] = (
        f"{fmt(p50)} / {fmt(p95)} (max {fmt(max(samples) * 1000)}, n={len(samples)})"
    )
    out.rows["one file: index_tree re-index"] = spread(reindex)
    out.budgets.append((f"one changed file p95 {p95:.1f} ms <= 50 ms", p95 <= 50))


def bench_corpus(corpus: Corpus, runs: int, edits: int, work: Path) -> Result:
    out = Result(runs)
    tree = Tree.prepare(corpus, work)
    print(f"[{corpus.name}] {len(tree.files)} files; {runs} runs", file=sys.stderr)
    floor = measure_parts(tree, runs, out)

    pooled = [cold(tree, work / f"cold{run}.duckdb") for run in range(runs)]
    cold_s = [c[0] for c in pooled]
    link_s = [c[1] for c in pooled]
    serial = [cold(tree, work / "serial.duckdb", jobs=1)[0] for _ in range(runs)]
    ratio = statistics.median(cold_s) / statistics.median(floor)
    out.rows["cold index: facts (in-process, jobs=CPU count)"] = spread(cold_s)
    out.rows["cold index: facts, jobs=1"] = spread(serial)
    out.rows["cold index: linking (1 process; see the linker benchmark)"] = spread(link_s)
    out.rows["cold index: facts + linking"] = spread([c[0] + c[1] for c in pooled])
    out.rows["open + close around cold index"] = spread([c[2] for c in pooled])
    out.rows["cold / floor"] = f"{ratio:.2f}x"
    out.budgets.append((f"cold index (facts) {ratio:.2f}x floor <= 3x", ratio <= 3))

    cli = [cli_cold(tree.root, work / "cli.duckdb", corpus.exclude) for _ in range(runs)]
    out.rows["CLI cold index (subprocess)"] = spread([c[0] for c in cli])
    out.rows["CLI main peak RSS (MB)"] = spread([c[1] for c in cli])
    out.rows["CLI child peak RSS, max (MB)"] = spread([c[2] for c in cli])
    out.rows["CLI tree RSS sum, sampled peak (MB)"] = spread([c[3] for c in cli])
    peak = statistics.median([max(c[1], c[2]) for c in cli])
    out.budgets.append((f"cold peak RSS (largest process) {peak:.0f} MB <= 300 MB", peak <= 300))

    last_db = work / f"cold{runs - 1}.duckdb"
    measure_incremental(tree, runs, edits, last_db, out, corpus.name == "stdlib")

    seen = vulture_files(tree.root, corpus.exclude)
    if seen != len(tree.files):
        print(f"warning: vulture scans {seen} files, graphsvc {len(tree.files)}", file=sys.stderr)
    cmd = vulture_cmd(tree.root, corpus.exclude)
    vult = repeat(runs, lambda _: stopwatch(lambda: subprocess.run(cmd, capture_output=True)))
    share = statistics.median(cold_s) / statistics.median(vult)
    total = statistics.median([c[0] + c[1] for c in pooled]) / statistics.median(vult)
    out.rows["vulture"] = f"{spread(vult)}, {seen} files"
    out.rows["cold (facts) / vulture"] = f"{share:.3f}"
    out.rows["cold (facts + linking) / vulture"] = f"{total:.3f}"
    out.budgets.append((f"cold index (facts) {share:.3f} of vulture <= 1/3", share <= 1 / 3))
    return out


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    return done.stdout.strip()


def in_checkout(checkout: Path, module: str, function: str, *args: object) -> Any:
    """``module.function(*args)`` run in a fresh interpreter with ``checkout`` (another
    checkout of graphsvc, the baseline of an A/B) first on its path and bench/ next; its
    result as JSON gives it (``args`` go as JSON too: paths as strings)."""
    code = (
        "import importlib, json, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]];"
        " run = getattr(importlib.import_module(sys.argv[3]), sys.argv[4]);"
        " print(json.dumps(run(*json.loads(sys.argv[5]))))"
    )
    bench = str(Path(__file__).resolve().parent)
    given = json.dumps(args, default=str)
    out = subprocess.run(
        [sys.executable, "-c", code, str(checkout), bench, module, function, given],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:  # say why (a baseline that cannot open a newer database, ...)
        raise RuntimeError(f"{module}.{function} in {checkout} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def revision(checkout: Path) -> str:
    """The short commit of another ``checkout`` of graphsvc, the baseline of an A/B (a ``git
    archive`` of one has none: its folder's name)."""
    done = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else checkout.name


def code_state() -> str:
    """HEAD, and whether tracked files differ from it (untracked files such as bench/ do not)."""
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no", "--", "graphsvc"])
    head = _run(["git", "rev-parse", "--short", "HEAD"])
    return f"{head} (graphsvc/ differs from HEAD)" if dirty else head


def emit_section(lines: list[str], write: bool) -> str:
    """Print the Markdown section made of ``lines``; with ``write`` append it to BENCHMARKS.md."""
    section = "\n".join(lines) + "\n"
    print(section)
    if write:
        append_section(section)
    return section


def append_section(text: str) -> None:
    """Append a Markdown section to BENCHMARKS.md (append only: earlier runs stay as written)."""
    target = REPO / "BENCHMARKS.md"
    target.write_text(target.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + text)


def machine(work: Path) -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    disk = _run(["df", "-hT", str(work)]).splitlines()[-1]
    versions = ", ".join(
        f"{pkg} {importlib.metadata.version(pkg)}"
        for pkg in ("duckdb", "tree-sitter", "tree-sitter-python", "vulture")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}",
        f"- commit: {code_state()}",
        f"- CPU: {cpu}; {os.cpu_count()} cores ({psutil.cpu_count(logical=False)} physical)",
        f"- RAM: {psutil.virtual_memory().total / 1024**3:.1f} GiB; OS: {platform.platform()}",
        f"- Python {platform.python_version()}; {versions}",
        f"- disk (temp dir): `{' '.join(disk.split())}`",
        f"- load average at start (1/5/15 min): {load}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--site-packages-runs", type=int, help="runs for site-packages only")
    parser.add_argument("--corpus", choices=["stdlib", "site-packages", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="1 run, 5 edited files")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    runs, edits = (1, 5) if args.quick else (args.runs, EDITED_FILES)
    corpora = {
        "stdlib": Corpus("stdlib", Path(sysconfig.get_paths()["stdlib"]), STDLIB_EXCLUDES),
        "site-packages": Corpus("site-packages", Path(sysconfig.get_paths()["purelib"]), []),
    }
    chosen = list(corpora) if args.corpus == "all" else [args.corpus]
    results: dict[str, Result] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-") as tmp:
        info = machine(Path(tmp))
        for name in chosen:
            work = Path(tmp) / name
            work.mkdir()
            n = args.site_packages_runs if name == "site-packages" and not args.quick else None
            results[name] = bench_corpus(corpora[name], n or runs, edits, work)
    total = time.perf_counter() - started
    if code_state() != info[1][10:]:
        info.append(f"- **code changed during the run**: now {code_state()}; rows may mix versions")
    counts = ", ".join(f"{name} {results[name].runs}" for name in chosen)
    title = "quick run (not a result)" if args.quick else f"runs: {counts}"
    lines = [f"## {info[0][8:]}, {title}", "", *info, f"- bench wall time: {total:.0f} s", ""]
    lines += ["| metric | " + " | ".join(chosen) + " |", "|---" * (len(chosen) + 1) + "|"]
    for row in results[chosen[0]].rows:
        lines.append(
            f"| {row} | " + " | ".join(results[n].rows.get(row, "") for n in chosen) + " |"
        )
    lines += ["", "Budgets:", ""]
    for name in chosen:
        for text, ok in results[name].budgets:
            lines.append(f"- {'PASS' if ok else 'FAIL'} {name}: {text}")
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        target = REPO / "BENCHMARKS.md"
        existing = target.read_text(encoding="utf-8") if target.exists() else "# Benchmarks\n"
        target.write_text(existing.rstrip("\n") + "\n\n" + section, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
