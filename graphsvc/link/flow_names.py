"""The name layer's answers as value-flow values, and flow values back as link values.

The solver (:mod:`graphsvc.link.flow`) works on small ``(kind, name)`` tuples; what a dotted
name, a module member or a class member is, and what kind of symbol a qualified name is, is
the name layer's (:class:`~graphsvc.link.names.Lookup`) to say. :class:`FlowNames` is the one
place where the two meet, so the solver never handles a :class:`~graphsvc.link.names.Value`
and the name layer never sees a flow value.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphsvc.link.flow_rows import Val
from graphsvc.link.index import top_name
from graphsvc.link.names import CALLABLE_SYMBOLS, Lookup, Value


class FlowNames:
    """The name layer, asked and answered in flow values."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    def resolved(self, values: Iterable[Value]) -> set[Val]:
        """Name-layer values as flow values (a variable's value is not followed across files)."""
        found: set[Val] = set()
        for value in values:
            if value.kind == "module":
                found.add(("mod", value.name))
            elif value.kind in ("external", "builtin"):
                found.add(("ext", value.name))
            elif value.kind == "symbol":
                if value.symbol_kind == "class":
                    found.add(("cls", value.name))
                elif value.symbol_kind in CALLABLE_SYMBOLS:
                    found.add(("fn", value.name))
        return found

    def resolve(self, dotted: str) -> set[Val]:
        """What the dotted name ``dotted`` is (an import's target)."""
        return self.resolved(self.lookup.resolve(dotted))

    def module_member(self, module: str, name: str) -> set[Val]:
        """What ``module.name`` is, when the name layer knows it."""
        members = self.lookup.module_member(module, name)
        return self.resolved(v for v in members if v.kind != "missing")

    def class_member(self, cls: str, name: str, instance: bool) -> set[Val]:
        """The definition of ``name`` along the MRO of ``cls``: a method read from an instance
        (or a classmethod) is bound."""
        found: set[Val] = set()
        members = self.lookup.remember(
            ("member", cls, name), lambda: self.lookup.class_member(cls, name)
        )
        for value in members:
            if value.kind == "symbol" and value.symbol_kind in CALLABLE_SYMBOLS:
                bound = instance and value.symbol_kind in ("method", "property")
                bound |= value.symbol_kind == "classmethod"
                found.add(("meth" if bound else "fn", value.name))
            elif value.kind != "missing":
                found |= self.resolved([value])
        return found

    def mro(self, cls: str) -> list[Value]:
        """The classes of ``cls``'s method resolution order, ``cls`` first."""
        return self.lookup.mro(cls, self.module_of(cls))

    def kind(self, qualname: str) -> str | None:
        """Symbol kind of a definition; an inner function (a decorator's wrapper) counts as a
        method when it is stored on a class, as Python binds it then."""
        module = self.module_of(qualname)
        for data in self.lookup.read(module, top_name(qualname, module)):
            kind = data.kinds.get(qualname)
            if kind is not None:
                return "method" if kind == "function" else kind
        return None

    def module_of(self, qualname: str) -> str:
        return self.lookup.remember(
            ("module_of", qualname), lambda: self.lookup.module_of(qualname) or ""
        )

    def to_value(self, val: Val) -> Value | None:
        """A flow value as a link value (None: an instance, a container, ... names no target)."""
        kind, name = val
        if kind in ("fn", "meth"):
            module = self.module_of(name)
            datas = self.lookup.read(module, top_name(name, module))
            symbol_kind = next((d.kinds[name] for d in datas if name in d.kinds), "function")
            return Value("symbol", name, symbol_kind, module)
        if kind == "cls":
            return Value("symbol", name, "class", self.module_of(name))
        if kind == "ext":
            if name.startswith("<builtin>."):
                return Value("builtin", name, None, None, "builtin")
            return self.lookup.outside(name)
        return None


def order(value: Value) -> str:
    """Sort key of link values (by name: the same order every run)."""
    return value.name
