"""Running a saved query: bind its parameters, run it read-only, hand rows to its finder."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import duckdb

from graphsvc.errors import ParamError, QueryError
from graphsvc.queries.catalog import SavedQuery
from graphsvc.queries.finders import FINDERS
from graphsvc.queries.header import convert
from graphsvc.store import QueryResult, Store

Value = str | int | float | bool | None


def bind_params(query: SavedQuery, given: Mapping[str, object] | None = None) -> dict[str, Value]:
    """The value of every declared parameter: ``given`` (text from the command line or a URL
    is converted to the declared type; Python values are checked) or the default.

    Raises:
        ParamError: an unknown parameter, a missing required one, or a value of the wrong type.
    """
    given = dict(given or {})
    declared = {p.name: p for p in query.params}
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ParamError(query.name, name, f"not a parameter of this query (known: {known})")
    bound: dict[str, Value] = {}
    for name, param in declared.items():
        if name not in given:
            if param.required:
                raise ParamError(query.name, name, f"required ({param.type})")
            bound[name] = param.default
            continue
        bound[name] = _value(query.name, param.name, param.type, given[name])
    return bound


def _value(query: str, name: str, ptype: str, raw: object) -> Value:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            return convert(ptype, raw)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ParamError(query, name, f"{raw!r} is not a {ptype}: {exc}") from exc
    ok = {
        "text": isinstance(raw, str),
        "int": isinstance(raw, int) and not isinstance(raw, bool),
        "float": isinstance(raw, int | float) and not isinstance(raw, bool),
        "bool": isinstance(raw, bool),
    }[ptype]
    if not ok:
        raise ParamError(query, name, f"{raw!r} is not a {ptype}")
    return float(raw) if ptype == "float" else raw  # type: ignore[arg-type]


def run_rows(
    store: Store,
    query: SavedQuery,
    params: Mapping[str, object] | None = None,
    *,
    watch: Callable[[duckdb.DuckDBPyConnection | None], None] | None = None,
    partition: Sequence[int] | None = None,
    finder: bool = True,
) -> list[dict[str, Any]]:
    """Every output row of ``query`` as a dict (after its finder), read in a read-only
    transaction on a cursor of ``store``'s connection. ``watch`` is handed that cursor
    right before the query's statement runs and None after its rows are read (whoever holds
    it may interrupt it in between).

    A partitioned query (``query.partition``) gives every partition's rows, or with
    ``partition`` only the rows of those keys; its rows keep the key column. ``finder=False``
    returns the SQL's rows without the query's finder.

    Raises:
        ParamError: a bad parameter.
        QueryError: the query failed (or was interrupted).
    """
    bound: dict[str, object] = dict(bind_params(query, params))
    if query.partition is not None:
        bound["partition"] = None if partition is None else list(partition)
    elif partition is not None:
        raise QueryError(query.sql, f"{query.name}: not a partitioned query")
    cursor = store.cursor()
    try:
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        try:
            if watch is not None:  # only the query's own statement may be interrupted
                watch(cursor)
            try:
                cursor.execute(query.sql, bound)
                columns = [d[0] for d in cursor.description or []]
                rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            finally:
                if watch is not None:
                    watch(None)
        finally:
            cursor.execute("ROLLBACK")
    except duckdb.Error as exc:
        text = str(exc).strip()
        raise QueryError(
            query.sql, f"{query.name}: {text.splitlines()[0] if text else exc}"
        ) from exc
    finally:
        cursor.close()
    if finder and query.finder is not None:
        rows = FINDERS[query.finder].run(rows)
    return rows


def run_query(
    store: Store, query: SavedQuery, params: Mapping[str, object] | None = None
) -> QueryResult:
    """``query``'s output as columns and rows (the shape the CLI and API render).

    Raises:
        ParamError: a bad parameter.
        QueryError: the query failed.
    """
    return query_result(query, run_rows(store, query, params))


def query_result(query: SavedQuery, rows: list[dict[str, Any]]) -> QueryResult:
    """``query``'s rows (as :func:`run_rows` gives them) as columns and rows."""
    columns = list(query.columns)
    return QueryResult(columns, [tuple(r.get(c) for c in columns) for r in rows], False)
