"""The indexed tree's imports as a grimp import graph, kept up to date file by file.

import-linter's contract classes check a ``grimp.ImportGraph``; grimp would build one by
parsing the tree again. :class:`ImportGraph` builds the same graph from the ``imports``,
``modules`` and ``links`` rows instead, and after a batch replaces only the edges of the files
the linker re-linked. It is separate from :mod:`graphsvc.findings.contracts` (which reads the
configuration, runs the contracts and shapes their findings) because it is the part that
knows the store's tables and grimp's graph, and none of import-linter's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphsvc.store import Store

if TYPE_CHECKING:
    import grimp


def _flag(session: Mapping[str, Any], key: str) -> bool:
    return str(session.get(key, "")).strip().lower() == "true"


# The module an import statement makes Python load, as grimp records it: the submodule of a
# `from pkg import sub`, else the module written (`import a.b.c`: a.b.c), when the tree has it.
_INTERNAL_EDGES = """
SELECT DISTINCT i.file_id, m.name AS importer, coalesce(sub.name, mod.name) AS imported, i.line,
       i.module || coalesce(' import ' || i.name, '') AS written
FROM imports AS i
JOIN modules AS m USING (file_id)
LEFT JOIN modules AS sub ON i.kind = 'from' AND sub.name = i.target || '.' || i.name
LEFT JOIN modules AS mod ON mod.name = i.target
WHERE coalesce(sub.name, mod.name) IS NOT NULL
    AND i.kind <> 'future'
    AND NOT ($exclude_tc AND i.type_checking)
    AND ($every OR i.file_id IN (SELECT unnest($ids::INTEGER[])))
"""
# Outside packages (include_external_packages): grimp squashes them to their top-level name.
_EXTERNAL_EDGES = """
SELECT DISTINCT l.file_id, m.name AS importer, split_part(l.target_module, '.', 1) AS imported,
       l.line, l.expression AS written
FROM links AS l
JOIN modules AS m USING (file_id)
JOIN (SELECT DISTINCT file_id, line, col, type_checking FROM imports) AS i
    ON i.file_id = l.file_id AND i.line = l.line AND i.col = l.col
WHERE l.site = 'import' AND l.status IN ('external', 'stdlib') AND l.target_module IS NOT NULL
    AND NOT ($exclude_tc AND i.type_checking)
    AND ($every OR l.file_id IN (SELECT unnest($ids::INTEGER[])))
"""
Edge = tuple[str, str, int, str]  # importer, imported, line, the statement as written


def _new_graph() -> grimp.ImportGraph:
    """An empty grimp graph (grimp is imported here: only a tree with import contracts or a
    cycles report needs it, and a serving process without them stays ~4 MB smaller, #5)."""
    import grimp

    return grimp.ImportGraph()


class ImportGraph:
    """A grimp import graph of the indexed tree, built the way grimp builds one from source,
    and kept up to date file by file: every module; every import of a module of the tree, to
    the module the statement loads (function-level imports included; those under
    ``if TYPE_CHECKING`` unless ``exclude_type_checking_imports``); with
    ``include_external_packages``, the imports of outside packages as squashed top-level
    modules.

    Args:
        exclude_type_checking: leave out imports under ``if TYPE_CHECKING:``.
        external: add the imports of outside packages.
    """

    def __init__(self, exclude_type_checking: bool, external: bool) -> None:
        self.flags = (exclude_type_checking, external)
        self.graph = _new_graph()
        self.paths: dict[str, str] = {}  # module -> path
        self._files: dict[int, tuple[str, list[Edge]]] = {}  # file id -> module, its edges
        self._squashed: set[str] = set()

    def load(self, store: Store) -> None:
        """Build the graph from every file of ``store``."""
        self.graph = _new_graph()
        self.paths, self._files, self._squashed = {}, {}, set()
        self._apply(store, None)

    def update(self, store: Store, file_ids: frozenset[int]) -> bool:
        """Replace the edges of ``file_ids`` (files the linker re-linked: every changed file
        and every file whose imports a change can re-target). False when that cannot be done
        in place (a file changed its module name): :meth:`load` then."""
        return self._apply(store, file_ids)

    def edges(self) -> set[tuple[str, str, int | None]]:
        """Every (importer, imported, line) of the graph (what tests compare)."""
        found: set[tuple[str, str, int | None]] = set()
        for importer in self.graph.modules:
            for imported in self.graph.find_modules_directly_imported_by(importer):
                for detail in self.graph.get_import_details(importer=importer, imported=imported):
                    found.add((importer, imported, detail["line_number"]))
        return found

    def _widen(self, store: Store, file_ids: frozenset[int]) -> frozenset[int] | None:
        """``file_ids`` plus the files whose imports a module that appears or goes among them
        re-targets (`from pkg import sub` loads the submodule when there is one); None when a
        file changed its module name."""
        names = self._read_modules(store, file_ids)
        changed: set[str] = set()
        for fid in file_ids:
            before = self._files.get(fid)
            if before is not None and fid in names and names[fid][0] != before[0]:
                return None
            if before is None and fid in names and names[fid][0] not in self.paths:
                changed.add(names[fid][0])
            if before is not None and fid not in names:
                changed.add(before[0])
        return file_ids | self._importers(store, changed)

    def _apply(self, store: Store, file_ids: frozenset[int] | None) -> bool:
        if file_ids is not None:
            file_ids = self._widen(store, file_ids)
            if file_ids is None:
                return False
        now, edges = self._read_modules(store, file_ids), self._read_edges(store, file_ids)
        for fid in file_ids or ():  # out with the old edges (and the modules that are gone)
            old = self._files.pop(fid, None)
            if old is None:
                continue
            for importer, imported in {(e[0], e[1]) for e in old[1]}:
                self.graph.remove_import(importer=importer, imported=imported)
            if fid not in now:
                self.graph.remove_module(old[0])
                self.paths.pop(old[0], None)
        for fid, (name, path) in sorted(now.items(), key=lambda item: item[1]):
            if name not in self.paths:
                self.graph.add_module(name)
            self.paths[name] = path
            self._files[fid] = (name, edges.get(fid, []))
        for fid in sorted(now):
            for importer, imported, line, written in edges.get(fid, ()):
                if imported not in self.paths and imported not in self._squashed:
                    self.graph.add_module(imported, is_squashed=True)
                    self._squashed.add(imported)
                self.graph.add_import(
                    importer=importer, imported=imported, line_number=line, line_contents=written
                )
        return True

    @staticmethod
    def _read_modules(store: Store, file_ids: frozenset[int] | None) -> dict[int, tuple[str, str]]:
        """file id -> (module, path) of ``file_ids`` (None: all)."""
        rows = store.con.execute(
            "SELECT m.file_id, m.name, f.path FROM modules AS m JOIN files AS f USING (file_id)"
            " WHERE $every OR m.file_id IN (SELECT unnest($ids::INTEGER[]))",
            {"every": file_ids is None, "ids": sorted(file_ids or ())},
        ).fetchall()
        return {int(fid): (str(name), str(path)) for fid, name, path in rows}

    @staticmethod
    def _importers(store: Store, names: set[str]) -> frozenset[int]:
        """Files with an import that names one of the modules ``names``."""
        if not names:
            return frozenset()
        rows = store.con.execute(
            "SELECT DISTINCT file_id FROM imports WHERE target IN (SELECT unnest($names))"
            " OR (kind = 'from' AND target || '.' || name IN (SELECT unnest($names)))",
            {"names": sorted(names)},
        ).fetchall()
        return frozenset(int(r[0]) for r in rows)

    def _read_edges(self, store: Store, file_ids: frozenset[int] | None) -> dict[int, list[Edge]]:
        """The import edges of ``file_ids`` (None: all), per file."""
        params = {"every": file_ids is None, "ids": sorted(file_ids or ())}
        edges_sql = _INTERNAL_EDGES + (" UNION ALL " + _EXTERNAL_EDGES if self.flags[1] else "")
        rows = store.con.execute(
            f"SELECT * FROM ({edges_sql}) ORDER BY 1, 2, 3, 4",
            params | {"exclude_tc": self.flags[0]},
        ).fetchall()
        edges: dict[int, list[Edge]] = {}
        for fid, importer, imported, line, written in rows:
            if importer != imported:
                edges.setdefault(int(fid), []).append((importer, imported, int(line), written))
        return edges


def build_graph(store: Store, session: Mapping[str, Any]) -> ImportGraph:
    """The import graph of ``store`` as the configuration's session options ask."""
    graph = ImportGraph(
        _flag(session, "exclude_type_checking_imports"),
        _flag(session, "include_external_packages"),
    )
    graph.load(store)
    return graph
