"""What the linker last wrote to ``link_deps`` and ``channel_inputs`` for each file, so that a
re-link replaces only the rows that changed.

A one-file edit re-links the file, and its ``link_deps`` (the (module, name) keys its links
consulted) and its ``channel_inputs`` row (the channel pass's digest of it) are nearly always
what they were: a new function at the end of a file consults no new name and moves no channel
fact. The store's apply leaves those two tables' rows of a replaced file (only the linker reads
them) and the linker compares each file's new rows with a digest of the rows it wrote last,
kept here: equal rows are neither deleted nor inserted (two statements of each table saved).
The same holds for the ``links`` rows of a file re-linked because a name it consulted changed
(not edited itself, so its rows are still stored): most such re-links write the rows they
found, and a file whose rows' digest is the kept one keeps them (no DELETE, no INSERT).
"""

from __future__ import annotations

import struct
from collections.abc import Collection

import pyarrow as pa

from graphsvc.link.sites import LinkRows

# per file: the hash of its link_deps keys in order, the hash of its channel_inputs row (None:
# none), then the sums of the hashes of its links rows and of its import sites' links rows,
# packed in 32 bytes (~100 bytes a file with the dict's entry)
_KEPT = struct.Struct("<qqqq")
_MASK = (1 << 63) - 1
# the tables whose rows a re-link leaves when their part of the digest is the kept one
_PARTS = (("link_deps", slice(0, 8)), ("channel_inputs", slice(8, 16)), ("links", slice(16, 24)))


class KeptRows:
    """Per file: a digest of the ``link_deps`` and ``channel_inputs`` rows the linker wrote
    (Python's ``hash`` of them: it never leaves the process)."""

    def __init__(self) -> None:
        self._kept: dict[int, bytes] = {}
        self._of: object | None = None  # the store they were written to
        # the files of the splits since the last take_changed() whose links rows, and whose
        # import sites' links rows, are not the ones this process last wrote for them; a file
        # it had not kept makes them unknown
        self._links_changed: set[int] = set()
        self._imports_changed: set[int] = set()
        self._unknown = False

    def belongs_to(self, store: object) -> None:
        """Forget everything unless the rows were written to ``store`` (the same object: one
        reopened may hold rows this process never saw written)."""
        if self._of is not store:
            self._kept, self._of = {}, store

    def clear(self) -> None:
        """Forget everything (a rollback, a re-link of everything)."""
        self._kept = {}

    def take_changed(self) -> tuple[frozenset[int], frozenset[int]] | None:
        """The files whose links rows, and whose import sites' links rows, the splits since
        the last call wrote other than they were, or None when some file's earlier rows were
        not kept (written by another process, or before a rollback); starts afresh."""
        changed = frozenset(self._links_changed), frozenset(self._imports_changed)
        unknown = self._unknown
        self._links_changed, self._imports_changed, self._unknown = set(), set(), False
        return None if unknown else changed

    def drop(self, file_ids: Collection[int]) -> None:
        """Forget removed files (their rows are gone with them)."""
        for file_id in file_ids:
            self._kept.pop(file_id, None)

    def split(
        self, rows: LinkRows, cleared: Collection[int], stored: Collection[int] = ()
    ) -> tuple[pa.Table, pa.Table, pa.Table, dict[str, list[int]]]:
        """``rows`` as the tables to insert, with the rows of the files of ``cleared`` (whose
        old ``link_deps`` and ``channel_inputs`` rows are still stored) and the ``links`` rows
        of the files of ``stored`` (of ``cleared``: their old links rows are still stored too)
        that equal the kept ones left out, and for each of the three tables the files whose
        old rows to delete. Remembers the new rows' digests (forget them with :meth:`clear` on
        a rollback)."""
        deps: dict[int, list[tuple[str, str]]] = {f: [] for f in rows.files}
        for file_id, module, name in rows.deps:
            deps.setdefault(file_id, []).append((module, name))
        inputs: dict[int, tuple[int, int]] = {f: (d, n) for f, d, n in rows.inputs}
        # order-free digests of each file's links rows (a sum of row hashes, as the findings
        # refresh's SQL digests are), all of them and its import sites' alone
        sums: dict[int, list[int]] = {f: [0, 0] for f in deps}
        for row in rows.rows:
            slot = sums.setdefault(row[0], [0, 0])
            h = hash(row)
            slot[0] += h
            if row[1] == "import":
                slot[1] += h
        stale: dict[str, list[int]] = {table: [] for table, _ in _PARTS}
        same: dict[str, set[int]] = {table: set() for table, _ in _PARTS}
        for file_id, keys in deps.items():
            links, imports = sums[file_id]
            new = _KEPT.pack(
                hash(tuple(keys)), hash(inputs.get(file_id)), links & _MASK, imports & _MASK
            )
            old = self._kept.get(file_id)
            self._kept[file_id] = new
            if old is None:
                self._unknown = True
            else:
                if old[16:24] != new[16:24]:
                    self._links_changed.add(file_id)
                if old[24:] != new[24:]:
                    self._imports_changed.add(file_id)
            if file_id not in cleared:
                continue  # its rows were deleted with its links
            for table, part in _PARTS:
                if table == "links" and file_id not in stored:
                    continue  # its links rows were deleted by the store's apply
                if old is not None and old[part] == new[part]:
                    same[table].add(file_id)
                else:
                    stale[table].append(file_id)
        links, dep_rows, input_rows = rows.tables(
            same["link_deps"], same["channel_inputs"], same["links"]
        )
        return links, dep_rows, input_rows, stale
