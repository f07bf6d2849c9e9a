"""graphsvc: an incremental code-graph database for Python trees.

The library API: :func:`index_tree` brings a :class:`Store` up to date with a tree.
"""

from graphsvc.config import Settings, load_settings
from graphsvc.errors import GraphsvcError
from graphsvc.store import Store
from graphsvc.update import IndexSummary, index_tree

__all__ = ["GraphsvcError", "IndexSummary", "Settings", "Store", "index_tree", "load_settings"]
__version__ = "0.1.0"
