"""Link rows of one file's sites: each import, call and reference resolved through the name
layer (:mod:`graphsvc.link.names`) and value flow (:mod:`graphsvc.link.flow`) to what it
points at, with a status and the strategy that found it."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from graphsvc.extract.resolve import BUILTIN_NAMES
from graphsvc.link.flow import FlowSolver
from graphsvc.link.index import DOTTED, ModuleData
from graphsvc.link.names import CALLABLE_SYMBOLS, Lookup, Value, missing
from graphsvc.link.wiring import self_attribute_reason

# Strategy name of each local candidate kind.
_STRATEGY = {
    "local": "lexical",
    "import": "import",
    "builtin": "builtin",
    "self": "self",
    "cls": "cls",
    "super": "super",
    "instance": "instance",
    "self_attr": "self_attr",
    "annotation": "annotation",
}
_UNRESOLVED_REASON = {
    "variable": "the callee is a parameter or local value and value flow found no value for it"
    " (arguments passed from other files are not followed)",
    "ambiguous": "the name is bound to different things in this file",
}
_EXPLICIT_SUPER = re.compile(r"^super\(\s*([A-Za-z_][\w.]*)\s*,")
# Decorators that return the function itself or something that calls it unchanged: a call of
# the decorated name still runs the definition.
TRANSPARENT_DECORATORS = frozenset(
    {
        "<builtin>.staticmethod",
        "<builtin>.classmethod",
        "<builtin>.property",
        "abc.abstractmethod",
        "abc.abstractproperty",
        "abc.abstractclassmethod",
        "abc.abstractstaticmethod",
        "atexit.register",
        "contextlib.contextmanager",
        "contextlib.asynccontextmanager",
        "dataclasses.dataclass",
        "enum.unique",
        "functools.cache",
        "functools.cached_property",
        "functools.lru_cache",
        "functools.singledispatch",
        "functools.singledispatchmethod",
        "functools.total_ordering",
        "functools.wraps",
        "typing.final",
        "typing.no_type_check",
        "typing.overload",
        "typing.override",
        "typing.runtime_checkable",
        "typing_extensions.final",
        "typing_extensions.override",
    }
)
LINK_COLUMNS: dict[str, pa.DataType] = {
    "file_id": pa.int32(),
    "site": pa.string(),
    "line": pa.int32(),
    "col": pa.int32(),
    "scope": pa.string(),
    "expression": pa.string(),
    "kind": pa.string(),
    "target": pa.string(),
    "target_kind": pa.string(),
    "target_module": pa.string(),
    "named": pa.string(),
    "status": pa.string(),
    "strategy": pa.string(),
    "reason": pa.string(),
    "origin": pa.string(),
    "distribution": pa.string(),
}


@dataclass(slots=True)
class LinkRows:
    """Link rows, appended as tuples in ``LINK_COLUMNS`` order and turned into Arrow at the end."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    deps: list[tuple[int, str, str]] = field(default_factory=list)  # (file_id, module, name)
    inputs: list[tuple[int, int, int]] = field(default_factory=list)  # channel_inputs rows
    files: list[int] = field(default_factory=list)  # the files linked, in order

    def add(
        self,
        site: tuple[Any, ...],
        value: Value | None,
        status: str,
        strategy: str,
        reason: str | None = None,
    ) -> None:
        if value is None or value.kind == "missing":
            target: tuple[Any, ...] = (None, None, None, None)
            outside: tuple[Any, ...] = (None, None)
        else:
            target = (value.name, value.symbol_kind or value.kind, value.module, value.named)
            outside = (value.origin, value.distribution)
        self.rows.append((*site, *target, status, strategy, reason, *outside))

    def tables(
        self,
        without_deps: Collection[int] = (),
        without_inputs: Collection[int] = (),
        without_links: Collection[int] = (),
    ) -> tuple[pa.Table, pa.Table, pa.Table]:
        """The links, link_deps and channel_inputs rows, but the link_deps rows of the files
        ``without_deps``, the channel_inputs rows of ``without_inputs`` and the links rows of
        ``without_links``."""
        link_rows = (
            [r for r in self.rows if r[0] not in without_links] if without_links else self.rows
        )
        columns = list(zip(*link_rows, strict=True)) or [() for _ in LINK_COLUMNS]
        links = pa.table(
            {k: pa.array(v, t) for (k, t), v in zip(LINK_COLUMNS.items(), columns, strict=True)}
        )
        dep_rows = [d for d in self.deps if d[0] not in without_deps] if without_deps else self.deps
        deps = pa.table(
            {
                "file_id": pa.array([d[0] for d in dep_rows], pa.int32()),
                "module": pa.array([d[1] for d in dep_rows], pa.string()),
                "name": pa.array([d[2] for d in dep_rows], pa.string()),
            }
        )
        input_rows = [i for i in self.inputs if i[0] not in without_inputs]
        inputs = pa.table(
            {
                "file_id": pa.array([i[0] for i in input_rows], pa.int32()),
                "digest": pa.array([i[1] for i in input_rows], pa.int64()),
                "facts": pa.array([i[2] for i in input_rows], pa.int64()),
            }
        )
        return links, deps, inputs


# ---------------------------------------------------------------------- imports


def link_import(lookup: Lookup, rows: LinkRows, row: tuple[Any, ...]) -> None:
    file_id, line, col, scope, kind, target, name, written = row
    expression = f"{written}:{name}" if kind in ("from", "star", "future") else written
    site = (file_id, "import", line, col, scope, expression, kind)
    if kind == "future":
        value = Value("external", "__future__", None, "__future__", "stdlib")
        rows.add(site, value, status="stdlib", strategy="import")
        return
    if target is None:
        reason = "relative import climbs above the top-level package"
        rows.add(site, None, status="unresolved", strategy="import", reason=reason)
        return
    if kind == "from" and lookup.is_module(target):
        values = lookup.module_member(target, name) or [missing(f"{target} defines no {name}")]
        _import_rows(lookup, rows, site, values, target)
        return
    if lookup.is_module(target):
        value = Value("module", target, "module", target)
        _import_rows(lookup, rows, site, [value], target)
        return
    top = target.split(".", 1)[0]
    if lookup.is_module(top):
        reason = f"no module {target} in the tree (package {top} is)"
        rows.add(site, None, status="unresolved", strategy="import", reason=reason)
        return
    dotted = f"{target}.{name}" if kind == "from" else target
    value = lookup.outside(dotted)
    _import_rows(lookup, rows, site, [value], target)


def _import_rows(
    lookup: Lookup, rows: LinkRows, site: tuple[Any, ...], values: list[Value], module: str
) -> None:
    found = [v for v in values if v.kind != "missing"]
    if not found:
        reason = "; ".join(v.name for v in values)
        rows.add(site, None, status="unresolved", strategy="import", reason=reason)
        return
    owners = lookup.modules(module)
    reason = None
    if len(owners) > 1:
        reason = f"{len(owners)} files define module {module}: " + ", ".join(d.path for d in owners)
    elif len(found) > 1:
        reason = f"{len(found)} possible targets"
    elif owners and module.split(".", 1)[0] in lookup.env.stdlib:
        reason = f"shadows the standard library module {module.split('.', 1)[0]}"
    ambiguous = len(found) > 1 or len(owners) > 1
    for value in found:
        if ambiguous:
            status = "ambiguous"
        elif value.kind == "external":
            status = value.origin or "external"
        else:
            status = "internal"
        strategy = "+".join(("import", *value.steps))
        rows.add(site, value, status=status, strategy=strategy, reason=reason)


# ---------------------------------------------------------------------- calls and references


def link_use(
    lookup: Lookup,
    solver: FlowSolver,
    rows: LinkRows,
    site_kind: str,
    row: tuple[Any, ...],
    data: ModuleData | None,
) -> None:
    file_id, line, col, scope, expression = row[:5]
    kind = row[7] if site_kind == "reference" else "call"
    site = (file_id, site_kind, line, col, scope, expression, kind)
    module = data.name if data is not None else ""
    values, strategy, union = _candidates(lookup, row, module, data)
    uncertain = None
    several = False
    if site_kind == "call":
        values, uncertain = lookup.remember(("call", tuple(values)), lambda: _call(lookup, values))
        if uncertain or not any(v.kind != "missing" for v in values) or _not_callable(values):
            flowed, certain = solver.callees(file_id, (line, col, expression), scope)
            if flowed:
                values = [_called(lookup, v) for v in flowed]
                strategy, uncertain, several = "flow", None, certain
        values = _self_attribute(lookup, row, module, values)
    if union is not None and uncertain is None and strategy == "annotation":
        uncertain = union
    _use_rows(rows, site, values, strategy or "super", site_kind, uncertain, several)
    if kind == "decorator":  # @factory(...) then calls what the factory returned
        for value in solver.results(file_id, (line, col, expression)):
            rows.add(site, value, status="resolved", strategy="flow+decorator")


def _candidates(
    lookup: Lookup, row: tuple[Any, ...], module: str, data: ModuleData | None
) -> tuple[list[Value], str | None, str | None]:
    """What a site's local candidate names: (values, strategy, why the values are a union's
    alternatives, for an annotation such as ``A | B`` whose classes both define the name)."""
    _, line, _, scope, expression, candidate, candidate_kind = row[:7]
    strategy = _STRATEGY.get(candidate_kind)
    if candidate_kind == "super":
        return _super(lookup, scope, module, expression, data), strategy, None
    if candidate_kind == "unknown" and DOTTED.match(expression) and module:
        return _unbound(lookup, module, expression), "lexical", None
    if strategy is None or candidate is None:
        reason = _UNRESOLVED_REASON.get(candidate_kind) or (
            f"{expression} is defined nowhere"
            if expression.isidentifier()
            else "the callee is not a name chain (a call result, subscript or literal)"
        )
        return [missing(reason)], "none", None
    if candidate_kind in ("self", "cls"):
        return _self_call(lookup, candidate), strategy, None
    if candidate_kind == "annotation":
        values = _annotated(lookup, candidate)
        union = None
        if len({v.name for v in values if v.kind != "missing"}) > 1 and "|" in candidate:
            union = f"annotated with a union of classes: {candidate.replace('|', ', ')}"
        return values, strategy, union
    values = lookup.resolve(candidate)
    if candidate_kind == "local" and data is not None and data.star_lines:
        shadowed = _star_shadowed(lookup, data, candidate, line, scope)
        if shadowed is not None:
            return shadowed, "lexical", None
    return values, strategy, None


def _self_attribute(
    lookup: Lookup, row: tuple[Any, ...], module: str, values: list[Value]
) -> list[Value]:
    """An unresolved call through ``self.a``: say so when ``a`` is assigned nowhere (or only
    ever None) in every class ``self`` can be (graphsvc/link/wiring.py)."""
    _, _, _, scope, expression, candidate, candidate_kind = row[:7]
    if candidate_kind not in ("self", "self_attr") or any(v.kind != "missing" for v in values):
        return values
    why = self_attribute_reason(lookup, scope, module, expression, candidate_kind, candidate)
    return [missing(why)] if why is not None else values


def _not_callable(values: list[Value]) -> bool:
    """A variable or module named as a callee: its value is what runs."""
    return any(v.kind == "module" or v.symbol_kind == "variable" for v in values)


def _call(lookup: Lookup, values: list[Value]) -> tuple[list[Value], str | None]:
    """What calling ``values`` runs, and why that may be something else (a decorator)."""
    uncertain = next(filter(None, (_decorated(lookup, v) for v in values)), None)
    return [_called(lookup, v) for v in values], uncertain


def _star_shadowed(
    lookup: Lookup, data: ModuleData, candidate: str, line: int, scope: str
) -> list[Value] | None:
    """A module-level definition rebound by a later ``from x import *`` means x's name."""
    head, _, rest = candidate.removeprefix(data.name + ".").partition(".")
    if not candidate.startswith(data.name + "."):
        return None
    values = lookup.star_shadow(data, head, line if scope == data.name else None)
    if values is not None and rest:
        for part in rest.split("."):
            values = lookup.members(values, part)
    return values


def _decorated(lookup: Lookup, value: Value) -> str | None:
    """Why calling ``value`` may run something else: a decorator that can replace it."""
    for written, decorator in lookup.decorators(value):
        names = {d.name for d in decorator}
        last = written.split("(", 1)[0].rsplit(".", 1)[-1]
        if last in ("setter", "getter", "deleter") or (names and names <= TRANSPARENT_DECORATORS):
            continue
        return (
            f"{value.name} is decorated by @{written}; the call runs what the decorator"
            " returns, and value flow could not tell what that is"
        )
    return None


def _unbound(lookup: Lookup, module: str, expression: str) -> list[Value]:
    """A name bound nowhere in its file: a star import may bind it, else it is a builtin."""
    head, *rest = expression.split(".")
    values = [v for v in lookup.module_member(module, head) if v.kind != "missing"]
    if not values and head in BUILTIN_NAMES:
        values = [Value("builtin", f"<builtin>.{head}", None, None, "builtin")]
    if not values:
        return [missing(f"{head} is defined nowhere (not even by the star imports of {module})")]
    for part in rest:
        values = lookup.members(values, part)
    return values


def _self_call(lookup: Lookup, candidate: str) -> list[Value]:
    """``self.m`` / ``cls.m`` in class C (candidate ``C.m``): C's m or a subclass's."""
    owner, _, name = candidate.rpartition(".")
    classes = [v for v in lookup.resolve(owner) if v.symbol_kind == "class"]
    if len(classes) != 1:
        return lookup.resolve(candidate)
    return lookup.dispatch(classes[0].name, name)


def _annotated(lookup: Lookup, candidate: str) -> list[Value]:
    """``x.m`` where ``x`` is annotated with class C (candidate ``C.m``; ``A.m|B.m`` for a
    union): C's m, or a subclass's override (the value may be an instance of a subclass),
    as for ``self``; for a union, what each class gives."""
    found: list[Value] = []
    for one in candidate.split("|"):
        owner = one.rsplit(".", 1)[0]
        if "." in one and not any(
            v.symbol_kind == "class" or v.kind in ("external", "builtin")
            for v in lookup.resolve(owner)
        ):
            # a type alias (ParseFloat = Callable[...]) or a class attribute: not an instance
            found.append(
                missing(
                    f"{owner} is not a class (a type alias, or an attribute of a class in"
                    " another file, whose type is not followed)"
                )
            )
            continue
        for value in _self_call(lookup, one):
            if value not in found:
                found.append(value)
    return [v for v in found if v.kind != "missing"] or found


def _super(
    lookup: Lookup, scope: str, module: str, expression: str, data: ModuleData | None
) -> list[Value]:
    """``super().name`` inside a method of class C: ``name`` after C in C's MRO.

    ``super(B, self).name`` starts after B in the MRO of the enclosing class.
    """
    cls = lookup.enclosing_class(scope, module)
    name = expression.rsplit(".", 1)[-1]
    if cls is None:
        return [missing("super() outside a method of a class")]
    after = cls
    explicit = _EXPLICIT_SUPER.match(expression)
    if explicit is not None and data is not None:
        named = [v for v in lookup.evaluate(data, scope, explicit.group(1)) if v.kind == "symbol"]
        if not named:
            return [missing(f"super({explicit.group(1)}, ...): the class is not defined")]
        after = named[0].name
    return lookup.dispatch(cls, name, after=after)


def _called(lookup: Lookup, value: Value) -> Value:
    """What calling ``value`` runs: a class runs its ``__init__`` (found along the MRO)."""
    if value.kind != "symbol" or value.symbol_kind != "class":
        return value
    for init in lookup.class_member(value.name, "__init__"):
        if init.kind == "symbol":
            steps = (*value.steps, *init.steps, "constructor")
            return Value(
                "symbol", init.name, init.symbol_kind, init.module, steps=steps, named=value.name
            )
    return Value(
        "symbol", value.name, "class", value.module, None, None, (*value.steps, "constructor")
    )


def _use_rows(
    rows: LinkRows,
    site: tuple[Any, ...],
    values: list[Value],
    strategy: str,
    site_kind: str,
    uncertain: str | None = None,
    several: bool = False,
) -> None:
    """Rows for a site's values: one is resolved; several are ambiguous unless ``several``
    (value flow proved each of them reaches the site)."""
    found = [v for v in values if v.kind != "missing"]
    if not found:
        reason = "; ".join(v.name for v in values) or "defined nowhere (import cycle)"
        rows.add(site, None, status="unresolved", strategy=strategy, reason=reason)
        return
    if (len(found) > 1 and not several) or uncertain:
        names = ", ".join(v.name for v in found)
        reason = uncertain or f"{len(found)} possible targets: {names}"
        for value in found:
            step = _strategy(strategy, value)
            rows.add(site, value, status="ambiguous", strategy=step, reason=reason)
        return
    if len(found) > 1:
        for value in found:
            status, reason = _status(value, site_kind)
            target = value if status != "unresolved" else None
            rows.add(
                site, target, status=status, strategy=_strategy(strategy, value), reason=reason
            )
        return
    value = found[0]
    status, reason = _status(value, site_kind)
    if status == "unresolved":
        rows.add(site, None, status=status, strategy=_strategy(strategy, value), reason=reason)
        return
    rows.add(site, value, status=status, strategy=_strategy(strategy, value), reason=reason)


def _status(value: Value, site_kind: str) -> tuple[str, str | None]:
    if value.kind == "builtin":
        return "builtin", None
    if value.kind == "external":
        return "external", None
    if site_kind == "call" and value.kind == "module":
        return "unresolved", f"calls module {value.name}, which is not callable"
    if (
        site_kind == "call"
        and value.symbol_kind not in CALLABLE_SYMBOLS
        and value.symbol_kind != "class"
    ):
        return "unresolved", (
            f"calls {value.symbol_kind} {value.name}, and value flow found no value for it"
        )
    return "resolved", None


def _strategy(base: str, value: Value) -> str:
    return "+".join((base, *value.steps))
