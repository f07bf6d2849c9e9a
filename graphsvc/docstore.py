"""The documentation side of the store: doc rows, content history and doc baselines.

Called by :class:`graphsvc.store.Store` inside its transactions (it stays the only writer). A
doc is owned like a Python file: re-indexing it deletes and re-inserts its own rows only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from graphsvc.docfacts import DOC_INDEXER_VERSION, DocFacts

DOC_TABLES = ("doc_headings", "doc_mentions", "doc_problems")
HISTORY_KEEP = 10  # content versions kept per path
_DOC_SCHEMAS = {
    "doc_headings": pa.schema(
        [("doc_id", pa.int32()), ("level", pa.int32()), ("text", pa.string()), ("line", pa.int32())]
    ),
    "doc_mentions": pa.schema(
        [
            ("doc_id", pa.int32()),
            ("line", pa.int32()),
            ("col", pa.int32()),
            ("kind", pa.string()),
            ("context", pa.string()),
            ("text", pa.string()),
            ("target", pa.string()),
            ("alt_target", pa.string()),
            ("bare", pa.bool_()),
            ("heading", pa.string()),
        ]
    ),
    "doc_problems": pa.schema(
        [
            ("doc_id", pa.int32()),
            ("line", pa.int32()),
            ("col", pa.int32()),
            ("kind", pa.string()),
            ("message", pa.string()),
        ]
    ),
}
_FIELDS = {"doc_headings": "headings", "doc_mentions": "mentions", "doc_problems": "problems"}


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    name = f"_docs_{table}"
    con.register(name, data)
    try:
        con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM {name}')
    finally:
        con.unregister(name)


# Up to this many ids, "one of these ids" is a filter the scan applies to each row
# (list_contains); more are joined. Measured on 13 fact tables of a 1,407-file tree: deleting
# one file's rows took 4.3 ms filtered vs 8.8 ms joined, 64 files 10.4 vs 10.7 ms, 256 files
# 13.4 vs 11.0 ms.
SHORT_IDS = 64


def one_of(column: str, count: int, param: str = "ids") -> str:
    """SQL condition: ``column`` is one of the ``count`` values bound to ``$param``. One value
    is an equality the scan can skip row groups with (its min/max), a few are ``list_contains``
    (a filter on every row), many a join."""
    if count == 1:
        return f"{column} = ${param}[1]"
    if count <= SHORT_IDS:
        return f"list_contains(${param}, {column})"
    return f"{column} IN (SELECT unnest(${param}))"


# up to this many paths, "at or below" is written out per path (plain comparisons on one
# scan); more are joined against their list
SHORT_PATHS = 16


def at_or_below(under: Collection[str]) -> tuple[str, dict[str, object]]:
    """SQL condition and parameters: ``path`` is one of ``under`` (relative paths) or lies below
    one. A watcher's batch names a path or two: written out, the condition is a filter on the
    scan (1.4 -> 0.5 ms on the stdlib's files, against a join with the unnested list)."""
    paths = sorted(set(under))
    if len(paths) > SHORT_PATHS:
        return (
            "EXISTS (SELECT 1 FROM unnest($under::VARCHAR[]) AS u(p)"
            " WHERE path = p OR starts_with(path, p || '/'))",
            {"under": paths},
        )
    terms = [f"path = $p{i} OR starts_with(path, $d{i})" for i in range(len(paths))]
    params: dict[str, object] = {f"p{i}": p for i, p in enumerate(paths)}
    params |= {f"d{i}": p + "/" for i, p in enumerate(paths)}
    return "(" + " OR ".join(terms) + ")" if terms else "false", params


def doc_states(
    con: duckdb.DuckDBPyConnection, under: Collection[str] | None
) -> list[tuple[Any, ...]]:
    """(path, doc_id, size, mtime_ns, sha256, indexer_version, status, skip_reason) of every
    doc, or of those at or below the relative paths ``under``."""
    sql = (
        "SELECT path, doc_id, size, mtime_ns, sha256, indexer_version, status, skip_reason"
        " FROM doc_files"
    )
    params: dict[str, object] = {}
    if under is not None and not any(p in ("", ".") for p in under):
        condition, params = at_or_below(under)
        sql += f" WHERE {condition}"
    return con.execute(sql, params).fetchall()


def apply_docs(
    con: duckdb.DuckDBPyConnection,
    upserts: Sequence[DocFacts],
    touched: Sequence[tuple[str, int, int]],
    removed: Sequence[str],
) -> None:
    """Replace the rows of ``upserts``, update the stat of ``touched`` (path, size, mtime_ns)
    and delete ``removed``, inside the caller's transaction."""
    paths = [d.record.path for d in upserts] + list(removed)
    known: dict[str, int] = {}
    if paths:
        rows = con.execute(
            "SELECT path, doc_id FROM doc_files WHERE path IN (SELECT unnest($paths))",
            {"paths": paths},
        ).fetchall()
        known = {str(p): int(i) for p, i in rows}
    gone = sorted(set(known.values()))
    if gone:
        for table in (*DOC_TABLES, "doc_files"):
            con.execute(
                f'DELETE FROM "{table}" WHERE doc_id IN (SELECT unnest($ids))', {"ids": gone}
            )
    if touched:
        data = pa.table(
            {
                "path": [t[0] for t in touched],
                "size": pa.array([t[1] for t in touched], pa.int64()),
                "mtime_ns": pa.array([t[2] for t in touched], pa.int64()),
            }
        )
        con.register("_docs_touched", data)
        try:
            con.execute(
                "UPDATE doc_files SET size = t.size, mtime_ns = t.mtime_ns"
                " FROM _docs_touched t WHERE doc_files.path = t.path"
            )
        finally:
            con.unregister("_docs_touched")
    if not upserts:
        return
    rows = con.execute("SELECT coalesce(max(doc_id), 0) + 1 FROM doc_files").fetchall()
    # the re-read docs keep their ids, deleted above: a new doc must not take one of them
    next_id = max(int(rows[0][0]), max(known.values(), default=0) + 1)
    ids: list[int] = []
    for doc in upserts:
        if doc.record.path in known:
            ids.append(known[doc.record.path])
        else:
            ids.append(next_id)
            next_id += 1
    _insert_docs(con, upserts, ids)
    record_history(con, [(d.record.path, "doc", d.record.sha256) for d in upserts])


def _insert_docs(
    con: duckdb.DuckDBPyConnection, upserts: Sequence[DocFacts], ids: list[int]
) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    columns: dict[str, list[Any]] = {
        "doc_id": ids,
        "format": [d.format for d in upserts],
        "title": [d.title for d in upserts],
        "indexer_version": [DOC_INDEXER_VERSION] * len(ids),
        "indexed_at": [now] * len(ids),
    }
    for f in dataclasses.fields(upserts[0].record):
        if f.name != "module":
            columns[f.name] = [getattr(d.record, f.name) for d in upserts]
    _insert(con, "doc_files", pa.table(columns))
    for table, attr in _FIELDS.items():
        schema = _DOC_SCHEMAS[table]
        rows: dict[str, list[Any]] = {name: [] for name in schema.names}
        for doc_id, doc in zip(ids, upserts, strict=True):
            items = getattr(doc, attr)
            rows["doc_id"].extend([doc_id] * len(items))
            for name in schema.names[1:]:
                rows[name].extend(getattr(item, name) for item in items)
        if rows["doc_id"]:
            _insert(con, table, pa.table(rows, schema=schema))


_HISTORY_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("kind", pa.string()),
        ("sha256", pa.string()),
        ("first_seen", pa.timestamp("us")),
    ]
)


def record_history(
    con: duckdb.DuckDBPyConnection,
    versions: Sequence[tuple[str, str, str | None]],
    known: dict[str, tuple[str, int]] | None = None,
) -> None:
    """Append (path, kind, sha256) to ``file_history`` where it is not the path's latest
    version already, and keep the last HISTORY_KEEP versions of those paths. One read of
    those paths' latest versions and counts decides both (a watcher's batch: 0.5 ms, against
    2.7 ms for a join per question). ``known`` holds (latest, count) of paths whose history
    the caller wrote (they are not read) and is kept up to date."""
    rows = {p: (k, s) for p, k, s in versions if s is not None}
    if not rows:
        return
    known = {} if known is None else known
    paths = sorted(rows)
    stored = {p: known[p] for p in paths if p in known}
    unknown = [p for p in paths if p not in known]
    if unknown:
        stored.update(
            (str(path), (latest, int(count)))
            for path, latest, count in con.execute(
                "SELECT path, arg_max(sha256, first_seen), count(*) FROM file_history"
                f" WHERE {one_of('path', len(unknown), 'paths')} GROUP BY path",
                {"paths": unknown},
            ).fetchall()
        )
    for path in unknown:  # a path without history has none (and is known now)
        known[path] = stored.get(path, ("", 0))
    new = [p for p in paths if p not in stored or stored[p][0] != rows[p][1]]
    if not new:
        return
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # typed: pyarrow's type inference tries to import pandas and dateutil for each column
    # (~0.2 ms each where they are not installed), every one-file apply
    data = pa.table(
        [new, [rows[p][0] for p in new], [rows[p][1] for p in new], [now] * len(new)],
        schema=_HISTORY_SCHEMA,
    )
    con.complete()  # a relation may not start while a result is left unread
    con.from_arrow(data).insert_into("file_history")  # its columns, in order
    for path in new:
        known[path] = (rows[path][1], min(stored.get(path, ("", 0))[1] + 1, HISTORY_KEEP))
    for path in new:  # rare: a path's eleventh version
        if stored.get(path, (None, 0))[1] + 1 > HISTORY_KEEP:
            con.execute(
                "DELETE FROM file_history WHERE path = $path AND first_seen < (SELECT"
                " min(first_seen) FROM (SELECT first_seen FROM file_history WHERE path = $path"
                " ORDER BY first_seen DESC LIMIT $keep))",
                {"path": path, "keep": HISTORY_KEEP},
            )


def forget_removed(con: duckdb.DuckDBPyConnection, removed: Sequence[str]) -> None:
    """Drop the history and doc baselines of paths that no longer exist."""
    if removed:
        for table in ("file_history", "doc_baselines"):
            con.execute(
                f'DELETE FROM "{table}" WHERE path IN (SELECT unnest($paths))',
                {"paths": list(removed)},
            )


def config_names(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(dotted name, path) for each value of a configuration file that names code: entry
    points and module paths (``handler: jobs.nightly:run`` gives ``jobs.nightly.run``)."""
    rows = con.execute(
        "SELECT DISTINCT m.target, d.path FROM doc_mentions AS m JOIN doc_files AS d"
        " USING (doc_id) WHERE m.context = 'config_value' AND m.kind = 'name' ORDER BY ALL"
    ).fetchall()
    return [(str(target), str(path)) for target, path in rows]


def needs_baselines(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a doc version lacks its baseline, or a baseline's doc version is gone (cheap:
    two anti-joins over small tables, no mention resolution)."""
    rows = con.execute(
        "SELECT EXISTS (SELECT 1 FROM doc_files AS d WHERE d.sha256 IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM doc_baselines AS b WHERE b.kind = 'version' AND b.path = d.path"
        " AND b.sha256 = d.sha256)) OR EXISTS (SELECT 1 FROM doc_baselines AS b WHERE NOT EXISTS"
        " (SELECT 1 FROM doc_files AS d WHERE d.path = b.path AND d.sha256 = b.sha256))"
    ).fetchall()
    return bool(rows[0][0])


def record_baselines(con: duckdb.DuckDBPyConnection) -> int:
    """For every doc version without a baseline (new or edited docs), record what its
    mentions resolve to now; drop the baselines of versions that are gone. Returns the number
    of doc versions recorded. Runs after the batch's facts and links are written."""
    con.execute(
        "DELETE FROM doc_baselines AS b WHERE NOT EXISTS (SELECT 1 FROM doc_files AS d"
        " WHERE d.path = b.path AND d.sha256 = b.sha256)"
    )
    pending = con.execute(
        "SELECT d.path, d.sha256 FROM doc_files AS d WHERE d.sha256 IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM doc_baselines AS b WHERE b.path = d.path"
        " AND b.sha256 = d.sha256 AND b.kind = 'version')"
    ).fetchall()
    if not pending:
        return 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    data = pa.table({"path": [p for p, _ in pending], "sha256": [s for _, s in pending]})
    con.register("_baseline_docs", data)
    try:
        con.execute(
            "INSERT INTO doc_baselines SELECT s.doc_path, s.doc_sha256, s.line, s.kind, s.target,"
            " s.entity, s.entity_kind, s.entity_path, s.fingerprint, $now"
            " FROM doc_mention_status AS s JOIN _baseline_docs AS p"
            " ON p.path = s.doc_path AND p.sha256 = s.doc_sha256 WHERE s.resolved",
            {"now": now},
        )
        con.execute(
            "INSERT INTO doc_baselines SELECT path, sha256, 0, 'version', '', NULL, NULL, NULL,"
            " NULL, $now FROM _baseline_docs",
            {"now": now},
        )
    finally:
        con.unregister("_baseline_docs")
    return len(pending)
