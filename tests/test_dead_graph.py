"""The incremental dead_code's graph (graphsvc/findings/deadgraph.py): a file's seeds added or
taken away at once leave the same edges, the same notes of moved edges and the same reached
nodes as the same seeds one edge at a time."""

from __future__ import annotations

import random
from array import array

import pytest

from graphsvc.findings.deadgraph import ROOT, FileParts, Graph


def _file(rng: random.Random, nodes: list[int], seeds: int) -> FileParts:
    edges = array("Q")
    for _ in range(rng.randrange(0, 6)):
        edges.extend(rng.sample(nodes, 2))
    # repeated seeds count twice, as the rows that make them do
    return FileParts(edges=edges, seeds=array("Q", rng.choices(nodes, k=seeds)))


class _OneAtATime(Graph):
    """The graph as it was: every seed one edge() at a time."""

    def seed_each(self, nodes, n):  # type: ignore[no-untyped-def]
        for node in nodes:
            self.edge(ROOT, node, n)


@pytest.mark.parametrize("seed", range(6))
def test_seeds_at_once_equal_seeds_one_at_a_time(seed: int) -> None:
    rng = random.Random(seed)
    nodes = list(range(1, 60))
    graphs = (Graph(), _OneAtATime())
    files: dict[int, FileParts] = {}
    for file_id in range(12):  # small files take the one-at-a-time path, big ones the batch
        files[file_id] = _file(rng, nodes, rng.choice((0, 3, 15, 16, 40, 120)))
    for graph in graphs:
        for file_id, f in files.items():
            graph.add(file_id, f)
        graph.reach(True)
        graph.tracking = True
    for _ in range(30):
        file_id = rng.randrange(14)
        f = _file(rng, nodes, rng.choice((0, 2, 17, 64)))
        for graph in graphs:
            graph.drop(file_id)
            graph.add(file_id, f)
        assert graphs[0]._moved == graphs[1]._moved
        assert graphs[0]._out == graphs[1]._out  # the same edges in the same order
        delta = [graph.reach(False) for graph in graphs]
        assert delta[0] == delta[1]
        assert graphs[0].reached == graphs[1].reached


def test_taking_away_seeds_the_root_does_not_have_fails() -> None:
    graph = Graph()
    graph.add(1, FileParts(seeds=array("Q", range(1, 20))))
    graph.files[1].seeds = array("Q", range(5, 25))  # not what it added
    with pytest.raises(ValueError, match="seeds the root does not have"):
        graph.drop(1)
