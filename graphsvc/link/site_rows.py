"""The imports, calls and references of the files a linker run refreshes, read once.

Split from graphsvc/link/index.py: the name index takes its module-level imports and
attributes set by name from these rows, the linking of the same files takes them as sites.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from graphsvc.store import Written, one_of

# A row of ``SiteRows.imports``: (file_id, line, col, scope, kind, target, name, module, alias)
ImportRow = tuple[int, int, int, str, str, str | None, str | None, str | None, str | None]
_IMPORT_COLUMNS = ("file_id", "line", "col", "scope", "kind", "target", "name", "module", "alias")
_CALL_COLUMNS = ("file_id", "line", "col", "scope", "callee", "candidate", "candidate_kind")
_REFERENCE_COLUMNS = (
    "file_id",
    "line",
    "col",
    "scope",
    "expression",
    "candidate",
    "candidate_kind",
    "kind",
)
_CHANNEL_COLUMNS = ("file_id", "kind", "line", "col", "scope", "name", "detail", "data")
# A refresh of at most this many files reads their sites whole (SiteRows); more files are
# read table by table with the filters in SQL, so memory never holds a storm's sites.
SITE_ROWS_FILES = 64


@dataclass(slots=True)
class SiteRows:
    """The imports, calls and references of some files, read in one query per table.

    A linker run reads them once for the files it refreshes and re-links: the name index
    takes what it needs (module-level imports, attributes set by name), the linking of the
    same files takes them as its sites, so a one-file change reads each table once.
    """

    imports: dict[int, list[ImportRow]] = field(default_factory=dict)
    calls: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)
    references: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)
    # handed over by the store with the rest (None: the linker reads them when it needs them)
    flows: dict[int, bytes] | None = None
    written: Written | None = None

    @classmethod
    def of(cls, written: Written, file_ids: Iterable[int]) -> SiteRows:
        """The rows of ``file_ids`` from what the store just wrote (see graphsvc/written.py),
        in the order :meth:`read` gives them."""
        ids = sorted(set(file_ids))
        rows = cls({i: [] for i in ids}, {i: [] for i in ids}, {i: [] for i in ids})
        tables = written.tables
        for table, into, columns, order in (
            ("imports", rows.imports, _IMPORT_COLUMNS, ("line", "col", "name")),
            ("calls", rows.calls, _CALL_COLUMNS, ("line", "col")),
            ("references", rows.references, _REFERENCE_COLUMNS, ("line", "col")),
        ):
            for row in tuples(tables[table], columns, order):
                into[row[0]].append(row)
        rows.flows = {row[0]: row[1] for row in tuples(tables["flows"], ("file_id", "data"), ())}
        rows.written = written
        return rows

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, file_ids: Iterable[int]) -> SiteRows:
        """The rows of ``file_ids``, each file's in (line, col) order."""
        ids = sorted(set(file_ids))
        rows = cls({i: [] for i in ids}, {i: [] for i in ids}, {i: [] for i in ids})
        if not ids:
            return rows
        params = {"ids": ids}
        where = " WHERE " + one_of("file_id", len(ids))
        for table, into, columns, order in (
            ("imports", rows.imports, _IMPORT_COLUMNS, "line, col, name"),
            ("calls", rows.calls, _CALL_COLUMNS, "line, col"),
            ("references", rows.references, _REFERENCE_COLUMNS, "line, col"),
        ):
            for row in con.execute(
                f'SELECT {", ".join(columns)} FROM "{table}"{where} ORDER BY file_id, {order}',
                params,
            ).fetchall():
                into[row[0]].append(row)
        return rows

    def channel_facts(
        self, con: duckdb.DuckDBPyConnection, file_ids: list[int]
    ) -> dict[int, list[tuple[Any, ...]]]:
        """The channel facts of ``file_ids`` (file_id, kind, line, col, scope, name, detail,
        data): from what the store wrote when it is here, otherwise one query."""
        found: dict[int, list[tuple[Any, ...]]] = {}
        if self.written is not None and all(f in self.imports for f in file_ids):
            rows = tuples(self.written.tables["channel_facts"], _CHANNEL_COLUMNS, ())
        elif file_ids:
            rows = con.execute(
                f"SELECT {', '.join(_CHANNEL_COLUMNS)} FROM channel_facts WHERE "
                + one_of("file_id", len(file_ids)),
                {"ids": file_ids},
            ).fetchall()
        else:
            rows = []
        for row in rows:
            found.setdefault(row[0], []).append(row)
        return found

    def covers(self, file_ids: Iterable[int]) -> bool:
        """Whether the rows of every one of ``file_ids`` are here."""
        return all(f in self.imports for f in file_ids)


def tuples(
    table: pa.Table, columns: tuple[str, ...], order: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """``columns`` of ``table``'s rows as tuples, sorted by file_id then ``order`` as DuckDB's
    ORDER BY sorts (NULLs last, strings by code point)."""
    if order:
        table = table.sort_by([("file_id", "ascending"), *((c, "ascending") for c in order)])
    return list(zip(*(table[c].to_pylist() for c in columns), strict=True))
