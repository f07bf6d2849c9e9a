"""Findings: the saved finding queries' rows as findings with stable ids, a refresh that diffs
them after every batch, suppression, and the change feed. See README, *Findings*."""

from graphsvc.findings.contracts import ContractSource
from graphsvc.findings.dependencies import DependencySource
from graphsvc.findings.hardware import HardwareFeed, HardwareRules, Thresholds
from graphsvc.findings.knowledge import KnowledgeSource
from graphsvc.findings.literals import CapabilitySource
from graphsvc.findings.model import (
    EventKind,
    Finding,
    FindingEvent,
    Location,
    Stamp,
    Status,
    evidence_hash,
    render,
)
from graphsvc.findings.read import (
    MAX_LIMIT,
    FindingPage,
    all_findings,
    events_since,
    get_finding,
    last_seq,
    list_findings,
)
from graphsvc.findings.refresh import SOURCES, Refresher, RefreshResult, refresh
from graphsvc.findings.suppress import Suppressor, ignore_comments

__all__ = [
    "MAX_LIMIT",
    "SOURCES",
    "CapabilitySource",
    "ContractSource",
    "DependencySource",
    "EventKind",
    "Finding",
    "FindingEvent",
    "FindingPage",
    "HardwareFeed",
    "HardwareRules",
    "KnowledgeSource",
    "Location",
    "RefreshResult",
    "Refresher",
    "Stamp",
    "Status",
    "Suppressor",
    "Thresholds",
    "all_findings",
    "events_since",
    "evidence_hash",
    "get_finding",
    "ignore_comments",
    "last_seq",
    "list_findings",
    "refresh",
    "render",
]
