"""Browsing the graph file by file: the files of the tree and the facts of one file.

Each function reads through ``store.con``; from a request thread pass ``store.reader()`` (a
cursor of its own) and read inside :func:`read_only` so that several queries of one answer see
the same committed state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args

from graphsvc.errors import NotFoundError
from graphsvc.facts import FileStatus
from graphsvc.store import Store

FILE_STATUSES: tuple[str, ...] = get_args(FileStatus)
MAX_PAGE = 1000


@contextlib.contextmanager
def read_only(store: Store) -> Iterator[Store]:
    """A read-only transaction on ``store``'s connection: every query inside sees one state."""
    store.con.execute("BEGIN TRANSACTION READ ONLY")
    try:
        yield store
    finally:
        store.con.execute("ROLLBACK")


@dataclass(frozen=True, slots=True)
class FileSummary:
    """One file of the tree and what happened to it."""

    path: str
    module: str | None
    status: str  # ok | partial | failed | skipped
    error_count: int
    symbols: int  # definitions in the file, the module itself not counted
    size: int
    line_count: int
    skip_reason: str | None


@dataclass(frozen=True, slots=True)
class FilePage:
    """One page of files in path order; ``next_cursor`` is None on the last page."""

    files: list[FileSummary]
    next_cursor: str | None
    total: int  # files matching the filters, on every page


@dataclass(frozen=True, slots=True)
class Definition:
    """A definition (symbol) with its file."""

    qualname: str
    name: str
    kind: str
    parent: str | None
    path: str
    line: int
    end_line: int
    docstring: str | None
    decorators: tuple[str, ...]
    is_async: bool


@dataclass(frozen=True, slots=True)
class ImportFact:
    """One imported name and how the linker resolved it (``status`` is ``unlinked`` while the
    linker has not looked at it yet)."""

    line: int
    col: int
    scope: str
    module: str  # as written, with leading dots for relative imports
    name: str | None
    alias: str | None
    kind: str  # import | from | star | future
    status: str  # internal | stdlib | external | unresolved | ambiguous | unlinked
    strategy: str | None
    targets: tuple[str, ...]  # several when ambiguous, none when unresolved
    reason: str | None
    in_try: bool
    type_checking: bool
    in_function: bool


@dataclass(frozen=True, slots=True)
class ParseNote:
    """Something that could not be parsed or decoded."""

    line: int
    col: int
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class FileDetail:
    """Everything the graph holds about one file."""

    file: FileSummary
    sha256: str | None
    encoding: str | None
    indexed_at: dt.datetime
    definitions: list[Definition]
    imports: list[ImportFact]
    notes: list[ParseNote]


_SUMMARY = (
    "f.path, f.module, f.status, f.error_count,"
    " (SELECT count(*) FROM symbols AS s WHERE s.file_id = f.file_id AND s.kind <> 'module'),"
    " f.size, f.line_count, f.skip_reason"
)


def list_files(
    store: Store,
    *,
    prefix: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> FilePage:
    """Files in path order, filtered by a path prefix (a plain string prefix: ``pkg/`` for a
    folder) and a status, ``limit`` at a time after ``cursor`` (a ``next_cursor``).

    Raises:
        ValueError: ``status`` is not a file status or ``limit`` is out of range.
    """
    if status is not None and status not in FILE_STATUSES:
        raise ValueError(f"status must be one of {', '.join(FILE_STATUSES)}, not {status!r}")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    where = (
        " WHERE ($prefix IS NULL OR starts_with(f.path, $prefix))"
        " AND ($status IS NULL OR f.status = $status)"
    )
    params: dict[str, Any] = {"prefix": prefix, "status": status}
    rows = store.con.execute(
        f"SELECT {_SUMMARY} FROM files AS f{where}"
        " AND ($cursor IS NULL OR f.path > $cursor) ORDER BY f.path LIMIT $limit",
        params | {"cursor": cursor, "limit": limit + 1},
    ).fetchall()
    total = store.con.execute(f"SELECT count(*) FROM files AS f{where}", params).fetchone()
    files = [FileSummary(*row) for row in rows[:limit]]
    next_cursor = files[-1].path if len(rows) > limit else None
    return FilePage(files, next_cursor, int(total[0]) if total else 0)


def file_detail(store: Store, path: str) -> FileDetail:
    """The facts of the file at ``path`` (relative to the tree, POSIX).

    Raises:
        NotFoundError: no file has this path (the message says when it is a folder).
    """
    row = store.con.execute(
        f"SELECT {_SUMMARY}, f.file_id, f.sha256, f.encoding, f.indexed_at"
        " FROM files AS f WHERE f.path = $path",
        {"path": path},
    ).fetchone()
    if row is None:
        raise NotFoundError(path, _missing_file(store, path))
    summary = FileSummary(*row[:8])
    file_id, sha256, encoding, indexed_at = row[8:]
    if indexed_at.tzinfo is None:
        indexed_at = indexed_at.replace(tzinfo=dt.UTC)
    params = {"id": file_id}
    definitions = [
        _definition(r)
        for r in store.con.execute(
            "SELECT s.qualname, s.name, s.kind, s.parent, $path, s.line, s.end_line,"
            " s.docstring, s.decorators, s.is_async FROM symbols AS s WHERE s.file_id = $id"
            " ORDER BY s.line, s.col, s.qualname",
            params | {"path": path},
        ).fetchall()
    ]
    notes = [
        ParseNote(*r)
        for r in store.con.execute(
            "SELECT line, col, kind, message FROM parse_errors WHERE file_id = $id"
            " ORDER BY line, col",
            params,
        ).fetchall()
    ]
    return FileDetail(
        summary, sha256, encoding, indexed_at, definitions, _imports(store, file_id), notes
    )


def _missing_file(store: Store, path: str) -> str:
    folder = path.rstrip("/") + "/"
    row = store.con.execute(
        "SELECT count(*) FROM files WHERE starts_with(path, $folder)", {"folder": folder}
    ).fetchone()
    if row and row[0]:
        return (
            f"{path} is a folder of {row[0]} file(s), not a file:"
            f" list them with /files?prefix={folder}"
        )
    return f"no file {path} in the graph (paths are relative to the tree, with /)"


def _imports(store: Store, file_id: int) -> list[ImportFact]:
    """Imported names joined to their link rows (one per candidate when ambiguous)."""
    rows = store.con.execute(
        "SELECT line, col, scope, module, name, alias, kind, in_try, type_checking,"
        " in_function, status, strategy, resolved, reason FROM import_links"
        " WHERE file_id = $id ORDER BY line, col, module, name, alias, resolved",
        {"id": file_id},
    ).fetchall()
    grouped: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault(row[:10], []).append(row[10:])
    facts = []
    for (line, col, scope, module, name, alias, kind, in_try, tc, in_fn), links in grouped.items():
        status, strategy, _, reason = links[0]
        targets = tuple(dict.fromkeys(t for _, _, t, _ in links if t is not None))
        facts.append(
            ImportFact(
                line=line,
                col=col,
                scope=scope,
                module=module,
                name=name,
                alias=alias,
                kind=kind,
                status=status or "unlinked",
                strategy=strategy,
                targets=targets,
                reason=reason,
                in_try=in_try,
                type_checking=tc,
                in_function=in_fn,
            )
        )
    return facts


def definitions(store: Store, qualname: str) -> list[Definition]:
    """The definitions named ``qualname`` (several when two files claim one module).

    Raises:
        NotFoundError: nothing is defined under this name.
    """
    rows = store.con.execute(
        "SELECT s.qualname, s.name, s.kind, s.parent, f.path, s.line, s.end_line, s.docstring,"
        " s.decorators, s.is_async FROM symbols AS s JOIN files AS f USING (file_id)"
        " WHERE s.qualname = $q ORDER BY f.path, s.line",
        {"q": qualname},
    ).fetchall()
    if not rows:
        raise NotFoundError(qualname, f"no definition named {qualname!r}")
    return [_definition(r) for r in rows]


def _definition(row: tuple[Any, ...]) -> Definition:
    qualname, name, kind, parent, path, line, end_line, docstring, decorators, is_async = row
    return Definition(
        qualname=qualname,
        name=name,
        kind=kind,
        parent=parent,
        path=path,
        line=line,
        end_line=end_line,
        docstring=docstring,
        decorators=tuple(decorators),
        is_async=bool(is_async),
    )
