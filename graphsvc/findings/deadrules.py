"""The entry rules the incremental ``dead_code`` reads in Python (deadparts.py, deadhier.py),
and the DuckDB functions the Python parts mirror (GLOB for their patterns, ``split_part``,
``regexp_extract``, ``=`` with its NULLs).

The rules are read once per set of rules (:class:`Rules`; the engine starts over when their
digest changes). :func:`glob_matcher` translates a pattern of literal characters, ``*`` and
``?`` into a regular expression that matches what DuckDB's ``GLOB`` does (a hypothesis test in
tests/test_dead_parts.py holds them together); :class:`Glob` leaves the others (a character
class, an escape) to DuckDB, in one statement per batch (:data:`GLOB_SQL`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

RULES_SQL = """
SELECT kind, keep, tests, pattern, kinds, paths,
    regexp_matches(pattern, '[*?\\[]') AS wild, entry, members
FROM entry_rules
WHERE kind IN ('decorator', 'transparent', 'name', 'script', 'config', 'constructor',
    'test_file', 'base')
"""

GLOB_SQL = """
SELECT v, g FROM (SELECT unnest($values::VARCHAR[]) AS v, unnest($globs::VARCHAR[]) AS g)
WHERE v GLOB g
"""


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of entry_rules, as the parts and the class hierarchy read it."""

    kind: str
    keep: bool
    tests: bool
    pattern: str
    kinds: tuple[str, ...]
    paths: tuple[str, ...]
    wild: bool
    entry: bool  # (base rules) the subclasses are entry points
    members: tuple[str, ...]  # (base rules) the members the framework calls, as patterns


def glob_matcher(pattern: str) -> re.Pattern[str] | None:
    """A regular expression matching what ``value GLOB pattern`` matches in DuckDB, for a
    pattern of literal characters, ``*`` (any run of characters, newlines too) and ``?`` (one
    character); None for one with ``[`` or ``\\`` (left to DuckDB: GLOB_SQL)."""
    if "[" in pattern or "\\" in pattern:
        return None
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


class Rules:
    """The entry rules the parts read (entry_rules, read once per digest)."""

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.all = [
            Rule(k, bool(keep), bool(t), p, tuple(kinds), tuple(paths), bool(w), bool(e), tuple(m))
            for k, keep, t, p, kinds, paths, w, e, m in rows
        ]
        self.decorators = [r for r in self.all if r.kind in ("decorator", "transparent")]
        self.names = [r for r in self.all if r.kind == "name"]
        self.scripts = [r for r in self.all if r.kind in ("script", "config")]
        self.constructors = [r for r in self.all if r.kind == "constructor"]
        self.test_files = {r.pattern for r in self.all if r.kind == "test_file"}
        self.bases = [r for r in self.all if r.kind == "base"]  # deadhier.py
        globbed = {r.pattern for r in self.decorators if r.wild}
        globbed |= {r.pattern for r in self.names if r.wild}
        globbed |= {p for r in self.names for p in r.paths}
        globbed |= {r.pattern for r in self.constructors}
        parts_globbed = set(globbed)
        globbed |= {r.pattern for r in self.bases} | {p for r in self.bases for p in r.members}
        self.matchers = {p: glob_matcher(p) for p in globbed}
        # whether a batch's parts (not only the class hierarchy) ask DuckDB for GLOB matches
        self.parts_need_duckdb = any(self.matchers[p] is None for p in parts_globbed)

    @classmethod
    def read(cls, con: Any) -> Rules:
        return cls(con.execute(RULES_SQL).fetchall())


class Glob:
    """GLOB matches: translated (:func:`glob_matcher`) or evaluated by DuckDB, for the pairs
    asked for, in one statement."""

    def __init__(self, matchers: dict[str, re.Pattern[str] | None]) -> None:
        self.matchers = matchers
        self.asked: set[tuple[str, str]] = set()
        self.true: set[tuple[str, str]] = set()

    def ask(self, value: str | None, pattern: str) -> None:
        if value is not None and self.matchers[pattern] is None:
            self.asked.add((value, pattern))

    def run(self, con: Any) -> None:
        if self.asked:
            values, globs = zip(*self.asked, strict=True)
            rows = con.execute(GLOB_SQL, {"values": list(values), "globs": list(globs)})
            self.true = set(rows.fetchall())

    def __call__(self, value: str | None, pattern: str) -> bool:
        if value is None:
            return False
        matcher = self.matchers[pattern]
        if matcher is None:
            return (value, pattern) in self.true
        return matcher.fullmatch(value) is not None


# DuckDB's functions as the parts use them (RE2's `$` is the end of the text: Python's `\Z`)
_LAST_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\Z")


def last(expression: str | None) -> str | None:
    """split_part(expression, '.', -1)."""
    return None if expression is None else expression.rsplit(".", 1)[-1]


def extract(name: str) -> str:
    """regexp_extract(name, '([A-Za-z_][A-Za-z0-9_]*)$', 1)."""
    m = _LAST_NAME.search(name)
    return m.group(1) if m else ""


def first(dotted: str | None) -> str | None:
    """split_part(dotted, '.', 1)."""
    return None if dotted is None else dotted.split(".", 1)[0]


def eq(a: object, b: object) -> bool:
    """SQL ``a = b`` taken as a condition (NULL is not true)."""
    return a is not None and b is not None and a == b
