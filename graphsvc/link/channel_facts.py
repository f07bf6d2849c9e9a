"""Every file's channel facts, read at once and indexed the ways the channel pass needs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from graphsvc.link.topics import Expr
from graphsvc.rules import Rule
from graphsvc.store import Store

_HANDLE_KINDS = frozenset({"hmake", "huse", "hcopy", "harg", "hparam"})


@dataclass(slots=True)
class Call:
    """A call (or decorator) that may carry a topic, with the callees the linker found."""

    file_id: int
    path: str
    line: int
    col: int
    scope: str
    key: str
    written: str
    raw: str  # the arguments as stored (JSON), decoded on first use: most calls match nothing
    targets: set[str] = field(default_factory=set)
    parsed: list[list[Any]] | None = None

    @property
    def args(self) -> list[list[Any]]:
        if self.parsed is None:
            self.parsed = json.loads(self.raw)
        return self.parsed


@dataclass(slots=True)
class HandleRow:
    """A handle fact (graphsvc/extract/handles.py): hmake, huse, hcopy or harg."""

    file_id: int
    path: str
    kind: str
    line: int
    col: int
    scope: str
    name: str
    detail: str
    data: str

    @property
    def args(self) -> list[list[Any]]:
        found = json.loads(self.data)
        return found if isinstance(found, list) else []


@dataclass(frozen=True, slots=True)
class Wrapper:
    """A derived rule: calls of ``wrapper`` carry a topic in ``param``."""

    wrapper: str
    file_id: int
    param: str
    position: int | None
    template: Expr
    rule: Rule
    depth: int
    evidence: tuple[str, ...]
    scope: str  # where template's names are evaluated (the wrapper itself)


class ChannelFacts:
    """Every file's channel facts, indexed the ways the pass reads them."""

    def __init__(self, store: Store) -> None:
        con = store.con
        self.calls: list[Call] = []
        self.consts: dict[str, tuple[Expr, str]] = {}
        self.attrs: dict[str, list[tuple[Expr, str, str, int]]] = {}  # Class.attr -> values
        self.params: dict[str, dict[str, tuple[int | None, bool, str]]] = {}  # raw defaults
        self.decls: dict[str, tuple[str, int, str, int, int, str]] = {}
        self.decl_args: dict[str, list[list[Any]]] = {}
        self.attribute_decls: set[str] = set()  # decls of self attributes (collections)
        self.decos: list[Call] = []
        self.uses: list[tuple[int, str, int, int, str, str, str]] = []
        self.paths: dict[int, str] = {}
        self.file_of_scope: dict[str, int] = {}
        self.handle_rows: list[HandleRow] = []
        # function -> parameter -> (index among its parameters, first one passed implicitly)
        self.handle_params: dict[str, dict[str, tuple[int, bool]]] = {}
        rows = con.execute(
            "SELECT c.file_id, f.path, c.kind, c.line, c.col, c.scope, c.name, c.detail, c.data"
            " FROM channel_facts AS c JOIN files AS f USING (file_id)"
            " ORDER BY f.path, c.line, c.col, c.kind, c.name"
        ).fetchall()
        for file_id, path, kind, line, col, scope, name, detail, data in rows:
            self.paths[file_id] = path
            self.file_of_scope.setdefault(scope, file_id)
            if kind == "call":
                self.calls.append(Call(file_id, path, line, col, scope, name, detail, data))
                continue
            if kind in _HANDLE_KINDS:
                self._handle(HandleRow(file_id, path, kind, line, col, scope, name, detail, data))
                continue
            self._fact(file_id, path, kind, line, col, scope, name, detail, data)
        by_site = {(c.file_id, c.line, c.col): c for c in self.calls}
        for file_id, line, col, target in con.execute(
            "SELECT l.file_id, l.line, l.col, l.target FROM links AS l"
            " JOIN channel_facts AS c ON c.file_id = l.file_id AND c.line = l.line"
            " AND c.col = l.col AND c.kind = 'call'"
            " WHERE l.site = 'call' AND l.target IS NOT NULL"
        ).fetchall():
            call = by_site.get((file_id, line, col))
            if call is not None:
                call.targets.add(target)
        self.reexports: dict[str, str] = dict(
            con.execute(
                "SELECT m.name || '.' || coalesce(i.alias, i.name), l.target"
                " FROM imports AS i JOIN modules AS m USING (file_id)"
                " JOIN links AS l ON l.file_id = i.file_id AND l.line = i.line"
                " AND l.col = i.col AND l.site = 'import'"
                " WHERE i.kind = 'from' AND l.target IS NOT NULL"
            ).fetchall()
        )

    def _fact(
        self,
        file_id: int,
        path: str,
        kind: str,
        line: int,
        col: int,
        scope: str,
        name: str,
        detail: str,
        data: str,
    ) -> None:
        """Index one fact of a kind other than call and the handle kinds."""
        if kind == "param":
            position, _, bound = detail.split(":")
            index = int(position) - int(bound) if position else None
            self.params.setdefault(scope, {})[name] = (index, bound == "1", data)
            return
        value = json.loads(data)
        if kind == "const":
            self.consts.setdefault(name, (value, scope))
        elif kind == "attr":
            self.attrs.setdefault(name, []).append((value, scope, path, line))
        elif kind == "decl":
            self.decls.setdefault(name, (path, line, scope, file_id, col, detail))
            self.decl_args.setdefault(name, value if isinstance(value, list) else [])
            if value is None:
                self.attribute_decls.add(name)
        elif kind == "deco":
            self.decos.append(Call(file_id, path, line, col, name, detail, f"@{detail}", data))
        elif kind == "use":
            self.uses.append((file_id, path, line, col, scope, name, detail))

    def _handle(self, row: HandleRow) -> None:
        if row.kind == "hparam":
            index, bound = json.loads(row.data)
            self.handle_params.setdefault(row.name, {})[row.detail] = (int(index), bool(bound))
        else:
            self.handle_rows.append(row)

    def default(self, function: str, param: str) -> Expr | None:
        """The default value of ``param`` of ``function``, if it has one."""
        found = self.params.get(function, {}).get(param)
        return json.loads(found[2]) if found is not None else None

    def resolve(self, name: str) -> str:
        """``name`` followed through re-exports (``pkg.x`` -> ``pkg.mod.x``)."""
        for _ in range(8):
            following = self.reexports.get(name)
            if following is None or following == name:
                return name
            name = following
        return name

    def constant(self, name: str) -> tuple[Expr, str] | None:
        for _ in range(8):
            found = self.consts.get(name)
            if found is not None:
                return found
            following = self.reexports.get(name)
            if following is None or following == name:
                return None
            name = following
        return None

    def attribute(self, scope: str, name: str) -> tuple[Expr, str] | None:
        """``self.name`` in method ``scope``: the class constant, else the one value set."""
        cls = scope.rsplit(".", 1)[0]
        while cls:
            found = self.consts.get(f"{cls}.{name}")
            if found is not None:
                return found
            values = self.attrs.get(f"{cls}.{name}")
            if values is not None:
                if len({json.dumps(v[0]) for v in values}) == 1:
                    return values[0][0], values[0][1]
                return None
            cls = cls.rsplit(".", 1)[0] if "." in cls else ""
        return None
