"""The fact rows a store wrote since the linker last ran, kept for the linker to take.

A one-file batch writes the file's imports, calls, symbols, flows, ... and the linker's run right
after it needs exactly those rows again (to refresh its name index and to link the file). Read
back from DuckDB they cost a statement per table (1-2 ms each on a 1,400-file tree); handed
over from memory they cost nothing. The store records every small write here and the linker
takes the rows of the files it re-links when all of them are here; otherwise (a dependent file,
a large batch, a rollback) it reads the store as before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

# Files held at most: past this many (a cold index, a checkout) the rows are dropped and the
# linker reads the store, so memory never holds a large batch's facts twice.
HELD_FILES = 64


@dataclass(frozen=True, slots=True)
class Written:
    """Fact rows of some files as the store's transaction holds them: ``tables`` has every
    fact table (only those files' rows), ``paths`` each file's path."""

    tables: dict[str, pa.Table]
    paths: dict[int, str]


class WrittenLog:
    """What :class:`graphsvc.store.Store` wrote since the last :meth:`take`."""

    def __init__(self) -> None:
        self._parts: list[dict[str, pa.Table]] = []
        self._where: dict[int, int] = {}  # file_id -> part holding its rows; -1: removed
        self._paths: dict[int, str] = {}
        self._overflow = False

    def record(
        self,
        tables: Mapping[str, pa.Table],
        paths: Mapping[int, str],
        removed: Iterable[int],
    ) -> None:
        """Note a write: ``tables`` hold the new rows of the files ``paths`` names (every row
        they had before is gone), ``removed`` files have no rows any more."""
        gone = list(removed)
        if self._overflow or not (paths or gone):
            return  # a batch that only touched files changed no rows
        if (
            len(self._where.keys() | paths.keys() | set(gone)) > HELD_FILES
            or len(self._parts) >= HELD_FILES
        ):
            self.clear(overflow=True)
            return
        part = len(self._parts)
        self._parts.append(dict(tables))
        for file_id in gone:
            self._where[file_id] = -1
            self._paths.pop(file_id, None)
        for file_id, path in paths.items():
            self._where[file_id] = part
            self._paths[file_id] = path

    def clear(self, overflow: bool = False) -> None:
        """Forget everything (a rollback: the rows may not be the store's any more)."""
        self._parts, self._where, self._paths = [], {}, {}
        self._overflow = overflow

    def take(self, file_ids: Collection[int] | None) -> Written | None:
        """The rows of ``file_ids`` when every one of them was written or removed since the
        last take (None otherwise, or for None); either way the log starts afresh."""
        try:
            if file_ids is None or self._overflow or any(f not in self._where for f in file_ids):
                return None
            return self._rows(file_ids)
        finally:
            self.clear()

    def _rows(self, file_ids: Collection[int]) -> Written:
        by_part: dict[int, list[int]] = {}
        for file_id in sorted(file_ids):
            by_part.setdefault(self._where[file_id], []).append(file_id)
        by_part.pop(-1, None)
        if len(self._parts) == 1 and by_part.get(0) == sorted(
            f for f, part in self._where.items() if part == 0
        ):
            # the common case, one write of just these files: its tables are the answer as
            # they are (no filter per table)
            paths = {f: self._paths[f] for f in file_ids if f in self._paths}
            return Written(dict(self._parts[0]), paths)
        names = sorted({name for part in self._parts for name in part})
        tables: dict[str, pa.Table] = {}
        for name in names:
            pieces: list[pa.Table] = []
            schema: pa.Schema | None = None
            for part, ids in sorted(by_part.items()):
                table = self._parts[part].get(name)
                if table is None:
                    continue
                schema = table.schema
                keep = pc.is_in(table["file_id"], value_set=pa.array(ids, pa.int32()))  # pyright: ignore[reportAttributeAccessIssue]
                pieces.append(table.filter(keep))
            if schema is None:
                schema = next(p[name].schema for p in self._parts if name in p)
            tables[name] = pa.concat_tables(pieces) if pieces else schema.empty_table()
        paths = {f: self._paths[f] for f in file_ids if f in self._paths}
        return Written(tables, paths)
