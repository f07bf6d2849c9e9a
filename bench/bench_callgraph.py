#!/usr/bin/env python3
"""Call-graph accuracy: precision and recall of `graphsvc export callgraph` per feature group.

Indexes every case of tests/callgraph/cases into a fresh database, compares the exported
graph with the hand-written callgraph.json, and prints (or appends to BENCHMARKS.md with
--write) a table per group. Edges are (caller, callee) pairs; a misnamed edge counts as one
false positive and one false negative.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from graphsvc.config import load_settings
from graphsvc.navigate import callgraph
from graphsvc.store import Store
from graphsvc.update import index_tree

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "callgraph" / "cases"
Edge = tuple[str, str]


@dataclass
class Score:
    cases: int = 0
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    wrong: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.cases += other.cases
        self.true_pos += other.true_pos
        self.false_pos += other.false_pos
        self.false_neg += other.false_neg
        self.wrong += other.wrong

    @property
    def precision(self) -> float:
        found = self.true_pos + self.false_pos
        return self.true_pos / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_pos + self.false_neg
        return self.true_pos / expected if expected else 1.0


def edges(graph: dict[str, list[str]]) -> set[Edge]:
    return {(caller, callee) for caller, callees in graph.items() for callee in callees}


def case_dirs() -> list[Path]:
    return sorted(p.parent for p in CASES.glob("*/*/callgraph.json"))


def produced(case: Path, work: Path, ambiguous: bool = False) -> set[Edge]:
    """Index ``case`` into a fresh database under ``work`` and export its call graph."""
    db = work / f"{case.parent.name}-{case.name}.duckdb"
    with Store.open(db) as store:
        index_tree(case, store, load_settings(case, jobs=1))
        return edges(callgraph(store, ambiguous=ambiguous))


def expected(case: Path) -> set[Edge]:
    return edges(json.loads((case / "callgraph.json").read_text()))


def score(case: Path, work: Path) -> Score:
    truth, found = expected(case), produced(case, work)
    result = Score(1, len(truth & found), len(found - truth), len(truth - found))
    name = f"{case.parent.name}/{case.name}"
    result.wrong += [f"{name}: false {a} -> {b}" for a, b in sorted(found - truth)]
    result.wrong += [f"{name}: missed {a} -> {b}" for a, b in sorted(truth - found)]
    return result


def report(groups: dict[str, Score]) -> str:
    total = Score()
    lines = ["| group | cases | edges | precision | recall |", "|---|---|---|---|---|"]
    for group, s in sorted(groups.items()):
        total.add(s)
        n = s.true_pos + s.false_neg
        lines.append(f"| {group} | {s.cases} | {n} | {s.precision:.3f} | {s.recall:.3f} |")
    n = total.true_pos + total.false_neg
    p, r = total.precision, total.recall
    lines.append(f"| **overall** | {total.cases} | {n} | **{p:.3f}** | **{r:.3f}** |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    parser.add_argument("--verbose", action="store_true", help="list every wrong edge")
    args = parser.parse_args()
    groups: dict[str, Score] = {}
    with tempfile.TemporaryDirectory(prefix="graphsvc-cg-") as tmp:
        for case in case_dirs():
            groups.setdefault(case.parent.name, Score()).add(score(case, Path(tmp)))
    table = report(groups)
    print(table)
    if args.verbose:
        for group in groups.values():
            print("\n".join(group.wrong))
    if args.write:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip()
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        text = (
            f"\n## Call-graph accuracy, {when}, commit {commit}\n\n"
            f"`python bench/bench_callgraph.py` over tests/callgraph/cases "
            f"(Python {sys.version.split()[0]}); edges are (caller, callee) pairs of "
            "`graphsvc export callgraph` against the hand-written graphs.\n\n"
            f"{table}\n"
        )
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
