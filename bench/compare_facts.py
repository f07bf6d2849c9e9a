"""Compare the facts of two graphsvc databases row for row; exit 1 when they differ.

Run: ``.venv/bin/python bench/compare_facts.py A.duckdb B.duckdb [--show 5] [--ignore T.COL]...
[--skip TABLE]...``, or ``--index TREE`` to build both first, A with the graphsvc found under
``--a-src`` and B with the one under ``--b-src`` (each a source tree, e.g. a ``git archive``
export of main and your worktree), both from a copy of ``TREE`` so that paths and mtimes agree
(copies keep mtimes, so one side may be left out to reuse a database built earlier)::

    git -C /work/main archive main | tar -x -C /tmp/main-src
    .venv/bin/python bench/compare_facts.py /tmp/a.duckdb /tmp/b.duckdb \\
        --index stdlib --a-src /tmp/main-src --b-src .

Every base table with a ``file_id`` column is compared (the per-file facts, and what the linker
and the channel pass derived from them), plus ``files`` itself. ``file_id`` is replaced by the
file's path (ids depend on the order files were written), and columns of a TIMESTAMP type are
left out (when a row was written is not a fact). Rows are compared as multisets (``EXCEPT ALL``
both ways), so a duplicated row counts too. ``flows.data`` is compared decoded (zlib, then
marshal), per file: marshal's format 4 writes a string that several rows share as one object
once and refers back to it, so equal rows may be written as different bytes. Only duckdb is
imported: any environment that can open the files can run this, whichever graphsvc wrote them.
"""

from __future__ import annotations

import argparse
import marshal
import os
import subprocess
import sys
import sysconfig
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
from corpus import copy_sources

STDLIB_EXCLUDES = ["test", "tests", "idle_test", "site-packages"]  # as bench_index.py


def _flow_rows(data: bytes) -> object:
    return marshal.loads(zlib.decompress(data))  # trusted input: databases we just built


# (table, column) -> decoder: compared by decoded value, per file, instead of by bytes
DECODED: dict[tuple[str, str], Callable[[bytes], object]] = {("flows", "data"): _flow_rows}


@dataclass
class TableDiff:
    table: str
    rows_a: int
    rows_b: int
    only_a: int
    only_b: int
    columns: list[str]

    @property
    def equal(self) -> bool:
        return self.only_a == 0 and self.only_b == 0


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> list[tuple[str, str]]:
    return [
        (str(name), str(kind))
        for name, kind in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns()"
            " WHERE database_name = $db AND schema_name = 'main' AND table_name = $t"
            " ORDER BY column_index",
            {"db": db, "t": table},
        ).fetchall()
    ]


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = $db AND schema_name = 'main'",
        {"db": db},
    ).fetchall()
    return {str(r[0]) for r in rows}


def _select(db: str, table: str, columns: list[str], keyed: bool) -> str:
    cols = ", ".join(f"t.{_quote(c)}" for c in columns)
    if not keyed:
        return f"SELECT {cols} FROM {db}.{_quote(table)} AS t"
    path = "f.path AS file_path" + (", " if cols else "")
    return (
        f"SELECT {path}{cols} FROM {db}.{_quote(table)} AS t"
        f" LEFT JOIN {db}.files AS f ON f.file_id = t.file_id"
    )


def compare(
    db_a: Path, db_b: Path, ignore: Sequence[str] = (), skip: Sequence[str] = (), show: int = 5
) -> list[TableDiff]:
    """Every file-owned table of ``db_a`` and ``db_b``, compared; prints the differing rows."""
    con = duckdb.connect()
    con.execute(f"ATTACH {_literal(db_a)} AS a (READ_ONLY)")
    con.execute(f"ATTACH {_literal(db_b)} AS b (READ_ONLY)")
    ignored = {i.lower() for i in ignore}
    diffs: list[TableDiff] = []
    both = _tables(con, "a") & _tables(con, "b")
    for only, db in ((_tables(con, "a") - both, "A"), (_tables(con, "b") - both, "B")):
        for table in sorted(only):
            print(f"note: table {table} exists only in {db}", file=sys.stderr)
    for table in sorted(both):
        cols_a, cols_b = _columns(con, "a", table), _columns(con, "b", table)
        if table in skip or "file_id" not in [c for c, _ in cols_a]:
            continue
        if cols_a != cols_b:
            print(f"note: {table} has other columns in A and B; comparing shared ones")
        diffs.append(_compare_table(con, table, cols_a, set(cols_b), ignored, show))
    con.close()
    return diffs


def _compare_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    cols_a: list[tuple[str, str]],
    shared_b: set[tuple[str, str]],
    ignored: set[str],
    show: int,
) -> TableDiff:
    wanted = [
        name
        for name, kind in cols_a
        if (name, kind) in shared_b
        and name != "file_id"
        and "TIMESTAMP" not in kind.upper()
        and f"{table}.{name}".lower() not in ignored
    ]
    columns = [name for name in wanted if (table, name) not in DECODED]
    keyed = table != "files"
    sel_a, sel_b = _select("a", table, columns, keyed), _select("b", table, columns, keyed)
    rows_a = _count(con, f"SELECT count(*) FROM a.{_quote(table)}")
    rows_b = _count(con, f"SELECT count(*) FROM b.{_quote(table)}")
    only_a = _count(con, f"SELECT count(*) FROM ({sel_a} EXCEPT ALL {sel_b})")
    only_b = _count(con, f"SELECT count(*) FROM ({sel_b} EXCEPT ALL {sel_a})")
    if show and (only_a or only_b):
        order = ", ".join(str(i + 1) for i in range(len(columns) + int(keyed)))
        for side, first, second in (("A", sel_a, sel_b), ("B", sel_b, sel_a)):
            rows = con.execute(
                f"SELECT * FROM ({first} EXCEPT ALL {second}) ORDER BY {order} LIMIT {show}"
            ).fetchall()
            for row in rows:
                print(f"  {table} only in {side}: {_short(row)}")
    for name in wanted:
        decode = DECODED.get((table, name))
        if decode is not None:
            extra_a, extra_b = _decoded(con, table, name, decode, show)
            only_a, only_b = only_a + extra_a, only_b + extra_b
            columns.append(f"{name} (decoded)")
    return TableDiff(table, rows_a, rows_b, only_a, only_b, columns)


def _decoded(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    decode: Callable[[bytes], object],
    show: int,
) -> tuple[int, int]:
    """Rows of ``table`` whose decoded ``column`` is only in A, only in B (per file path)."""

    def values(db: str) -> Counter[tuple[str, str]]:
        rows = con.execute(
            f"SELECT f.path, t.{_quote(column)} FROM {db}.{_quote(table)} AS t"
            f" LEFT JOIN {db}.files AS f ON f.file_id = t.file_id"
        ).fetchall()
        return Counter((str(path), repr(decode(data))) for path, data in rows)

    a, b = values("a"), values("b")
    only_a, only_b = a - b, b - a
    for side, rows in (("A", only_a), ("B", only_b)):
        for path, value in sorted(rows)[:show]:
            print(f"  {table}.{column} only in {side}: {path}: {_short((value,))}")
    return sum(only_a.values()), sum(only_b.values())


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    found = con.execute(sql).fetchone()
    return int(found[0]) if found else 0


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _short(row: tuple[object, ...]) -> str:
    text = repr(row)
    return text if len(text) <= 400 else text[:399] + "…"


def _index(src: Path, tree: Path, db: Path, exclude: Sequence[str], jobs: int) -> None:
    """Index ``tree`` into ``db`` with the graphsvc package found in ``src``."""
    db.unlink(missing_ok=True)
    args = ["index", str(tree), "--db", str(db), "-q", "--jobs", str(jobs)]
    for pattern in exclude:
        args += ["--exclude", pattern]
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    # cwd: python -m puts the working directory first on sys.path, before PYTHONPATH
    done = subprocess.run(
        [sys.executable, "-m", "graphsvc", *args], env=env, check=False, cwd=src.resolve()
    )
    if done.returncode != 0:
        raise SystemExit(f"indexing with {src} failed (exit {done.returncode})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db_a", type=Path)
    parser.add_argument("db_b", type=Path)
    parser.add_argument("--index", help="build both DBs first from this tree ('stdlib': its copy)")
    parser.add_argument("--a-src", type=Path, help="source tree whose graphsvc builds A")
    parser.add_argument("--b-src", type=Path, help="source tree whose graphsvc builds B")
    parser.add_argument("--jobs", type=int, default=0, help="--jobs of both index runs")
    parser.add_argument("--ignore", action="append", default=[], help="TABLE.COLUMN to leave out")
    parser.add_argument("--skip", action="append", default=[], help="TABLE to leave out")
    parser.add_argument("--show", type=int, default=5, help="differing rows shown per side")
    args = parser.parse_args(argv)
    if args.index:
        if args.a_src is None and args.b_src is None:
            parser.error("--index needs --a-src, --b-src or both")
        stdlib = args.index == "stdlib"
        source = Path(sysconfig.get_paths()["stdlib"]) if stdlib else Path(args.index)
        exclude = STDLIB_EXCLUDES if stdlib else []
        with tempfile.TemporaryDirectory(prefix="graphsvc-compare-") as tmp:
            tree = copy_sources(source, Path(tmp) / "tree")
            for src, db in ((args.a_src, args.db_a), (args.b_src, args.db_b)):
                if src is not None:  # the other one was built before (copies keep mtimes)
                    _index(src, tree, db, exclude, args.jobs)
    diffs = compare(args.db_a, args.db_b, args.ignore, args.skip, args.show)
    width = max((len(d.table) for d in diffs), default=5)
    for d in diffs:
        verdict = "equal" if d.equal else "DIFFERENT"
        print(
            f"{d.table:<{width}}  A {d.rows_a:>8}  B {d.rows_b:>8}"
            f"  only A {d.only_a:>6}  only B {d.only_b:>6}  {verdict}"
        )
    differing = [d.table for d in diffs if not d.equal]
    print(
        f"{len(diffs)} tables compared; "
        + (f"differ: {', '.join(differing)}" if differing else "all equal")
    )
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
