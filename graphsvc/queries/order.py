"""A saved query's ORDER BY as output columns, to put rows back in the query's order.

A partitioned query's rows come out of the findings refresh in partition order (graphsvc/
findings/partition.py). To answer ``GET /queries/{name}`` from them in the order the SQL
gives, :func:`sql_order` reads the statement's outermost ORDER BY with DuckDB's parser and
keeps it when every key is an output column: a column reference whose select-list entry is
that same reference (``ORDER BY c.qualname`` with ``c.qualname`` selected), an output name
(``ORDER BY first``) or a position (``ORDER BY 1``). :func:`in_order` sorts rows as DuckDB
does with its defaults (ascending, NULLs last; strings by code point, as DuckDB compares
VARCHAR bytes); rows whose key values are not plain scalars are not sorted (None).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb

# (output column, descending, NULLs first)
Order = tuple[tuple[str, bool, bool], ...]
_SCALARS = (str, int, float, bool)


def sql_order(
    con: duckdb.DuckDBPyConnection, statement: str, columns: Sequence[str]
) -> Order | None:
    """The output columns ``statement`` orders its rows by, or None when it has no ORDER BY
    or one that is not plain output columns."""
    try:
        tree = json.loads(
            con.execute("SELECT json_serialize_sql($s)", {"s": statement}).fetchall()[0][0]
        )
    except (duckdb.Error, json.JSONDecodeError, IndexError):
        return None
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        return None
    node = tree["statements"][0]["node"]
    orders = [m for m in node.get("modifiers", []) if m.get("type") == "ORDER_MODIFIER"]
    if len(orders) != 1 or not orders[0].get("orders"):
        return None
    selected = _selected(node)
    keys: list[tuple[str, bool, bool]] = []
    for item in orders[0]["orders"]:
        column = _column(item.get("expression", {}), selected, columns)
        if column is None:
            return None
        descending = item.get("type") == "DESCENDING"
        keys.append((column, descending, item.get("null_order") == "NULLS FIRST"))
    return tuple(keys)


def _selected(node: dict[str, Any]) -> dict[tuple[str, ...], str]:
    """A SELECT node's plain column references, each with its output name."""
    out: dict[tuple[str, ...], str] = {}
    for expr in node.get("select_list", []) if node.get("type") == "SELECT_NODE" else []:
        if expr.get("class") == "COLUMN_REF":
            names = tuple(expr.get("column_names", []))
            if names:
                out[names] = expr.get("alias") or names[-1]
    return out


def _column(
    expr: dict[str, Any], selected: dict[tuple[str, ...], str], columns: Sequence[str]
) -> str | None:
    if expr.get("class") == "CONSTANT":
        literal = expr.get("literal", {})
        text = str(literal.get("text", ""))
        if literal.get("kind") in ("INTEGER", "BIGINT") and text.isdigit():
            position = int(text)
            return columns[position - 1] if 1 <= position <= len(columns) else None
        return None
    if expr.get("class") != "COLUMN_REF":
        return None
    names = tuple(expr.get("column_names", []))
    if names in selected:
        name = selected[names]
    elif len(names) == 1:
        name = names[0]
    else:
        return None
    return name if name in columns else None


def in_order(rows: list[dict[str, Any]], order: Order) -> list[dict[str, Any]] | None:
    """``rows`` sorted by ``order`` (stable: rows equal on every key keep their order), or
    None when a key value is not a plain scalar."""
    for column, _, _ in order:
        if any(
            not (row.get(column) is None or isinstance(row.get(column), _SCALARS)) for row in rows
        ):
            return None
    ordered = list(rows)
    for column, descending, nulls_first in reversed(order):
        # with reverse=True the ranks flip too: NULLs go last unless NULLS FIRST
        null_rank = int(descending == nulls_first)
        ordered.sort(
            key=lambda r, c=column, n=null_rank: (n, 0) if r.get(c) is None else (1 - n, r[c]),
            reverse=descending,
        )
    return ordered
