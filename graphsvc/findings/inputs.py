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

from graphsvc.columns import FACT_TABLES, FILES_CONTENT, FILES_CONTENT_COLUMNS
from graphsvc.queries import SavedQuery
from graphsvc.store import Store
from graphsvc.update import IndexSummary

# tables whose rows belong to one file and change only with that file's facts or status
FILE_TABLES = frozenset({"files", *(table for table, _, _ in FACT_TABLES)})
LINK_TABLES = frozenset({"links"})
# rows per path, added by every batch that indexes a file or a doc (the history of contents)
HISTORY_TABLES = frozenset({"file_history"})
_UNDIGESTED = FILE_TABLES | LINK_TABLES | HISTORY_TABLES
# the per-file tables as generations count them (``files`` in two parts, see QueryInputs)
FILE_UNITS = FILE_TABLES | {FILES_CONTENT}
_UNITS = FILE_UNITS | LINK_TABLES | HISTORY_TABLES
# table functions whose rows depend on their arguments only (any other one, such as
# duckdb_tables(), makes the query's inputs unknown)
PURE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
_VIEW_HEAD = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+\S+\s+AS\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a query's inputs were when it last ran."""

    gens: tuple[int, ...]  # the generation of each of its per-file units (see QueryInputs)
    digests: tuple[tuple[str, object], ...]


@dataclass(frozen=True, slots=True)
class _Reads:
    """What a query's (or a global input's) SQL reads."""

    tables: frozenset[str] | None  # None: not known
    # per-file units: its per-file tables, FILES_CONTENT when it may read a column of ``files``
    # that an edit changes, ``links``, ``file_history``
    units: tuple[str, ...]


class QueryInputs:
    """Per finding query, whether its tables changed since it last ran (a Refresher keeps one).

    The per-file tables, links and file history are not digested: each has a generation,
    bumped by every batch that changed it (its summary's ``tables``; ``links`` when a re-linked
    file's links changed, see :meth:`observe`), so a query reading only tables a batch left
    alone is reused without a statement. ``files`` counts as two units: ``files`` (a file came
    or went, or its module name, status, encoding or error count changed) and FILES_CONTENT
    (the columns every edit changes: FILES_CONTENT_COLUMNS), which only the queries that name
    such a column, select ``*`` of ``files`` or use a ``files`` row as a value depend on."""

    def __init__(self) -> None:
        self._reads: dict[tuple[str, str], _Reads] = {}
        self._file_gen = 0  # bumped by every batch that may have changed a per-file table
        self._gens: dict[str, int] = dict.fromkeys(_UNITS, 0)
        self._digests: dict[str, object] = {}  # the other tables' digests now
        self._seen: dict[str, _Seen] = {}
        self.digest_tables: frozenset[str] = frozenset()  # digested by the last observe

    @property
    def file_gen(self) -> int:
        """Bumped by every observed batch that may have changed a per-file table."""
        return self._file_gen

    def tables(self, store: Store, query: SavedQuery) -> frozenset[str] | None:
        """The database tables ``query`` reads (through views), or None when unknown."""
        return self._query_reads(store, query).tables

    def _query_reads(self, store: Store, query: SavedQuery) -> _Reads:
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
                query.file_guard,
            )
            if sql is not None
        ]
        return self._sql_reads(store, (query.name, query.sql), sqls)

    def _sql_reads(self, store: Store, key: tuple[str, str], sqls: list[str]) -> _Reads:
        """What ``sqls`` read together, kept under ``key`` (a query's name and SQL: a query
        file edited while serving is read again)."""
        if key not in self._reads:
            found: set[str] | None = set()
            content = False
            for sql in sqls:
                read = _resolve(store.con, sql)
                if read is None or found is None:
                    found = None
                    break
                found |= read[0]
                content = content or read[1]
            units: tuple[str, ...] = ()
            if found is not None:
                units = tuple(sorted(found & _UNITS))
                if "files" in found and content:
                    units = tuple(sorted({*units, FILES_CONTENT}))
            self._reads[key] = _Reads(None if found is None else frozenset(found), units)
        return self._reads[key]

    def observe(
        self,
        store: Store,
        summary: IndexSummary | None,
        queries: list[SavedQuery],
        *,
        links_changed: bool = True,
    ) -> None:
        """Take note of a committed batch (``summary``; None: anything may have changed) before
        the refresh runs ``queries``. ``links_changed`` False: the links of the files the
        linker re-linked are the rows they were (their digests say so)."""
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
            changed = FILE_UNITS if summary is None or summary.tables is None else summary.tables
            for unit in changed & FILE_UNITS:
                self._gens[unit] += 1
        if unknown or (summary is not None and summary.relinked and links_changed):
            self._gens["links"] += 1
        if unknown or files or docs:
            self._gens["file_history"] += 1
        others: set[str] = set()
        for query in queries:
            tables = self.tables(store, query)
            if tables is not None:
                others |= tables - _UNDIGESTED
        self.digest_tables = frozenset(others)
        self._digests = _digests(store.con, sorted(others))

    def stamp(self, store: Store, sql: str) -> object:
        """What ``sql`` (a global input) reads, as observed now: equal stamps, equal rows;
        None when its tables cannot be told."""
        read = self._sql_reads(store, ("(global input)", sql), [sql])
        if read.tables is None:
            return None
        return self._gens_of(read), self._snapshot(read.tables)

    def unchanged(self, store: Store, query: SavedQuery) -> bool:
        """Whether none of ``query``'s tables changed since :meth:`ran` was last called for it."""
        seen = self._seen.get(query.name)
        read = self._query_reads(store, query)
        if seen is None or read.tables is None:
            return False
        return seen.gens == self._gens_of(read) and seen.digests == self._snapshot(read.tables)

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
        read = self._query_reads(store, query)
        if read.tables is None:
            self._seen.pop(query.name, None)
            return
        self._seen[query.name] = _Seen(self._gens_of(read), self._snapshot(read.tables))

    def forget(self, name: str) -> None:
        """``name``'s last rows are gone (it failed): it must run next time."""
        self._seen.pop(name, None)

    def _gens_of(self, read: _Reads) -> tuple[int, ...]:
        return tuple(self._gens[unit] for unit in read.units)

    def _snapshot(self, tables: frozenset[str]) -> tuple[tuple[str, object], ...]:
        return tuple((t, self._digests.get(t)) for t in sorted(tables - _UNDIGESTED))


def _table_refs(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[set[str], bool] | None:
    """Names used as tables in ``sql`` (CTE names included) and whether it may read a column
    of ``files`` an edit changes (see :func:`_reads_content`), or None when it does not
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
    return found, "files" in found and _reads_content(tree)


def _files_aliases(tree: object) -> set[str]:
    """The names ``files`` goes by in a statement's JSON tree (its aliases and its name)."""
    names: set[str] = set()
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and str(node.get("table_name")).lower() == "files":
                names.add(str(node.get("alias") or "files").lower())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


def _direct_files(from_table: object) -> bool:
    """Whether a FROM clause reads ``files`` itself (not inside a subquery of its own)."""
    stack: list[object] = [from_table]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "SUBQUERY":
                continue
            if node.get("type") == "BASE_TABLE" and str(node.get("table_name")).lower() == "files":
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _reads_content(tree: object) -> bool:
    """Whether a statement (its JSON tree) may read a column of ``files`` that an edit
    changes (FILES_CONTENT_COLUMNS): it names such a column (of any table: a cautious yes),
    uses a ``files`` row as a value, or selects ``*`` of ``files``."""
    aliases = _files_aliases(tree)
    stack: list[tuple[object, bool]] = [(tree, False)]  # (node, its SELECT reads files)
    while stack:
        node, direct = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "SELECT_NODE":
                direct = _direct_files(node.get("from_table"))
            if node.get("class") == "COLUMN_REF":
                names = [str(n).lower() for n in node.get("column_names") or []]
                if names and (
                    names[-1] in FILES_CONTENT_COLUMNS or (len(names) == 1 and names[0] in aliases)
                ):
                    return True
            if node.get("class") == "STAR":
                relation = str(node.get("relation_name") or "").lower()
                if relation in aliases or (not relation and direct):
                    return True
            stack.extend((child, direct) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, direct) for child in node)
    return False


def _resolve(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[frozenset[str], bool] | None:
    """The tables ``sql`` reads, views expanded recursively, and whether it or one of those
    views may read a column of ``files`` that an edit changes (FILES_CONTENT_COLUMNS); None
    when a part cannot be told."""
    top = _table_refs(con, sql)
    if top is None:
        return None
    refs, content = top
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
            content = content or inner[1]
            todo.extend(inner[0])
    return frozenset(found), content


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
