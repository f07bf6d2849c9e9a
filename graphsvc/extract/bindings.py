"""Assignments and other name bindings; class attributes; module and class variables; __all__."""

from __future__ import annotations

import re

from tree_sitter import Node

from graphsvc.extract.context import FileContext
from graphsvc.extract.scopes import UNKNOWN_BINDING, Binding, Scope, lookup
from graphsvc.facts import Attribute, AttributeWrite, Symbol
from graphsvc.parsing import (
    F_ATTRIBUTE,
    F_LEFT,
    F_OBJECT,
    F_RIGHT,
    F_TYPE,
    compact,
    end,
    start,
    string_value,
    text,
)

_CONSTANT = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_PATTERNS = frozenset(
    {"pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "parenthesized_expression"}
)
_LITERALS = frozenset(
    {
        "string",
        "concatenated_string",
        "integer",
        "float",
        "true",
        "false",
        "list",
        "dictionary",
        "set",
        "tuple",
    }
)


def _value_binding(value: Node | None, scope: Scope, ctx: FileContext) -> Binding:
    if value is None:
        return UNKNOWN_BINDING
    kind = value.type
    if kind == "await" and value.named_child_count == 1:  # x = await make(): what it returns
        inner = value.named_children[0]
        if inner.type == "call":
            kind, value = "call", inner
    if kind == "call":
        return Binding("call", node=value, scope=scope)
    if kind in ("identifier", "attribute"):
        return Binding("alias", node=value, scope=scope)
    if kind == "lambda":
        return Binding("def", ctx.qualnames.get(value.id))
    return UNKNOWN_BINDING


def _value_kind(value: Node | None) -> str:
    if value is None:
        return "absent"
    kind = value.type
    if kind == "none":
        return "none"
    if kind == "call":
        return "call"
    if kind in ("identifier", "attribute"):
        return "name"
    if kind == "lambda":
        return "lambda"
    return "literal" if kind in _LITERALS else "other"


def _rightmost(right: Node | None) -> Node | None:
    """The value of a (possibly chained: ``a = b = v``) assignment, from its right side."""
    value = right
    while value is not None and value.type in ("assignment", "augmented_assignment"):
        value = value.child_by_field_id(F_RIGHT)
    return value


def bind_globals(ctx: FileContext, nodes: list[Node]) -> None:
    """``global x`` / ``nonlocal x`` markers, needed before any assignment is bound."""
    for node in nodes:
        scope = ctx.index.at(node.start_byte)
        kind = "global" if node.type == "global_statement" else "nonlocal"
        for ident in node.named_children:
            if ident.type == "identifier":
                scope.declared[text(ident)] = kind
                scope.bind(text(ident), Binding(kind))  # type: ignore[arg-type]


def bind_targets(ctx: FileContext, nodes: list[Node]) -> None:
    """Loop, with/except-as, walrus and comprehension targets: local names of unknown value."""
    for node in nodes:
        scope = ctx.index.at(node.start_byte)
        for ident in _identifiers(node):
            bind_name(ctx, scope, text(ident), UNKNOWN_BINDING)


def _identifiers(node: Node) -> list[Node]:
    if node.type == "identifier":
        return [node]
    found: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        for child in current.named_children:
            if child.type == "identifier":
                found.append(child)
            elif child.type in _PATTERNS or child.type in (
                "list_splat_pattern",
                "as_pattern_target",
            ):
                stack.append(child)
    return found


def bind_name(ctx: FileContext, scope: Scope, name: str, binding: Binding) -> None:
    declared = scope.declared.get(name)
    if declared == "global":
        ctx.index.module.bind(name, binding)
    elif declared == "nonlocal":  # bound once every outer binding is known: see bind_nonlocals
        ctx.nonlocals.append((scope, name, binding))
    else:
        scope.bind(name, binding)


def bind_nonlocals(ctx: FileContext) -> None:
    """Rebind ``nonlocal`` names in the enclosing function (its own binding may come later in
    the source than the inner function that rebinds it)."""
    for scope, name, binding in ctx.nonlocals:
        _enclosing_binder(scope, name).bind(name, binding)
    ctx.nonlocals.clear()


def _enclosing_binder(scope: Scope, name: str) -> Scope:
    """The enclosing function scope a ``nonlocal`` name lives in (the nearest that binds it)."""
    current = scope.parent
    while current is not None and current.kind != "module":
        if current.kind != "class" and name in current.names:
            return current
        current = current.parent
    return scope


def extract_assignments(ctx: FileContext, nodes: list[Node]) -> None:
    """Bind assigned names; record class attributes, module/class variables and ``__all__``."""
    at = ctx.index.at
    for node in nodes:
        scope = at(node.start_byte)
        left = node.child_by_field_id(F_LEFT)
        if left is None:
            continue
        augmented = node.type == "augmented_assignment"
        right = node.child_by_field_id(F_RIGHT)
        value = _rightmost(right)
        target = left.type
        annotation = node.child_by_field_id(F_TYPE) if not augmented else None
        if target == "identifier":
            _assign_name(ctx, scope, node, left, right is not None, value, augmented, annotation)
        elif target == "attribute":
            _self_attribute(ctx, scope, left, None if augmented else value, augmented, annotation)
        elif target in _PATTERNS:
            for ident in _identifiers(left):
                bind_name(ctx, scope, text(ident), UNKNOWN_BINDING)
                if scope.kind in ("module", "class"):
                    _variable(ctx, scope, text(ident), ident, node)
            for child in left.named_children:
                if child.type == "attribute":
                    _self_attribute(ctx, scope, child, None, True)


def _assign_name(
    ctx: FileContext,
    scope: Scope,
    node: Node,
    left: Node,
    has_value: bool,
    value: Node | None,
    augmented: bool,
    annotation: Node | None = None,
) -> None:
    name = text(left)
    if name == "__all__" and scope.kind == "module":
        record_all(ctx, node.start_byte, "extend" if augmented else "assign", value)
    if has_value:
        binding = UNKNOWN_BINDING if augmented else _value_binding(value, scope, ctx)
        if annotation is not None and scope.kind == "function":  # x: Model = make()
            binding = Binding("annotation", node=annotation, scope=scope, fallback=binding)
        bind_name(ctx, scope, name, binding)
        if binding.kind == "alias":  # the value is a name or a.b.c
            ctx.aliases.append((value, scope, name))  # type: ignore[arg-type]
    if scope.kind not in ("module", "class") and scope.declared.get(name) == "global":
        # `global x` then `x = ...` in a function defines the module's x
        _variable(ctx, ctx.index.module, name, left, node)
    if scope.kind in ("module", "class") and not augmented:
        _variable(ctx, scope, name, left, node)
        if scope.kind == "class":  # a field: `flags: Flags` (NamedTuple, dataclass) types it
            kept = value if has_value else None
            _attribute(ctx, scope, name, left, scope, "class", kept, annotation=annotation)


def _variable(ctx: FileContext, scope: Scope, name: str, target: Node, stmt: Node) -> None:
    qualname = f"{scope.qualname}.{name}"
    if qualname in ctx.variables:
        return
    ctx.variables.add(qualname)
    line, col = start(target)
    end_line, end_col = end(stmt)
    ctx.symbols.append(
        Symbol(
            qualname=qualname,
            name=name,
            kind="constant" if _CONSTANT.match(name) else "variable",
            parent=scope.qualname,
            line=line,
            col=col,
            end_line=end_line,
            end_col=end_col,
        )
    )


def _self_attribute(
    ctx: FileContext,
    scope: Scope,
    target: Node,
    value: Node | None,
    augmented: bool,
    annotation: Node | None = None,
) -> None:
    obj = target.child_by_field_id(F_OBJECT)
    attr = target.child_by_field_id(F_ATTRIBUTE)
    if obj is None or attr is None:
        return
    bindings = lookup(scope, text(obj)) if obj.type == "identifier" else None
    if not bindings or len(bindings) != 1 or bindings[0].kind != "self":
        line, col = start(target)
        written = compact(text(value)) if value is not None and not augmented else ""
        ctx.attribute_writes.append(
            AttributeWrite(line, col, scope.qualname, compact(text(obj)), text(attr), written)
        )
        return
    cls = bindings[0].scope
    assert cls is not None
    via = bindings[0].receiver or "self"
    _attribute(
        ctx, cls, text(attr), target, scope, via, value, other=augmented, annotation=annotation
    )


def _attribute(
    ctx: FileContext,
    cls: Scope,
    name: str,
    target: Node,
    scope: Scope,
    via: str,
    value: Node | None,
    *,
    other: bool = False,
    annotation: Node | None = None,
) -> None:
    line, col = start(target)
    kind = "other" if other else _value_kind(value)
    row = Attribute(
        class_qualname=cls.qualname,
        name=name,
        line=line,
        col=col,
        scope=scope.qualname,
        via=via,  # type: ignore[arg-type]
        value=compact(text(value)) if value is not None else "",
        value_kind=kind,  # type: ignore[arg-type]
        value_candidate=None,
        candidate_kind=None,
    )
    ctx.pending_attributes.append((row, value, scope))
    if annotation is not None:  # self.bus: Bus = bus: the declared class, else the value
        fallback = _value_binding(value, scope, ctx) if value is not None else None
        binding = Binding("annotation", node=annotation, scope=scope, fallback=fallback)
        ctx.resolver.attrs.setdefault(cls.qualname, {}).setdefault(name, []).append(binding)
    elif value is not None and not other:
        binding = _value_binding(value, scope, ctx)
        ctx.resolver.attrs.setdefault(cls.qualname, {}).setdefault(name, []).append(binding)
    elif value is not None or other:
        ctx.resolver.attrs.setdefault(cls.qualname, {}).setdefault(name, []).append(UNKNOWN_BINDING)


def record_all(ctx: FileContext, at: int, op: str, value: Node | None) -> None:
    """Note one change to the module's ``__all__`` (replayed in source order at the end)."""
    ctx.all_events.append((at, op, value))


def replay_all(ctx: FileContext) -> tuple[tuple[str, ...] | None, bool]:
    """``__all__`` as its changes build it, in source order: (names, built from non-literals).

    ``assign`` replaces it; ``extend`` (also ``+=``) and ``append`` add to it; any other change
    (``remove()``, a computed value) makes it dynamic, and the names a lower bound."""
    names: list[str] | None = None
    dynamic = False
    for _, op, value in sorted(ctx.all_events, key=lambda event: event[0]):
        if op == "assign":
            names, dynamic = [], False
        elif names is None:
            names = []
        if op == "append":
            elements = [value] if value is not None else []
        elif op in ("assign", "extend") and value is not None and value.type in ("list", "tuple"):
            elements = [e for e in value.named_children if e.type != "comment"]
        else:
            dynamic = True
            continue
        for element in elements:
            literal = string_value(element)
            if literal is None:
                dynamic = True
            else:
                names.append(literal)
        if not elements and op == "append":
            dynamic = True
    return (tuple(names) if names is not None else None), dynamic
