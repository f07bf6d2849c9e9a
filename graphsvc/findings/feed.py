"""The ``findings`` rows and ``finding_events`` a refresh writes: the diff of the findings
found against those stored (refresh.py's module docstring says what each event means)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

import pyarrow as pa

from graphsvc.findings.model import EventKind, Finding, Stamp, metadata_json

_STAMP = pa.struct([("seq", pa.int64()), ("at", pa.timestamp("us", tz="UTC"))])
FINDING_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("query", pa.string()),
        ("hypothesis", pa.string()),
        ("question", pa.string()),
        ("evidence", pa.list_(pa.string())),
        ("evidence_hash", pa.string()),
        (
            "locations",
            pa.list_(
                pa.struct([("path", pa.string()), ("line", pa.int32()), ("symbol", pa.string())])
            ),
        ),
        ("severity", pa.string()),
        ("confidence", pa.float64()),
        ("action_class", pa.string()),
        ("autonomy", pa.int32()),
        ("value_estimate", pa.float64()),
        ("cost", pa.float64()),
        ("capability_key", pa.string()),
        ("metadata", pa.string()),
        ("status", pa.string()),
        ("suppressed_by", pa.string()),
        ("first_seen", _STAMP),
        ("last_changed", _STAMP),
        ("fixed_at", _STAMP),
        ("as_of", pa.int64()),
    ]
)
EVENT_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("finding_id", pa.string()),
        ("kind", pa.string()),
        ("event", pa.string()),
        ("status", pa.string()),
        ("evidence_hash", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("as_of", pa.int64()),
    ]
)


def _row(f: Finding) -> dict[str, object]:
    def stamp(s: Stamp | None) -> dict[str, object] | None:
        return None if s is None else {"seq": s.seq, "at": s.at}

    row = {k: getattr(f, k) for k in FINDING_SCHEMA.names}
    row["evidence"] = list(f.evidence)
    row["locations"] = [dataclasses.asdict(loc) for loc in f.locations]
    row["metadata"] = metadata_json(f.metadata)
    for key in ("first_seen", "last_changed", "fixed_at"):
        row[key] = stamp(getattr(f, key))
    return row


def diff(
    stored: dict[str, Finding],
    found: dict[str, Finding],
    untouched: set[str],
    last_seq: int,
    as_of: int,
    known: Mapping[str, Finding] | None = None,
) -> tuple[list[dict[str, object]], list[dict[str, object]], list[Finding]]:
    """The rows to write, the events to append (events in id order, seq increasing), and the
    findings those rows hold.

    ``known``: findings whose stored rows are known to hold them (the ``found`` of the last
    diff that was written); a finding of ``found`` that *is* (the same object) the known one
    of its id is unchanged without comparing contents."""
    now = dt.datetime.now(dt.UTC)
    changes: list[tuple[str, EventKind | None, Finding]] = []
    known = known or {}
    for fid in sorted(found):
        new, old = found[fid], stored.get(fid)
        if old is not None and known.get(fid) is new and old.status != "fixed":
            continue
        if old is None:
            changes.append((fid, "new", new))
        elif old.status == "fixed":
            changes.append((fid, "reopened", dataclasses.replace(new, first_seen=old.first_seen)))
        elif (old.evidence_hash, old.status) != (new.evidence_hash, new.status):
            changes.append((fid, "changed", dataclasses.replace(new, first_seen=old.first_seen)))
        elif old.content() != new.content():
            kept = dataclasses.replace(
                new, first_seen=old.first_seen, last_changed=old.last_changed, fixed_at=None
            )
            changes.append((fid, None, kept))
    for fid in sorted(set(stored) - set(found)):
        old = stored[fid]
        if old.status != "fixed" and old.query not in untouched:
            changes.append(
                (fid, "fixed", dataclasses.replace(old, status="fixed", suppressed_by=None))
            )
    changes.sort(key=lambda c: c[0])
    rows: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    written: list[Finding] = []
    seq = last_seq
    for fid, event, finding in changes:
        if event is not None:
            seq += 1
            stamp = Stamp(seq, now)
            finding = dataclasses.replace(
                finding,
                first_seen=finding.first_seen if event != "new" else stamp,
                last_changed=stamp,
                fixed_at=stamp if event == "fixed" else None,
                as_of=as_of,
            )
            events.append(
                {
                    "seq": seq,
                    "finding_id": fid,
                    "kind": finding.kind,
                    "event": event,
                    "status": finding.status,
                    "evidence_hash": finding.evidence_hash,
                    "at": now,
                    "as_of": as_of,
                }
            )
        finding = dataclasses.replace(finding, as_of=as_of)
        written.append(finding)
        rows.append(_row(finding))
    return rows, events, written
