#!/usr/bin/env python3
"""Dead-code benchmark: precision and recall of the dead_code query on the hand-written fixture
beside `vulture --min-confidence 60`; the query's time on a ~1,000-file tree beside a plain scan
of the same links (the floor) and the missing_wiring query; finding counts on the standard
library and an installed package, with a reproducible sample of 20 findings to check by hand.
It prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench_index import emit_section, machine
from bench_link import thousand_files

from graphsvc.config import load_settings
from graphsvc.queries import load_queries, run_rows
from graphsvc.store import Store
from graphsvc.update import index_tree

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "deadcode"
BUDGET_MS = 100.0
_VULTURE = re.compile(r"^(.+?):(\d+): unused (\w+(?: \w+)?) '([^']+)' \((\d+)% confidence")


def _index(tree: Path, db: Path, **overrides: object) -> None:
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree, jobs=2, **overrides))


def fixture_scores(work: Path) -> list[str]:
    tree = work / "fixture"
    shutil.copytree(FIXTURE / "tree", tree)
    db = work / "fixture.duckdb"
    _index(tree, db)
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    dead = set(expected["dead"])
    catalog = load_queries()
    with Store.open(db, read_only=True) as store:
        ours = {r["qualname"] for r in run_rows(store, catalog.get("dead_code"))}
        by_line = {
            (path, line): qualname
            for path, line, qualname in store.con.execute(
                "SELECT f.path, s.line, s.qualname FROM symbols s JOIN files f USING (file_id)"
            ).fetchall()
        }
    out = subprocess.run(
        [sys.executable, "-m", "vulture", "--min-confidence", "60", "."],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    theirs: set[str] = set()
    for line in out.splitlines():
        m = _VULTURE.match(line)
        if m is None or m[3] == "import":
            continue  # unused imports are a linter's business; neither side is scored on them
        theirs.add(by_line.get((m[1], int(m[2])), f"{m[1]}:{m[2]}:{m[4]}"))

    def correct(q: str) -> bool:  # a member of a dead class or module is right, if redundant
        return any(q == d or q.startswith(d + ".") for d in dead)

    rows = []
    for name, found in (("graphsvc dead_code (min_confidence 0.8)", ours), ("vulture 60", theirs)):
        right = {q for q in found if correct(q)}
        covered = {d for d in dead if any(q == d or q.startswith(d + ".") for q in found)}
        precision = len(right) / len(found) if found else 1.0
        recall = len(covered) / len(dead)
        wrong = ", ".join(sorted(found - right)) or "none"
        missed = ", ".join(sorted(dead - covered)) or "none"
        rows.append(
            f"| {name} | {len(found)} | {precision:.2f} | {recall:.2f} | {wrong} | {missed} |"
        )
    return [
        f"Fixture `tests/fixtures/deadcode` ({len(dead)} dead definitions written down by hand):",
        "",
        "| tool | reported | precision | recall | wrong | missed |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def query_times(work: Path, runs: int) -> list[str]:
    tree, count = thousand_files(work)
    db = work / "thousand.duckdb"
    _index(tree, db)
    catalog = load_queries()
    times: dict[str, list[float]] = {"dead_code": [], "missing_wiring": [], "floor": []}
    found = 0
    with Store.open(db) as store:
        for _ in range(runs):
            t0 = time.perf_counter()
            found = len(run_rows(store, catalog.get("dead_code")))
            t1 = time.perf_counter()
            run_rows(store, catalog.get("missing_wiring"))
            t2 = time.perf_counter()
            store.con.execute(
                "SELECT count(DISTINCT (scope, target)) FROM links WHERE target IS NOT NULL"
            ).fetchall()
            t3 = time.perf_counter()
            times["dead_code"].append(t1 - t0)
            times["missing_wiring"].append(t2 - t1)
            times["floor"].append(t3 - t2)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    ok = med["dead_code"] <= BUDGET_MS
    return [
        f"Query time on {count} files of site-packages (medians of {runs} runs, ms):",
        "",
        "| dead_code | missing_wiring | floor: distinct edges of links | dead_code / floor |",
        "|---|---|---|---|",
        f"| {med['dead_code']:.0f} | {med['missing_wiring']:.0f} | {med['floor']:.1f} "
        f"| {med['dead_code'] / med['floor']:.0f}x |",
        "",
        f"- {'PASS' if ok else 'FAIL'}: dead_code {med['dead_code']:.0f} ms, budget "
        f"{BUDGET_MS:.0f} ms ({found} findings)",
    ]


def corpus_counts(work: Path, name: str, source: Path, sample: int) -> list[str]:
    tree = work / name
    shutil.copytree(
        source,
        tree,
        # tests stay in: they are entry points, and code only they use is not dead
        ignore=shutil.ignore_patterns("*.pyc", "__pycache__", "site-packages"),
    )
    db = work / f"{name}.duckdb"
    _index(tree, db, dead_code_mode="library")
    registries = 0
    catalog = load_queries()
    with Store.open(db, read_only=True) as store:
        files = store.con.execute("SELECT count(*) FROM files").fetchone()[0]  # type: ignore[index]
        rows = run_rows(store, catalog.get("dead_code"), {"mode": "library"})
        app = run_rows(store, catalog.get("dead_code"), {"mode": "application"})
        registries = len(run_rows(store, catalog.get("registered_never_invoked")))
    bands: dict[float, int] = {}
    for r in rows:
        bands[r["confidence"]] = bands.get(r["confidence"], 0) + 1
    picked = random.Random(8).sample(rows, min(sample, len(rows)))
    lines = [
        f"{name} ({files} files): {len(rows)} findings in library mode "
        f"({', '.join(f'{c}: {n}' for c, n in sorted(bands.items(), reverse=True))}), "
        f"{len(app)} in application mode; {registries} registered_never_invoked."
        + (" Sample (seed 8):" if picked else ""),
        "",
    ]
    lines += [
        f"- `{r['qualname']}` ({r['kind']}, {r['path']}:{r['line']}, {r['confidence']}): "
        f"{r['reasons'][0]}"
        for r in picked
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    parser.add_argument("--package", default="pip", help="an installed package to count on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-") as tmp:
        work = Path(tmp)
        info = machine(work)
        lines = [f"## dead code ({info[0][8:]})", "", *info, ""]
        lines += fixture_scores(work)
        lines += [""]
        lines += query_times(work, args.runs)
        lines += [""]
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        lines += corpus_counts(work, "stdlib", stdlib, 20)
        lines += [""]
        package = Path(sysconfig.get_paths()["purelib"]) / args.package
        if package.is_dir():
            lines += corpus_counts(work, args.package, package, 0)
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
