"""Facts as Arrow tables: the bulk format between parser processes and the store.

Converting a chunk of files' facts to columns happens where they were extracted (a pool worker),
so the writing process receives a few Arrow buffers instead of many small Python objects.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from graphsvc.facts import (
    Attribute,
    AttributeWrite,
    CallSite,
    ChannelFact,
    CloneUnit,
    FileFacts,
    FlowRows,
    Import,
    ModuleFact,
    NameMention,
    NameString,
    ParseError,
    Reference,
    Symbol,
)

# Fact tables, the FileFacts field that feeds each, and the fact class.
FACT_TABLES: tuple[tuple[str, str, type[Any]], ...] = (
    ("modules", "module", ModuleFact),
    ("symbols", "symbols", Symbol),
    ("imports", "imports", Import),
    ("calls", "calls", CallSite),
    ("references", "references", Reference),
    ("attributes", "attributes", Attribute),
    ("flows", "flows", FlowRows),
    ("channel_facts", "channel_facts", ChannelFact),
    ("mentions", "mentions", NameMention),
    ("attribute_writes", "attribute_writes", AttributeWrite),
    ("name_strings", "name_strings", NameString),
    ("clones", "clones", CloneUnit),
    ("parse_errors", "parse_errors", ParseError),
)

# A change of the ``files`` table is reported in two parts (IndexSummary.tables): ``files``
# when a file came or went or its module name, status, encoding or error count changed,
# FILES_CONTENT when only FILES_CONTENT_COLUMNS did (every edit changes some of them).
FILES_CONTENT = "files:content"
FILES_CONTENT_COLUMNS = frozenset(
    {"sha256", "size", "mtime_ns", "line_count", "indexer_version", "indexed_at"}
)

_ONE_PER_FILE = frozenset({"module", "flows"})  # FileFacts fields holding one row, not a tuple


def _arrow_type(annotation: str) -> pa.DataType:
    if annotation.startswith("tuple[int"):
        return pa.list_(pa.int32())
    if annotation.startswith("tuple["):
        return pa.list_(pa.string())
    if annotation == "int":
        return pa.int32()
    if annotation.startswith("bool"):
        return pa.bool_()
    if annotation.startswith("bytes"):
        return pa.binary()
    return pa.string()  # str, str | None, Literal[...] aliases


def _schema(cls: type[Any]) -> pa.Schema:
    fields = [pa.field("file_id", pa.int32())]
    fields += [pa.field(f.name, _arrow_type(str(f.type))) for f in dataclasses.fields(cls)]
    return pa.schema(fields)


SCHEMAS: dict[str, pa.Schema] = {table: _schema(cls) for table, _, cls in FACT_TABLES}
# A file's fact digest: DIGEST_BYTES per fact table, in FACT_ORDER (zeros: no rows).
FACT_ORDER = tuple(t for t, _, _ in FACT_TABLES)
DIGEST_BYTES = 8
_NO_ROWS = bytes(DIGEST_BYTES)


@dataclass(frozen=True, slots=True)
class Columns:
    """Fact tables of several files; ``file_id`` holds the owning file's position (0-based).

    ``digests`` holds each file's fact digest by position (empty: not known): DIGEST_BYTES per
    fact table in FACT_ORDER, a blake2b of the ``repr`` of the file's rows' field values (the
    values the Arrow rows are made of, so equal digests are equal rows, wherever the file sat
    in a chunk; zeros: no rows). The store compares them to skip rewriting unchanged tables.
    """

    tables: dict[str, pa.Table]
    files: int
    digests: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, facts: Sequence[FileFacts]) -> Columns:
        """The facts of ``facts`` (in order) as Arrow tables."""
        tables: dict[str, pa.Table] = {}
        parts: list[list[bytes]] = [[] for _ in facts]
        for table, attr, fact_cls in FACT_TABLES:
            owners: list[int] = []
            rows: list[Any] = []
            starts: list[int] = []  # each file's first row
            for position, file_facts in enumerate(facts):
                starts.append(len(rows))
                value = getattr(file_facts, attr)
                if value is None:
                    continue
                items = (value,) if attr in _ONE_PER_FILE else value
                owners.extend([position] * len(items))
                rows.extend(items)
            starts.append(len(rows))
            columns: dict[str, list[Any]] = {"file_id": owners}
            for f in dataclasses.fields(fact_cls):
                columns[f.name] = [getattr(r, f.name) for r in rows]
            tables[table] = pa.table(columns, schema=SCHEMAS[table])
            values = list(columns.values())[1:]
            for position, part in enumerate(parts):
                start, end = starts[position], starts[position + 1]
                if start == end:
                    part.append(_NO_ROWS)
                    continue
                # the repr of str, int, bool, bytes, None and tuples of them is exact and the
                # same in every process (unlike hash()): a pool worker's digest is the writer's
                text = repr([v[start:end] for v in values]).encode()
                part.append(hashlib.blake2b(text, digest_size=DIGEST_BYTES).digest())
        return cls(tables, len(facts), tuple(b"".join(p) for p in parts))

    @classmethod
    def concat(cls, parts: Sequence[Columns]) -> Columns:
        """Parts one after another: positions of later parts are shifted past earlier ones."""
        tables: dict[str, pa.Table] = {}
        for table in SCHEMAS:
            shifted: list[pa.Table] = []
            offset = 0
            for part in parts:
                t = part.tables[table]
                offset_ids = pa.scalar(offset, pa.int32())
                ids = pc.add(t["file_id"], offset_ids)  # pyright: ignore[reportAttributeAccessIssue]
                shifted.append(t.set_column(0, "file_id", ids))
                offset += part.files
            tables[table] = pa.concat_tables(shifted) if shifted else SCHEMAS[table].empty_table()
        digests: tuple[bytes, ...] = ()
        if all(len(p.digests) == p.files for p in parts):
            digests = tuple(d for p in parts for d in p.digests)
        return cls(tables, sum(p.files for p in parts), digests)

    def owned_by(self, file_ids: Sequence[int]) -> dict[str, pa.Table]:
        """The tables with positions replaced by the files' real ids."""
        ids = pa.array(file_ids, pa.int32())
        return {
            table: t.set_column(0, "file_id", pc.take(ids, t["file_id"]))
            for table, t in self.tables.items()
        }
