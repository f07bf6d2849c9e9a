"""The import inputs of the finding queries with ``depends_on: imports`` / ``internal_imports``.

Per file the Refresher keeps a digest of what those queries read (its path and module name, its
import links, its import facts, its internal import edges with their in_function/type_checking
flags) and of all its links. After a batch the digests of the files the linker re-linked are
read again and compared; when none differs the queries' rows are reused. A batch that changed
no file identity, module name or import fact (``IndexSummary.tables``), and whose re-linked
files' import links the linker wrote as they were (``IndexSummary.import_links_changed``: it
compares the rows it writes with a digest of the rows it last wrote), changed none of them: no
statement is needed then, and the linker's ``links_changed`` says whether any links moved (most
edits: a body changed, a function added).
"""

from __future__ import annotations

from graphsvc.store import Store
from graphsvc.update import IndexSummary

# The per-file tables (IndexSummary.tables) the import digests read beside the links: a file's
# path, module name and status ("files"), the module names, the import facts.
_IMPORT_FACTS = frozenset({"files", "modules", "imports"})
# a kept digest's hash of all links that was not read (it equals no hash DuckDB gives, NULL
# included)
_UNKNOWN = object()


class ImportInputs:
    """The import digests of every file as the last :meth:`observe` left them (a Refresher
    keeps one)."""

    def __init__(self) -> None:
        self._digests: dict[int, tuple[object, ...]] | None = None  # file id -> its digest
        self.links_changed = True  # the last observed batches' re-linked files' links changed

    def observe(self, store: Store, summary: IndexSummary | None) -> set[str]:
        """The ``depends_on`` values whose inputs are as at the last call, after the batches
        ``summary`` tells of (None: anything may have changed); :attr:`links_changed` says
        whether the re-linked files' links changed at all."""
        self.links_changed = True
        if (
            summary is None
            or summary.relinked is None
            or summary.removed + summary.vanished
            or self._digests is None
        ):
            self._digests = import_digests(store, None)
            return set()
        if not summary.relinked:
            self.links_changed = False
            return set(DIGEST_PARTS)
        if (
            summary.tables is not None
            and summary.links_changed is not None
            and summary.import_links_changed is not None
            and not summary.import_links_changed
            and not summary.tables & _IMPORT_FACTS
        ):
            # the batch moved no file, module name or import fact, and the linker wrote every
            # re-linked file's import links as they were: every part of their digests holds
            # but the hash of all links of those whose links changed, which is not read: it
            # is marked unknown (a later comparison with it finds a change)
            self.links_changed = bool(summary.links_changed)
            for file_id in summary.links_changed:
                kept = self._digests.get(file_id)
                if kept is not None:
                    self._digests[file_id] = (*kept[: LINKS_PART[0]], _UNKNOWN)
            return set(DIGEST_PARTS)
        now = import_digests(store, summary.relinked)
        if summary.links_changed is not None:
            self.links_changed = bool(summary.links_changed)
        else:
            self.links_changed = any(
                digest_part(now.get(i), LINKS_PART) != digest_part(self._digests.get(i), LINKS_PART)
                for i in summary.relinked
            )
        same = {
            kind
            for kind, part in DIGEST_PARTS.items()
            if all(
                digest_part(now.get(i), part) == digest_part(self._digests.get(i), part)
                for i in summary.relinked
            )
        }
        for file_id in summary.relinked:
            if file_id in now:
                self._digests[file_id] = now[file_id]
            else:
                self._digests.pop(file_id, None)
        return same


# depends_on value -> the parts of a file's digest (path, module, import links, import facts,
# internal import edges with their flags) its queries read.
DIGEST_PARTS: dict[str, tuple[int, ...]] = {"imports": (0, 1, 2, 3), "internal_imports": (0, 1, 4)}


def digest_part(
    digest: tuple[object, ...] | None, part: tuple[int, ...]
) -> tuple[object, ...] | None:
    return None if digest is None else tuple(digest[i] for i in part)


# the part of import_digests' digest that is the hash of all of a file's links
LINKS_PART = (5,)


def import_digests(store: Store, file_ids: frozenset[int] | None) -> dict[int, tuple[object, ...]]:
    """Per file: (path, module, hash of its import links, hash of its import facts, hash of
    its internal import edges with their in_function/type_checking flags, hash of all its
    links), for ``file_ids`` or every file (None). What ``depends_on: imports`` /
    ``internal_imports`` queries read, and whether its links changed at all."""
    every = file_ids is None

    def only(column: str) -> str:
        # no "$every OR ..." filter: an OR keeps DuckDB from joining on the few ids
        return "TRUE" if every else f"{column} IN (SELECT unnest($ids::INTEGER[]))"

    rows = store.con.execute(
        "WITH l AS (SELECT file_id, sum(hash(line, col, scope, expression, kind, target,"
        " target_kind, target_module, status, strategy, reason)) AS h FROM links"
        f" WHERE site = 'import' AND {only('file_id')} GROUP BY file_id),"
        " i AS (SELECT file_id, sum(hash(line, col, scope, module, level, target, name, kind,"
        f" in_try, type_checking, in_function)) AS h FROM imports WHERE {only('file_id')}"
        " GROUP BY file_id),"
        # distinct edges: a star import links once per name, and a new name is no new edge
        " e AS (SELECT file_id, sum(hash(line, scope, target_module, in_function,"
        " type_checking)) AS h FROM (SELECT DISTINCT l.file_id, l.line, l.scope,"
        " l.target_module, i.in_function, i.type_checking FROM links AS l JOIN imports AS i"
        " ON i.file_id = l.file_id AND i.line = l.line AND i.col = l.col"
        " WHERE l.site = 'import' AND l.status IN ('internal', 'ambiguous')"
        f" AND l.target_module IS NOT NULL AND {only('l.file_id')}) GROUP BY file_id),"
        f" a AS (SELECT file_id, sum(hash(t)) AS h FROM links AS t WHERE {only('file_id')}"
        " GROUP BY file_id)"
        " SELECT f.file_id, f.path, f.module, l.h, i.h, e.h, a.h FROM files AS f"
        " LEFT JOIN l ON l.file_id = f.file_id LEFT JOIN i ON i.file_id = f.file_id"
        " LEFT JOIN e ON e.file_id = f.file_id LEFT JOIN a ON a.file_id = f.file_id"
        f" WHERE {only('f.file_id')}",
        {} if every else {"ids": sorted(file_ids or ())},
    ).fetchall()
    return {int(row[0]): tuple(row[1:]) for row in rows}
