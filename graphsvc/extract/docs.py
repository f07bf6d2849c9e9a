"""Documentation files -> headings and mentions of code. Pure: (path, bytes) in, facts out.

Markdown is parsed with markdown-it-py (CommonMark); reStructuredText and plain text with a
line-based reader (docutils turns every Sphinx role it does not know, ``:func:`` included, into
an error node, and costs ten times more). What counts as a mention is chosen for precision:

- code spans and reST roles holding a dotted name (``pkg.mod.func``, ``Class.method()``), an
  identifier, a path (``src/app/x.py``) or a command line (``graphsvc index .``);
- in code blocks: imports and dotted names of Python blocks (also ``>>>`` lines), the commands
  of shell blocks (with ``python -m mod`` and script paths as mentions of their own);
- relative links (Markdown links and images, reST ``<target>`` links, ``include`` directives)
  and ``automodule``-style directives;
- in plain prose only paths with a folder and a known suffix (``see docs/setup.md``).

Configuration files (TOML, YAML, INI/``setup.cfg``, JSON) are read line by line for the values
that name code: entry points (``pkg.cli:main``), dotted module paths (``pkg.jobs.nightly``) and
file paths (``scripts/run.py``), with ``[sections]`` as headings; TOML, JSON and INI are also
parsed (standard library) so that a file that would not load is a ``syntax`` problem.

Plain English in backticks stays a bare identifier (``true``, ``foo``): the stale query never
counts a bare name that did not resolve when the doc was written.

The readers live beside this module: :mod:`graphsvc.extract.doc_mentions` (what counts as a
mention), :mod:`graphsvc.extract.doc_markup` (Markdown, reST, text) and
:mod:`graphsvc.extract.doc_config` (configuration files); this one picks the reader, decodes
the bytes and turns the result into :class:`~graphsvc.docfacts.DocFacts`.
"""

from __future__ import annotations

import codecs
import hashlib
import logging

from graphsvc.docfacts import CONFIG_FORMATS, DocFacts, DocFormat
from graphsvc.extract.doc_config import read_config
from graphsvc.extract.doc_markup import read_markdown, read_rst
from graphsvc.extract.doc_mentions import MAX_HEADINGS, MAX_MENTIONS, Collector, DocExtraction
from graphsvc.facts import FileRecord, FileStatus, ParseError

__all__ = [
    "MAX_HEADINGS",
    "MAX_MENTIONS",
    "DocExtraction",
    "doc_format",
    "extract_doc",
    "index_doc",
]

log = logging.getLogger(__name__)
MAX_PROBLEMS = 50

_CONFIG_SUFFIXES: dict[str, DocFormat] = {
    "toml": "toml", "yaml": "yaml", "yml": "yaml", "ini": "ini", "cfg": "ini", "json": "json",
}  # fmt: skip


def doc_format(path: str) -> DocFormat:
    """The reader a documentation or configuration file gets, by its suffix."""
    lower = path.lower()
    suffix = lower.rpartition(".")[2] if "." in lower.rpartition("/")[2] else ""
    if suffix in _CONFIG_SUFFIXES:
        return _CONFIG_SUFFIXES[suffix]
    if lower.endswith((".md", ".markdown", ".mdx")):
        return "markdown"
    if lower.endswith((".rst", ".rest")):
        return "rst"
    return "text"


def extract_doc(path: str, text: str, fmt: DocFormat) -> DocExtraction:
    """Headings and mentions of the document ``path`` (its decoded ``text``)."""
    lines = text.splitlines()
    collector = Collector(path, lines)
    if fmt == "markdown":
        read_markdown(collector, text)
    elif fmt in CONFIG_FORMATS:
        read_config(collector, text, fmt)
    else:
        read_rst(collector, lines)
    if collector.dropped:
        note = f"{collector.dropped} mentions past the first {MAX_MENTIONS} were dropped"
        collector.out.problems.append(ParseError(1, 1, "missing", note))
    if fmt in CONFIG_FORMATS:
        collector.out.title = None  # a section is not a title
    elif collector.out.title is None and collector.out.headings:
        collector.out.title = min(collector.out.headings, key=lambda h: h.level).text
    return collector.out


# ---------------------------------------------------------------------- bytes -> facts


def _decode(raw: bytes) -> tuple[str, str, list[ParseError]]:
    """(text, encoding, problems): UTF-8 (BOM or not) or UTF-16 with a BOM; undecodable
    bytes become U+FFFD and one ``encoding`` problem with the first bad byte's line."""
    if raw.startswith(codecs.BOM_UTF8):
        raw, encoding = raw[3:], "utf-8-sig"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace"), "utf-16", []
    else:
        encoding = "utf-8"
    try:
        return raw.decode("utf-8"), encoding, []
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = ParseError(line, col, "encoding", f"invalid UTF-8 byte 0x{raw[exc.start]:02x}")
        return raw.decode("utf-8", errors="replace"), encoding, [problem]


def index_doc(path: str, raw: bytes, mtime_ns: int) -> DocFacts:
    """Facts of the documentation file ``path`` from its bytes. Never raises: a binary file
    is ``skipped``, bad bytes make it ``partial``, a bug in the reader makes it ``failed``."""
    sha = hashlib.sha256(raw).hexdigest()
    fmt = doc_format(path)

    def record(
        status: FileStatus, reason: str | None, lines: int, enc: str | None, errors: int
    ) -> FileRecord:
        return FileRecord(path, None, sha, len(raw), mtime_ns, lines, enc, status, errors, reason)

    nul = raw.find(b"\0")
    if nul >= 0 and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        line = raw.count(b"\n", 0, nul) + 1
        reason = f"binary file: NUL byte on line {line}"
        return DocFacts(record("skipped", reason, 0, None, 0), fmt)
    text, encoding, problems = _decode(raw)
    lines = len(text.splitlines())
    try:
        found = extract_doc(path, text, fmt)
    except Exception as exc:  # a bug must cost one file, never the run
        log.error("doc extraction failed on %s", path, exc_info=exc)
        reason = f"extractor failed: {type(exc).__name__}: {exc}"[:500]
        error = ParseError(1, 1, "read", reason)
        return DocFacts(record("failed", reason, lines, encoding, 1), fmt, problems=(error,))
    problems += found.problems
    status: FileStatus = "partial" if problems else "ok"
    return DocFacts(
        record(status, None, lines, encoding, len(problems)),
        fmt,
        found.title,
        tuple(found.headings),
        tuple(found.mentions),
        tuple(problems[:MAX_PROBLEMS]),
    )
