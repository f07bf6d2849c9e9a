"""Cold index of the standard library: this checkout against a baseline, with and without clone
fingerprints, beside the parse-only floor; print a markdown section.

Run: ``.venv/bin/python bench/bench_cold.py --baseline DIR [--rounds 3] [--write]``, ``DIR``
a graphsvc source tree (e.g. ``git archive main | tar -x -C DIR``). Every measurement runs in a
fresh interpreter with that source first on ``PYTHONPATH``, on one copy of the stdlib (tests
excluded, as ``bench_index.py``), and the variants alternate within each round (the order
rotates from round to round), so that a shared machine's load falls on all of them alike:

- ``facts``: ``index_tree`` into a fresh database with a pool of one worker per core (what
  ``bench_index.py`` calls "cold index: facts"), its linking timed apart; wall seconds, and
  CPU seconds of every process of it (the main process less linking, the pool's workers),
  which a shared machine's load moves far less;
- ``CLI``: ``graphsvc index`` as users run it (start-up, facts, linking, findings), wall time;
- each with clone fingerprints off as well (``graphsvc.extract.CLONES = False``, set in every
  process of the run, pool workers included, by a ``sitecustomize`` module on the path), for
  #8's budget: clone hashing adds <= 20% to the cold index;
- the floor: decode + tree-sitter parse of every file in one process (this checkout), once per
  round.

Each run's database is checked: its file count, and no clone rows when clones are off.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_index import STDLIB_EXCLUDES, emit_section, machine, spread
from corpus import copy_sources

from graphsvc.config import load_settings
from graphsvc.parsing import decode_source, parse
from graphsvc.walk import walk

REPO = Path(__file__).resolve().parent.parent
SITE = """import os
if os.environ.get("GRAPHSVC_BENCH_CLONES") == "0":
    import graphsvc.extract
    graphsvc.extract.CLONES = False
"""
FACTS = """import json, sys, time
from pathlib import Path
import psutil
from graphsvc.config import load_settings
from graphsvc.link import Linker
from graphsvc.store import Store
from graphsvc.update import index_tree

class TimedLinker(Linker):
    seconds = cpu = 0.0
    def run(self, store):
        cpu = time.process_time()
        summary = super().run(store)
        self.cpu = time.process_time() - cpu
        self.seconds = summary.seconds
        return summary

def descendants_cpu():
    # the pool's workers are children of the forkserver: a live process's cpu_times count
    # its own time and that of the children it has reaped (the workers that exited)
    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total

def main():
    tree, db = Path(sys.argv[1]), Path(sys.argv[2])
    settings = load_settings(tree, exclude=sys.argv[3:]).model_copy(update={"jobs": 0})
    linker = TimedLinker()
    with Store.open(db) as store:
        started, cpu = time.perf_counter(), time.process_time()
        summary = index_tree(tree, store, settings, linker=linker)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    cpu += descendants_cpu() - linker.cpu
    print(json.dumps([wall - linker.seconds, cpu, summary.parsed]))

if __name__ == "__main__":
    main()
"""


def _env(src: Path, site: Path, clones: bool) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{src}{os.pathsep}{site}",
        "GRAPHSVC_BENCH_CLONES": "1" if clones else "0",
    }


def _counts(db: Path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        files = con.execute("SELECT count(*) FROM files").fetchone()
        clones = con.execute("SELECT count(*) FROM clones").fetchone()
    finally:
        con.close()
    return (int(files[0]) if files else 0), (int(clones[0]) if clones else 0)


def _check(db: Path, files: int, clones: bool, what: str) -> None:
    found, clone_rows = _counts(db)
    if found != files or (clone_rows == 0) == clones:
        raise RuntimeError(f"{what}: {found} files (want {files}), {clone_rows} clone rows")


CPU: dict[tuple[str, bool], list[float]] = {}  # (source, clones) -> facts-phase CPU seconds


def run_facts(src: Path, site: Path, tree: Path, db: Path, clones: bool, files: int) -> float:
    """Seconds of the facts phase of one cold ``index_tree`` (its linking left out); its CPU
    seconds (this process, less linking, plus the pool's workers) go to :data:`CPU`."""
    db.unlink(missing_ok=True)
    script = db.with_suffix(".py")
    script.write_text(FACTS)
    done = subprocess.run(
        [sys.executable, str(script), str(tree), str(db), *STDLIB_EXCLUDES],
        env=_env(src, site, clones),
        cwd=src,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"index_tree with {src} failed: {done.stderr[-2000:]}")
    facts, cpu, parsed = json.loads(done.stdout.strip().splitlines()[-1])
    if parsed != files:
        raise RuntimeError(f"index_tree with {src} parsed {parsed} of {files} files")
    _check(db, files, clones, f"index_tree with {src}")
    CPU.setdefault((str(src), clones), []).append(float(cpu))
    return float(facts)


def run_cli(src: Path, site: Path, tree: Path, db: Path, clones: bool, files: int) -> float:
    """Wall seconds of one ``graphsvc index`` into a fresh database."""
    db.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "graphsvc", "index", str(tree), "--db", str(db), "-q"]
    for pattern in STDLIB_EXCLUDES:
        cmd += ["--exclude", pattern]
    started = time.perf_counter()
    done = subprocess.run(
        cmd, env=_env(src, site, clones), cwd=src, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"graphsvc index with {src} failed: {done.stderr[-2000:]}")
    _check(db, files, clones, f"graphsvc index with {src}")
    return wall


def floor(tree: Path) -> tuple[float, int]:
    """Seconds to decode and parse every file of ``tree`` once (one process), and the count."""
    found = walk(tree, exclude=STDLIB_EXCLUDES)
    raws = [(tree / e.path).read_bytes() for e in found.files]
    started = time.perf_counter()
    for raw in raws:
        parse(decode_source(raw).data)
    return time.perf_counter() - started, len(raws)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="baseline source tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="facts phase only")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    sources = {"baseline": args.baseline.resolve(), "this": REPO}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="graphsvc-cold-") as tmp:
        work = Path(tmp)
        site = work / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(SITE)
        tree = copy_sources(Path(sysconfig.get_paths()["stdlib"]), work / "tree")
        load_settings(tree, exclude=STDLIB_EXCLUDES)
        header = machine(work)
        kinds = ["facts"] if args.no_cli else ["facts", "CLI"]
        variants = [
            (kind, name, clones)
            for kind in kinds
            for name in ("baseline", "this")
            for clones in (True, False)
        ]
        samples: dict[tuple[str, str, bool], list[float]] = {v: [] for v in variants}
        floors: list[float] = []
        loads: list[float] = []
        files = 0
        for round_no in range(args.rounds):
            seconds, files = floor(tree)
            floors.append(seconds)
            shift = round_no % len(variants)
            for kind, name, clones in variants[shift:] + variants[:shift]:
                loads.append(os.getloadavg()[0])
                run = run_facts if kind == "facts" else run_cli
                db = work / f"{kind}-{name}-{int(clones)}.duckdb"
                value = run(sources[name], site, tree, db, clones, files)
                samples[(kind, name, clones)].append(value)
                print(
                    f"round {round_no}: {kind} {name} clones={clones}: {value:.2f} s",
                    file=sys.stderr,
                )
    med = {k: statistics.median(v) for k, v in samples.items()}
    floor_med = statistics.median(floors)
    lines = [
        f"## Cold index A/B (bench_cold.py), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *header,
        f"- baseline: `{sources['baseline']}`; this: `{REPO}`",
        f"- corpus: the stdlib, {files} files; rounds: {args.rounds} (variants alternate,"
        " the order rotates each round); seconds, median (min-max)",
        f"- load average (1 min) at each run: {min(loads):.2f}-{max(loads):.2f}",
        f"- bench wall time: {time.perf_counter() - started:.0f} s",
        "",
        "| measure | baseline | this | this / baseline |",
        "|---|---|---|---|",
        f"| floor: parse only, 1 process | {spread(floors)} | | |",
    ]
    for kind in kinds:
        label = "cold index: facts (jobs=CPU count)" if kind == "facts" else "CLI `graphsvc index`"
        for clones in (True, False):
            a, b = samples[(kind, "baseline", clones)], samples[(kind, "this", clones)]
            tag = "" if clones else ", clones off"
            lines.append(
                f"| {label}{tag} | {spread(a)} | {spread(b)}"
                f" | {statistics.median(b) / statistics.median(a):.2f} |"
            )
        shares = [
            (med[(kind, n, True)] - med[(kind, n, False)]) / med[(kind, n, False)]
            for n in ("baseline", "this")
        ]
        lines.append(f"| {label}: clone share | {shares[0]:.1%} | {shares[1]:.1%} | |")
    for clones in (True, False):
        a, b = CPU[(str(sources["baseline"]), clones)], CPU[(str(sources["this"]), clones)]
        tag = "" if clones else ", clones off"
        lines.append(
            f"| cold index: facts, CPU seconds (all processes){tag} | {spread(a)} | {spread(b)}"
            f" | {statistics.median(b) / statistics.median(a):.2f} |"
        )
    cpu_share = [
        (
            statistics.median(CPU[(str(sources[n]), True)])
            - statistics.median(CPU[(str(sources[n]), False)])
        )
        / statistics.median(CPU[(str(sources[n]), False)])
        for n in ("baseline", "this")
    ]
    share_cells = f"{cpu_share[0]:.1%} | {cpu_share[1]:.1%}"
    lines.append(f"| cold index: facts, CPU seconds: clone share | {share_cells} | |")
    facts = med[("facts", "this", True)]
    base = med[("facts", "baseline", True)]
    lines += [
        "",
        f"- cold index (facts) / floor: baseline {base / floor_med:.2f}x, this"
        f" {facts / floor_med:.2f}x (budget <= 3x)",
    ]
    for kind in kinds:
        on, off = med[(kind, "this", True)], med[(kind, "this", False)]
        what = "the facts phase" if kind == "facts" else "`graphsvc index`"
        lines.append(
            f"- clone fingerprints add {(on - off) / off:.1%} to {what} (this; budget #8 <= 20%)"
        )
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
