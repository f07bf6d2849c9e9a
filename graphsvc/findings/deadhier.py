"""The class-hierarchy part of the incremental ``dead_code``, computed in Python.

deadfacts.GLOBAL_SQL is the specification: the reachability edges that need the whole class
hierarchy (a member a framework base rule names, an override of a method of a base class in
the tree), the classes a rule's base makes entry points, and each class's first base outside
the tree. The engine re-ran it over the whole database after every batch that changed some
file's classes, resolved bases or class members (adding or renaming a method does): 100-240 ms
at load 3.5 on 1,407 files. Every file's parts already carry those rows (deadparts.py /
deadsql.PARTS_SQL: ``c`` classes, ``b`` resolved bases, ``m`` class members), so the engine
keeps them per file (:class:`Hierarchy`) and :meth:`Hierarchy.compute` gives what the
statement gives, as sets: reachability only asks whether an edge is there, not how many
times. tests/test_dead_parts.py compares the two.
"""

from __future__ import annotations

import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from graphsvc.findings.deadrules import Glob, Rule, Rules

# modules whose classes are not "outside bases" (GLOBAL_SQL's outside_bases)
_NOT_OUTSIDE = frozenset(
    ("typing", "typing_extensions", "abc", "enum", "dataclasses", "collections", "numbers")
)

Classes = tuple[tuple[str, int], ...]  # (qualname, hash(qualname))
Bases = tuple[tuple[str, int, str], ...]  # (class, hash(class), resolved base)
# hash(parent class) and hash(qualname) of each, flat (parent, member, ...), and their names
Members = tuple["array[int]", tuple[str, ...]]


class Hierarchy:
    """Every file's classes, resolved bases and class members (its c, b, m parts)."""

    def __init__(self) -> None:
        self.files: dict[int, tuple[Classes, Bases, Members]] = {}
        self._matched: dict[str, tuple[Rule, ...]] = {}  # base -> the base rules it matches

    def set(self, file_id: int, rows: Iterable[tuple[Any, ...]]) -> None:
        """Keep ``file_id``'s ``c``, ``b``, ``m`` rows (PARTS_SQL's columns)."""
        classes: list[tuple[str, int]] = []
        bases: list[tuple[str, int, str]] = []
        ids: array[int] = array("Q")
        names: list[str] = []
        for row in rows:
            if row[0] == "c":
                classes.append((row[4], row[3]))
            elif row[0] == "b":
                bases.append((row[4], row[2], row[5]))
            elif row[0] == "m":
                ids.append(row[2])
                ids.append(row[3])
                names.append(sys.intern(row[5]))
        # (#5: ~15,000 members on 1,407 files; a tuple of three per member was ~2 MB more)
        if classes or bases or names:
            self.files[file_id] = (tuple(classes), tuple(bases), (ids, tuple(names)))
        else:
            self.files.pop(file_id, None)

    def drop(self, file_id: int) -> None:
        self.files.pop(file_id, None)

    def _match_bases(self, con: Any, rules: Rules, bases: set[str]) -> dict[str, tuple[Rule, ...]]:
        """The base rules whose pattern each of ``bases`` matches (kept: the rules only
        change with a new engine state, and the bases of a tree are few and stay)."""
        new = bases - self._matched.keys()
        if new:
            glob = Glob(rules.matchers)
            for base in new:
                for rule in rules.bases:
                    glob.ask(base, rule.pattern)
            glob.run(con)
            for base in new:
                self._matched[base] = tuple(r for r in rules.bases if glob(base, r.pattern))
        return self._matched

    def _gather(
        self,
    ) -> tuple[
        dict[str, int], dict[str, set[str]], dict[str, int], dict[int, list[tuple[int, str]]]
    ]:
        """The classes' ids, each class's direct bases and id, the members by parent id."""
        class_ids: dict[str, int] = {}
        direct: dict[str, set[str]] = defaultdict(set)
        node: dict[str, int] = {}
        by_parent: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for classes, bases, members in self.files.values():
            class_ids.update(classes)
            for cls, cls_id, base in bases:
                direct[cls].add(base)
                node[cls] = cls_id
            ids, names = members
            for i, name in enumerate(names):
                by_parent[ids[2 * i]].append((ids[2 * i + 1], name))
        return class_ids, direct, node, by_parent

    def compute(
        self, con: Any, rules: Rules
    ) -> tuple[set[tuple[int, int]], set[int], dict[str, str]]:
        """GLOBAL_SQL's rows: the edges (``e``), the seeds (``s``: class ids) and each class's
        outside base (``o``)."""
        class_ids, direct, node, by_parent = self._gather()
        inherit = _inherit(direct)
        matched = self._match_bases(con, rules, {base for _, base in inherit})
        glob = Glob(rules.matchers)
        for cls, base in inherit:
            for rule in matched[base]:
                for pattern in rule.members:
                    for _, name in by_parent.get(node[cls], ()):
                        glob.ask(name, pattern)
        glob.run(con)
        edges: set[tuple[int, int]] = set()
        seeds: set[int] = set()
        named: dict[int, dict[str, list[int]]] = {}  # class id -> its members by name
        for cls, base in inherit:
            cls_id = node[cls]
            own = by_parent.get(cls_id, ())
            for rule in matched[base]:
                if rule.entry:
                    seeds.add(cls_id)
                edges.update(
                    (cls_id, m) for m, name in own if any(glob(name, p) for p in rule.members)
                )
            base_id = class_ids.get(base)
            if base_id is None or not own:
                continue
            # an override: the base's member of the same name reaches the class's
            names = named.get(cls_id)
            if names is None:
                names = named[cls_id] = defaultdict(list)
                for member_id, name in own:
                    names[name].append(member_id)
            edges.update(
                (member_id, overrider)
                for member_id, name in by_parent.get(base_id, ())
                for overrider in names.get(name, ())
            )
        return edges, seeds, _outside(inherit, class_ids)


def _inherit(direct: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Every (class, base) of the transitive bases (GLOBAL_SQL's recursive ``inherit``)."""
    inherit: list[tuple[str, str]] = []
    for cls, first in direct.items():
        seen: set[str] = set()
        todo = list(first)
        while todo:
            base = todo.pop()
            if base not in seen:
                seen.add(base)
                inherit.append((cls, base))
                todo.extend(direct.get(base, ()))
    return inherit


def _outside(inherit: list[tuple[str, str]], classes: dict[str, int]) -> dict[str, str]:
    """Each class's least base (by code point, as DuckDB's min) that is not a class of the
    tree, a builtin, or from a module of ``_NOT_OUTSIDE``."""
    outside: dict[str, str] = {}
    for cls, base in inherit:
        if (
            base not in classes
            and not base.startswith("<builtin>.")
            and base.split(".", 1)[0] not in _NOT_OUTSIDE
            and (cls not in outside or base < outside[cls])
        ):
            outside[cls] = base
    return outside
