"""What the live service records about its own progress, and the shapes /status reports.

The indexer thread records each committed batch in a :class:`ServiceState` (the last batch,
the recent reconciles, counters, the error of the last failed batch), the supervisor adds
pauses and watcher errors, and :meth:`graphsvc.service.Service.status` reads it. It is a
module of its own because every thread of the service shares this one small record, and the
shapes /status reports (a batch, a findings refresh) are written once, here.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from graphsvc.findings import RefreshResult


@dataclass(slots=True)
class BatchInfo:
    """The last committed batch, for /status."""

    batch_id: int
    kind: str
    reason: str | None
    paths: int
    parsed: int
    removed: int
    ms: float
    at: float  # wall clock (epoch seconds)


@dataclass(slots=True)
class ServiceState:
    """Counters and recent batches of a running service (written by its threads)."""

    as_of: int = 0
    files: int = 0
    batches: int = 0
    failed_batches: int = 0
    last_batch: BatchInfo | None = None
    last_reconcile: BatchInfo | None = None
    reconciles: deque[BatchInfo] = field(default_factory=lambda: deque(maxlen=20))
    indexing_since: float | None = None
    last_error: str | None = None
    pauses: int = 0


def batch_fields(info: BatchInfo | None) -> dict[str, Any] | None:
    """A batch as /status reports it (None: no such batch yet)."""
    if info is None:
        return None
    return dataclasses.asdict(info)


def findings_status(result: RefreshResult | None) -> dict[str, Any] | None:
    """The last findings refresh as /status reports it (None: none in this process yet)."""
    if result is None:
        return None
    return {
        "as_of": result.as_of,
        "last_seq": result.last_seq,
        "open": result.open,
        "suppressed": result.suppressed,
        "events": result.events,
        "ms": round(result.ms, 3),
        "failed": result.failed,
        "deferred": result.deferred,
        "interrupted": result.interrupted,
    }
