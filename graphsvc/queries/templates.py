"""Templates of a saved query's header: ``{column}`` or ``{column:filter}`` over its output row.

Filters: ``upper`` (UPPER_SNAKE), ``lower``, ``slug`` (lowercase, runs of other characters as
``_``), ``hash12`` (first 12 hex of sha256 of the value; a list is sorted and joined by ``|``
first), ``count`` (length of a list). A list renders as its items joined by ``, ``; NULL as ``''``.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FILTERS = ("", "upper", "lower", "slug", "hash12", "count")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def upper_snake(text: str) -> str:
    """``pkg.mod-x`` -> ``PKG_MOD_X``."""
    return _NOT_WORD.sub("_", text).strip("_").upper()


def _items(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def apply_filter(value: Any, name: str) -> str:
    """``value`` rendered through the filter ``name`` (one of :data:`FILTERS`)."""
    if name == "hash12":
        joined = "|".join(sorted(_items(value))) if value is not None else ""
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:12]
    if name == "count":
        return str(len(value)) if isinstance(value, list | tuple) else "1"
    text = _plain(value)
    if name == "upper":
        return upper_snake(text)
    if name == "lower":
        return text.lower()
    if name == "slug":
        return _NOT_WORD.sub("_", text).strip("_").lower()
    return text


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and ``(column, filter)`` fields, in order."""

    text: str
    parts: tuple[tuple[str, str | None, str], ...]  # (literal, column or None, filter)

    @classmethod
    def parse(cls, text: str) -> Template:
        """Parse ``text``.

        Raises:
            ValueError: a field is malformed (attribute or index access, a conversion, an
                unknown filter, an unbalanced brace).
        """
        parts: list[tuple[str, str | None, str]] = []
        for literal, field, spec, conversion in string.Formatter().parse(text):
            if field is None:
                parts.append((literal, None, ""))
                continue
            if conversion is not None or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field):
                raise ValueError(f"field {{{field}}} must name an output column, e.g. {{module}}")
            if (spec or "") not in FILTERS:
                known = ", ".join(f for f in FILTERS if f)
                raise ValueError(f"unknown filter {spec!r} in {{{field}:{spec}}}; known: {known}")
            parts.append((literal, field, spec or ""))
        return cls(text, tuple(parts))

    @property
    def columns(self) -> tuple[str, ...]:
        """Output columns the template reads."""
        return tuple(c for _, c, _ in self.parts if c is not None)

    @property
    def prefix(self) -> str:
        """The literal text before the first field."""
        return self.parts[0][0] if self.parts else ""

    def render(self, row: Mapping[str, Any]) -> str:
        """The template filled in from ``row`` (column name -> value)."""
        out: list[str] = []
        for literal, column, filt in self.parts:
            out.append(literal)
            if column is not None:
                out.append(apply_filter(row[column], filt))
        return "".join(out)
