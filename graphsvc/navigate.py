"""Graph navigation over the links: callers, callees, imports, and the exported call graph.

Everything here reads the ``call_edges`` / ``import_edges`` views, so the CLI answers exactly
what a person gets from the same views in the duckdb shell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from graphsvc.errors import NotFoundError
from graphsvc.facts import SymbolKind
from graphsvc.store import QueryResult, Store

# Definitions that are keys of the exported call graph: everything but variables.
CALLABLE_KINDS = tuple(k for k in get_args(SymbolKind) if k not in ("variable", "constant"))
EXPORTED_STATUSES = ("resolved", "external", "builtin")
MAX_DEPTH = 5
MAX_EDGES = 5000
# Calls and decorator applications (a decorator is called with the function it decorates).
_CALL_SITES = "(l.site = 'call' OR (l.site = 'reference' AND l.kind = 'decorator'))"


def _known(store: Store, name: str, what: str) -> None:
    """Fail with suggestions when ``name`` is neither a symbol nor a link target."""
    row = store.con.execute(
        "SELECT EXISTS (SELECT 1 FROM symbols WHERE qualname = $n)"
        " OR EXISTS (SELECT 1 FROM links WHERE target = $n)",
        {"n": name},
    ).fetchone()
    if row and row[0]:
        return
    last = name.rsplit(".", 1)[-1]
    similar = [
        q
        for (q,) in store.con.execute(
            "SELECT DISTINCT qualname FROM symbols WHERE name = $last ORDER BY qualname LIMIT 5",
            {"last": last},
        ).fetchall()
    ]
    hint = f"; did you mean {', '.join(similar)}?" if similar else ""
    raise NotFoundError(name, f"no {what} named {name} in the graph{hint}")


def callers(store: Store, symbol: str, ambiguous: bool = True) -> QueryResult:
    """Call sites whose target is ``symbol``; for a class, also the calls that instantiate it.

    Raises:
        NotFoundError: ``symbol`` is unknown.
    """
    _known(store, symbol, "symbol")
    statuses = [*EXPORTED_STATUSES, "ambiguous"] if ambiguous else list(EXPORTED_STATUSES)
    return store.query(
        "SELECT caller, callee, status, strategy, path, line, expression FROM call_edges"
        " WHERE (callee = $1 OR named = $1) AND list_contains($2, status)"
        " ORDER BY path, line, col, callee",
        [symbol, statuses],
    )


def callees(store: Store, symbol: str, ambiguous: bool = True) -> QueryResult:
    """What ``symbol`` calls, with unresolved call sites listed too (target NULL, with reason).

    Raises:
        NotFoundError: ``symbol`` is unknown.
    """
    _known(store, symbol, "symbol")
    statuses = [*EXPORTED_STATUSES, "ambiguous", "unresolved"]
    if not ambiguous:
        statuses.remove("ambiguous")
    return store.query(
        "SELECT l.target AS callee, l.status, l.strategy, f.path, l.line, l.expression, l.reason"
        " FROM links AS l JOIN files AS f USING (file_id)"
        " WHERE l.site = 'call' AND l.scope = $1 AND list_contains($2, l.status)"
        " ORDER BY l.line, l.col, l.target",
        [symbol, statuses],
    )


@dataclass(frozen=True, slots=True)
class CallEdge:
    """One call site in a caller/callee walk, ``depth`` steps away from the symbol."""

    caller: str  # qualname of the calling scope
    callee: str | None  # None: unresolved (see reason)
    named: str | None  # the class a constructor call names when callee is its __init__
    kind: str  # call | decorator
    status: str  # resolved | ambiguous | unresolved | external | builtin
    strategy: str
    path: str
    line: int
    col: int
    expression: str
    reason: str | None
    depth: int


@dataclass(frozen=True, slots=True)
class CallWalk:
    """The edges found walking from ``symbol``, nearest first; ``truncated`` when the edge cap
    stopped the walk."""

    symbol: str
    direction: Literal["callers", "callees"]
    depth: int
    edges: list[CallEdge]
    truncated: bool


def call_walk(
    store: Store,
    symbol: str,
    direction: Literal["callers", "callees"],
    *,
    depth: int = 1,
    ambiguous: bool = True,
    limit: int = 500,
) -> CallWalk:
    """Callers (who calls ``symbol``, then who calls those, ...) or callees (what it calls,
    unresolved call sites included, then what those call) up to ``depth`` steps. Only resolved
    and ambiguous targets are followed further: outside code has no call sites in the graph.

    Raises:
        NotFoundError: ``symbol`` is neither a definition nor a call target.
        ValueError: ``depth`` or ``limit`` out of range.
    """
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 1 and {MAX_DEPTH}, not {depth}")
    if not 1 <= limit <= MAX_EDGES:
        raise ValueError(f"limit must be between 1 and {MAX_EDGES}, not {limit}")
    _known(store, symbol, "symbol")
    statuses: list[str] = [*EXPORTED_STATUSES, "ambiguous"] if ambiguous else [*EXPORTED_STATUSES]
    if direction == "callees":
        statuses.append("unresolved")
        match = "list_contains($names, l.scope)"
    else:
        match = "l.target IS NOT NULL AND (list_contains($names, l.target)"
        match += " OR list_contains($names, l.named))"
    sql = (
        "SELECT l.scope, l.target, l.named, CASE WHEN l.site = 'call' THEN 'call'"
        " ELSE 'decorator' END, l.status, l.strategy, f.path, l.line, l.col, l.expression,"
        f" l.reason FROM links AS l JOIN files AS f USING (file_id) WHERE {_CALL_SITES}"
        f" AND {match} AND list_contains($statuses, l.status)"
        " ORDER BY f.path, l.line, l.col, l.target NULLS FIRST LIMIT $limit"
    )
    edges: list[CallEdge] = []
    seen = {symbol}
    frontier = [symbol]
    truncated = False
    for level in range(1, depth + 1):
        rows = store.con.execute(
            sql,
            {"names": frontier, "statuses": statuses, "limit": limit - len(edges) + 1},
        ).fetchall()
        if len(edges) + len(rows) > limit:
            rows = rows[: limit - len(edges)]
            truncated = True
        found = [CallEdge(*row, depth=level) for row in rows]
        edges += found
        if truncated:
            break
        follow = (
            (e.caller for e in found)
            if direction == "callers"
            else (e.callee for e in found if e.status in ("resolved", "ambiguous"))
        )
        frontier = sorted({name for name in follow if name is not None} - seen)
        seen.update(frontier)
        if not frontier:
            break
    return CallWalk(symbol, direction, depth, edges, truncated)


def imports(store: Store, module: str) -> QueryResult:
    """What ``module`` imports, with the status of each import.

    Raises:
        NotFoundError: ``module`` is not a module of the tree.
    """
    _module(store, module)
    return store.query(
        "SELECT imported_module, imported, status, strategy, line, expression, reason"
        " FROM import_edges WHERE importer = $1 ORDER BY line, col, imported",
        [module],
    )


def imported_by(store: Store, module: str) -> QueryResult:
    """Modules whose imports lead to ``module`` (directly or to a name it defines).

    Raises:
        NotFoundError: ``module`` is not a module of the tree.
    """
    _module(store, module)
    return store.query(
        "SELECT importer, imported, status, strategy, path, line, expression FROM import_edges"
        " WHERE imported_module = $1 OR imported = $1 ORDER BY importer, line, col",
        [module],
    )


def _module(store: Store, module: str) -> None:
    query = "SELECT count(*) FROM modules WHERE name = $m"
    row = store.con.execute(query, {"m": module}).fetchone()
    if row and row[0]:
        return
    _known(store, module, "module")


def callgraph(store: Store, ambiguous: bool = False) -> dict[str, list[str]]:
    """``{caller: sorted callees}``: every module, class, function and lambda is a key.

    Edges are the resolved, external and builtin links of call sites and decorator applications
    (plus every candidate of an ambiguous one with ``ambiguous``); calling a class names its
    ``__init__`` when it has one.
    """
    graph: dict[str, set[str]] = {
        q: set()
        for (q,) in store.con.execute(
            "SELECT DISTINCT qualname FROM symbols WHERE list_contains($kinds, kind)",
            {"kinds": list(CALLABLE_KINDS)},
        ).fetchall()
    }
    statuses = [*EXPORTED_STATUSES, "ambiguous"] if ambiguous else list(EXPORTED_STATUSES)
    for caller, callee in store.con.execute(
        "SELECT DISTINCT caller, callee FROM call_edges WHERE list_contains($s, status)",
        {"s": statuses},
    ).fetchall():
        graph.setdefault(caller, set()).add(callee)
    return {caller: sorted(callees) for caller, callees in sorted(graph.items())}


def import_cycles(store: Store, include_type_checking: bool = False) -> list[list[str]]:
    """Groups of internal modules that import each other (strongly connected components of the
    module import graph, cycles of one module importing itself included), largest first.

    Imports inside functions count (they still tie the modules together); imports under
    ``if TYPE_CHECKING:`` do not, unless asked.
    """
    rows = store.con.execute(
        "SELECT DISTINCT m.name, l.target_module FROM links AS l"
        " JOIN modules AS m USING (file_id)"
        " JOIN imports AS i ON i.file_id = l.file_id AND i.line = l.line AND i.col = l.col"
        " WHERE l.site = 'import' AND l.status IN ('internal', 'ambiguous')"
        " AND l.target_module IS NOT NULL AND ($tc OR NOT i.type_checking)",
        {"tc": include_type_checking},
    ).fetchall()
    return _cycles(rows)


def call_cycles(store: Store) -> list[list[str]]:
    """Groups of functions that call each other (recursion), over resolved calls only."""
    rows = store.con.execute(
        "SELECT DISTINCT caller, callee FROM call_edges WHERE status = 'resolved'"
    ).fetchall()
    return _cycles(rows)


def _cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    import networkx as nx  # only the commands that need graph algorithms pay for the import

    graph = nx.DiGraph()
    graph.add_edges_from(edges)
    groups = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    groups += [[a] for a, b in edges if a == b]
    return sorted(groups, key=lambda g: (-len(g), g))
