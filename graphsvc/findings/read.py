"""Reading findings and their change feed: the Python API the REST layer calls.

Each function reads through ``store.con``; from a request thread pass ``store.reader()`` (a
cursor of its own) so reading never waits for the writer.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from graphsvc.findings.model import Finding, FindingEvent, Location, Stamp
from graphsvc.store import Store

MAX_LIMIT = 10_000
_COLUMNS = (
    "id, kind, query, hypothesis, question, evidence, evidence_hash, locations, severity,"
    " confidence, action_class, autonomy, value_estimate, cost, capability_key, metadata,"
    " status, suppressed_by, first_seen, last_changed, fixed_at, as_of"
)


@dataclass(frozen=True, slots=True)
class FindingPage:
    """One page of findings; ``next_cursor`` is None on the last page."""

    findings: list[Finding]
    next_cursor: str | None
    last_seq: int  # the feed's position when the page was read


def _stamp(value: Any) -> Stamp | None:
    if value is None:
        return None
    at = value["at"]
    if isinstance(at, dt.datetime) and at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return Stamp(int(value["seq"]), at)


def _finding(row: tuple[Any, ...]) -> Finding:
    (fid, kind, query, hypothesis, question, evidence, ehash, locations, severity, confidence,
     action, autonomy, value, cost, capability, metadata, status, suppressed_by, first_seen,
     last_changed, fixed_at, as_of) = row  # fmt: skip
    return Finding(
        id=fid,
        kind=kind,
        query=query,
        hypothesis=hypothesis,
        question=question,
        evidence=tuple(evidence),
        evidence_hash=ehash,
        locations=tuple(Location(loc["path"], loc["line"], loc["symbol"]) for loc in locations),
        severity=severity,
        confidence=confidence,
        action_class=action,
        autonomy=autonomy,
        value_estimate=value,
        cost=cost,
        capability_key=capability,
        metadata=json.loads(metadata),
        status=status,
        suppressed_by=suppressed_by,
        first_seen=_stamp(first_seen),
        last_changed=_stamp(last_changed),
        fixed_at=_stamp(fixed_at),
        as_of=int(as_of),
    )


def all_findings(store: Store) -> dict[str, Finding]:
    """Every stored finding (fixed ones included) by id."""
    rows = store.con.execute(f"SELECT {_COLUMNS} FROM findings").fetchall()
    return {row[0]: _finding(row) for row in rows}


def list_findings(
    store: Store,
    *,
    since: int | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> FindingPage:
    """Findings in id order, filtered.

    Args:
        since: only findings whose ``last_changed.seq`` is greater (what changed after the
            consumer's last seen event).
        kind: only this kind.
        status: only this status (open, suppressed, fixed).
        limit: page size (1..10,000).
        cursor: ``next_cursor`` of the previous page.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    rows = store.con.execute(
        f"SELECT {_COLUMNS} FROM findings"
        " WHERE ($since IS NULL OR last_changed.seq > $since)"
        " AND ($kind IS NULL OR kind = $kind)"
        " AND ($status IS NULL OR status = $status)"
        " AND ($cursor IS NULL OR id > $cursor)"
        " ORDER BY id LIMIT $limit",
        {"since": since, "kind": kind, "status": status, "cursor": cursor, "limit": limit + 1},
    ).fetchall()
    page = [_finding(row) for row in rows[:limit]]
    next_cursor = page[-1].id if len(rows) > limit else None
    return FindingPage(page, next_cursor, last_seq(store))


def get_finding(store: Store, finding_id: str) -> Finding | None:
    """The finding with id ``finding_id`` (any status), or None."""
    row = store.con.execute(
        f"SELECT {_COLUMNS} FROM findings WHERE id = $id", {"id": finding_id}
    ).fetchone()
    return None if row is None else _finding(row)


def events_since(store: Store, seq: int = 0, limit: int = 1000) -> list[FindingEvent]:
    """Feed events with ``seq`` greater than ``seq``, oldest first, at most ``limit`` (1..10,000).
    A consumer passes the last seq it processed; an empty list means it is up to date."""
    limit = max(1, min(limit, MAX_LIMIT))
    rows = store.con.execute(
        'SELECT seq, finding_id, kind, event, status, evidence_hash, "at", as_of'
        " FROM finding_events WHERE seq > $seq ORDER BY seq LIMIT $limit",
        {"seq": seq, "limit": limit},
    ).fetchall()
    return [
        FindingEvent(int(s), fid, kind, event, status, ehash, at, int(as_of))
        for s, fid, kind, event, status, ehash, at, as_of in rows
    ]


def last_seq(store: Store) -> int:
    """The feed's position: the newest event's seq (0 before any)."""
    row = store.con.execute("SELECT coalesce(max(seq), 0) FROM finding_events").fetchone()
    return int(row[0]) if row else 0
