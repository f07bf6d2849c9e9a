"""Call-graph accuracy suite: every case's exported graph against the hand-written one.

An edge graphsvc outputs that the case's callgraph.json does not have is a failure unless the
case's gaps.json lists it under "false" (with why); an edge of callgraph.json graphsvc does not
output is a failure unless gaps.json lists it under "missed". So both a regression and an
improvement make this test fail, and gaps.json is the honest list of what is left to do
(precision and recall per group are in BENCHMARKS.md, from bench/bench_callgraph.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphsvc.config import load_settings
from graphsvc.navigate import callgraph
from graphsvc.store import Store
from graphsvc.update import index_tree

CASES = Path(__file__).parent / "callgraph" / "cases"
Edges = set[tuple[str, str]]


def _edges(graph: dict[str, list[str]]) -> Edges:
    return {(caller, callee) for caller, callees in graph.items() for callee in callees}


def _case_ids() -> list[str]:
    return sorted(str(p.parent.relative_to(CASES)) for p in CASES.glob("*/*/callgraph.json"))


def test_the_suite_covers_every_feature_group() -> None:
    groups = {case.split("/")[0] for case in _case_ids()}
    assert {
        "assignments", "builtins", "classes", "closures", "decorators", "dicts", "dynamic",
        "exceptions", "generators", "higher_order", "imports", "kwargs", "lambdas", "lists",
        "mro", "nested", "returns", "super",
    } <= groups  # fmt: skip
    assert len(_case_ids()) >= 60


@pytest.mark.parametrize("case", _case_ids())
def test_case(case: str, tmp_path: Path, update_goldens: bool) -> None:
    root = CASES / case
    truth = _edges(json.loads((root / "callgraph.json").read_text()))
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(root, store, load_settings(root, jobs=1))
        found = _edges(callgraph(store))
    gaps_file = root / "gaps.json"
    gaps = json.loads(gaps_file.read_text()) if gaps_file.exists() else {}
    if update_goldens:
        _update_gaps(gaps_file, gaps, truth - found, found - truth)
        return
    assert sorted(found - truth) == sorted(_edges(gaps.get("false", {}))), "edges not in truth"
    assert sorted(truth - found) == sorted(_edges(gaps.get("missed", {}))), "edges missed"


def _update_gaps(path: Path, gaps: dict[str, object], missed: Edges, false: Edges) -> None:
    """--update-goldens: rewrite gaps.json from the current output, keeping the written why."""
    if not missed and not false:
        path.unlink(missing_ok=True)
        return
    out: dict[str, object] = {"why": gaps.get("why", "TODO: say why")}
    for key, edges in (("missed", missed), ("false", false)):
        if edges:
            graph: dict[str, list[str]] = {}
            for caller, callee in sorted(edges):
                graph.setdefault(caller, []).append(callee)
            out[key] = graph
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
