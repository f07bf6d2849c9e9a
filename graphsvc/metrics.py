"""Prometheus metrics of the service (``GET /metrics``), in a registry of its own.

Counters and the batch-latency histogram are updated by the indexer thread as batches commit;
gauges (freshness, memory, watcher state, findings by kind and status) are read from the
service when Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """What the indexer records per batch, plus a collector over ``status`` and ``findings``."""

    def __init__(
        self,
        status: Callable[[], dict[str, Any]],
        findings: Callable[[], list[tuple[str, str, int]]],
    ) -> None:
        self.registry = CollectorRegistry()
        self.batches = Counter(
            "graphsvc_batches", "Committed batches", ["kind"], registry=self.registry
        )
        self.parsed = Counter(
            "graphsvc_files_parsed", "Files read and parsed by batches", registry=self.registry
        )
        self.removed = Counter(
            "graphsvc_files_removed", "Files whose rows batches removed", registry=self.registry
        )
        self.failed = Counter(
            "graphsvc_batch_failures", "Batches that failed", registry=self.registry
        )
        self.latency = Histogram(
            "graphsvc_batch_seconds",
            "Wall time of a batch, facts to committed links",
            ["kind"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_State(status, findings))

    def batch(self, kind: str, seconds: float, parsed: int, removed: int) -> None:
        self.batches.labels(kind).inc()
        self.latency.labels(kind).observe(seconds)
        self.parsed.inc(parsed)
        self.removed.inc(removed)


class _State(Collector):
    """Gauges read at scrape time."""

    def __init__(
        self,
        status: Callable[[], dict[str, Any]],
        findings: Callable[[], list[tuple[str, str, int]]],
    ) -> None:
        self.status = status
        self.findings = findings

    def collect(self) -> Iterator[Metric]:
        now = self.status()
        watcher = now["watcher"]
        for name, text, value in (
            ("graphsvc_as_of", "Last committed batch", now["as_of"]),
            ("graphsvc_files", "File rows in the graph", now["files"]),
            ("graphsvc_pending_paths", "Dirty paths waiting for a batch", now["pending_paths"]),
            ("graphsvc_rss_bytes", "Resident memory of the service process", now["rss_bytes"]),
            ("graphsvc_watcher_polling", "1 when the tree is polled", watcher["mode"] == "polling"),
        ):
            yield GaugeMetricFamily(name, text, value=float(value))
        for name, text, value in (
            ("graphsvc_watcher_overflows", "Event-queue overflows seen", watcher["overflows"]),
            ("graphsvc_watcher_restarts", "Dead observers replaced", watcher["restarts"]),
            ("graphsvc_pauses", "Process pauses that caused a reconcile", watcher["pauses"]),
        ):
            yield CounterMetricFamily(name, text, value=float(value))
        found = GaugeMetricFamily(
            "graphsvc_findings", "Findings by kind and status", labels=["kind", "status"]
        )
        for kind, status, count in self.findings():
            found.add_metric([kind, status], float(count))
        yield found
