"""Rendering rows as a table, JSON or CSV (the CLI's --format)."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import json
from collections.abc import Sequence
from typing import Any


class Format(enum.StrEnum):
    """Output formats of every command that prints rows."""

    table = "table"
    json = "json"
    csv = "csv"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _unique(columns: Sequence[str]) -> list[str]:
    """Column names made unique (``SELECT 1 AS a, 2 AS a``) so JSON keys never collide."""
    seen: dict[str, int] = {}
    keys: list[str] = []
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return keys


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Format) -> str:
    """Rows as text in ``fmt``: JSON is a list of objects, CSV has a header line."""
    if fmt is Format.json:
        keys = _unique(columns)
        objects = [dict(zip(keys, map(_plain, row), strict=True)) for row in rows]
        return json.dumps(objects, indent=2, ensure_ascii=False, default=str)
    if fmt is Format.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                [
                    json.dumps(v, default=str) if isinstance(v, list | dict) else _plain(v)
                    for v in row
                ]
            )
        return out.getvalue().rstrip("\n")
    # rich loads for a table only: a serving process never renders one (#5)
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*("NULL" if v is None else str(_plain(v)) for v in row))
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    console.print(table)
    out_file = console.file
    assert isinstance(out_file, io.StringIO)
    return out_file.getvalue().rstrip("\n")
