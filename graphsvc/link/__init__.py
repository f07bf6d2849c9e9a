"""Cross-file resolution: imports, calls and references linked to what they point at."""

from graphsvc.link.environment import Environment, probe
from graphsvc.link.index import NameIndex
from graphsvc.link.linker import LINKER_VERSION, Linker, LinkSummary, link_chunks
from graphsvc.link.names import Lookup, Value

__all__ = [
    "LINKER_VERSION",
    "Environment",
    "LinkSummary",
    "Linker",
    "Lookup",
    "NameIndex",
    "Value",
    "link_chunks",
    "probe",
]
