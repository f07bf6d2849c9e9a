"""Unindexed knowledge: files of the tree that no knowledge covers.

- With an external knowledge index (``GRAPHSVC_KNOWLEDGE_INDEX``: a JSON list or JSONL file of
  ``{"path": ..., "mtime": ...}``, or ``GRAPHSVC_KNOWLEDGE_INDEX_SQL``: a read-only SELECT over
  the graph returning ``path`` and optionally ``mtime``), every documentation and Python file
  of the tree that the index lacks, or holds with an mtime older than the file's, is a finding.
- Without one: public modules and packages (no part of the name starts with ``_``, not a test)
  that no doc mentions (by name, by a name inside them, or by path) and that have no docstring;
  nothing when the tree has no documentation file at all (there is nothing to compare with).

One finding per file: id ``unindexed_knowledge_<path-slug>``, hypothesis
``UNINDEXED_KNOWLEDGE_<PATH>``, evidence ``file_path: <absolute path>``, ``file_type``, ``size``
and the reason. An index that cannot be read is a finding of its own
(``unindexed_knowledge_index``), never a silent pass. This is a non-SQL finding source (it reads
a file outside the graph), diffed in by :meth:`Refresher.run_source`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from graphsvc.errors import GraphsvcError
from graphsvc.findings.model import Finding, Location
from graphsvc.findings.refresh import Refresher, RefreshResult
from graphsvc.sandbox import check_parse_tree, single_select
from graphsvc.store import Store
from graphsvc.update import IndexSummary

log = logging.getLogger(__name__)
SOURCE = "unindexed_knowledge"
KIND = "unindexed_knowledge"
MAX_INDEX_BYTES = 200_000_000


class IndexUnreadable(GraphsvcError):
    """The external knowledge index cannot be read or does not have the expected shape."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"knowledge index {where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TreeFile:
    """A file of the tree the index should cover."""

    path: str
    file_type: str
    size: int
    mtime_ns: int


def _mtime_ns(value: Any, where: str) -> int | None:
    """An index entry's mtime: seconds (int or float), milliseconds or nanoseconds since the
    epoch (told apart by magnitude), or an ISO 8601 string; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise IndexUnreadable(where, f"mtime {value!r} is not a time")
    if isinstance(value, int | float):
        seconds = float(value)
        if seconds > 1e17:
            return int(value)  # nanoseconds
        if seconds > 1e11:
            return int(seconds * 1e6)  # milliseconds
        return int(seconds * 1e9)
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            raise IndexUnreadable(
                where, f"mtime {value!r} is neither a number nor ISO 8601"
            ) from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return int(stamp.timestamp() * 1e9)
    raise IndexUnreadable(where, f"mtime {value!r} is not a time")


def _entries(data: Iterable[Any], where: str) -> Iterable[tuple[str, Any]]:
    for n, item in enumerate(data, start=1):
        if isinstance(item, str):
            yield item, None
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            yield str(item["path"]), item.get("mtime")
        else:
            raise IndexUnreadable(f"{where} entry {n}", "expected a path or {path, mtime}")


def read_index(path: Path, tree: Path) -> dict[str, int | None]:
    """The index file's entries: tree-relative path -> mtime_ns (None: no mtime). Absolute
    paths outside the tree are ignored.

    Raises:
        IndexUnreadable: missing, too large, not JSON/JSONL, or entries of the wrong shape.
    """
    where = str(path)
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            raise IndexUnreadable(where, f"larger than {MAX_INDEX_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexUnreadable(where, f"cannot read: {exc}") from exc
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            data: list[Any] = json.loads(text)
        else:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise IndexUnreadable(where, f"not JSON or JSONL: {exc}") from exc
    return _relative(_entries(data, where), tree, where)


def _relative(entries: Iterable[tuple[str, Any]], tree: Path, where: str) -> dict[str, int | None]:
    root = str(tree.resolve())
    out: dict[str, int | None] = {}
    for raw, mtime in entries:
        rel = raw
        if os.path.isabs(raw):
            resolved = os.path.normpath(raw)
            if resolved != root and not resolved.startswith(root + os.sep):
                continue
            rel = os.path.relpath(resolved, root)
        rel = os.path.normpath(rel).replace(os.sep, "/").removeprefix("./")
        stamp = _mtime_ns(mtime, f"{where} ({raw})")
        known = out.get(rel)
        out[rel] = stamp if known is None or (stamp is not None and stamp > known) else known
    return out


def query_index(store: Store, sql: str, tree: Path) -> dict[str, int | None]:
    """The entries a user's SELECT returns (columns ``path`` and optionally ``mtime``), run in
    a read-only transaction after the saved-query checks.

    Raises:
        IndexUnreadable: the SQL is refused, fails, or returns no ``path`` column.
    """
    try:
        statement = single_select(sql)
        cursor = store.cursor()
        try:
            check_parse_tree(cursor, sql, statement)
            cursor.execute("BEGIN TRANSACTION READ ONLY")
            try:
                cursor.execute(statement)
                names = [d[0] for d in cursor.description or []]
                rows = cursor.fetchall()
            finally:
                cursor.execute("ROLLBACK")
        finally:
            cursor.close()
    except (GraphsvcError, duckdb.Error) as exc:
        raise IndexUnreadable("GRAPHSVC_KNOWLEDGE_INDEX_SQL", str(exc).splitlines()[0]) from exc
    if "path" not in names:
        raise IndexUnreadable("GRAPHSVC_KNOWLEDGE_INDEX_SQL", f"no path column (got {names})")
    p, m = names.index("path"), names.index("mtime") if "mtime" in names else None
    entries = [(str(r[p]), r[m] if m is not None else None) for r in rows if r[p] is not None]
    return _relative(entries, tree, "GRAPHSVC_KNOWLEDGE_INDEX_SQL")


def tree_files(store: Store) -> list[TreeFile]:
    """Every indexed documentation and Python file (skipped ones too: they exist)."""
    rows = store.con.execute(
        "SELECT path, CASE WHEN format IN ('markdown', 'rst', 'text') THEN 'doc_' ELSE"
        " 'config_' END || format, size, mtime_ns FROM doc_files"
        " UNION ALL SELECT f.path, CASE WHEN m.is_package THEN 'python_package'"
        " ELSE 'python_module' END, f.size, f.mtime_ns FROM files AS f"
        " LEFT JOIN modules AS m USING (file_id) ORDER BY 1"
    ).fetchall()
    return [TreeFile(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


_UNDOCUMENTED = """
WITH mods AS (
    SELECT f.path, f.size, m.name, m.is_package
    FROM modules AS m
    JOIN files AS f
        ON f.file_id = m.file_id
    LEFT JOIN symbols AS s
        ON s.file_id = m.file_id
        AND s.kind = 'module'
    WHERE s.docstring IS NULL
        AND len(list_filter(string_split(m.name, '.'), lambda p: starts_with(p, '_'))) = 0
        AND len(list_filter(string_split(m.name, '.'),
            lambda p: p = 'conftest' OR p = 'tests' OR p = 'test' OR starts_with(p, 'test_')
                OR ends_with(p, '_test'))) = 0
        AND NOT contains('/' || f.path, '/tests/')
),
mentioned AS (
    SELECT DISTINCT target FROM doc_mentions WHERE kind IN ('name', 'path', 'link')
    UNION
    SELECT DISTINCT entity_path FROM doc_mention_status WHERE resolved
),
name_parts AS (
    SELECT DISTINCT unnest(list_transform(range(1, len(string_split(target, '.')) + 1),
        lambda i: array_to_string(string_split(target, '.')[1:i], '.'))) AS name
    FROM doc_mentions
    WHERE kind = 'name'
)
SELECT path, size, name, is_package
FROM mods
WHERE name NOT IN (SELECT name FROM name_parts)
    AND path NOT IN (SELECT target FROM mentioned WHERE target IS NOT NULL)
    AND NOT (
        is_package
        AND regexp_replace(path, '/?__init__\\.py$', '') IN (
            SELECT target FROM mentioned WHERE target IS NOT NULL
        )
    )
ORDER BY path
"""


def has_docs(store: Store) -> bool:
    """Whether the tree has at least one documentation file that could be read."""
    rows = store.con.execute(
        "SELECT count(*) FROM doc_files WHERE status IN ('ok', 'partial')"
    ).fetchall()
    return bool(rows[0][0])


def undocumented(store: Store) -> list[tuple[str, int, str, bool]]:
    """(path, size, module, is_package) of public modules and packages without a docstring
    that no doc mentions."""
    rows = store.con.execute(_UNDOCUMENTED).fetchall()
    return [(str(r[0]), int(r[1]), str(r[2]), bool(r[3])) for r in rows]


def path_key(path: str) -> str:
    """The path as an id part: what an id may not hold becomes ``_`` (``docs/a b.md`` ->
    ``docs_a_b.md``); distinct paths stay distinct unless they differ only there."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", path)


def _finding(
    tree: Path, path: str, file_type: str, size: int, reason: str, question: str, **meta: Any
) -> Finding:
    absolute = str(tree.resolve() / path)
    lines = (
        f"file_path: {absolute}",
        f"file_type: {file_type}",
        f"size: {size}",
        f"reason: {reason}",
    )
    return Finding.of(
        id=f"{KIND}_{path_key(path)}",
        kind=KIND,
        query=SOURCE,
        hypothesis=f"UNINDEXED_KNOWLEDGE_{path}",
        question=question,
        evidence=lines,
        locations=(Location(path, 1, None),),
        severity="low",
        confidence=meta.pop("confidence", 0.9),
        action="explore",
        autonomy=1,
        value=0.3,
        cost=0.2,
        capability="knowledge.index",
        metadata=meta,
    )


def index_findings(
    tree: Path, files: list[TreeFile], index: dict[str, int | None], where: str
) -> list[Finding]:
    """Files the index lacks, or holds older than the file."""
    out: list[Finding] = []
    for f in files:
        if f.path not in index:
            reason = f"not in the knowledge index ({where})"
            question = f"{f.path} is not in the knowledge index: index it?"
            out.append(_finding(tree, f.path, f.file_type, f.size, reason, question))
            continue
        indexed = index[f.path]
        if indexed is not None and f.mtime_ns > indexed:
            reason = f"modified after the knowledge index took it ({where})"
            question = f"{f.path} changed after the knowledge index took it: re-index it?"
            out.append(
                _finding(
                    tree,
                    f.path,
                    f.file_type,
                    f.size,
                    reason,
                    question,
                    file_mtime_ns=f.mtime_ns,
                    indexed_mtime_ns=indexed,
                )
            )
    return out


def default_findings(tree: Path, store: Store) -> list[Finding]:
    """Public modules and packages no doc mentions and without a docstring."""
    out: list[Finding] = []
    for path, size, module, is_package in undocumented(store):
        what = "package" if is_package else "module"
        reason = f"public {what} {module} has no docstring and no doc mentions it"
        question = f"Nothing documents the {what} {module} ({path}): write its docstring or a doc?"
        out.append(
            _finding(
                tree,
                path,
                f"python_{what}",
                size,
                reason,
                question,
                module=module,
                confidence=0.7,
            )
        )
    return out


def _unreadable(tree: Path, exc: IndexUnreadable) -> Finding:
    return Finding.of(
        id=f"{KIND}_index",
        kind=KIND,
        query=SOURCE,
        hypothesis="UNINDEXED_KNOWLEDGE_INDEX_UNREADABLE",
        question=f"The knowledge index {exc.where} cannot be read ({exc.reason}): fix it?",
        evidence=(f"index: {exc.where}", f"reason: {exc.reason}"),
        severity="medium",
        confidence=1.0,
        action="investigate",
        autonomy=1,
        value=0.3,
        cost=0.1,
        capability="knowledge.index",
    )


class KnowledgeSource:
    """Refreshes the unindexed_knowledge findings after each query refresh. Skips the work
    when the batch changed no file and the index file's stat is unchanged.

    Args:
        tree: the indexed tree.
        index: the external index file (relative to the tree or absolute), or None.
        index_sql: a SELECT returning the index's paths (used when ``index`` is None).
        docs_enabled: whether docs are indexed (without docs, the default mode has nothing
            to compare and reports nothing).
    """

    def __init__(
        self,
        tree: Path,
        index: Path | None = None,
        index_sql: str | None = None,
        docs_enabled: bool = True,
    ) -> None:
        self.tree = tree
        self.index = None if index is None else index if index.is_absolute() else tree / index
        self.index_sql = index_sql
        self.docs_enabled = docs_enabled
        self._key: tuple[object, ...] | None = None
        self._wrote_none = False  # the last diff had no findings of this source
        self.skipped = 0

    def _index_stat(self) -> tuple[object, ...]:
        if self.index is None:
            return ()
        try:
            st = self.index.stat()
        except OSError as exc:
            return ("missing", str(exc))
        return (st.st_mtime_ns, st.st_size)

    def findings(self, store: Store) -> list[Finding]:
        """The complete current findings of this source."""
        try:
            if self.index is not None:
                index = read_index(self.index, self.tree)
                return index_findings(self.tree, tree_files(store), index, str(self.index))
            if self.index_sql:
                index = query_index(store, self.index_sql, self.tree)
                where = "GRAPHSVC_KNOWLEDGE_INDEX_SQL"
                return index_findings(self.tree, tree_files(store), index, where)
        except IndexUnreadable as exc:
            log.error("%s", exc)
            return [_unreadable(self.tree, exc)]
        if not self.docs_enabled or not has_docs(store):
            return []  # no documentation to compare with: every module would be a finding
        return default_findings(self.tree, store)

    def refresh(
        self, refresher: Refresher, store: Store, summary: IndexSummary | None = None
    ) -> RefreshResult | None:
        """Diff the findings into the feed (on the writer's thread). None when skipped or
        failed (logged; the stored findings stay as they were)."""
        changed = summary is None or bool(
            summary.parsed
            + summary.removed
            + summary.vanished
            + summary.touched
            + summary.skipped
            + summary.docs_parsed
            + summary.docs_removed
            + summary.docs_touched
        )
        key = (self._index_stat(), self.index_sql)
        if not changed and key == self._key and self.index_sql is None:
            self.skipped += 1
            return None
        try:
            found = self.findings(store)
            if not found and self._wrote_none:
                self._key = key
                return None  # nothing before, nothing now: no diff to write
            as_of = summary.batch_id if summary is not None else None
            result = refresher.run_source(store, SOURCE, found, as_of)
            self._wrote_none = not found
        except Exception as exc:  # a source must never fail the batch that ran it
            log.error(
                "unindexed_knowledge findings not refreshed: %s",
                exc,
                exc_info=not isinstance(exc, GraphsvcError),
            )
            self._key = None
            return None
        self._key = key
        return result
