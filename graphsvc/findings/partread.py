"""The reads behind graphsvc/findings/partition.py: per file, the digest of a query's
``file_inputs`` rows and the partition keys it lists with a digest of each; the digest of a
query's ``global_inputs``. Each is one statement over the files asked for (every file: DuckDB
sums the hashes; a few: Python does, which costs less than DuckDB's GROUP BY)."""

from __future__ import annotations

import functools
from array import array
from dataclasses import dataclass

import duckdb

from graphsvc.errors import QueryError
from graphsvc.queries import SavedQuery
from graphsvc.queries.header import Partition
from graphsvc.store import Store


@dataclass(frozen=True, slots=True)
class FileKeys:
    """The partition keys one file lists (sorted, distinct) and a digest of what it lists
    for each (the rest of the ``partition_keys`` rows of that key)."""

    keys: array[int]
    digests: array[int]
    anchors: array[int]  # the keys it anchors (an ``anchor`` column: see Partition)

    def changed(self, other: FileKeys | None) -> set[int]:
        """The keys whose rows differ between ``self`` and ``other``."""
        mine = dict(zip(self.keys, self.digests, strict=True))
        theirs = {} if other is None else dict(zip(other.keys, other.digests, strict=True))
        return {k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k)}


def _bound(query: SavedQuery, sql: str, ids: list[int]) -> dict[str, object]:
    """``$files`` and the defaults of the query's parameters ``sql`` reads (the refresh runs
    every finding query with its defaults, so its keys and inputs may narrow by them)."""
    used = _parameters(sql)
    return {"files": ids} | {p.name: p.default for p in query.params if p.name in used}


@functools.lru_cache(maxsize=64)
def _parameters(sql: str) -> frozenset[str]:
    return frozenset(duckdb.extract_statements(sql)[0].named_parameters)


def _ids(store: Store, files: set[int] | None) -> list[int]:
    if files is None:
        return [int(r[0]) for r in store.con.execute("SELECT file_id FROM files").fetchall()]
    return sorted(files)


def file_keys(
    store: Store, query: SavedQuery, spec: Partition, files: set[int] | None
) -> dict[int, FileKeys]:
    """Per file of ``files`` (None: every file), the keys ``partition_keys`` lists, each with
    a digest of its rows of that key (their other columns say what the file contributes to
    the partition: a key whose rows are the same before and after an edit needs no rerun).

    For a few files the rows' hashes are summed here: DuckDB's GROUP BY cost more than the
    rows (0.65-0.80x of the check's CPU on 1,407 files); for every file DuckDB sums them.
    """
    ids = _ids(store, files)
    if not ids:
        return {}
    anchor = "k.anchor" if spec.anchored else "false"
    if files is None:
        sql = (
            "SELECT file_id, list(key ORDER BY key), list(n ORDER BY key),"
            " list(h ORDER BY key), list(key ORDER BY key) FILTER (WHERE a) FROM ("
            f" SELECT file_id, key, count(*) AS n, sum(hash(k)) AS h, bool_or({anchor}) AS a"
            f" FROM ({spec.keys}) AS k WHERE key IS NOT NULL GROUP BY file_id, key"
            ") GROUP BY file_id"
        )
    else:
        sql = (
            f"SELECT file_id, key, hash(k), {anchor} FROM ({spec.keys}) AS k WHERE key IS NOT NULL"
        )
    try:
        rows = store.con.execute(sql, _bound(query, spec.keys, ids)).fetchall()
    except duckdb.Error as exc:
        raise QueryError(spec.keys, f"{query.name}: partition_keys: {exc}") from exc
    if files is None:
        return {
            int(file_id): FileKeys(
                array("Q", keys),
                array("Q", map(_mix, counts, sums)),
                array("Q", anchors or ()),
            )
            for file_id, keys, counts, sums, anchors in rows
        }
    summed: dict[int, dict[int, list[int]]] = {}  # file -> key -> [rows, sum, anchored]
    for file_id, key, h, anchored in rows:
        slot = summed.setdefault(file_id, {}).setdefault(key, [0, 0, 0])
        slot[0] += 1
        slot[1] += h
        slot[2] |= anchored
    out: dict[int, FileKeys] = {}
    for file_id, by_key in summed.items():
        keys = sorted(by_key)
        out[int(file_id)] = FileKeys(
            array("Q", keys),
            array("Q", (_mix(by_key[k][0], by_key[k][1]) for k in keys)),
            array("Q", (k for k in keys if by_key[k][2])),
        )
    return out


def _mix(rows: int, total: int) -> int:
    """A key's digest: of its rows' count and the sum of their hashes."""
    return hash((rows, total)) & 0xFFFF_FFFF_FFFF_FFFF


def file_digests(
    store: Store, query: SavedQuery, sql: str, files: set[int] | None
) -> dict[int, tuple[int, int]]:
    """Per file of ``files`` (None: every file) with rows in ``file_inputs``: (rows, sum of
    the rows' hashes; summed here for a few files, as in :func:`file_keys`)."""
    ids = _ids(store, files)
    if not ids:
        return {}
    if files is None:
        wrapped = f"SELECT file_id, count(*), sum(hash(i)) FROM ({sql}) AS i GROUP BY file_id"
    else:
        wrapped = f"SELECT file_id, 1, hash(i) FROM ({sql}) AS i"
    try:
        rows = store.con.execute(wrapped, _bound(query, sql, ids)).fetchall()
    except duckdb.Error as exc:
        raise QueryError(sql, f"{query.name}: file_inputs: {exc}") from exc
    digests: dict[int, tuple[int, int]] = {}
    for file_id, n, h in rows:
        before = digests.get(file_id, (0, 0))
        digests[int(file_id)] = (before[0] + int(n), before[1] + int(h))
    return digests


def global_digest(store: Store, query: SavedQuery) -> object:
    if query.global_inputs is None:
        return None
    try:
        rows = store.con.execute(
            f"SELECT count(*), sum(hash(g)) FROM ({query.global_inputs}) AS g"
        ).fetchall()
    except duckdb.Error as exc:
        raise QueryError(query.global_inputs, f"{query.name}: global_inputs: {exc}") from exc
    return (rows[0][0], rows[0][1]) if rows else None


def global_digests(store: Store, sqls: list[str]) -> dict[str, object]:
    """The digest of each ``global_inputs`` SQL of ``sqls`` (as :func:`global_digest` reads
    it), all in one statement: each statement has a fixed cost of its own.

    Raises:
        QueryError: one of them failed (read them one by one to know which).
    """
    if not sqls:
        return {}
    union = " UNION ALL ".join(
        f"SELECT {k} AS k, count(*), sum(hash(g)) FROM ({sql}) AS g" for k, sql in enumerate(sqls)
    )
    try:
        rows = store.con.execute(union).fetchall()
    except duckdb.Error as exc:
        raise QueryError(union, f"global_inputs: {exc}") from exc
    return {sqls[int(k)]: (n, h) for k, n, h in rows}


def guard_digests(
    store: Store, queries: list[SavedQuery], files: set[int] | None
) -> dict[str, dict[int, tuple[int, int]]]:
    """Per query of ``queries`` (each with a ``file_guard``) and file of ``files`` (None: every
    file) with rows, (rows, sum of the rows' hashes) of its ``file_guard``: all in one
    statement (each has a fixed cost of its own; the guards are cheap scans of the files' own
    rows).

    Raises:
        QueryError: one of them failed.
    """
    if not queries:
        return {}
    ids = _ids(store, files)
    bound: dict[str, object] = {"files": ids}
    parts = []
    for k, query in enumerate(queries):
        assert query.file_guard is not None, query.name
        for name, value in _bound(query, query.file_guard, ids).items():
            if bound.setdefault(name, value) != value:  # another query's default
                raise QueryError(query.file_guard, f"{query.name}: file_guard: ${name} differs")
        if files is None:
            parts.append(
                f"SELECT {k} AS k, file_id, count(*) AS n, sum(hash(g)) AS h"
                f" FROM ({query.file_guard}) AS g GROUP BY file_id"
            )
        else:
            parts.append(
                f"SELECT {k} AS k, file_id, 1 AS n, hash(g) AS h FROM ({query.file_guard}) AS g"
            )
    union = " UNION ALL ".join(parts)
    out: dict[str, dict[int, tuple[int, int]]] = {q.name: {} for q in queries}
    if not ids:
        return out
    try:
        rows = store.con.execute(union, bound).fetchall()
    except duckdb.Error as exc:
        raise QueryError(union, f"file_guard: {exc}") from exc
    for k, file_id, n, h in rows:
        digests = out[queries[int(k)].name]
        before = digests.get(int(file_id), (0, 0))
        digests[int(file_id)] = (before[0] + int(n), before[1] + int(h))
    return out
