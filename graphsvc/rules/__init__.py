"""Channel rules shipped with graphsvc (``*.toml`` here) and their loader."""

from __future__ import annotations

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
    "MATCH_KINDS",
    "VOCABULARY",
    "Collection",
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
