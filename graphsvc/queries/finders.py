"""Finders: Python steps a saved query may hand its rows to (``-- finder: NAME``) when plain SQL
is awkward, such as strongly connected components. The contract stays rows in, rows out: the
finder's output columns are what the header's templates and evidence name.
"""

from __future__ import annotations

import os
import shutil
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


# Shell builtins and keywords a command line may start with: never "missing" from PATH.
SHELL_BUILTINS = frozenset(
    {
        ".", ":", "[", "alias", "bg", "break", "builtin", "cd", "command", "continue", "echo",
        "eval", "exec", "exit", "export", "false", "fg", "for", "if", "jobs", "kill", "printf",
        "pwd", "read", "return", "set", "shift", "source", "test", "trap", "true", "type",
        "ulimit", "umask", "unset", "wait", "while",
    }
)  # fmt: skip


def _not_on_path(rows: Rows) -> Rows:
    """The rows whose ``program`` this process cannot find on its PATH (nor as a path to an
    executable), shell builtins aside; each gets type, category and reason."""
    out: Rows = []
    for r in rows:
        program = str(r["program"])
        if program in SHELL_BUILTINS or shutil.which(program) is not None:
            continue
        where = "is not an executable file" if "/" in program else "is not on PATH"
        out.append(
            {**r, "type": "executable", "category": "program", "reason": f"{program} {where}"}
        )
    return out


def _unset_env(rows: Rows) -> Rows:
    """The rows whose ``variable`` is not set in this process's environment (what the code
    would read here); each gets type, category and reason."""
    return [
        {**r, "type": "environment_variable", "category": "env", "reason": "not set"}
        for r in rows
        if str(r["variable"]) not in os.environ
    ]


FINDERS: dict[str, Finder] = {
    "cycles": Finder(
        "cycles",
        inputs=("source", "target", "path", "line"),
        outputs=("members", "size", "first", "edges", "locations"),
        run=_cycles,
        doc="strongly connected components (>= 2 nodes) of the edges source -> target "
        "(optional column symbol: the scope of each edge's site)",
    ),
    "not_on_path": Finder(
        "not_on_path",
        inputs=("program", "run_in", "locations"),
        outputs=("program", "run_in", "locations", "type", "category", "reason"),
        run=_not_on_path,
        doc="the programs this process cannot find on its PATH (shell builtins count as found)",
    ),
    "unset_env": Finder(
        "unset_env",
        inputs=("variable", "read_in", "locations"),
        outputs=("variable", "read_in", "locations", "type", "category", "reason"),
        run=_unset_env,
        doc="the environment variables not set in this process's environment",
    ),
}


def finder_names() -> Sequence[str]:
    """Names a header's ``finder:`` may use."""
    return sorted(FINDERS)
