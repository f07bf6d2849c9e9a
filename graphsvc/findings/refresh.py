"""The findings refresh: run the finding queries, diff against ``findings``, feed the events.

After every committed batch (and at the end of ``graphsvc index``) the service calls
:meth:`Refresher.run` on the indexer thread, which owns the writer. Each finding query's rows
become findings keyed by their deterministic id; the set is diffed against the ``findings``
table and every difference is one ``finding_events`` row:

- ``new``: an id never seen before;
- ``changed``: a known, unfixed id whose ``evidence_hash`` or status (open/suppressed) changed;
  other fields (locations' line numbers, severity, ...) are updated in place without an event;
- ``fixed``: a known, unfixed id no query reports any more;
- ``reopened``: a fixed id reported again.

A query that fails (or whose file failed to load) leaves its findings untouched: a broken
query must not read as "everything fixed". Rows and events are written in one transaction;
``seq`` continues from the table's maximum, so it increases across restarts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from graphsvc.errors import GraphsvcError
from graphsvc.findings.model import EventKind, Finding, Stamp, metadata_json, render
from graphsvc.findings.read import all_findings
from graphsvc.findings.suppress import Suppressor
from graphsvc.queries import Catalog, run_rows
from graphsvc.store import Store

log = logging.getLogger(__name__)

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


@dataclass(slots=True)
class RefreshResult:
    """What one refresh did."""

    as_of: int
    events: dict[str, int] = field(default_factory=dict[str, int])  # event kind -> count
    open: int = 0
    suppressed: int = 0
    rewritten: int = 0  # rows written (events plus silent updates)
    last_seq: int = 0  # the feed's position after the refresh
    query_ms: dict[str, float] = field(default_factory=dict[str, float])
    failed: dict[str, str] = field(default_factory=dict[str, str])  # query -> error
    ms: float = 0.0

    def line(self) -> str:
        """``findings open=3 suppressed=1 +1 ~0 -2 reopened=0 in 4.1 ms``."""
        e = self.events
        return (
            f"findings open={self.open} suppressed={self.suppressed} new={e.get('new', 0)}"
            f" changed={e.get('changed', 0)} fixed={e.get('fixed', 0)}"
            f" reopened={e.get('reopened', 0)} in {self.ms:.1f} ms"
            + (f" ({len(self.failed)} queries failed)" if self.failed else "")
        )


class Refresher:
    """Keeps the catalog and the suppression cache between refreshes (the service holds one).

    Args:
        catalog: the loaded saved queries; those with a ``kind`` run.
        tree: the indexed tree, for ``# graphsvc: ignore[...]`` comments (None: not read).
        suppress: GRAPHSVC_SUPPRESS entries.
    """

    def __init__(self, catalog: Catalog, tree: Path | None = None, suppress: Sequence[str] = ()):
        self.catalog = catalog
        self.suppressor = Suppressor(tree, suppress)

    def run(self, store: Store, as_of: int | None = None) -> RefreshResult:
        """Refresh the findings of ``store`` (opened for writing) as of batch ``as_of``
        (default: the newest batch).

        Raises:
            DatabaseError: writing the findings failed (rolled back; the next refresh redoes it).
        """
        started = time.perf_counter()
        result = RefreshResult(as_of=store.as_of() if as_of is None else as_of)
        found = self._found(store, result)
        reasons = self.suppressor.reasons(store, list(found.values()))
        for fid, reason in reasons.items():
            found[fid] = dataclasses.replace(found[fid], status="suppressed", suppressed_by=reason)
        untouched = set(result.failed) | self.catalog.broken_names()
        last = store.last_event_seq()
        rows, events = _diff(all_findings(store), found, untouched, last, result.as_of)
        store.write_findings(
            pa.Table.from_pylist(rows, schema=FINDING_SCHEMA),
            pa.Table.from_pylist(events, schema=EVENT_SCHEMA),
        )
        for event in events:
            name = str(event["event"])
            result.events[name] = result.events.get(name, 0) + 1
        result.open = sum(1 for f in found.values() if f.status == "open")
        result.suppressed = len(found) - result.open
        result.rewritten = len(rows)
        result.last_seq = last + len(events)
        result.ms = (time.perf_counter() - started) * 1000
        log.info("%s", result.line())
        return result

    def _found(self, store: Store, result: RefreshResult) -> dict[str, Finding]:
        found: dict[str, Finding] = {}
        for query in self.catalog.finding_queries():
            started = time.perf_counter()
            try:
                rendered = [render(query, row) for row in run_rows(store, query)]
                ids = [f.id for f in rendered]
                clash = next((i for i in ids if i in found or ids.count(i) > 1), None)
                if clash is not None:
                    raise GraphsvcError(f"query {query.name}: id {clash!r} is reported twice")
            except GraphsvcError as exc:
                log.error(
                    "finding query %s failed; its findings stay as they were: %s", query.name, exc
                )
                result.failed[query.name] = str(exc)
                continue
            finally:
                result.query_ms[query.name] = (time.perf_counter() - started) * 1000
            found.update((f.id, f) for f in rendered)
        return found


def refresh(
    store: Store,
    catalog: Catalog,
    *,
    tree: Path | None = None,
    suppress: Sequence[str] = (),
    as_of: int | None = None,
) -> RefreshResult:
    """One refresh with a fresh :class:`Refresher` (see there; a service keeps one instead)."""
    return Refresher(catalog, tree, suppress).run(store, as_of)


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


def _diff(
    stored: dict[str, Finding],
    found: dict[str, Finding],
    untouched: set[str],
    last_seq: int,
    as_of: int,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The rows to write and the events to append (events in id order, seq increasing)."""
    now = dt.datetime.now(dt.UTC)
    changes: list[tuple[str, EventKind | None, Finding]] = []
    for fid in sorted(found):
        new, old = found[fid], stored.get(fid)
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
        rows.append(_row(dataclasses.replace(finding, as_of=as_of)))
    return rows, events
