"""graphsvc: an incremental code-graph database for Python trees.

The library API: :func:`index_tree` brings a :class:`Store` up to date with a tree;
:class:`SqlSandbox` runs untrusted SQL on it; :class:`SnapshotPublisher` keeps a read-only copy
for the ``duckdb`` shell. Names are
imported lazily, so a parser worker that imports ``graphsvc.indexer`` never loads DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graphsvc.config import Settings, load_settings
    from graphsvc.errors import GraphsvcError
    from graphsvc.sandbox import SandboxLimits, SqlSandbox
    from graphsvc.snapshot import SnapshotPublisher, publish_snapshot
    from graphsvc.store import Store
    from graphsvc.update import IndexSummary, index_tree

__all__ = [
    "GraphsvcError",
    "IndexSummary",
    "SandboxLimits",
    "Settings",
    "SnapshotPublisher",
    "SqlSandbox",
    "Store",
    "index_tree",
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
    "load_settings": "graphsvc.config",
    "publish_snapshot": "graphsvc.snapshot",
}


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'graphsvc' has no attribute {name!r}")
