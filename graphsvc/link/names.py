"""The name layer: what a dotted name means across the tree.

Over the resident :class:`~graphsvc.link.index.NameIndex`, :class:`Lookup` walks dotted
names through modules (following
imports, re-exports, star imports with ``__all__``, submodules), classes (C3 MRO over bases
resolved the same way) and nested definitions, and records every module name it consults, so
the linker knows whose change invalidates what it concluded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from graphsvc.extract.resolve import BUILTIN_NAMES
from graphsvc.link.consulted import Consulting
from graphsvc.link.environment import Environment
from graphsvc.link.index import (
    DOTTED,
    SUBCLASSES,
    SUBSCRIPT,
    Binding,
    ModuleData,
    NameIndex,
    top_name,
)
from graphsvc.link.stars import StarTable

ValueKind = Literal["module", "symbol", "external", "builtin", "missing"]
# Symbol kinds a call runs (a class is called too, but runs its __init__).
CALLABLE_SYMBOLS = frozenset(
    {"function", "method", "staticmethod", "classmethod", "property", "lambda"}
)
_OBJECT_ATTRS = frozenset(dir(object))
# Names every module has without defining them.
MODULE_ATTRS = frozenset(
    {
        "__name__",
        "__doc__",
        "__file__",
        "__path__",
        "__package__",
        "__spec__",
        "__loader__",
        "__dict__",
        "__builtins__",
        "__cached__",
        "__annotations__",
    }
)
_MAX_DEPTH = 64  # re-export chains and MROs deeper than this are treated as cycles


@dataclass(frozen=True, slots=True)
class Value:
    """What a name evaluates to, as far as the static picture goes."""

    kind: ValueKind
    name: str  # qualname, module name, outside dotted name, <builtin>.x; the reason if missing
    symbol_kind: str | None = None  # for symbols: function, class, method, variable, ...
    module: str | None = None  # module holding the target (internal) or top-level (outside)
    origin: str | None = None  # stdlib | external | builtin for outside values
    distribution: str | None = None
    steps: tuple[str, ...] = ()  # how it was reached beyond the first lookup: reexport, mro, star
    named: str | None = None  # the class a constructor call names, when this is its __init__


def missing(reason: str) -> Value:
    return Value("missing", reason)


class Lookup(Consulting):
    """Resolves dotted names against a :class:`NameIndex` and an :class:`Environment`.

    ``deps`` collects the module names consulted since it was last reset; memoised answers
    replay the names they consulted, so caching never hides a dependency
    (:class:`~graphsvc.link.consulted.Consulting`).
    """

    def __init__(self, index: NameIndex, env: Environment) -> None:
        super().__init__()
        self.index = index
        self.env = env
        self._stars: dict[str, StarTable] = {}  # module -> its star imports (this run's index)

    def forget(self) -> None:
        """Drop every memoised answer (they are recomputed on demand, with the same names
        consulted): bounds memory over a long run."""
        super().forget()
        self._stars.clear()

    # ------------------------------------------------------------------ modules

    def modules(self, name: str) -> list[ModuleData]:
        self.deps.add((name, ""))
        return self.index.by_module.get(name, [])

    def read(self, module: str, name: str) -> list[ModuleData]:
        """The files defining ``module``, to read what they bind to top-level ``name``."""
        self.deps.add((module, name))
        return self.modules(module)

    def is_module(self, name: str) -> bool:
        return bool(self.modules(name))

    def outside(self, dotted: str, steps: tuple[str, ...] = ()) -> Value:
        """A name outside the tree: standard library, installed, or importable from nowhere."""
        top = dotted.split(".", 1)[0]
        origin = self.env.origin(top)
        if origin is None:
            return missing(
                f"{top} is neither a module of the tree nor importable by {self.env.executable}"
            )
        return Value("external", dotted, None, top, origin, self.env.distribution(top), steps)

    def resolve(self, dotted: str) -> list[Value]:
        """Everything ``dotted`` (an absolute dotted name) may denote."""
        if dotted.startswith("<builtin>."):
            return [Value("builtin", dotted, None, None, "builtin")]
        return self._remember(self._memo, dotted, lambda: self._resolve(dotted))

    def _resolve(self, dotted: str) -> list[Value]:
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            module = ".".join(parts[:i])
            if self.is_module(module):
                values = [Value("module", module, "module", module)]
                for part in parts[i:]:
                    values = self.members(values, part)
                return values
        return [self.outside(dotted)]

    def members(self, values: list[Value], name: str) -> list[Value]:
        return _known([m for value in values for m in self.member(value, name)])

    def member(self, value: Value, name: str) -> list[Value]:
        """``value.name``."""
        if value.kind == "module":
            return self.module_member(value.name, name)
        if value.kind == "external":
            return [self.outside(f"{value.name}.{name}", value.steps)]
        if value.kind == "builtin":
            return [Value("builtin", f"{value.name}.{name}", None, None, "builtin", None)]
        if value.kind == "missing":
            return [value]
        if value.symbol_kind == "class":
            return self.class_member(value.name, name)
        data = self._owner(value)
        nested = data.children.get(value.name, {}).get(name, ()) if data is not None else ()
        if nested:
            return [self._symbol(data, q, value.steps) for q in nested]  # type: ignore[arg-type]
        return [
            missing(f"{value.name} is a {value.symbol_kind}: no attribute {name} is defined on it")
        ]

    def _owner(self, value: Value) -> ModuleData | None:
        module = value.module or ""
        for data in self.read(module, top_name(value.name, module)):
            if value.name in data.kinds:
                return data
        return None

    def _symbol(self, data: ModuleData, qualname: str, steps: tuple[str, ...] = ()) -> Value:
        return Value("symbol", qualname, data.kinds.get(qualname), data.name, None, None, steps)

    def module_member(self, module: str, name: str, depth: int = 0) -> list[Value]:
        """``module.name``: a definition, an imported name, a submodule, or a star import."""
        return self._remember(
            self._memo, (module, name), lambda: self._module_member(module, name, depth)
        )

    def _module_member(self, module: str, name: str, depth: int) -> list[Value]:
        if depth > _MAX_DEPTH:
            return [missing(f"re-export chain through {module}.{name} is too deep")]
        datas = self.read(module, name)
        found: list[Value] = []
        for data in datas:
            for qualname in data.children.get(module, {}).get(name, ()):
                found.append(self._symbol(data, qualname))
            for binding in data.bindings.get(name, []):
                found.extend(self._imported(binding, depth))
        if not found and self.is_module(f"{module}.{name}"):
            found.append(Value("module", f"{module}.{name}", "module", f"{module}.{name}"))
        if not [v for v in found if v.kind != "missing"]:
            found += self._via_stars(datas, module, name, depth)
        if datas and not [v for v in found if v.kind != "missing"]:
            found = self._implicit(datas, module, name) or found
        return _known(found)

    def _implicit(self, datas: list[ModuleData], module: str, name: str) -> list[Value]:
        """Module attributes nobody defines (``__doc__``) and a module-level ``__getattr__``."""
        if name in MODULE_ATTRS:
            return [Value("symbol", f"{module}.{name}", "variable", module)]
        self.deps.add((module, "__getattr__"))
        hook = f"{module}.__getattr__"
        return [
            self._symbol(data, hook, ("module_getattr",))
            for data in datas
            if hook in data.children.get(module, {}).get("__getattr__", ())
        ]

    def _imported(self, binding: Binding, depth: int) -> list[Value]:
        if binding.target is None:
            return [missing("relative import climbs above the top-level package")]
        if binding.kind == "import":
            bound = binding.target if binding.alias else binding.target.split(".", 1)[0]
            if self.is_module(bound):
                return [Value("module", bound, "module", bound, steps=("reexport",))]
            return [self.outside(bound, ("reexport",))]
        assert binding.name is not None
        if self.is_module(binding.target):
            values = self.module_member(binding.target, binding.name, depth + 1)
            return [_step(v, "reexport") for v in values]
        return [self.outside(f"{binding.target}.{binding.name}", ("reexport",))]

    def _via_stars(
        self, datas: list[ModuleData], module: str, name: str, depth: int
    ) -> list[Value]:
        stars = self._stars.get(module)
        if stars is None:
            stars = self._stars[module] = StarTable.of(self.index, module, datas)
        self.deps.add(stars.deps)  # one element for them all (see consulted.Dep)
        found: list[Value] = []
        for star in stars.exporting(name):
            values = self.module_member(star, name, depth + 1)
            found.extend(_step(v, "star") for v in values if v.kind != "missing")
        if found:
            return found
        outside = stars.outside
        if outside:
            return [self.outside(f"{star}.{name}", ("star",)) for star in outside]
        dynamic = any(d.all_dynamic for d in datas)
        why = " (its __all__ is built dynamically)" if dynamic else ""
        return [missing(f"module {module} defines no name {name}{why}")]

    # ------------------------------------------------------------------ classes

    def mro(self, qualname: str, module: str) -> list[Value]:
        """C3 linearisation of an internal class; outside bases are opaque entries."""
        return self._remember(
            self._mro_memo, qualname, lambda: self._mro(qualname, module, frozenset())
        )

    def _mro(self, qualname: str, module: str, seen: frozenset[str]) -> list[Value]:
        top = top_name(qualname, module)
        data = next((d for d in self.read(module, top) if qualname in d.kinds), None)
        me = Value("symbol", qualname, "class", module)
        if data is None or qualname in seen or len(seen) > _MAX_DEPTH:
            return [me]
        parents: list[list[Value]] = []
        direct: list[Value] = []
        for written in data.bases.get(qualname, ()):
            base = self.base(data, qualname, written)
            if base is None:
                continue
            direct.append(base)
            if base.kind == "symbol" and base.symbol_kind == "class":
                parents.append(self._mro(base.name, base.module or "", seen | {qualname}))
            else:
                parents.append([base])
        return [me, *_c3([*parents, direct])]

    def base(self, data: ModuleData, cls: str, written: str) -> Value | None:
        """The value of a base class expression as written in ``class cls(...)``."""
        text = SUBSCRIPT.sub("", written.strip())
        if not DOTTED.match(text):
            return None  # metaclass=..., **kwargs, a call: not a base we can name
        values = self.evaluate(data, cls, text)
        if not values:
            return missing(f"base {written} of {cls} is not defined")
        return values[0]

    def evaluate(self, data: ModuleData, holder: str, dotted: str) -> list[Value]:
        """A dotted expression evaluated where ``holder`` is defined: the class body holding it
        (bases, decorators and defaults of a method see the class's names), then the module,
        then builtins."""
        head, *rest = dotted.split(".")
        self.deps.add((data.name, top_name(holder, data.name)))
        enclosing = data.parents.get(holder, data.name)
        values: list[Value] = []
        if enclosing != data.name and data.kinds.get(enclosing) == "class":
            values = [self._symbol(data, q) for q in data.children.get(enclosing, {}).get(head, ())]
        if not values:
            values = [v for v in self.module_member(data.name, head) if v.kind != "missing"]
        if not values and head in BUILTIN_NAMES:
            values = [Value("builtin", f"<builtin>.{head}", None, None, "builtin")]
        for part in rest:
            values = self.members(values, part)
        return [v for v in values if v.kind != "missing"]

    def decorators(self, value: Value) -> list[tuple[str, list[Value]]]:
        """The decorators of a definition, each as written with what it evaluates to."""
        data = self._owner(value) if value.kind == "symbol" else None
        if data is None:
            return []
        found = []
        for written in data.decorators.get(value.name, ()):
            callee = written.split("(", 1)[0].strip()
            values = self.evaluate(data, value.name, callee) if DOTTED.match(callee) else []
            found.append((written, values))
        return found

    def star_shadow(self, data: ModuleData, name: str, line: int | None) -> list[Value] | None:
        """What a star import binds to ``name`` when it comes after the module's own definition.

        ``line`` is the line of a module-level use (bindings after it do not count yet), or
        None for a use inside a function (it runs after the whole module did).
        """
        qualname = f"{data.name}.{name}"
        self.deps.update(((data.name, name), (data.name, "*")))
        defined = data.lines.get(qualname)
        if defined is None:
            return None
        for star, star_line in sorted(data.star_lines.items(), key=lambda kv: -kv[1]):
            if star_line < defined or (line is not None and star_line > line):
                continue
            if self.is_module(star):
                if any(d.exports(name) for d in self.read(star, "*")):
                    values = [v for v in self.module_member(star, name) if v.kind != "missing"]
                    if values:
                        return [_step(v, "star") for v in values]
            else:
                return None  # an outside module may or may not bind it: keep the definition
        return None

    def class_member(self, qualname: str, name: str, after: str | None = None) -> list[Value]:
        """``C.name`` through the MRO (``after``: start past that class, as ``super()`` does)."""
        return self._remember(
            self._derived,
            ("class_member", qualname, name, after),
            lambda: self._class_member(qualname, name, after),
        )

    def _class_member(self, qualname: str, name: str, after: str | None) -> list[Value]:
        module = self.module_of(qualname)
        order = self.mro(qualname, module) if module is not None else []
        if after is not None:
            names = [v.name for v in order]
            order = order[names.index(after) + 1 :] if after in names else []
        for entry in order:
            if entry.kind == "symbol":
                data = self._owner(entry)
                hits = data.children.get(entry.name, {}).get(name, ()) if data else ()
                if hits:
                    steps = ("mro",) if entry.name != qualname else ()
                    return [self._symbol(data, q, steps) for q in hits]  # type: ignore[arg-type]
                if data is not None and name in data.attributes.get(entry.name, ()):
                    return [
                        missing(
                            f"{entry.name}.{name} is an attribute assigned at run time;"
                            " value flow found no value for it"
                        )
                    ]
            elif entry.kind == "missing":
                return [missing(f"{name} not found in {qualname}; {entry.name}")]
            elif entry.kind == "builtin" and entry.name == "<builtin>.object":
                break
            else:
                return [_step(self.member(entry, name)[0], "mro")]
        if name in _OBJECT_ATTRS:
            return [Value("builtin", f"<builtin>.object.{name}", None, None, "builtin", None)]
        return [missing(f"class {qualname} has no attribute {name}")]

    def subclasses(self, qualname: str) -> list[str]:
        """Classes of the tree that have ``qualname`` in their MRO (found through the base
        names they are written with), nearest first."""
        return self._remember(
            self._derived, ("subclasses", qualname), lambda: self._subclasses(qualname)
        )

    def _subclasses(self, qualname: str) -> list[str]:
        simple = qualname.rsplit(".", 1)[-1]
        self.deps.add((SUBCLASSES, simple))
        found: list[str] = []
        for data, cls in self.index.subclass_index.get(simple, []):
            if cls in found or cls == qualname:
                continue
            self.deps.add((data.name, top_name(cls, data.name)))
            if any(v.name == qualname for v in self.mro(cls, data.name)[1:]):
                found.append(cls)
                found += [c for c in self.subclasses(cls) if c not in found]
        return found

    def dispatch(self, qualname: str, name: str, after: str | None = None) -> list[Value]:
        """``self.name`` (or ``super().name`` with ``after``) in a method of class
        ``qualname``: what the lookup finds for the class itself and for every subclass
        (class hierarchy analysis). A class lacking the name cannot be the receiver.
        Memoised: every ``self.name(...)`` of a class asks it, for each of its subclasses."""
        return self._remember(
            self._derived,
            ("dispatch", qualname, name, after),
            lambda: self._dispatch(qualname, name, after),
        )

    def _dispatch(self, qualname: str, name: str, after: str | None) -> list[Value]:
        found: list[Value] = []
        for cls in (qualname, *self.subclasses(qualname)):
            for value in self.class_member(cls, name, after=after):
                if value.kind != "missing":
                    value = value if cls == qualname else _step(value, "subclass")
                    if all(v.name != value.name for v in found):
                        found.append(value)
        return found or self.class_member(qualname, name, after=after)

    def module_of(self, qualname: str) -> str | None:
        """The module of the tree that defines ``qualname``."""
        parts = qualname.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:i])
            if any(qualname in d.kinds for d in self.read(module, top_name(qualname, module))):
                return module
        return None

    def enclosing_class(self, scope: str, module: str) -> str | None:
        """The class whose method (or a function nested in it) is ``scope``."""
        top = top_name(scope, module)
        data = next((d for d in self.read(module, top) if scope in d.kinds), None)
        current: str | None = scope
        while data is not None and current is not None and current != module:
            parent = data.parents.get(current)
            if parent is not None and data.kinds.get(parent) == "class":
                return parent
            current = parent
        return None


def _known(values: list[Value]) -> list[Value]:
    """Distinct values; the missing ones only when nothing else was found."""
    found = [v for v in values if v.kind != "missing"] or values
    unique: list[Value] = []
    for value in found:
        if value not in unique:
            unique.append(value)
    return unique


def _step(value: Value, step: str) -> Value:
    if value.kind == "missing" or step in value.steps:
        return value
    return Value(
        value.kind,
        value.name,
        value.symbol_kind,
        value.module,
        value.origin,
        value.distribution,
        (*value.steps, step),
    )


def _c3(sequences: list[list[Value]]) -> list[Value]:
    """C3 merge; an inconsistent hierarchy falls back to depth-first order without repeats."""
    seqs = [list(s) for s in sequences if s]
    result: list[Value] = []
    while seqs:
        head = next((s[0] for s in seqs if not any(s[0] in t[1:] for t in seqs)), None)
        if head is None:
            for s in seqs:
                result.extend(v for v in s if v not in result)
            return result
        result.append(head)
        seqs = [[v for v in s if v != head] for s in seqs]
        seqs = [s for s in seqs if s]
    return result
