"""The resident index of the tree's modules: what each file defines and its imports bind.

The linker keeps one :class:`NameIndex` per process and refreshes it per changed file; the
name layer (graphsvc/link/names.py) answers questions over it. ``signatures`` fingerprints
what a module binds to each top-level name, so a change re-links only the files that read a
name whose fingerprint changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from sys import intern

import duckdb

from graphsvc.link.site_rows import SITE_ROWS_FILES, ImportRow, SiteRows, tuples
from graphsvc.store import Written, one_of

# What a resolution consulted: (module, top-level name) pairs. "" stands for the module's
# existence (and which files define it), "*" for its star imports and __all__.
Key = tuple[str, str]
# Pseudo-module of the keys (SUBCLASSES, "Base"): "which classes are written with base Base";
# link_names stores the per-module part of it under the name BASE_PREFIX + "Base".
SUBCLASSES = "<subclasses>"
BASE_PREFIX = "<base>"
SUBSCRIPT = re.compile(r"\[.*\]$", re.S)
DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# Name in ModuleData.dynamic: the class sets attributes by computed names (setattr(self, n, v),
# self.__dict__.update(...), object.__setattr__), so any name may exist.
DYNAMIC_ATTRS = "*"
_SETATTR_KINDS = frozenset({"setattr", "hasattr", "getattr", "delattr"})
_SETTERS = frozenset({"<builtin>.setattr", "<builtin>.object.__setattr__"})


@dataclass(frozen=True, slots=True)
class Binding:
    """A name bound by a module-level import: ``from target import name`` or ``import target``."""

    kind: str  # import | from
    target: str | None
    name: str | None  # imported name of a from-import
    alias: str | None


@dataclass(slots=True)
class ModuleData:
    """One file's module as the name layer sees it."""

    file_id: int
    name: str
    path: str
    all_names: tuple[str, ...] | None = None
    all_dynamic: bool = False
    kinds: dict[str, str] = field(default_factory=dict)  # qualname -> symbol kind (last wins)
    bases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # class -> bases as written
    parents: dict[str, str] = field(default_factory=dict)  # qualname -> parent qualname
    children: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)
    star_lines: dict[str, int] = field(default_factory=dict)  # star-imported module -> line
    lines: dict[str, int] = field(default_factory=dict)  # qualname -> line of its definition
    decorators: dict[str, tuple[str, ...]] = field(default_factory=dict)  # as written
    attributes: dict[str, set[str]] = field(default_factory=dict)  # class -> self.x names
    # class -> names every assignment of which in this file is None (self.x = None)
    none_only: dict[str, set[str]] = field(default_factory=dict)
    # class -> names its methods set or test by name (setattr, hasattr, getattr with a literal);
    # DYNAMIC_ATTRS when they set attributes whose names the file does not spell out
    dynamic: dict[str, set[str]] = field(default_factory=dict)

    def exports(self, name: str) -> bool | None:
        """Whether ``from this import *`` binds ``name`` (None: a dynamic ``__all__`` may)."""
        if self.all_names is not None:
            if name in self.all_names:
                return True
            return None if self.all_dynamic else False
        return not name.startswith("_")


class NameIndex:
    """Every module of the tree, refreshed per file as the store changes."""

    def __init__(self) -> None:
        self.by_file: dict[int, ModuleData] = {}
        self.by_module: dict[str, list[ModuleData]] = {}
        # Last part of a base class as written -> classes written with it (aliases not seen).
        self.subclass_index: dict[str, list[tuple[ModuleData, str]]] = {}
        # module -> its star imports' table (graphsvc.link.stars), kept across linker runs
        # while the lists of by_module it was built from are the current ones
        self.star_tables: dict[str, object] = {}

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> NameIndex:
        index = cls()
        index.refresh(con, None)
        return index

    def refresh(
        self,
        con: duckdb.DuckDBPyConnection,
        file_ids: Iterable[int] | None,
        sites: SiteRows | None = None,
    ) -> None:
        """Reload ``file_ids`` (all files when None) from the store; vanished files drop out.

        A refresh of a few files takes their imports, calls and references from ``sites``
        (read here when not given); a reload of many asks the store for just the rows it
        needs instead of holding every site of those files at once.
        """
        old: list[ModuleData] | None = None
        if file_ids is None:
            self.by_file.clear()
            where, params, sites = "", {}, None
        else:
            ids = sorted(set(file_ids))
            old = [d for f in ids if (d := self.by_file.pop(f, None)) is not None]
            where, params = " WHERE " + one_of("{}", len(ids)), {"ids": ids}
            if sites is not None and not sites.covers(ids):
                sites = None
            if sites is None and len(ids) <= SITE_ROWS_FILES:
                sites = SiteRows.read(con, ids)
        if sites is not None and sites.written is not None:
            fresh = _written_modules(sites.written)
        else:
            fresh = _load_modules(con, where, params)
        imports: Iterable[ImportRow]
        if sites is None:
            imports = con.execute(
                "SELECT file_id, line, col, scope, kind, target, name, module, alias FROM imports"
                + where.format("file_id")
                + " ORDER BY file_id, line, col, name",
                params,
            ).fetchall()
        else:
            imports = (row for f in sorted(sites.imports) for row in sites.imports[f])
        _load_imports(fresh, imports)
        if sites is None:
            _load_dynamic(con, fresh, where, params)
        else:
            _dynamic_from_sites(fresh, sites)
        self.by_file.update(fresh)
        if old is None:
            self._reindex()
        else:
            self._update(old, list(fresh.values()))

    def _reindex(self) -> None:
        """Build the by-name maps over every file."""
        self.by_module = {}
        self.subclass_index = {}
        self.star_tables = {}
        for data in sorted(self.by_file.values(), key=_path):
            self.by_module.setdefault(data.name, []).append(data)
            for cls, simple in _subclass_entries(data):
                self.subclass_index.setdefault(simple, []).append((data, cls))

    def _update(self, old: list[ModuleData], fresh: list[ModuleData]) -> None:
        """Replace ``old`` files' entries in the by-name maps with ``fresh`` ones: the lists
        touched end as :meth:`_reindex` builds them (in path order, a file's classes in its own
        order), without visiting every file of the tree."""
        gone = {d.file_id for d in old} | {d.file_id for d in fresh}
        for name in sorted({d.name for d in old} | {d.name for d in fresh}):
            self.star_tables.pop(name, None)  # built from the list replaced here
            kept = [d for d in self.by_module.get(name, []) if d.file_id not in gone]
            kept += [d for d in fresh if d.name == name]
            if kept:
                self.by_module[name] = sorted(kept, key=_path)
            else:
                self.by_module.pop(name, None)
        added: dict[str, list[tuple[ModuleData, str]]] = {}
        for data in fresh:
            for cls, simple in _subclass_entries(data):
                added.setdefault(simple, []).append((data, cls))
        touched = {simple for d in old for _, simple in _subclass_entries(d)} | set(added)
        for simple in sorted(touched):
            entries = self.subclass_index.get(simple, [])
            kept_entries = [e for e in entries if e[0].file_id not in gone]
            kept_entries += added.get(simple, [])
            if kept_entries:
                self.subclass_index[simple] = sorted(kept_entries, key=lambda e: e[0].path)
            else:
                self.subclass_index.pop(simple, None)


def _load_modules(
    con: duckdb.DuckDBPyConnection, where: str, params: dict[str, list[int]]
) -> dict[int, ModuleData]:
    """The modules of the files ``where`` selects, with their symbols and attributes."""
    fresh: dict[int, ModuleData] = {}
    # both sides filtered: a join on file_id alone scans the other table whole
    for file_id, name, path, all_names, all_dynamic in con.execute(
        "SELECT m.file_id, m.name, f.path, m.all_names, m.all_dynamic"
        " FROM modules AS m JOIN files AS f USING (file_id)"
        + where.format("m.file_id")
        + where.format("f.file_id").replace(" WHERE", " AND"),
        params,
    ).fetchall():
        names = tuple(all_names) if all_names is not None else None
        fresh[file_id] = ModuleData(file_id, name, path, names, bool(all_dynamic))
    for row in con.execute(
        "SELECT file_id, qualname, name, kind, parent, bases, decorators, line FROM symbols"
        + where.format("file_id")
        + " ORDER BY file_id, line, col, qualname",
        params,
    ).fetchall():
        if row[0] in fresh:
            _add_symbol(fresh[row[0]], *row[1:])
    for file_id, cls, name, none_only in con.execute(
        "SELECT file_id, class_qualname, name, bool_and(value_kind = 'none') FROM attributes"
        + where.format("file_id")
        + " GROUP BY ALL",
        params,
    ).fetchall():
        if file_id in fresh:
            fresh[file_id].attributes.setdefault(cls, set()).add(name)
            if none_only:
                fresh[file_id].none_only.setdefault(cls, set()).add(name)
    return fresh


def _written_modules(written: Written) -> dict[int, ModuleData]:
    """:func:`_load_modules` over rows the store just wrote."""
    fresh: dict[int, ModuleData] = {}
    tables = written.tables
    for file_id, name, all_names, all_dynamic in tuples(
        tables["modules"], ("file_id", "name", "all_names", "all_dynamic"), ()
    ):
        names = tuple(all_names) if all_names is not None else None
        path = written.paths[file_id]
        fresh[file_id] = ModuleData(file_id, name, path, names, bool(all_dynamic))
    symbols = tuples(
        tables["symbols"],
        ("file_id", "qualname", "name", "kind", "parent", "bases", "decorators", "line"),
        ("line", "col", "qualname"),
    )
    for row in symbols:
        if row[0] in fresh:
            _add_symbol(fresh[row[0]], *row[1:])
    none_only: dict[tuple[int, str, str], bool] = {}
    for file_id, cls, name, value_kind in tuples(
        tables["attributes"], ("file_id", "class_qualname", "name", "value_kind"), ()
    ):
        key = (file_id, cls, name)
        none_only[key] = none_only.get(key, True) and value_kind == "none"
    for (file_id, cls, name), only_none in none_only.items():
        if file_id in fresh:
            fresh[file_id].attributes.setdefault(cls, set()).add(name)
            if only_none:
                fresh[file_id].none_only.setdefault(cls, set()).add(name)
    return fresh


def _load_imports(fresh: dict[int, ModuleData], rows: Iterable[ImportRow]) -> None:
    """What module-level imports bind, and the names class bodies import (class attributes)."""
    for file_id, line, _, scope, kind, target, name, _, alias in rows:
        data = fresh.get(file_id)
        if data is None:
            continue
        if scope == data.name:
            _add_import(data, kind, target, name, alias, line)
        elif scope in data.bases:  # a class of this file
            bound = alias if alias is not None else name
            if bound is None and target is not None:
                bound = target.split(".", 1)[0]
            if bound is not None:
                data.dynamic.setdefault(scope, set()).add(bound)


def _load_dynamic(
    con: duckdb.DuckDBPyConnection,
    fresh: dict[int, ModuleData],
    where: str,
    params: dict[str, list[int]],
) -> None:
    """Fill ``ModuleData.dynamic`` from the store: attribute names a class's
    methods set or test by name (``setattr``/``hasattr``/``getattr`` with a literal on
    ``self`` or ``cls``), and ``DYNAMIC_ATTRS`` for a class whose methods set names the file
    does not spell out (:func:`_dynamic_from_sites` does the same over rows in hand)."""
    for file_id, candidate in con.execute(
        'SELECT file_id, candidate FROM "references"'
        " WHERE kind IN ('setattr', 'hasattr', 'getattr', 'delattr')"
        " AND candidate_kind IN ('self', 'cls') AND candidate IS NOT NULL"
        + where.format("file_id").replace(" WHERE", " AND"),
        params,
    ).fetchall():
        data = fresh.get(file_id)
        if data is not None:
            cls, _, name = candidate.rpartition(".")
            data.dynamic.setdefault(cls, set()).add(name)
    # setattr without a literal name (a literal one has a setattr reference on its line),
    # object.__setattr__, __dict__ and vars(): any attribute of the enclosing class may be set
    for file_id, scope in con.execute(
        "SELECT c.file_id, c.scope FROM calls AS c"
        " WHERE (c.candidate IN ('<builtin>.setattr', '<builtin>.object.__setattr__')"
        " OR contains(c.callee, '__dict__') OR starts_with(c.callee, 'vars('))"
        " AND NOT (coalesce(c.candidate, '') = '<builtin>.setattr'"
        ' AND EXISTS (SELECT 1 FROM "references"'
        " AS r WHERE r.file_id = c.file_id AND r.line = c.line AND r.scope = c.scope"
        " AND r.kind = 'setattr'))" + where.format("c.file_id").replace(" WHERE", " AND"),
        params,
    ).fetchall():
        _set_anything(fresh.get(file_id), scope)


def _dynamic_from_sites(fresh: dict[int, ModuleData], sites: SiteRows) -> None:
    """:func:`_load_dynamic` over the calls and references of ``sites``."""
    for file_id, data in fresh.items():
        literal: set[tuple[int, str]] = set()  # (line, scope) of setattr(x, "literal", ...)
        for _, line, _, scope, _, candidate, candidate_kind, kind in sites.references[file_id]:
            if kind == "setattr":
                literal.add((line, scope))
            by_name = kind in _SETATTR_KINDS and candidate_kind in ("self", "cls")
            if by_name and candidate is not None:
                cls, _, name = candidate.rpartition(".")
                data.dynamic.setdefault(cls, set()).add(name)
        for _, line, _, scope, callee, candidate, _ in sites.calls[file_id]:
            if not (candidate in _SETTERS or "__dict__" in callee or callee.startswith("vars(")):
                continue
            if candidate == "<builtin>.setattr" and (line, scope) in literal:
                continue
            _set_anything(data, scope)


def _set_anything(data: ModuleData | None, scope: str) -> None:
    """Code in ``scope`` may set any attribute of its enclosing class."""
    cls = _enclosing_class(data, scope) if data is not None else None
    if data is not None and cls is not None:
        data.dynamic.setdefault(cls, set()).add(DYNAMIC_ATTRS)


def _enclosing_class(data: ModuleData, scope: str) -> str | None:
    current: str | None = scope
    while current is not None and current != data.name:
        if data.kinds.get(current) == "class":
            return current
        current = data.parents.get(current)
    return None


def _path(data: ModuleData) -> str:
    return data.path


def _subclass_entries(data: ModuleData) -> list[tuple[str, str]]:
    """(class, last part of a base as written) for every class of ``data``, in its order."""
    return [
        (cls, simple)
        for cls, bases in data.bases.items()
        for simple in filter(None, map(base_name, bases))
    ]


def _add_symbol(
    data: ModuleData,
    qualname: str,
    name: str,
    kind: str,
    parent: str | None,
    bases: list[str],
    decorators: list[str],
    line: int,
) -> None:
    # Interned: every string the store hands back is a new object, and the index holds the
    # tree's names many times over (a parent is some symbol's qualname, kinds and short names
    # repeat); one object per distinct string was a quarter of the index (see BENCHMARKS.md).
    qualname = intern(qualname)
    data.kinds[qualname] = intern(kind)
    data.lines[qualname] = line
    if decorators:
        data.decorators[qualname] = tuple(map(intern, decorators))
    if parent is not None:
        parent = intern(parent)
        data.parents[qualname] = parent
        siblings = data.children.setdefault(parent, {})
        name = intern(name)
        names = siblings.get(name, ())
        if qualname not in names:
            siblings[name] = (*names, qualname)
    if kind == "class":
        data.bases[qualname] = tuple(map(intern, bases))


def _add_import(
    data: ModuleData, kind: str, target: str | None, name: str | None, alias: str | None, line: int
) -> None:
    """Record what a module-level import binds (star imports are searched on demand)."""
    kind, target, name, alias = intern(kind), _intern(target), _intern(name), _intern(alias)
    if kind == "star":
        if target is not None:
            data.stars.append(target)
            data.star_lines[target] = line
    elif kind == "from" and name is not None:
        data.bindings.setdefault(alias or name, []).append(Binding(kind, target, name, alias))
    elif kind == "import" and target is not None:
        bound = alias or target.split(".", 1)[0]
        data.bindings.setdefault(bound, []).append(Binding(kind, target, None, alias))


def _intern(text: str | None) -> str | None:
    return intern(text) if text is not None else None


def base_name(written: str) -> str | None:
    """The last part of a base class expression as written (``pkg.Base[T]`` -> ``Base``)."""
    text = SUBSCRIPT.sub("", written.strip())
    return text.rsplit(".", 1)[-1] if DOTTED.match(text) else None


def top_name(qualname: str, module: str) -> str:
    """The top-level name of ``module`` that ``qualname`` lives under ("" for the module)."""
    if qualname == module or not qualname.startswith(module + "."):
        return ""
    return qualname[len(module) + 1 :].split(".", 1)[0]


def signatures(datas: list[ModuleData]) -> dict[str, str]:
    """A fingerprint per dependency key of one module name (see ``Key``); line numbers are
    left out, so moving code without changing what it binds changes nothing."""
    parts: dict[str, list[object]] = {"": [d.path for d in datas]}
    for data in datas:
        parts.setdefault("*", []).append((data.stars, data.all_names, data.all_dynamic))
        for qualname, kind in data.kinds.items():
            top = top_name(qualname, data.name)
            if top:
                parts.setdefault(top, []).append(
                    (
                        qualname,
                        kind,
                        data.parents.get(qualname),
                        data.bases.get(qualname),
                        data.decorators.get(qualname),
                        sorted(data.attributes.get(qualname, ())),
                        sorted(data.none_only.get(qualname, ())),
                        sorted(data.dynamic.get(qualname, ())),
                    )
                )
        for name, bindings in data.bindings.items():
            parts.setdefault(name, []).append(bindings)
        for cls, bases in data.bases.items():
            for base in bases:
                simple = base_name(base)
                if simple:
                    parts.setdefault(BASE_PREFIX + simple, []).append(cls)
    return {
        key: hashlib.blake2b(repr(sorted(map(repr, value))).encode(), digest_size=8).hexdigest()
        for key, value in parts.items()
    }
