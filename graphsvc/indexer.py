"""Read one file and turn it into facts. Pure apart from reading the file; safe in any process."""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from graphsvc.columns import Columns
from graphsvc.docfacts import DocFacts
from graphsvc.extract import TooDeep, extract
from graphsvc.extract.docs import doc_format, index_doc
from graphsvc.facts import FileFacts, FileRecord, ModuleFact, ModuleInfo, ParseError
from graphsvc.parsing import decode_source, nesting_depth, safe

log = logging.getLogger(__name__)
MAX_ERROR_ROWS = 50
MAX_NESTING = 5000  # deeper bracket nesting is skipped (see index_bytes)
TOO_LARGE = "file too large"
TOO_DEEP = "nesting too deep"


@dataclass(frozen=True, slots=True)
class Task:
    """A file to (re)read: where it is, what module it is, what the store already has."""

    path: str  # relative POSIX path
    abs_path: str
    module: ModuleInfo | None  # None for a documentation file
    known_sha256: str | None  # the stored hash, when the stored facts are otherwise reusable
    max_bytes: int
    doc: bool = False  # a documentation file: DocFacts, not FileFacts


@dataclass(frozen=True, slots=True)
class Unchanged:
    """The bytes hash as before: only size/mtime need updating."""

    path: str
    size: int
    mtime_ns: int
    doc: bool = False


@dataclass(frozen=True, slots=True)
class Vanished:
    """The file disappeared between the walk and the read."""

    path: str
    doc: bool = False


Outcome = FileFacts | DocFacts | Unchanged | Vanished


def skipped(
    path: str,
    module: ModuleInfo | None,
    reason: str,
    size: int = 0,
    mtime_ns: int = 0,
    status: str = "skipped",
    errors: tuple[ParseError, ...] = (),
) -> FileFacts:
    """A file row that says why the file has no facts."""
    record = FileRecord(
        path=path,
        module=module.name if module else None,
        sha256=None,
        size=size,
        mtime_ns=mtime_ns,
        line_count=0,
        encoding=None,
        status=status,  # type: ignore[arg-type]
        error_count=len(errors),
        skip_reason=reason,
    )
    return FileFacts(record, parse_errors=errors)


def index_bytes(path: str, raw: bytes, module: ModuleInfo, mtime_ns: int) -> FileFacts:
    """Facts of a file from its bytes, the cyclic garbage collector paused while they are
    extracted (as :func:`index_files` pauses it for a chunk: a caller of this function alone,
    a one-file edit, paid a collector's pass over the process's heap in the middle of a large
    file's extraction). Never raises for bad source: problems become rows."""
    with _collector_paused():
        return _index_bytes(path, raw, module, mtime_ns)


def _index_bytes(path: str, raw: bytes, module: ModuleInfo, mtime_ns: int) -> FileFacts:
    sha = hashlib.sha256(raw).hexdigest()
    try:
        source = decode_source(raw)
        depth = nesting_depth(source.data, MAX_NESTING)
        if depth > MAX_NESTING:
            raise TooDeep(depth)
        found = extract(path, source.data, module, max_depth=MAX_NESTING)
    except TooDeep as exc:
        # tree-sitter's queries slow down quadratically with depth: 10,000 nested calls take
        # seconds, 65,536 levels minutes. Such files are generated; say so and move on.
        reason = f"{TOO_DEEP}: syntax tree nested {exc.depth}+ levels (max {MAX_NESTING})"
        facts = skipped(path, module, reason, len(raw), mtime_ns)
        return replace(facts, record=replace(facts.record, sha256=sha))
    except Exception as exc:  # a bug must cost one file, never the run
        return _crashed(path, len(raw), module, mtime_ns, sha, exc)
    problems = source.problems + found.parse_errors
    error_count = len(source.problems) + found.error_count
    record = FileRecord(
        path=path,
        module=module.name,
        sha256=sha,
        size=len(raw),
        mtime_ns=mtime_ns,
        line_count=source.line_count,
        encoding=source.encoding,
        status="partial" if error_count else "ok",
        error_count=error_count,
        skip_reason=None,
    )
    module_fact: ModuleFact = found.module
    return FileFacts(
        record=record,
        module=module_fact,
        symbols=found.symbols,
        imports=found.imports,
        calls=found.calls,
        references=found.references,
        attributes=found.attributes,
        flows=found.flows,
        channel_facts=found.channel_facts,
        mentions=found.mentions,
        attribute_writes=found.attribute_writes,
        name_strings=found.name_strings,
        clones=found.clones,
        parse_errors=problems[:MAX_ERROR_ROWS],
    )


def _crashed(
    path: str, size: int, module: ModuleInfo | None, mtime_ns: int, sha: str | None, exc: Exception
) -> FileFacts:
    log.error("extractor failed on %s", path, exc_info=exc)
    reason = safe(f"extractor failed: {type(exc).__name__}: {exc}")[:500]
    error = ParseError(1, 1, "read", reason)
    facts = skipped(path, module, reason, size, mtime_ns, "failed", (error,))
    return replace(facts, record=replace(facts.record, sha256=sha))


def _read(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size + 1  # one byte more tells us the file grew while we read
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def index_file(task: Task) -> Outcome:
    """Read ``task``'s file (size-capped, non-blocking: a FIFO never hangs us) and index it."""
    outcome = _index_file(task)
    if not task.doc:
        return outcome
    if isinstance(outcome, FileFacts):  # skipped or unreadable: the same record, as a doc
        return DocFacts(outcome.record, doc_format(task.path), problems=outcome.parse_errors)
    if isinstance(outcome, Unchanged | Vanished):
        return replace(outcome, doc=True)
    return outcome


def _index_file(task: Task) -> Outcome:
    try:
        fd = os.open(task.abs_path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return Vanished(task.path)
    except OSError as exc:
        return _unreadable(task, exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return skipped(task.path, task.module, "not a regular file")
        if st.st_size > task.max_bytes:
            reason = f"{TOO_LARGE}: {st.st_size} bytes > max_file_bytes {task.max_bytes}"
            return skipped(task.path, task.module, reason, st.st_size, st.st_mtime_ns)
        raw = _read(fd, task.max_bytes)
    except OSError as exc:
        return _unreadable(task, exc)
    finally:
        os.close(fd)
    if len(raw) > task.max_bytes:
        reason = f"{TOO_LARGE}: more than max_file_bytes {task.max_bytes}"
        return skipped(task.path, task.module, reason, len(raw), st.st_mtime_ns)
    if task.known_sha256 is not None and hashlib.sha256(raw).hexdigest() == task.known_sha256:
        return Unchanged(task.path, len(raw), st.st_mtime_ns)
    if task.doc:
        return index_doc(task.path, raw, st.st_mtime_ns)
    if task.module is None:
        raise ValueError(f"{task.path}: a Python file needs its module")
    return index_bytes(task.path, raw, task.module, st.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Outcomes of a chunk of tasks in order; the facts of its FileFacts travel as ``columns``
    (each FileFacts here carries only its record)."""

    outcomes: list[Outcome]
    columns: Columns


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: extraction allocates millions of small objects and
    frees nearly all of them by reference counting, so the collector's passes over the young
    generations were ~12% of extraction time for nothing. Cycles left (scopes point at their
    parents) are collected once the collector is back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def index_files(tasks: Sequence[Task]) -> Chunk:
    """:func:`index_file` over a chunk (the unit of work of a pool worker), facts as columns."""
    with _collector_paused():
        return _index_files(tasks)


def _index_files(tasks: Sequence[Task]) -> Chunk:
    outcomes = [index_file(task) for task in tasks]
    facts = [o for o in outcomes if isinstance(o, FileFacts)]
    try:
        columns = Columns.of(facts)
    except Exception:  # one file's odd value must not cost the others: find it
        for i, one in enumerate(facts):
            try:
                Columns.of([one])
            except Exception as exc:
                r = one.record
                facts[i] = _crashed(r.path, r.size, _module_of(one), r.mtime_ns, r.sha256, exc)
        by_path = {f.record.path: f for f in facts}
        outcomes = [
            by_path.get(o.record.path, o) if isinstance(o, FileFacts) else o for o in outcomes
        ]
        columns = Columns.of(facts)
    slim: list[Outcome] = [FileFacts(o.record) if isinstance(o, FileFacts) else o for o in outcomes]
    return Chunk(slim, columns)


def _module_of(facts: FileFacts) -> ModuleInfo | None:
    m = facts.module
    return ModuleInfo(m.name, m.is_package, m.package_root) if m is not None else None


def _unreadable(task: Task, exc: OSError) -> FileFacts:
    reason = f"unreadable: {exc.strerror or type(exc).__name__}"
    error = ParseError(1, 1, "read", reason)
    return skipped(task.path, task.module, reason, status="failed", errors=(error,))
