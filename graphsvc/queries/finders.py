"""Finders: Python steps a saved query may hand its rows to (``-- finder: NAME``) when plain SQL
is awkward, such as strongly connected components. The contract stays rows in, rows out: the
finder's output columns are what the header's templates and evidence name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Rows = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Finder:
    """A named step from the query's rows to finding rows."""

    name: str
    inputs: tuple[str, ...]  # columns the query must return
    outputs: tuple[str, ...]  # columns the finder returns
    run: Callable[[Rows], Rows]
    doc: str


def _cycles(rows: Rows) -> Rows:
    """One row per strongly connected component (two or more nodes) of the edges
    ``source -> target``; the edges inside a component are its evidence and locations."""
    import networkx as nx  # only queries with this finder pay for the import

    graph: Any = nx.DiGraph()
    graph.add_edges_from((r["source"], r["target"]) for r in rows if r["source"] != r["target"])
    components = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
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
}


def finder_names() -> Sequence[str]:
    """Names a header's ``finder:`` may use."""
    return sorted(FINDERS)
