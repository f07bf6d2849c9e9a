"""graphsvc: an incremental code-graph database for Python trees.

The library API: :func:`index_tree` brings a :class:`Store` up to date with a tree;
:func:`load_queries` loads the saved queries and :class:`Refresher` keeps the findings current
(:func:`list_findings`, :func:`get_finding`, :func:`events_since` read them);
:class:`SqlSandbox` runs untrusted SQL on it; :class:`SnapshotPublisher` keeps a read-only copy
for the ``duckdb`` shell. Names are
imported lazily, so a parser worker that imports ``graphsvc.indexer`` never loads DuckDB.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import sys
from typing import TYPE_CHECKING

# Memory: set before anything imports duckdb (its jemalloc reads this once, at load), and
# before threads start. The user's own settings win. Measured on a stdlib-size tree
# (BENCHMARKS.md, "serve memory"): DuckDB's jemalloc with its default arenas and 10 s decay
# kept 30-50 MB of freed pages resident in a long-running service; glibc's per-thread arenas
# another ~20 MB.
DUCKDB_JEMALLOC_CONF = "narenas:1,dirty_decay_ms:0,muzzy_decay_ms:0"
GLIBC_ARENA_MAX = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def _tune_allocators() -> None:
    os.environ.setdefault("DUCKDB_JE_MALLOC_CONF", DUCKDB_JEMALLOC_CONF)
    if sys.platform != "linux" or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_ARENA_MAX, GLIBC_ARENA_MAX)
    except (OSError, AttributeError):  # not glibc (musl): nothing to tune
        pass


_tune_allocators()

if TYPE_CHECKING:
    from graphsvc.config import Settings, load_settings
    from graphsvc.errors import GraphsvcError
    from graphsvc.findings import Refresher, events_since, get_finding, list_findings
    from graphsvc.queries import load_queries
    from graphsvc.sandbox import SandboxLimits, SqlSandbox
    from graphsvc.snapshot import SnapshotPublisher, publish_snapshot
    from graphsvc.store import Store
    from graphsvc.update import IndexSummary, index_tree

__all__ = [
    "GraphsvcError",
    "IndexSummary",
    "Refresher",
    "SandboxLimits",
    "Settings",
    "SnapshotPublisher",
    "SqlSandbox",
    "Store",
    "events_since",
    "get_finding",
    "index_tree",
    "list_findings",
    "load_queries",
    "load_settings",
    "publish_snapshot",
]
__version__ = "0.1.0"

_HOMES = {
    "GraphsvcError": "graphsvc.errors",
    "IndexSummary": "graphsvc.update",
    "SandboxLimits": "graphsvc.sandbox",
    "SnapshotPublisher": "graphsvc.snapshot",
    "SqlSandbox": "graphsvc.sandbox",
    "Settings": "graphsvc.config",
    "Store": "graphsvc.store",
    "index_tree": "graphsvc.update",
    "Refresher": "graphsvc.findings",
    "events_since": "graphsvc.findings",
    "get_finding": "graphsvc.findings",
    "list_findings": "graphsvc.findings",
    "load_queries": "graphsvc.queries",
    "load_settings": "graphsvc.config",
    "publish_snapshot": "graphsvc.snapshot",
}


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'graphsvc' has no attribute {name!r}")
