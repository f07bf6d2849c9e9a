"""The ``dead_code`` finder: from the SQL's unreachable definitions and the evidence of uses the
linker could not resolve to a confidence and its reasons.

The SQL (``queries/dead_code.sql``) does the reachability over the graph and gathers, per
outermost unreachable definition, what may still reach it. Scoring is plain Python: it is a
handful of rules over a few thousand rows, and in SQL it made the query's plan (and so every
refresh, even of a ten-file tree) several times larger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

Rows = list[dict[str, Any]]

NOTHING = "nothing uses it: no call, reference, import, attribute or string names it"
INPUTS = (
    "qualname",
    "kind",
    "path",
    "line",
    "key",
    "parent",
    "callers",
    "attr_paths",
    "own_read",
    "string_paths",
    "prefix",
    "registering_decorator",
    "outside_base",
    "module_code",
    "reads_globals",
    "min_confidence",
    "mode",
)
OUTPUTS = (
    "qualname",
    "kind",
    "path",
    "line",
    "confidence",
    "reasons",
    "summary",
    "callers",
    "mode",
    "action",
    "locations",
)


def _paths(paths: list[str] | None) -> str:
    return ", ".join((paths or [])[:5])


def doubts(row: dict[str, Any]) -> list[tuple[float, str]]:
    """What may still use the definition of ``row``, each with the confidence it leaves."""
    found: list[tuple[float, str]] = []
    key = row["key"]
    if row["own_read"]:
        found.append(
            (0.3, "read by name in its own module where the linker did not follow the value")
        )
    if row["string_paths"]:
        found.append(
            (
                0.4,
                f"named in a string in {_paths(row['string_paths'])}"
                " (getattr, a registry or an import by name)",
            )
        )
    if row["prefix"]:
        found.append((0.4, f"a computed name may reach it: '{row['prefix']}' + ..."))
    if row["reads_globals"]:
        found.append((0.4, "its module reads its own names dynamically (globals(), vars())"))
    if row["attr_paths"]:
        found.append(
            (
                0.5,
                f".{key} is read on an object the linker could not resolve in "
                f"{_paths(row['attr_paths'])}",
            )
        )
    if row["registering_decorator"]:
        found.append((0.5, f"decorated by @{row['registering_decorator']}, which may register it"))
    if row["outside_base"]:
        found.append(
            (0.5, f"its class derives from {row['outside_base']}, which may call it by name")
        )
    if row["module_code"]:
        found.append((0.5, "never imported, but it runs code at module level: it may be a script"))
    if row["kind"] == "module" and not row["parent"]:
        found.append(
            (
                0.5,
                "a top-level module or package nothing imports: it may be run directly "
                "(python -m, a server, a plugin loader)",
            )
        )
    if row["kind"] == "module" and not row["callers"]:
        found.append((0.9, "never imported by the tree, not a script, test or entry point"))
    if row["callers"]:
        found.append((0.9, f"used only by unreachable code: {', '.join(row['callers'][:5])}"))
    return sorted(found)


def score(
    rows: Rows, doubts_of: Callable[[dict[str, Any]], list[tuple[float, str]]] = doubts
) -> Rows:
    """One finding row per definition at or above the rows' ``min_confidence``: the lowest
    confidence its doubts leave, lowered further to that of its least certain user (code used
    only by code that may be used is as uncertain as its users), with the reasons.

    ``doubts_of`` is :func:`doubts` or a cache of it (the incremental dead_code keeps them)."""
    own: dict[str, float] = {}
    reasons: dict[str, list[tuple[float, str]]] = {}
    for row in rows:
        found = doubts_of(row)
        reasons[row["qualname"]] = found
        own[row["qualname"]] = own_confidence(found)
    inherited, via = inherit(rows, own)
    out: Rows = []
    for row in rows:
        name = row["qualname"]
        confidence = round(inherited[name], 2)
        if confidence < (row["min_confidence"] or 0.0):
            continue
        out.append(finding(row, reasons[name], inherited[name], via.get(name)))
    out.sort(key=finding_order)
    return out


def own_confidence(found: list[tuple[float, str]]) -> float:
    """The confidence a definition's own doubts leave."""
    return min((c for c, _ in found), default=1.0)


def inherit(rows: Rows, own: dict[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """Each definition's confidence lowered to that of its least certain user (``own`` holds
    every definition's own confidence; ``rows`` may be only those with callers), and the user
    each lowered one inherited it via."""
    # the rows with users, in qualname order: which user a confidence is inherited via (among
    # equally uncertain ones) must not depend on the order the SQL returned the rows in
    used = sorted(
        ((row["qualname"], row["callers"]) for row in rows if row["callers"]), key=itemgetter(0)
    )
    low, via = lowered(used, own)
    return own | low, via


def lowered(
    used: Sequence[tuple[str, Sequence[str]]], own: dict[str, float]
) -> tuple[dict[str, float], dict[str, str]]:
    """:func:`inherit` for ``used`` (each definition with users and its users, in qualname
    order): only the confidences its users lowered (the others are ``own``'s), and the user
    each inherited it via. The incremental engine scores from it without a copy of ``own``."""
    low: dict[str, float] = {}
    via: dict[str, str] = {}
    changed = True
    while changed:  # a fixpoint: confidences only go down, over finitely many values
        changed = False
        for name, callers in used:
            for caller in callers:
                theirs = low.get(caller)
                if theirs is None:
                    theirs = own.get(caller)
                    if theirs is None:
                        continue
                if theirs < low.get(name, own[name]):
                    low[name] = theirs
                    via[name] = caller
                    changed = True
    return low, via


def finding(
    row: dict[str, Any], found: list[tuple[float, str]], inherited: float, via: str | None
) -> dict[str, Any]:
    """The finding row of ``row`` with its doubts ``found``, the confidence it inherited and
    the user it inherited it via."""
    name = row["qualname"]
    confidence = round(inherited, 2)
    texts = [r for _, r in found]
    if via is not None:
        texts.insert(0, f"its users may be used themselves: {via} ({inherited:.1f})")
    texts = texts or [NOTHING]
    return {
        "qualname": name,
        "kind": row["kind"],
        "path": row["path"],
        "line": row["line"],
        "confidence": confidence,
        "reasons": texts,
        "summary": texts[0],
        "callers": list(row["callers"] or []),
        "mode": row["mode"],
        "action": "propose_fix" if confidence >= 1.0 else "investigate",
        "locations": [{"path": row["path"], "line": row["line"], "symbol": name}],
    }


def finding_order(row: dict[str, Any]) -> tuple[str, int, str]:
    """The order of :func:`score`'s rows."""
    return (row["path"], row["line"], row["qualname"])
