"""Facts of documentation files: headings and the code they mention.

A documentation file (``*.md``, ``*.rst``, ``*.txt``, configurable) or configuration file
(``*.toml``, ``*.yaml``, ``*.ini``, ``*.cfg``, ``*.json``) is owned like a Python file:
its rows in ``doc_headings`` and ``doc_mentions`` are replaced as a whole when it changes. Paths
are POSIX and relative to the indexed tree, lines 1-based, columns 1-based characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from graphsvc.facts import FileRecord, ParseError

DocFormat = Literal["markdown", "rst", "text", "toml", "yaml", "ini", "json"]
# Configuration files: read for the code their values name (entry points, module paths, files).
CONFIG_FORMATS: frozenset[str] = frozenset({"toml", "yaml", "ini", "json"})
# name: a dotted name or identifier; path: a file or folder; command: a shell command line;
# link: a relative link to a file.
MentionKind = Literal["name", "path", "command", "link"]
# Where in the document the mention was written.
MentionContext = Literal[
    "code_span", "code_block", "role", "directive", "link", "text", "config_value"
]


@dataclass(frozen=True, slots=True)
class DocHeading:
    """A section heading."""

    level: int  # 1 = top
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class DocMention:
    """Something in a document that names code: a name, a path, a command or a link."""

    line: int
    col: int
    kind: MentionKind
    context: MentionContext
    text: str  # as written (truncated)
    target: str  # names: dotted without () ; paths: relative to the tree, normalised
    alt_target: str | None  # paths: the other reading (relative to the doc vs the tree root)
    bare: bool  # names: a single identifier (no dot): resolved by name, never stale by shape
    heading: str | None  # the enclosing section's heading


@dataclass(frozen=True, slots=True)
class DocFacts:
    """Everything one documentation file contributes; replaced as a whole when it changes."""

    record: FileRecord  # module is always None
    format: DocFormat
    title: str | None = None
    headings: tuple[DocHeading, ...] = ()
    mentions: tuple[DocMention, ...] = ()
    problems: tuple[ParseError, ...] = ()


# Bump when doc extraction changes what it writes: docs written by an older version are re-read.
DOC_INDEXER_VERSION = 2
