"""Which tables a finding query reads, and whether any of them changed since its last run.

A saved query's rows are a function of the tables it reads (views count as the tables they
read, recursively) and of its parameters, which the refresh always binds to their defaults. So
when none of those tables changed since the query last ran, its rows are still exact and the
refresh reuses them. Whether a table changed is known without reading it where the pipeline's
ownership rules say so, and by a digest of its content otherwise:

- the per-file fact tables (``files`` and the fact tables a file's facts are written to) change
  only when a batch parses, skips, removes or touches a Python file: the batch's summary says;
- ``links`` changes only for the files the linker re-linked (``IndexSummary.relinked``);
- ``file_history`` gains rows only in a batch that indexed or removed a file or a doc;
- every other table a query reads (channel sites and channels, entry rules, the documentation
  tables, file history, ...) is small, and its content digest (row count and the sum of the
  rows' hashes) is compared with the digest when the query last ran.

A documentation edit, a touched config file or a batch that changed nothing then costs one
digest per small table instead of every query; a query that reads documentation still re-runs
after a doc edit. A query whose tables cannot be told (its SQL does not serialise, or it calls
a table function such as ``duckdb_tables()``) is never reused by this rule. Findings do not
depend on which path produced them: tests/test_refresh_inputs.py compares a reusing Refresher
with a full recompute after random edits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import duckdb

from graphsvc.columns import FACT_TABLES
from graphsvc.queries import SavedQuery
from graphsvc.store import Store
from graphsvc.update import IndexSummary

# tables whose rows belong to one file and change only with that file's facts or status
FILE_TABLES = frozenset({"files", *(table for table, _, _ in FACT_TABLES)})
LINK_TABLES = frozenset({"links"})
# rows per path, added by every batch that indexes a file or a doc (the history of contents)
HISTORY_TABLES = frozenset({"file_history"})
_UNDIGESTED = FILE_TABLES | LINK_TABLES | HISTORY_TABLES
# table functions whose rows depend on their arguments only (any other one, such as
# duckdb_tables(), makes the query's inputs unknown)
PURE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
_VIEW_HEAD = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+\S+\s+AS\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a query's inputs were when it last ran."""

    file_gen: int
    link_gen: int
    history_gen: int
    digests: tuple[tuple[str, object], ...]


def _table_refs(con: duckdb.DuckDBPyConnection, sql: str) -> set[str] | None:
    """Names used as tables in ``sql`` (CTE names included), or None when it does not
    serialise or calls a table function that reads anything but its arguments."""
    try:
        row = con.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchone()
    except duckdb.Error:
        return None
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        return None
    found: set[str] = set()
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
                found.add(node["table_name"].lower())
            if node.get("type") == "TABLE_FUNCTION":
                function = node.get("function")
                name = function.get("function_name") if isinstance(function, dict) else None
                if str(name).lower() not in PURE_TABLE_FUNCTIONS:
                    return None
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


class QueryInputs:
    """Per finding query, whether its tables changed since it last ran (a Refresher keeps one)."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], frozenset[str] | None] = {}
        self._file_gen = 0  # bumped by every batch that may have changed a per-file table
        self._link_gen = 0  # bumped by every batch that may have changed links
        self._history_gen = 0  # bumped by every batch that may have added file history
        self._digests: dict[str, object] = {}  # the other tables' digests now
        self._seen: dict[str, _Seen] = {}
        self.digest_tables: frozenset[str] = frozenset()  # digested by the last observe

    @property
    def file_gen(self) -> int:
        """Bumped by every observed batch that may have changed a per-file table."""
        return self._file_gen

    def tables(self, store: Store, query: SavedQuery) -> frozenset[str] | None:
        """The database tables ``query`` reads (through views), or None when unknown."""
        key = (query.name, query.sql)
        if key not in self._tables:
            sqls = [query.sql]  # and what its keys, file inputs and global inputs read
            if query.partition is not None:
                sqls.append(query.partition.keys)
            sqls += [
                sql
                for sql in (
                    query.file_inputs,
                    query.global_inputs,
                    query.input_terms,
                    query.term_files,
                )
                if sql is not None
            ]
            found: set[str] | None = set()
            for sql in sqls:
                tables = _resolve(store.con, sql)
                if tables is None or found is None:
                    found = None
                    break
                found |= tables
            self._tables[key] = None if found is None else frozenset(found)
        return self._tables[key]

    def observe(
        self, store: Store, summary: IndexSummary | None, queries: list[SavedQuery]
    ) -> None:
        """Take note of a committed batch (``summary``; None: anything may have changed) before
        the refresh runs ``queries``."""
        unknown = summary is None or summary.relinked is None
        files = (
            0
            if summary is None
            else (
                summary.parsed
                + summary.removed
                + summary.vanished
                + summary.touched
                + summary.skipped
                + summary.failed
            )
        )
        docs = (
            0
            if summary is None
            else (summary.docs_parsed + summary.docs_removed + summary.docs_touched)
        )
        if unknown or files:
            self._file_gen += 1
        if unknown or (summary is not None and summary.relinked):
            self._link_gen += 1
        if unknown or files or docs:
            self._history_gen += 1
        others: set[str] = set()
        for query in queries:
            tables = self.tables(store, query)
            if tables is not None:
                others |= tables - _UNDIGESTED
        self.digest_tables = frozenset(others)
        self._digests = _digests(store.con, sorted(others))

    def unchanged(self, store: Store, query: SavedQuery) -> bool:
        """Whether none of ``query``'s tables changed since :meth:`ran` was last called for it."""
        seen = self._seen.get(query.name)
        tables = self.tables(store, query)
        if seen is None or tables is None:
            return False
        if tables & FILE_TABLES and seen.file_gen != self._file_gen:
            return False
        if tables & LINK_TABLES and seen.link_gen != self._link_gen:
            return False
        if tables & HISTORY_TABLES and seen.history_gen != self._history_gen:
            return False
        return seen.digests == self._snapshot(tables)

    def others_unchanged(self, store: Store, query: SavedQuery) -> bool:
        """Whether no table of ``query`` but the per-file facts, links and file history
        changed since :meth:`ran` was last called for it (a query with file inputs or
        partitions then looks at the changed files only; its file inputs cover what it reads
        of the file history)."""
        seen = self._seen.get(query.name)
        tables = self.tables(store, query)
        if seen is None or tables is None:
            return False
        return seen.digests == self._snapshot(tables)

    def ran(self, store: Store, query: SavedQuery) -> None:
        """``query`` just ran on the tables as observed."""
        tables = self.tables(store, query)
        if tables is None:
            self._seen.pop(query.name, None)
            return
        self._seen[query.name] = _Seen(
            self._file_gen, self._link_gen, self._history_gen, self._snapshot(tables)
        )

    def forget(self, name: str) -> None:
        """``name``'s last rows are gone (it failed): it must run next time."""
        self._seen.pop(name, None)

    def _snapshot(self, tables: frozenset[str]) -> tuple[tuple[str, object], ...]:
        return tuple((t, self._digests.get(t)) for t in sorted(tables - _UNDIGESTED))


def _resolve(con: duckdb.DuckDBPyConnection, sql: str) -> frozenset[str] | None:
    """The tables ``sql`` reads, views expanded recursively; None when a part cannot be told."""
    refs = _table_refs(con, sql)
    if refs is None:
        return None
    tables = {
        str(r[0]).lower() for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    }
    views = {
        str(r[0]).lower(): str(r[1])
        for r in con.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    }
    found: set[str] = set()
    seen_views: set[str] = set()
    todo = list(refs)
    while todo:
        name = todo.pop()
        if name in tables:
            found.add(name)
        elif name in views and name not in seen_views:
            seen_views.add(name)
            inner = _table_refs(con, _VIEW_HEAD.sub("", views[name], count=1))
            if inner is None:
                return None
            todo.extend(inner)
    return frozenset(found)


def _digests(con: duckdb.DuckDBPyConnection, tables: list[str]) -> dict[str, object]:
    """(rows, sum of row hashes) of each of ``tables``, in one statement (each statement has
    a fixed cost of its own): equal contents give equal digests."""
    if not tables:
        return {}
    rows = con.execute(
        " UNION ALL ".join(
            f'SELECT {k} AS k, count(*), sum(hash(t)) FROM "{table}" AS t'
            for k, table in enumerate(tables)
        )
    ).fetchall()
    return {tables[int(k)]: (n, h) for k, n, h in rows}


# depends_on value -> the parts of a file's digest (path, module, import links, import facts,
# internal import edges with their flags) its queries read.
DIGEST_PARTS: dict[str, tuple[int, ...]] = {"imports": (0, 1, 2, 3), "internal_imports": (0, 1, 4)}


def digest_part(
    digest: tuple[object, ...] | None, part: tuple[int, ...]
) -> tuple[object, ...] | None:
    return None if digest is None else tuple(digest[i] for i in part)


def import_digests(store: Store, file_ids: frozenset[int] | None) -> dict[int, tuple[object, ...]]:
    """Per file: (path, module, hash of its import links, hash of its import facts, hash of
    its internal import edges with their in_function/type_checking flags), for ``file_ids`` or
    every file (None). What ``depends_on: imports`` / ``internal_imports`` queries read."""
    every = file_ids is None

    def only(column: str) -> str:
        # no "$every OR ..." filter: an OR keeps DuckDB from joining on the few ids
        return "TRUE" if every else f"{column} IN (SELECT unnest($ids::INTEGER[]))"

    rows = store.con.execute(
        "WITH l AS (SELECT file_id, sum(hash(line, col, scope, expression, kind, target,"
        " target_kind, target_module, status, strategy, reason)) AS h FROM links"
        f" WHERE site = 'import' AND {only('file_id')} GROUP BY file_id),"
        " i AS (SELECT file_id, sum(hash(line, col, scope, module, level, target, name, kind,"
        f" in_try, type_checking, in_function)) AS h FROM imports WHERE {only('file_id')}"
        " GROUP BY file_id),"
        # distinct edges: a star import links once per name, and a new name is no new edge
        " e AS (SELECT file_id, sum(hash(line, scope, target_module, in_function,"
        " type_checking)) AS h FROM (SELECT DISTINCT l.file_id, l.line, l.scope,"
        " l.target_module, i.in_function, i.type_checking FROM links AS l JOIN imports AS i"
        " ON i.file_id = l.file_id AND i.line = l.line AND i.col = l.col"
        " WHERE l.site = 'import' AND l.status IN ('internal', 'ambiguous')"
        f" AND l.target_module IS NOT NULL AND {only('l.file_id')}) GROUP BY file_id)"
        " SELECT f.file_id, f.path, f.module, l.h, i.h, e.h FROM files AS f"
        " LEFT JOIN l ON l.file_id = f.file_id LEFT JOIN i ON i.file_id = f.file_id"
        f" LEFT JOIN e ON e.file_id = f.file_id WHERE {only('f.file_id')}",
        {} if every else {"ids": sorted(file_ids or ())},
    ).fetchall()
    return {int(row[0]): tuple(row[1:]) for row in rows}
