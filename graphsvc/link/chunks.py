"""Link rows of a set of files, a chunk of files at a time, with each file's dependency rows
(the (module, name) keys its links consulted) and its ``channel_inputs`` digest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from graphsvc.link.consulted import flat
from graphsvc.link.environment import Environment
from graphsvc.link.flow import FlowSolver
from graphsvc.link.index import ModuleData, NameIndex
from graphsvc.link.names import Lookup
from graphsvc.link.site_rows import ImportRow, SiteRows
from graphsvc.link.sites import LinkRows, link_import, link_use

_CHUNK_FILES = 64  # files whose sites and flows are read (and held) at once
# Memoised name-layer answers kept between chunks; past it they are dropped (each holds the
# names it consulted: ~40k of them were ~60 MB of a cold link of the stdlib).
_MAX_MEMO = 10_000


def link_chunks(
    con: Any,
    index: NameIndex,
    env: Environment,
    file_ids: Iterable[int],
    sites: SiteRows | None = None,
) -> Iterator[LinkRows]:
    """Link rows and dependency rows for every site of ``file_ids``, a chunk of files at a
    time (so memory holds one chunk's rows, however many files are re-linked). ``sites``
    may already hold the sites of some of them (read for the name index's refresh)."""
    ids = sorted(file_ids)
    lookup = Lookup(index, env)
    solver = FlowSolver(con, lookup)
    for start in range(0, len(ids), _CHUNK_FILES):
        rows = LinkRows()
        chunk = ids[start : start + _CHUNK_FILES]
        if sites is None or not sites.covers(chunk):
            sites = SiteRows.read(con, chunk)
        _link_chunk(con, index, lookup, solver, rows, chunk, sites)
        if lookup.memoised() > _MAX_MEMO:
            lookup.forget()
        yield rows


def _link_chunk(
    con: Any,
    index: NameIndex,
    lookup: Lookup,
    solver: FlowSolver,
    rows: LinkRows,
    ids: list[int],
    sites: SiteRows,
) -> None:
    """Link a chunk of files from their sites (and flow rows, read in one query)."""
    solver.prefetch(ids, sites.imports, sites.flows)
    channel = sites.channel_facts(con, ids)
    for file_id in ids:
        rows.files.append(file_id)
        data = index.by_file.get(file_id)
        lookup.deps = {(data.name, "")} if data is not None else set()
        first = len(rows.rows)
        imported: list[tuple[ImportRow, int, int]] = []  # from-imports and their link rows
        for row in sites.imports[file_id]:
            before = len(rows.rows)
            link_import(lookup, rows, row[:8])
            if row[4] == "from":
                imported.append((row, before, len(rows.rows)))
        for row in sites.calls[file_id]:
            link_use(lookup, solver, rows, "call", row, data)
        for row in sites.references[file_id]:
            link_use(lookup, solver, rows, "reference", row, data)
        solver.release(file_id)
        for module, name in sorted(flat(lookup.deps)):
            rows.deps.append((file_id, module, name))
        digest = _channel_digest(data, channel.get(file_id, []), rows.rows, first, imported)
        if digest is not None:
            rows.inputs.append((file_id, *digest))


def _row_hash(*values: object) -> int:
    """A 56-bit hash of ``values`` that is the same in every process (``hash`` is not)."""
    text = repr(values).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=7).digest(), "little")


def _channel_digest(
    data: ModuleData | None,
    facts: list[tuple[Any, ...]],
    rows: list[tuple[Any, ...]],
    first: int,
    imported: list[tuple[ImportRow, int, int]],
) -> tuple[int, int] | None:
    """The file's ``channel_inputs`` row (digest, facts), None when it has no part in the
    channel pass: a hash of each channel fact (with the file's path), of each linked callee of
    a call that has a channel fact, and of each from-import with its link target (what the
    module re-exports), summed. Computed from rows in hand: what the pass would read back."""
    parts: list[int] = []
    path = data.path if data is not None else ""
    calls: set[tuple[int, int]] = set()
    for _, kind, line, col, scope, name, detail, payload in facts:
        parts.append(_row_hash("fact", path, kind, line, col, scope, name, detail, payload))
        if kind == "call":
            calls.add((line, col))
    for row in rows[first:]:
        if row[1] == "call" and row[7] is not None and (row[2], row[3]) in calls:
            parts.append(_row_hash("call", row[2], row[3], row[7]))
    if data is not None:
        for site, start, end in imported:
            name, alias = site[6], site[8]
            for row in rows[start:end]:
                if row[7] is not None:
                    parts.append(_row_hash("import", data.name, alias, name, row[7]))
    if not parts:
        return None
    return sum(parts) % (1 << 63), len(facts)
