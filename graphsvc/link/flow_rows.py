"""A file's value-flow rows, read from the store and decoded into a :class:`FileFlow`.

The extractor writes each file's flow as one compressed, marshalled list of rows
(:mod:`graphsvc.extract.flow` describes the expression forms). :class:`FlowRows` reads them
(ahead, for a chunk of files, in one query, or one file at a time), decodes each distinct
expression once, and sorts the rows into a :class:`FileFlow`: assignments, calls and their
arguments, parameters, returns, yields, and what each import binds. It is separate from the
solver (:mod:`graphsvc.link.flow`) because it is the only part that reads the store; the
solver only evaluates what it was given.
"""

from __future__ import annotations

import marshal
import zlib
from dataclasses import dataclass, field
from typing import Any

import duckdb

from graphsvc.facts import FlowRow
from graphsvc.link.index import ModuleData
from graphsvc.link.site_rows import ImportRow
from graphsvc.store import one_of

# A value: (kind, name). kinds: fn, cls, inst, meth (bound method), mod, ext (outside or
# builtin: name is the dotted name), cont (container id), gen (function qualname), cm
# (a container's method: name is "id|method").
Val = tuple[str, str]
Env = dict[str, set[Val]]  # variable values of one call's parameters (call-site sensitivity)


@dataclass(slots=True)
class Param:
    """A parameter of a function of the file (``index``: None unless ``kind`` is ``pos``)."""

    name: str
    index: int | None
    kind: str
    default: Any


@dataclass(slots=True)
class FileFlow:
    """The solved flow of one file."""

    data: ModuleData
    assigns: list[tuple[Any, Any]] = field(default_factory=list)  # (target, value)
    calls: dict[tuple[int, int, str], Any] = field(default_factory=dict)  # site -> callee
    args: dict[tuple[int, int, str], list[tuple[str, Any]]] = field(default_factory=dict)
    params: dict[str, list[Param]] = field(default_factory=dict)
    returns: dict[str, list[Any]] = field(default_factory=dict)
    yields: dict[str, list[Any]] = field(default_factory=dict)
    imports: dict[tuple[str, str], str] = field(default_factory=dict)  # (scope, name) -> dotted
    nodes: dict[str, set[Val]] = field(default_factory=dict)
    assign_counts: dict[str, int] = field(default_factory=dict)
    version: int = 0  # bumped whenever a node gains a value
    memo: dict[tuple[int, int, str], set[Val]] = field(default_factory=dict)  # per round
    slots: dict[str, set[str]] = field(default_factory=dict)  # container -> its slot keys
    # id(expression) -> its values, this round (expressions are the parsed rows: ids stay put)
    values: dict[int, set[Val]] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)  # functions whose returns are being evaluated
    work: int = 0  # expressions evaluated; the solve stops at _WORK_LIMIT
    truncated: bool = False


class FlowRows:
    """Reads and decodes the flow rows of files for one linker run."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        # file -> its encoded flow rows (FlowRows.data; None: it has none), read ahead
        self._rows: dict[int, bytes | None] = {}
        self._imports: dict[int, list[tuple[Any, ...]]] = {}
        self._parsed: dict[bytes, Any] = {}

    def prefetch(
        self,
        file_ids: list[int],
        imports: dict[int, list[ImportRow]],
        flows: dict[int, bytes] | None = None,
    ) -> None:
        """Read the flow rows of ``file_ids`` in one query, unless ``flows`` has them (a file
        is loaded when solved); ``imports`` holds their import rows (read with their other
        sites)."""
        self._rows = dict.fromkeys(file_ids)
        self._parsed.clear()
        if flows is not None:
            self._rows.update((f, flows[f]) for f in file_ids if f in flows)
        else:
            for file_id, data in self.con.execute(
                "SELECT file_id, data FROM flows WHERE " + one_of("file_id", len(file_ids)),
                {"ids": file_ids},
            ).fetchall():
                self._rows[file_id] = data
        self._imports.clear()
        for file_id in file_ids:
            self._imports[file_id] = [
                (scope, kind, target, name, alias)
                for _, _, _, scope, kind, target, name, _, alias in imports.get(file_id, ())
                if kind in ("import", "from") and target is not None
            ]

    def _parse(self, data: bytes) -> Any:
        """An expression, decoded once per distinct encoding (rows repeat expressions such as
        ``self``; equal expressions share one object, which the per-round cache relies on)."""
        parsed = self._parsed.get(data)
        if parsed is None:
            parsed = self._parsed[data] = marshal.loads(data)
        return parsed

    def load(self, file_id: int, data: ModuleData) -> FileFlow:
        """The flow of ``file_id`` (read ahead by :meth:`prefetch`, else read now)."""
        flow = FileFlow(data)
        if file_id in self._rows:
            encoded = self._rows.pop(file_id)
        else:
            found = self.con.execute(
                "SELECT data FROM flows WHERE file_id = $f", {"f": file_id}
            ).fetchone()
            encoded = found[0] if found is not None else None
        rows: list[FlowRow] = marshal.loads(zlib.decompress(encoded)) if encoded else []
        for scope, kind, target, place, value, _, _ in rows:
            parsed = self._parse(value)
            if kind == "assign" and place is not None:
                tgt = self._parse(place)
                flow.assigns.append((tgt, parsed))
                if tgt[0] == "V":
                    key = vkey(tgt)
                    flow.assign_counts[key] = flow.assign_counts.get(key, 0) + 1
            elif kind == "param":
                index, pkind, default = parsed
                flow.params.setdefault(scope, []).append(Param(target, index, pkind, default))
                if default is not None:  # a default reaches the parameter whatever the call
                    flow.assigns.append((["V", scope, target], default))
            elif kind == "return":
                flow.returns.setdefault(scope, []).append(parsed)
            elif kind == "yield":
                flow.yields.setdefault(scope, []).append(parsed)
            elif kind == "call":
                line, col, callee = target.split(":", 2)
                flow.calls[(int(line), int(col), callee)] = parsed
            elif kind == "arg":
                line, col, key, callee = target.split(":", 3)
                flow.args.setdefault((int(line), int(col), callee), []).append((key, parsed))
        self._load_imports(flow)
        return flow

    def _load_imports(self, flow: FileFlow) -> None:
        """What each import binds, by (scope, name): names the flow rows leave to imports."""
        rows = self._imports.pop(flow.data.file_id, None)
        if rows is None:
            rows = self.con.execute(
                "SELECT scope, kind, target, name, alias FROM imports WHERE file_id = $f"
                " AND kind IN ('import', 'from') AND target IS NOT NULL",
                {"f": flow.data.file_id},
            ).fetchall()
        for scope, kind, target, name, alias in rows:
            if kind == "from":
                flow.imports[(scope, alias or name)] = f"{target}.{name}"
            else:
                top = target.split(".", 1)[0]
                flow.imports[(scope, alias or top)] = target if alias else top


def vkey(expr: Any) -> str:
    """The node of a variable expression ``["V", scope, name]``."""
    return f"V|{expr[1]}|{expr[2]}"
