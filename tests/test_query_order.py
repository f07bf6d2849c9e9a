"""A saved query's ORDER BY as output columns (graphsvc/queries/order.py): read with DuckDB's
parser, and rows sorted by it as DuckDB sorts them."""

from __future__ import annotations

from typing import Any

import duckdb
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from graphsvc.queries import load_queries
from graphsvc.queries.order import in_order, sql_order

CON = duckdb.connect()
CON.execute("CREATE TABLE t (a INTEGER, b VARCHAR, c DOUBLE)")


def order_of(sql: str) -> Any:
    columns = [d[0] for d in CON.execute(sql).description or []]
    return sql_order(CON, sql, columns)


def test_plain_output_columns_are_an_order() -> None:
    assert order_of("SELECT x.a, x.b FROM t AS x ORDER BY x.b DESC, x.a") == (
        ("b", True, False),
        ("a", False, False),
    )
    assert order_of("SELECT a AS first, b FROM t ORDER BY first NULLS FIRST") == (
        ("first", False, True),
    )
    assert order_of("SELECT b, a FROM t ORDER BY 2, 1 DESC") == (
        ("a", False, False),
        ("b", True, False),
    )
    assert order_of("WITH u AS (SELECT * FROM t) SELECT u.c FROM u ORDER BY u.c") == (
        ("c", False, False),
    )


def test_anything_else_is_no_order() -> None:
    assert order_of("SELECT a, b FROM t") is None
    assert order_of("SELECT a, b FROM t ORDER BY a + 1") is None  # an expression
    assert order_of("SELECT a, b FROM t ORDER BY c") is None  # not in the output
    assert order_of("SELECT a + 1 AS a, b FROM t AS x ORDER BY x.a") is None  # not the output a
    assert sql_order(CON, "SELECT a FROM t ORDER BY 3", ["a"]) is None  # no such position
    assert sql_order(CON, "SELECT 1; SELECT 2", ["1"]) is None


def test_the_shipped_partitioned_queries_without_a_finder_have_an_order() -> None:
    for query in load_queries().finding_queries():
        if query.partition is not None and query.finder is None:
            assert query.order is not None, query.name


VALUES = st.one_of(st.none(), st.integers(-3, 3))
TEXTS = st.one_of(st.none(), st.sampled_from(["", "a", "B", "b", "ä", "z", "Ω", "a b"]))


@hypothesis_settings(max_examples=60, deadline=None, derandomize=True)
@given(
    rows=st.lists(st.tuples(VALUES, TEXTS, VALUES), min_size=1, max_size=12),
    keys=st.lists(
        st.tuples(st.sampled_from("abc"), st.booleans(), st.booleans()),
        min_size=1,
        max_size=3,
        unique_by=lambda k: k[0],
    ),
)
def test_rows_sort_as_duckdb_sorts_them(
    rows: list[tuple[Any, Any, Any]], keys: list[tuple[str, bool, bool]]
) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE r (i INTEGER, a INTEGER, b VARCHAR, c DOUBLE)")
    con.executemany("INSERT INTO r VALUES (?, ?, ?, ?)", [(i, *row) for i, row in enumerate(rows)])
    clause = ", ".join(
        f"{k} {'DESC' if desc else 'ASC'} NULLS {'FIRST' if first else 'LAST'}"
        for k, desc, first in keys
    )
    # the row number breaks ties the way a stable sort of rows in that order does
    want = [r[0] for r in con.execute(f"SELECT i FROM r ORDER BY {clause}, i").fetchall()]
    dicts = [{"i": i, "a": a, "b": b, "c": c} for i, (a, b, c) in enumerate(rows)]
    got = in_order(dicts, tuple(keys))
    assert got is not None and [r["i"] for r in got] == want


def test_lists_are_not_sorted() -> None:
    assert in_order([{"a": [1]}, {"a": [0]}], (("a", False, False),)) is None
