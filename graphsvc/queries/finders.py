"""Finders: Python steps a saved query may hand its rows to (``-- finder: NAME``) when plain SQL
is awkward, such as strongly connected components. The contract stays rows in, rows out: the
finder's output columns are what the header's templates and evidence name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from graphsvc.queries import deadcode, duplicates

Rows = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Finder:
    """A named step from the query's rows to finding rows."""

    name: str
    inputs: tuple[str, ...]  # columns the query must return
    outputs: tuple[str, ...]  # columns the finder returns
    run: Callable[[Rows], Rows]
    doc: str
    # its output's order does not depend on its input's (rows spliced from partitions give
    # the whole run's order)
    sorts: bool = False


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


SINGLE_CUT_TRIES = 64  # single dependencies checked before asking grimp for a set


def cycle_breakers(edges: Rows) -> list[tuple[str, str]]:
    """Module-to-module dependencies whose removal leaves the component of ``edges`` (rows
    with source and target, one per import site) without a cycle, cheapest first.

    The cheapest single dependency that does it alone, when there is one (a two-module cycle
    always has one). Only a dependency ``u -> v`` where u imports nothing else of the
    component and v is imported by nothing else can (without it, v must be the only source
    of what is left and u the only sink), so few are checked. Otherwise grimp's
    ``nominate_cycle_breakers`` (an approximately minimal set of dependencies; it does not
    weigh them) asked of a graph whose package has the component's members as children,
    sorted by import sites, then by name."""
    sites: dict[tuple[str, str], int] = {}
    for r in edges:
        pair = (r["source"], r["target"])
        sites[pair] = sites.get(pair, 0) + 1
    out_degree: dict[str, int] = {}
    in_degree: dict[str, int] = {}
    for source, target in sites:
        out_degree[source] = out_degree.get(source, 0) + 1
        in_degree[target] = in_degree.get(target, 0) + 1
    alone = [pair for pair in sites if out_degree[pair[0]] == 1 and in_degree[pair[1]] == 1]
    for pair in sorted(alone, key=lambda pair: (sites[pair], pair))[:SINGLE_CUT_TRIES]:
        if not strongly_connected(other for other in sites if other != pair):
            return [pair]
    members = sorted({node for pair in sites for node in pair})
    alias = {m: f"c.m{i}" for i, m in enumerate(members)}
    back = {v: k for k, v in alias.items()}
    import grimp  # only a cycle that no single dependency breaks needs it (#5: ~2 MB)

    graph = grimp.ImportGraph()
    graph.add_module("c")
    for source, target in sites:
        graph.add_import(importer=alias[source], imported=alias[target])
    cut = [(back[a], back[b]) for a, b in graph.nominate_cycle_breakers("c")]
    return sorted(cut, key=lambda pair: (sites[pair], pair))


def _cycles(rows: Rows) -> Rows:
    """One row per strongly connected component (two or more nodes) of the edges
    ``source -> target``; the edges inside a component are its evidence and locations, and
    the dependencies to cut (:func:`cycle_breakers`) its suggestion."""
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
        cut = cycle_breakers(edges)
        out.append(
            {
                "members": members,
                "size": len(members),
                "first": members[0],
                "edges": sorted({f"{r['source']} -> {r['target']} ({r['path']})" for r in edges}),
                "locations": [
                    {"path": r["path"], "line": r["line"], "symbol": r.get("symbol")} for r in edges
                ],
                "cut": [_cut_text(pair, edges) for pair in cut],
                "cut_first": f"{cut[0][0]} -> {cut[0][1]}" if cut else "",
                "cut_size": len(cut),
            }
        )
    out.sort(key=lambda r: (-r["size"], r["first"]))
    return out


def _cut_text(pair: tuple[str, str], edges: Rows) -> str:
    where = [f"{r['path']}:{r['line']}" for r in edges if (r["source"], r["target"]) == pair]
    noun = "import" if len(where) == 1 else "imports"
    return f"{pair[0]} -> {pair[1]} ({len(where)} {noun}: {', '.join(where)})"


FINDERS: dict[str, Finder] = {
    "cycles": Finder(
        "cycles",
        inputs=("source", "target", "path", "line"),
        outputs=("members", "size", "first", "edges", "locations", "cut", "cut_first", "cut_size"),
        run=_cycles,
        doc="strongly connected components (>= 2 nodes) of the edges source -> target "
        "(optional column symbol: the scope of each edge's site), with the dependencies to cut "
        "so that the component has no cycle left (cut: 'a -> b (n imports: path:line, ...)', "
        "fewest import sites first; cut_first, cut_size)",
    ),
    "dead_code": Finder(
        "dead_code",
        inputs=deadcode.INPUTS,
        outputs=deadcode.OUTPUTS,
        run=deadcode.score,
        doc="confidence and reasons of unreachable definitions from the evidence of uses "
        "the linker could not resolve (graphsvc/queries/deadcode.py)",
    ),
    "duplicates": Finder(
        "duplicates",
        inputs=duplicates.INPUTS,
        outputs=duplicates.OUTPUTS,
        run=duplicates.duplicate_groups,
        doc="groups of duplicate definitions: connected components of the clone edges "
        "source -> target, nested copies and same-name alternatives left out",
        sorts=True,
    ),
}


def finder_names() -> Sequence[str]:
    """Names a header's ``finder:`` may use."""
    return sorted(FINDERS)
