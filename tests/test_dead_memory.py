"""The compact state of the incremental dead_code (#5) gives the saved query's rows: the parts
read a few rows at a time, and the indexes that hold one value without a container."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_dead_incremental import Edits, _expected

import graphsvc.findings.deadcode as deadcode
from graphsvc.config import load_settings
from graphsvc.findings.deadcode import DeadCode
from graphsvc.findings.deadgraph import DeadRow, FileParts, Graph, interned
from graphsvc.findings.deadnames import Evidence, FileEvidence
from graphsvc.link import Linker
from graphsvc.store import Store
from graphsvc.update import index_tree


def test_parts_read_a_few_rows_at_a_time_give_the_saved_querys_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadcode, "CHUNK", 7)  # every statement's rows in many chunks
    edits = Edits(tmp_path / "tree", 5)
    settings = load_settings(edits.root, jobs=1)
    linker = Linker()
    engine = DeadCode(min_files=0)
    with Store.open(tmp_path / "graph.duckdb") as store:
        engine.note(index_tree(edits.root, store, settings, linker=linker))
        assert engine.rows(store, 0.0) == _expected(store, 0.0)
        assert engine.last.full and engine.last.ms["parts"] > 0
        for _ in range(6):
            action = edits.step()
            engine.note(index_tree(edits.root, store, settings, linker=linker))
            assert engine.rows(store, 0.0) == _expected(store, 0.0), action
            assert engine.rows(store, 0.8) == _expected(store, 0.8), action


def _eligible(file_id: int, qualname: str, line: int) -> FileParts:
    parts = FileParts()
    row = (file_id, qualname, hash(qualname), qualname.rsplit(".", 1)[-1], "function", "m")
    parts.eligible.append(interned((*row, f"m{file_id}.py", line, "m")))
    return parts


def test_a_qualname_defined_once_twice_then_once_again() -> None:
    graph = Graph()
    graph.add(1, _eligible(1, "m.f", 3))
    assert [r[0] for r in graph.definitions("m.f")] == [1]
    graph.add(2, _eligible(2, "m.f", 9))
    assert sorted(r[0] for r in graph.definitions("m.f")) == [1, 2]
    graph.drop(1)
    assert [(r[0], r[7]) for r in graph.definitions("m.f")] == [(2, 9)]
    assert graph.q_by_id == {hash("m.f"): "m.f"}
    graph.drop(2)
    assert graph.definitions("m.f") == [] and graph.by_q == {} and graph.q_by_id == {}


def _reads(path: str, *, attr: bool, string: bool) -> FileEvidence:
    found = FileEvidence(path=path)
    if attr:
        found.attrs["archive"] = True  # a read of .archive no link explains
    if string:
        found.strings = ["archive"]
    return found


def test_evidence_of_a_name_read_in_one_file_then_two_then_none() -> None:
    dead: DeadRow = ("m.Order.archive", "archive", "method", "m.Order", "m.py", 4, "m", 9, False)
    evidence = Evidence()
    evidence.add(9, FileEvidence(path="m.py"))
    evidence.add(1, _reads("a.py", attr=True, string=True))
    facts = evidence.facts(dead)
    assert (facts["attr_paths"], facts["string_paths"]) == (["a.py"], ["a.py"])
    evidence.add(2, _reads("b.py", attr=True, string=False))
    evidence.add(3, _reads("c.py", attr=False, string=True))
    facts = evidence.facts(dead)
    assert (facts["attr_paths"], facts["string_paths"]) == (["a.py", "b.py"], ["a.py", "c.py"])
    evidence.drop(1)
    facts = evidence.facts(dead)
    assert (facts["attr_paths"], facts["string_paths"]) == (["b.py"], ["c.py"])
    evidence.drop(2)
    evidence.drop(3)
    facts = evidence.facts(dead)
    assert (facts["attr_paths"], facts["string_paths"]) == (None, None)


def _defining(graph: Graph, file_id: int, qualname: str, calls: str) -> FileParts:
    """A file defining ``qualname`` (a function reached from the root) that calls ``calls``,
    its definition's node the graph's object, as DeadCode reads it."""
    parts = FileParts()
    node = graph.node(hash(qualname) % 2**64)
    row = (file_id, qualname, node, qualname.rsplit(".", 1)[-1], "function", "m")
    parts.eligible.append(interned((*row, f"m{file_id}.py", 3, "m")))
    parts.seeds.append(node)
    parts.edges.extend([node, hash(calls) % 2**64])
    parts.ids.append(node)
    return parts


def test_the_state_holds_one_object_per_node_and_forgets_renamed_ones() -> None:
    """Graph.node (#5): the indexes and the reached set share one int object per node value,
    what reachability finds is unchanged, and values left by renames are pruned."""
    graph = Graph()
    graph.add(1, _defining(graph, 1, "m.f", "m.g"))
    graph.add(2, _defining(graph, 2, "m.g", "m.f"))
    graph.reach(True)
    g = hash("m.g") % 2**64
    assert graph.reached == {hash("m.f") % 2**64, g}
    held = [k for k in graph.q_by_id if k == g] + [k for k in graph._ids if k == g]
    held += [n for n in graph.reached if n == g] + [k for k in graph._out if k == g]
    assert len(held) == 4 and all(n is held[0] for n in held)
    for step in range(6000):  # file 2 renamed again and again
        graph.drop(2)
        graph.add(2, _defining(graph, 2, f"m.g{step}", "m.f"))
        graph.reach(False)
    assert len(graph._nodes) < 5000  # 6,000 values were seen
    graph.drop(2)
    graph.reach(True)
    assert graph.reached == {hash("m.f") % 2**64, g}  # m.f's call, whether defined or not
    assert [r[1] for r in graph.definitions("m.f")] == ["m.f"]
