"""Topic values: evaluating recorded topic expressions and writing patterns per transport.

A value is a tuple of pieces, each a known string or ``None`` (a part nothing could resolve),
plus the strategies that found it. ``("alerts.", None)`` is the f-string ``f"alerts.{x}"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Expr = list[Any]
Pieces = tuple[str | None, ...]
_MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Topic:
    """An evaluated topic: its pieces and how they were found."""

    pieces: Pieces
    strategy: tuple[str, ...]

    @property
    def dynamic(self) -> bool:
        return all(p is None for p in self.pieces) or not self.pieces

    @property
    def exact(self) -> bool:
        return bool(self.pieces) and all(p is not None for p in self.pieces)

    def text(self) -> str | None:
        """The topic; unknown parts are written ``*``; None when nothing is known."""
        if self.dynamic:
            return None
        return "".join(p if p is not None else "*" for p in self.pieces)

    def sample(self) -> str:
        return "".join(p if p is not None else "x" for p in self.pieces)

    def regex(self) -> str:
        return "".join(re.escape(p) if p is not None else ".+" for p in self.pieces)

    def cut(self, separator: str) -> Topic:
        """The part before the first ``separator`` of a known piece (a ZeroMQ message's topic)."""
        kept: list[str | None] = []
        for piece in self.pieces:
            if piece is not None and separator in piece:
                kept.append(piece.split(separator, 1)[0])
                return Topic(tuple(kept), self.strategy)
            kept.append(piece)
        return self


UNKNOWN = Topic((None,), ("dynamic",))


def _merge(pieces: list[str | None]) -> Pieces:
    merged: list[str | None] = []
    for piece in pieces:
        if piece == "":
            continue
        if merged and piece is not None and merged[-1] is not None:
            merged[-1] = f"{merged[-1]}{piece}"
        elif merged and piece is None and merged[-1] is None:
            continue
        else:
            merged.append(piece)
    return tuple(merged) if merged else ("",)


class Evaluator:
    """Evaluates topic expressions against constants, attributes and parameter bindings."""

    def __init__(
        self,
        constant: Callable[[str], tuple[Expr, str] | None],
        attribute: Callable[[str, str], tuple[Expr, str] | None],
    ) -> None:
        self.constant = constant  # dotted name -> (expression, owner scope)
        self.attribute = attribute  # (scope, attribute) -> (expression, scope it was set in)

    def topic(
        self, expr: Expr, scope: str, params: dict[str, Topic] | None = None, depth: int = 0
    ) -> Topic:
        pieces, strategies = self._eval(expr, scope, params or {}, depth)
        return Topic(_merge(pieces), tuple(sorted(strategies)) or ("dynamic",))

    def _eval(
        self, expr: Expr, scope: str, params: dict[str, Topic], depth: int
    ) -> tuple[list[str | None], set[str]]:
        if depth > _MAX_DEPTH or not expr:
            return [None], set()
        tag = expr[0]
        if tag in ("s", "i"):
            return [str(expr[1])], {"literal"}
        if tag == "p":
            bound = params.get(expr[1])
            if bound is None:
                return [None], set()
            return list(bound.pieces), {*bound.strategy, "wrapper"} - {"dynamic"}
        if tag == "n":
            return self._name(expr[1], depth)
        if tag == "a":
            found = self.attribute(scope, expr[1])
            if found is None:
                return [None], set()
            pieces, strategies = self._eval(found[0], found[1], params, depth + 1)
            return pieces, strategies | {"attribute"}
        if tag in ("c", "u"):
            return self._parts(tag, expr[1], scope, params, depth)
        if tag == "l" and expr[1]:
            return self._eval(expr[1][0], scope, params, depth + 1)
        return [None], set()

    def _name(self, dotted: str, depth: int) -> tuple[list[str | None], set[str]]:
        found = self.constant(dotted)
        if found is None:
            return [None], set()
        pieces, strategies = self._eval(found[0], found[1], {}, depth + 1)
        kind = "enum" if _is_member(dotted) else "constant"
        return pieces, (strategies - {"literal"}) | {kind}

    def _parts(
        self, tag: str, parts: list[Expr], scope: str, params: dict[str, Topic], depth: int
    ) -> tuple[list[str | None], set[str]]:
        found = [self._eval(p, scope, params, depth + 1) for p in parts]
        strategies: set[str] = set().union(*(f[1] for f in found)) if found else set()
        if tag == "c":
            return [p for f in found for p in f[0]], strategies | {"fstring"}
        # one of several: known only when they all agree
        if found and all(f[0] == found[0][0] for f in found):
            return found[0][0], strategies
        return [None], set()


def _is_member(dotted: str) -> bool:
    parts = dotted.split(".")
    return len(parts) >= 2 and parts[-2][:1].isupper() and not parts[-1].isupper()


_MAX_CHOICES = 8


def alternatives(expr: Expr) -> list[Expr]:
    """``expr`` split at its choices (``a if c else b``): one expression per combination, at
    most a few; a frame list splits at its first element."""
    if not expr:
        return [expr]
    tag = expr[0]
    if tag == "u":
        found: list[Expr] = []
        for part in expr[1]:
            found.extend(alternatives(part))
        return found[:_MAX_CHOICES]
    if tag == "c":
        combos: list[list[Expr]] = [[]]
        for part in expr[1]:
            combos = [[*c, a] for c in combos for a in alternatives(part)][:_MAX_CHOICES]
        return [["c", c] for c in combos]
    if tag == "l" and expr[1]:
        return [["l", [a, *expr[1][1:]]] for a in alternatives(expr[1][0])]
    return [expr]


def params_of(expr: Expr) -> set[str]:
    """The parameters an expression refers to."""
    if not expr:
        return set()
    tag = expr[0]
    if tag == "p":
        return {expr[1]}
    if tag in ("c", "l", "u"):
        found: set[str] = set()
        for part in expr[1]:
            found |= params_of(part)
        return found
    return set()


def attributes_of(expr: Expr) -> set[str]:
    """The ``self`` attributes an expression refers to."""
    if not expr:
        return set()
    tag = expr[0]
    if tag == "a":
        return {expr[1]}
    if tag in ("c", "l", "u"):
        found: set[str] = set()
        for part in expr[1]:
            found |= attributes_of(part)
        return found
    return set()


def substitute(expr: Expr, tag: str, name: str, value: Expr) -> Expr:
    """``expr`` with each ``[tag, name]`` replaced by ``value``."""
    if not expr:
        return expr
    if expr[0] == tag and expr[1] == name:
        return value
    if expr[0] in ("c", "l", "u"):
        return [expr[0], [substitute(p, tag, name, value) for p in expr[1]]]
    return expr


def render(expr: Expr) -> str:
    """An expression as a reader would write it (for the ``expression`` column)."""
    if not expr:
        return ""
    tag = expr[0]
    if tag == "s":
        return repr(expr[1])
    if tag in ("n", "p", "d", "i"):
        return str(expr[1])
    if tag == "a":
        return f"self.{expr[1]}"
    if tag == "c":
        inner = "".join(
            str(p[1]).replace("{", "{{").replace("}", "}}")
            if p[0] == "s"
            else "{" + render(p) + "}"
            for p in expr[1]
        )
        return f'f"{inner}"'
    if tag == "l":
        return "[" + ", ".join(render(p) for p in expr[1]) + "]"
    if tag == "u":
        return " | ".join(render(p) for p in expr[1])
    return str(expr)


# ---------------------------------------------------------------------- transport patterns

_CATCH_ALL = {"prefix": {""}, "mqtt": {"#"}, "nats": {">"}, "glob": {"*"}, "amqp": {"#"}}


def catch_all(match: str, pattern: str) -> bool:
    """Whether a subscription receives every topic of its transport."""
    if match in ("regex", "kafka"):
        return pattern in ("^.*", ".*", "^.*$", ".*$")
    if match == "amqp":
        return pattern.rsplit("/", 1)[-1] == "#"
    return pattern in _CATCH_ALL.get(match, set())


def _levels(pattern: str, separator: str, one: str, rest: str, one_rx: str, rest_rx: str) -> str:
    out: list[str] = []
    levels = pattern.split(separator)
    sep = re.escape(separator)
    for i, level in enumerate(levels):
        last = i == len(levels) - 1
        if level == rest and last:
            if out:  # "a/#" also matches "a" itself (MQTT), "a.>" needs one more token (NATS)
                return sep.join(out) + (f"(?:{sep}{rest_rx})?" if rest == "#" else sep + rest_rx)
            return rest_rx
        out.append(one_rx if level == one else re.escape(level))
    return sep.join(out)


def wildcard_regex(match: str, pattern: str) -> str | None:
    """The regular expression a subscription pattern stands for, per transport; None when
    plain SQL comparison is the semantics (exact, prefix, subtree, glob)."""
    if match == "mqtt":
        return _levels(pattern, "/", "+", "#", "[^/]*", ".*")
    if match == "nats":
        return _levels(pattern, ".", "*", ">", "[^.]+", ".+")
    if match == "amqp":
        exchange, slash, key = pattern.rpartition("/")
        body = _amqp(key.split("."))
        return (re.escape(exchange + slash) if slash else "") + body
    if match == "regex":
        return pattern.removeprefix("^").removesuffix("$") if _valid(pattern) else None
    return None


def _amqp(words: list[str]) -> str:
    """A topic exchange binding key: * is one word, # zero or more."""
    if words == ["#"]:
        return ".*"
    out = ""
    for i, word in enumerate(words):
        if word == "#":
            out += r"(?:[^.]+\.)*" if i == 0 else r"(?:\.[^.]+)*"
            continue
        if i > 0 and not (words[i - 1] == "#" and i - 1 == 0):
            out += r"\."
        out += "[^.]+" if word == "*" else re.escape(word)
    return out


def _valid(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def kafka_match(pattern: str) -> str:
    """confluent-kafka: a topic starting with ^ is a regex subscription."""
    return "regex" if pattern.startswith("^") else "exact"


MATCH_COLUMN = {
    "exact": "exact",
    "prefix": "prefix",
    "subtree": "subtree",
    "glob": "glob",
    "mqtt": "wildcard",
    "nats": "wildcard",
    "amqp": "wildcard",
    "regex": "regex",
}
