"""Channel rules shipped with graphsvc (``*.toml`` here) and their loader."""

from __future__ import annotations

from graphsvc.rules.handles import HandleKind
from graphsvc.rules.loader import (
    MATCH_KINDS,
    Collection,
    ObjectKind,
    Rule,
    RuleSet,
    load_file,
    load_rules,
    shipped_files,
)

__all__ = [
    "HANDLE_FACTORIES",
    "HANDLE_METHODS",
    "MATCH_KINDS",
    "VOCABULARY",
    "Collection",
    "HandleKind",
    "ObjectKind",
    "Rule",
    "RuleSet",
    "load_file",
    "load_rules",
    "shipped_files",
]


def _vocabulary() -> frozenset[str]:
    """Last names of every shipped callee and constructor: a call whose method has one of these
    names is recorded by extraction even when its arguments look dynamic."""
    shipped = load_rules()
    names = {c.rsplit(".", 1)[-1] for r in shipped.rules for c in r.callee} - {"__init__"}
    names |= {c.rsplit(".", 1)[-1] for k in shipped.collections for c in k.constructor}
    for kind in shipped.objects:
        for name in (*kind.constructor, *kind.decorator, *kind.producers, *kind.consumers):
            names.add(name.rsplit(".", 1)[-1])
    return frozenset(names)


VOCABULARY = _vocabulary()
# Last names of the shipped handle factories (Pipe, socket) and of the methods called on
# handles (send, recv, bind, ...): extraction follows the objects these make and use.
HANDLE_FACTORIES = frozenset(f.rsplit(".", 1)[-1] for h in load_rules().handles for f in h.factory)
HANDLE_METHODS = frozenset(
    m
    for h in load_rules().handles
    for m in (*h.producers, *h.consumers, *h.address, *h.binds, *h.neutral)
)
