"""Call sites and non-call references, each with the local candidate this file can name."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from tree_sitter import Node

from graphsvc.extract.bindings import record_all
from graphsvc.extract.context import FileContext, call_arguments
from graphsvc.extract.scopes import Scope
from graphsvc.facts import CallSite, CandidateKind, Reference
from graphsvc.parsing import (
    F_FUNCTION,
    F_KEY,
    F_LEFT,
    F_OBJECT,
    F_SUBSCRIPT,
    LITERAL_KINDS,
    compact,
    field,
    literal,
    start,
    string_value,
    text,
)

_REFLECTION = {
    "<builtin>.getattr": "getattr",
    "<builtin>.hasattr": "hasattr",
    "<builtin>.setattr": "setattr",
}


_COMPREHENSIONS = frozenset(
    {"list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"}
)


def lookup_scope(ctx: FileContext, node: Node) -> Scope:
    """The scope whose names ``node`` sees. Inside a class body that is the class, except in a
    comprehension (but for its first iterable), which runs in a hidden function and sees the
    scope around the class, as Python does."""
    scope = ctx.index.at(node.start_byte)
    if scope.kind != "class" or scope.parent is None or scope.node is None:
        return scope
    first_iterable_of: Node | None = None
    child, parent = node, node.parent
    while parent is not None and parent.id != scope.node.id:
        if parent.type == "for_in_clause" and child == field(parent, "right"):
            first_iterable_of = parent
        elif parent.type in _COMPREHENSIONS:
            first = next((c for c in parent.named_children if c.type == "for_in_clause"), None)
            if first is None or first_iterable_of is None or first.id != first_iterable_of.id:
                return scope.parent
        child, parent = parent, parent.parent
    return scope


def _first_literal(node: Node) -> tuple[str | None, Literal["literal", "sequence"] | None]:
    """The literal value of a first argument and where it came from: the argument itself, or
    the first element of a list or tuple literal (an argv: ``["git", "status"]``)."""
    kind = node.type
    if kind in LITERAL_KINDS:
        value = literal(node)
        return value, "literal" if value is not None else None
    if kind in ("list", "tuple") and node.named_child_count:
        value = string_value(node.named_children[0])
        return value, "sequence" if value is not None else None
    return None, None


_FIRST_KINDS = LITERAL_KINDS | {"list", "tuple"}


def _arguments(
    ctx: FileContext, call: Node
) -> tuple[list[Node], tuple[str, ...], int, list[Node], tuple[str | None, Any]]:
    """(positional argument nodes, keyword names, argument count, every argument's value node,
    the first positional argument's literal value with where it came from)."""
    args, args_kind, found = call_arguments(ctx, call)
    if args is None:
        return [], (), 0, [], (None, None)
    if args_kind == "generator_expression":
        return [args], (), 1, [], (None, None)
    positional: list[Node] = []
    keywords: list[str] = []
    values: list[Node] = []
    first_literal: tuple[str | None, Any] = (None, None)
    for kind, child, name, value in found:
        if kind == "keyword_argument":
            keywords.append(text(name) if name is not None else "?")
            if value is not None:
                values.append(value)
        elif kind == "dictionary_splat":
            keywords.append("**")
        else:
            if not positional and kind in _FIRST_KINDS:  # the type is known here: ask no more
                first_literal = _first_literal(child)
            positional.append(child)
            values.append(child)
    return positional, tuple(keywords), len(positional) + len(keywords), values, first_literal


def extract_calls(ctx: FileContext, nodes: list[Node]) -> list[CallSite]:
    """A :class:`CallSite` per call; getattr-style calls with a literal also make references."""
    sites: list[CallSite] = []
    resolver = ctx.resolver
    at = ctx.index.at
    argument_callees = ctx.argument_callees
    for node in nodes:
        function = node.child_by_field_id(F_FUNCTION)
        if function is None:
            continue
        offset = node.start_byte
        caller = at(offset)
        scope = lookup_scope(ctx, node) if caller.kind == "class" else caller
        written = text(function)
        ctx.call_sites[node.id] = (function, written, caller, scope)
        candidate, kind = resolver.candidate(function, scope, written=written)
        positional, keywords, count, values, first_literal = _arguments(ctx, node)
        first = positional[0] if positional else None
        row, column = node.start_point
        callee = compact(written)
        ctx.callees[node.id] = callee
        for value in values:
            argument_callees[value.id] = callee
        sites.append(
            CallSite(
                row + 1,
                column + 1,
                caller.qualname,
                callee,
                candidate,
                kind,
                count,
                keywords,
                first_literal[0],
                first_literal[1],
            )
        )
        if candidate in _REFLECTION and len(positional) >= 2:
            _reflection(ctx, caller, scope, _REFLECTION[candidate], positional)
        elif caller.kind == "module" and callee.startswith("__all__."):
            op = {"__all__.extend": "extend", "__all__.append": "append"}.get(callee, "other")
            record_all(ctx, offset, op, first)
    return sites


def _reflection(
    ctx: FileContext, caller: Scope, scope: Scope, kind: str, positional: list[Node]
) -> None:
    name = string_value(positional[1])
    if name is None:
        return
    obj = positional[0]
    candidate, candidate_kind = ctx.resolver.candidate(obj, scope, member=name, callee=False)
    line, col = start(obj)
    ctx.references.append(
        Reference(
            line=line,
            col=col,
            scope=caller.qualname,
            kind=kind,  # type: ignore[arg-type]
            expression=compact(f"{text(obj)}.{name}"),
            candidate=candidate,
            candidate_kind=candidate_kind,
            context=name,
        )
    )


def _resolve(
    ctx: FileContext, node: Node, *, keep_unresolved: bool
) -> tuple[Scope, str | None, CandidateKind] | None:
    """(the scope ``node`` is in, its candidate) when it is worth a reference row, else None."""
    caller = ctx.index.at(node.start_byte)
    scope = lookup_scope(ctx, node) if caller.kind == "class" else caller
    written: str | None = None
    if not keep_unresolved:
        head: Node | None = node
        kind = node.type
        while kind == "attribute":
            head = head.child_by_field_id(F_OBJECT)  # type: ignore[union-attr]
            if head is None:
                break
            kind = head.type
        if kind == "identifier" and head is not None:
            name = text(head)
            local = scope.names.get(name)
            if local and all(b.kind == "unknown" for b in local):
                return None  # x or x.y.z of a parameter or plain local: names no code (kept cheap)
            if head is node:
                written = name
    candidate, candidate_kind = ctx.resolver.candidate(node, scope, callee=False, written=written)
    if not keep_unresolved and (candidate is None or candidate_kind == "builtin"):
        return None
    return caller, candidate, candidate_kind


def _add_reference(
    ctx: FileContext,
    node: Node,
    found: tuple[Scope, str | None, CandidateKind],
    kind: str,
    context: str | None,
) -> None:
    caller, candidate, candidate_kind = found
    row, column = node.start_point
    ctx.references.append(
        Reference(
            line=row + 1,
            col=column + 1,
            scope=caller.qualname,
            kind=kind,  # type: ignore[arg-type]
            expression=compact(text(node)),
            candidate=candidate,
            candidate_kind=candidate_kind,
            context=context,
        )
    )


def _reference(
    ctx: FileContext, node: Node, kind: str, context: str | None, *, keep_unresolved: bool
) -> None:
    found = _resolve(ctx, node, keep_unresolved=keep_unresolved)
    if found is not None:
        _add_reference(ctx, node, found, kind, context)


def _call_of(args: Node) -> Node | None:
    node: Node | None = args
    if node is not None and node.type == "keyword_argument":
        node = node.parent
    parent = node.parent if node is not None else None
    return parent if parent is not None and parent.type == "call" else None


def _argument_of(node: Node) -> tuple[bool, str | None]:
    """(whether ``node`` is an argument of a call, that call's callee as written), found by
    climbing the tree: for the arguments :func:`extract_calls` did not see."""
    parent = node.parent
    call = _call_of(parent) if parent is not None else None
    if call is None:
        return False, None
    function = call.child_by_field_id(F_FUNCTION)
    return True, compact(text(function)) if function is not None else None


_TARGET_PARENTS = frozenset({"assignment", "augmented_assignment", "delete_statement"})


def _subscripts(ctx: FileContext, subrefs: list[Node]) -> None:
    """Reads of an imported object by a string key (``os.environ["HOME"]``): a reference of
    kind subscript whose context is the key. Only objects named through an import are kept
    (subscripts of locals, parameters and the file's own names are too many to store), and
    stores or deletes (``os.environ["X"] = ...``) are not reads."""
    for node in subrefs:
        subscript = node.parent
        if subscript is None:
            continue
        key_node = subscript.child_by_field_id(F_SUBSCRIPT)
        key = string_value(key_node) if key_node is not None else None
        if key is None:
            continue
        holder = subscript.parent
        if holder is not None and holder.type in _TARGET_PARENTS:
            left = holder.child_by_field_id(F_LEFT)
            if holder.type == "delete_statement" or (left is not None and left.id == subscript.id):
                continue
        found = _resolve(ctx, node, keep_unresolved=False)
        if found is not None and found[2] == "import":
            _add_reference(ctx, node, found, "subscript", key)


def extract_references(
    ctx: FileContext,
    argrefs: list[Node],
    elemrefs: list[Node],
    decorators: list[Node],
    subrefs: list[Node] | None = None,
) -> None:
    """Callbacks passed as arguments, code stored in containers, decorators, name aliases,
    imported objects read by a string key."""
    callees = ctx.argument_callees
    for node in argrefs:
        context = callees.get(node.id)
        if context is None:  # a class base, or an argument list error recovery left callee-less
            is_argument, context = _argument_of(node)
            if not is_argument:  # class bases and other argument lists are not calls
                continue
        found = _resolve(ctx, node, keep_unresolved=False)
        if found is not None:
            _add_reference(ctx, node, found, "argument", context)
    for node in elemrefs:
        found = _resolve(ctx, node, keep_unresolved=False)
        if found is None:
            continue
        parent = node.parent  # only now: most elements name no code (Node.parent is costly)
        context = None
        if parent is not None and parent.type == "pair":
            key = parent.child_by_field_id(F_KEY)
            context = compact(text(key)) if key is not None else None
        _add_reference(ctx, node, found, "container", context)
    for node in decorators:
        if not node.named_child_count:
            continue
        expression = node.named_children[0]
        if expression.type == "call":
            expression = field(expression, "function") or expression
        decorated = node.parent
        definition = field(decorated, "definition") if decorated is not None else None
        context = ctx.qualnames.get(definition.id) if definition is not None else None
        _reference(ctx, expression, "decorator", context, keep_unresolved=True)
    for value, _scope, target in ctx.aliases:
        _reference(ctx, value, "assignment", target, keep_unresolved=False)
    _subscripts(ctx, subrefs or [])


def resolve_attributes(ctx: FileContext) -> None:
    """Fill in each class attribute's value candidate now that every name is bound."""
    resolver = ctx.resolver
    for row, value, scope in ctx.pending_attributes:
        if value is None or row.value_kind not in ("call", "name"):
            ctx.attributes.append(row)
            continue
        target_node = value.child_by_field_id(F_FUNCTION) if value.type == "call" else value
        if target_node is None:
            ctx.attributes.append(row)
            continue
        candidate, kind = resolver.candidate(target_node, scope)
        ctx.attributes.append(replace(row, value_candidate=candidate, candidate_kind=kind))
