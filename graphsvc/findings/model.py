"""The finding contract (DESIGN section 5) and how a finding query's row becomes a finding."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from graphsvc.errors import QueryError
from graphsvc.queries import SavedQuery, check_value, upper_snake

Status = Literal["open", "suppressed", "fixed"]
EventKind = Literal["new", "changed", "fixed", "reopened"]
_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_.:\-]+")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: path relative to the tree, 1-based line, qualname of the scope."""

    path: str
    line: int
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class Stamp:
    """A point of the change feed: the event's sequence number and time."""

    seq: int
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding, in the shape the curiosity core consumes (DESIGN section 5)."""

    id: str
    kind: str
    query: str
    hypothesis: str
    question: str
    evidence: tuple[str, ...]
    evidence_hash: str
    locations: tuple[Location, ...]
    severity: str
    confidence: float
    action_class: str
    autonomy: int
    value_estimate: float
    cost: float
    capability_key: str
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    status: Status = "open"
    suppressed_by: str | None = None
    first_seen: Stamp | None = None
    last_changed: Stamp | None = None
    fixed_at: Stamp | None = None
    as_of: int = 0

    @classmethod
    def of(
        cls,
        *,
        id: str,
        kind: str,
        query: str,
        hypothesis: str,
        question: str,
        evidence: Iterable[str],
        severity: str,
        confidence: float,
        action: str,
        autonomy: int,
        value: float,
        cost: float,
        capability: str,
        locations: Iterable[Location] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> Finding:
        """An open finding of a source that is not a saved query, normalised as a query's
        row would be: ``hypothesis`` in UPPER_SNAKE, ``question`` on one line, the evidence
        hash computed from ``evidence``."""
        lines = tuple(evidence)
        return cls(
            id=id,
            kind=kind,
            query=query,
            hypothesis=upper_snake(hypothesis),
            question=" ".join(question.split()),
            evidence=lines,
            evidence_hash=evidence_hash(lines),
            locations=tuple(locations),
            severity=severity,
            confidence=confidence,
            action_class=action,
            autonomy=autonomy,
            value_estimate=value,
            cost=cost,
            capability_key=capability,
            metadata=dict(metadata or {}),
        )

    def content(self) -> tuple[Any, ...]:
        """Everything a refresh compares (not the feed stamps)."""
        return (
            self.kind, self.query, self.hypothesis, self.question, self.evidence,
            self.evidence_hash, self.locations, self.severity, self.confidence,
            self.action_class, self.autonomy, self.value_estimate, self.cost,
            self.capability_key, metadata_json(self.metadata), self.status, self.suppressed_by,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO 8601 strings, stamps as {seq, at})."""

        def stamp(s: Stamp | None) -> dict[str, Any] | None:
            return None if s is None else {"seq": s.seq, "at": s.at.isoformat()}

        return {
            "id": self.id,
            "kind": self.kind,
            "query": self.query,
            "hypothesis": self.hypothesis,
            "question": self.question,
            "evidence": list(self.evidence),
            "evidence_hash": self.evidence_hash,
            "locations": [
                {"path": loc.path, "line": loc.line, "symbol": loc.symbol} for loc in self.locations
            ],
            "severity": self.severity,
            "confidence": self.confidence,
            "action_class": self.action_class,
            "autonomy": self.autonomy,
            "value_estimate": self.value_estimate,
            "cost": self.cost,
            "capability_key": self.capability_key,
            "metadata": self.metadata,
            "status": self.status,
            "suppressed_by": self.suppressed_by,
            "first_seen": stamp(self.first_seen),
            "last_changed": stamp(self.last_changed),
            "fixed_at": stamp(self.fixed_at),
            "as_of": self.as_of,
        }


@dataclass(frozen=True, slots=True)
class FindingEvent:
    """One entry of the change feed."""

    seq: int
    finding_id: str
    kind: str
    event: EventKind
    status: Status
    evidence_hash: str
    at: dt.datetime
    as_of: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "seq": self.seq,
            "finding_id": self.finding_id,
            "kind": self.kind,
            "event": self.event,
            "status": self.status,
            "evidence_hash": self.evidence_hash,
            "at": self.at.isoformat(),
            "as_of": self.as_of,
        }


def evidence_hash(lines: tuple[str, ...] | list[str]) -> str:
    """First 16 hex digits of sha256 of the sorted evidence lines joined by ``|``."""
    return hashlib.sha256("|".join(sorted(lines)).encode("utf-8")).hexdigest()[:16]


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """The stored form of ``metadata``: JSON with sorted keys."""
    return json.dumps(metadata, sort_keys=True, default=str, ensure_ascii=False)


def _evidence(query: SavedQuery, row: Mapping[str, Any]) -> tuple[str, ...]:
    assert query.finding is not None
    lines: list[str] = []
    for column in query.finding.evidence:
        value = row[column]
        items: list[Any] = list(value) if isinstance(value, list | tuple) else [value]
        lines.extend(f"{column}: {item}" for item in items if item is not None)
    return tuple(lines)


def _locations(query: SavedQuery, row: Mapping[str, Any]) -> tuple[Location, ...]:
    assert query.finding is not None
    column = query.finding.locations
    if column is None or row[column] is None:
        return ()
    found: list[Location] = []
    for item in row[column]:
        if not isinstance(item, Mapping) or item.get("path") is None:  # pyright: ignore[reportUnknownMemberType]
            continue
        entry: Mapping[str, Any] = item  # pyright: ignore[reportUnknownVariableType]
        symbol = entry.get("symbol")
        found.append(
            Location(
                str(entry["path"]),
                int(entry.get("line") or 1),
                None if symbol is None else str(symbol),
            )
        )
    return tuple(found)


def render(query: SavedQuery, row: Mapping[str, Any]) -> Finding:
    """The finding that ``row`` of the finding query ``query`` stands for (status open).

    Raises:
        QueryError: a templated field came out invalid for this row (severity not a level, ...).
    """
    spec = query.finding
    assert spec is not None
    values: dict[str, str] = {}
    for key in ("severity", "action", "autonomy", "confidence", "value", "cost"):
        values[key] = getattr(spec, key).render(row).strip()
        problem = check_value(key, values[key])
        if problem:
            raise QueryError(query.sql, f"{query.name}: {problem} (row {dict(row)!r:.200})")
    finding_id = _ID_CHARACTERS.sub("_", spec.id.render(row)).strip("_")
    if not finding_id:
        raise QueryError(query.sql, f"{query.name}: the id template gave an empty id")
    evidence = _evidence(query, row)
    return Finding(
        id=finding_id,
        kind=spec.kind,
        query=query.name,
        hypothesis=upper_snake(spec.hypothesis.render(row)),
        question=" ".join(spec.question.render(row).split()),
        evidence=evidence,
        evidence_hash=evidence_hash(evidence),
        locations=_locations(query, row),
        severity=values["severity"],
        confidence=float(values["confidence"]),
        action_class=values["action"],
        autonomy=int(values["autonomy"]),
        value_estimate=float(values["value"]),
        cost=float(values["cost"]),
        capability_key=spec.capability_key.render(row),
        metadata={column: row[column] for column in spec.metadata},
    )


class Renders:
    """The findings of each query's last rows, so that a row a run gives again keeps its
    finding instead of being rendered again (a Refresher holds one: after an edit most rows
    of a query that runs again are as before). A kept finding is the same object as before,
    which also tells the findings' diff (feed.diff) that its stored row holds it.

    A row is known by its ``repr`` (a fifth of rendering it: the rows hold strings, numbers,
    lists and dicts, whose ``repr`` tells them apart), and only for the same
    :class:`SavedQuery` object (a reloaded query renders afresh). Only the last run's rows are
    kept, so what it holds follows the query's findings.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[SavedQuery, dict[str, Finding]]] = {}

    def render(self, query: SavedQuery, rows: Iterable[Mapping[str, Any]]) -> list[Finding]:
        """The finding of each of ``rows`` (see :func:`render`).

        Raises:
            QueryError: a templated field came out invalid for a row.
        """
        kept = self._last.pop(query.name, None)
        before = kept[1] if kept is not None and kept[0] is query else {}
        now: dict[str, Finding] = {}
        found: list[Finding] = []
        for row in rows:
            key = repr(row)
            finding = now.get(key) or before.get(key)
            if finding is None:
                finding = render(query, row)
            now[key] = finding
            found.append(finding)
        self._last[query.name] = (query, now)
        return found
