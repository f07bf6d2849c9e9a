"""The terms a query's file inputs narrow a file's rows by, and the files with rows for some.

``file_inputs`` may narrow a file's rows by tables outside the per-file facts: stale_knowledge
keeps only the definitions whose names the docs say. After such a table changed, a file's
kept digest may be stale although the file did not change; ``input_terms`` (a SELECT of
``term``: the names the docs say) and ``term_files`` (a SELECT of the ``file_id`` of every
file with file-input rows for some of ``$terms``) let the refresh read again only the files
with rows for the terms that came or went (graphsvc/findings/partition.py), not every file.
"""

from __future__ import annotations

import duckdb

from graphsvc.errors import QueryError
from graphsvc.queries import SavedQuery
from graphsvc.store import Store


def input_terms(store: Store, query: SavedQuery) -> frozenset[str] | None:
    """The ``input_terms`` now (None: the query has none)."""
    if query.input_terms is None:
        return None
    try:
        rows = store.con.execute(
            f"SELECT DISTINCT term FROM ({query.input_terms}) AS t WHERE term IS NOT NULL"
        ).fetchall()
    except duckdb.Error as exc:
        raise QueryError(query.input_terms, f"{query.name}: input_terms: {exc}") from exc
    return frozenset(str(r[0]) for r in rows)


def term_files(store: Store, query: SavedQuery, terms: frozenset[str]) -> set[int]:
    """The files ``term_files`` lists for ``terms`` (those with file-input rows for them)."""
    assert query.term_files is not None
    if not terms:
        return set()
    try:
        rows = store.con.execute(
            f"SELECT DISTINCT file_id FROM ({query.term_files}) AS t",
            {"terms": sorted(terms)},
        ).fetchall()
    except duckdb.Error as exc:
        raise QueryError(query.term_files, f"{query.name}: term_files: {exc}") from exc
    return {int(r[0]) for r in rows}
