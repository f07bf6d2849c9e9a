"""Finders: Python steps a saved query may hand its rows to (``-- finder: NAME``) when plain SQL
is awkward, such as strongly connected components. The contract stays rows in, rows out: the
finder's output columns are what the header's templates and evidence name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from graphsvc.queries import duplicates

Rows = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Finder:
    """A named step from the query's rows to finding rows."""

    name: str
    inputs: tuple[str, ...]  # columns the query must return
    outputs: tuple[str, ...]  # columns the finder returns
    run: Callable[[Rows], Rows]
    doc: str


def strongly_connected(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of two or more nodes of a directed graph, each
    sorted, in no particular order (Tarjan's algorithm, iterative: import graphs of big trees
    are deeper than Python's recursion limit; and a plain dict of lists instead of networkx,
    whose graph building cost most of a refresh's time)."""
    graph: dict[str, list[str]] = {}
    for source, target in edges:
        graph.setdefault(source, []).append(target)
        graph.setdefault(target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(graph[root]))]
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(graph[succ])))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:  # node roots a component: the stack above it
                    component = _pop_until(stack, on_stack, node)
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _pop_until(stack: list[str], on_stack: set[str], node: str) -> list[str]:
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == node:
            return component


def _cycles(rows: Rows) -> Rows:
    """One row per strongly connected component (two or more nodes) of the edges
    ``source -> target``; the edges inside a component are its evidence and locations."""
    components = sorted(
        strongly_connected((r["source"], r["target"]) for r in rows if r["source"] != r["target"])
    )
    component_of = {node: index for index, members in enumerate(components) for node in members}
    inside: list[Rows] = [[] for _ in components]
    for r in rows:  # one pass: an edge is inside when both ends are in the same component
        index = component_of.get(r["source"])
        if (
            index is not None
            and r["source"] != r["target"]
            and component_of.get(r["target"]) == index
        ):
            inside[index].append(r)
    out: Rows = []
    for members, edges in zip(components, inside, strict=True):
        edges.sort(key=lambda r: (r["source"], r["target"], r["path"], r["line"]))
        out.append(
            {
                "members": members,
                "size": len(members),
                "first": members[0],
                "edges": sorted({f"{r['source']} -> {r['target']} ({r['path']})" for r in edges}),
                "locations": [
                    {"path": r["path"], "line": r["line"], "symbol": r.get("symbol")} for r in edges
                ],
            }
        )
    out.sort(key=lambda r: (-r["size"], r["first"]))
    return out


FINDERS: dict[str, Finder] = {
    "cycles": Finder(
        "cycles",
        inputs=("source", "target", "path", "line"),
        outputs=("members", "size", "first", "edges", "locations"),
        run=_cycles,
        doc="strongly connected components (>= 2 nodes) of the edges source -> target "
        "(optional column symbol: the scope of each edge's site)",
    ),
    "duplicates": Finder(
        "duplicates",
        inputs=duplicates.INPUTS,
        outputs=duplicates.OUTPUTS,
        run=duplicates.duplicate_groups,
        doc="groups of duplicate definitions: connected components of the clone edges "
        "source -> target, nested copies and same-name alternatives left out",
    ),
}


def finder_names() -> Sequence[str]:
    """Names a header's ``finder:`` may use."""
    return sorted(FINDERS)
