"""The star imports of a module, tabled once per linker run for the name layer.

``from pkg.sub import *`` makes every name the importing module does not bind itself a question
for each star-imported module in turn: does it export the name (its ``__all__``, or any public
name without one), and if so, what does it bind to it? A package such as ``networkx`` star-imports
some 70 modules, and a file using it asks about dozens of names, so the name layer
(:meth:`graphsvc.link.names.Lookup._via_stars`) asked every star module of the chain about every
name, adding the same (module, ``""``) and (module, ``"*"``) keys to its dependencies each
time. A :class:`StarTable` answers "which star modules may export this name" from a dictionary
and holds those keys as one set: the answers and the keys recorded are the same as before, in
the same order. A table is built from the resident name index and kept in it across linker
runs (``NameIndex.star_tables``, ~0.8 ms of a re-link of a ``networkx`` file to build them
again): it is used while every ``by_module`` list it read (the module's and each star
module's) is the current one, and a refresh replaces the list of any module it touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphsvc.link.index import Key, ModuleData, NameIndex


@dataclass(frozen=True, slots=True)
class StarTable:
    """The star imports of one module's files, in the order they were written."""

    deps: frozenset[Key]  # the keys asking about them consults, whatever the name
    outside: tuple[str, ...]  # star-imported modules that are not in the tree
    stars: tuple[str, ...]  # star-imported modules of the tree (repeats kept)
    always: tuple[int, ...]  # positions whose ``__all__`` is dynamic: any name may be exported
    public: tuple[int, ...]  # positions without ``__all__``: every public name is exported
    named: dict[str, tuple[int, ...]]  # name -> positions whose ``__all__`` lists it
    # the by_module lists it was built from, (module, list or None: no such module)
    read: tuple[tuple[str, list[ModuleData] | None], ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, index: NameIndex, module: str, datas: list[ModuleData]) -> StarTable:
        """The table of ``module`` (``datas``: its files, as the name layer read them), the
        one kept in ``index`` while it is current."""
        kept = index.star_tables.get(module)
        if isinstance(kept, StarTable) and kept.current(index):
            return kept
        table = cls._build(index, module, datas)
        if index.by_module.get(module) is datas:
            index.star_tables[module] = table
        return table

    def current(self, index: NameIndex) -> bool:
        """Whether every by_module list it was built from is still the index's."""
        by_module = index.by_module
        return all(by_module.get(module) is datas for module, datas in self.read)

    @classmethod
    def _build(cls, index: NameIndex, module: str, datas: list[ModuleData]) -> StarTable:
        deps: set[Key] = {(module, "*")}
        outside: list[str] = []
        stars: list[str] = []
        always: list[int] = []
        public: list[int] = []
        named: dict[str, list[int]] = {}
        read: list[tuple[str, list[ModuleData] | None]] = [(module, datas)]
        for data in datas:
            for star in data.stars:
                deps.add((star, ""))
                found = index.by_module.get(star)
                read.append((star, found))
                exporters = found or []
                if not exporters:
                    outside.append(star)
                    continue
                deps.add((star, "*"))
                position = len(stars)
                stars.append(star)
                if any(d.all_names is not None and d.all_dynamic for d in exporters):
                    always.append(position)
                    continue
                if any(d.all_names is None for d in exporters):
                    public.append(position)
                for name in {n for d in exporters for n in d.all_names or ()}:
                    named.setdefault(name, []).append(position)
        return cls(
            frozenset(deps),
            tuple(outside),
            tuple(stars),
            tuple(always),
            tuple(public),
            {name: tuple(positions) for name, positions in named.items()},
            tuple(read),
        )

    def exporting(self, name: str) -> list[str]:
        """The star-imported modules of the tree that may export ``name``, in import order
        (what ``ModuleData.exports`` says of any of each one's files: not False)."""
        positions = set(self.named.get(name, ()))
        positions.update(self.always)
        if not name.startswith("_"):
            positions.update(self.public)
        if not positions:
            return []
        return [self.stars[p] for p in sorted(positions)]
