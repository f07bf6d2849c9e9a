"""Topic expressions of one file's nodes, and the callee a call names as the file infers it.

Topic expressions (JSON): ``["s", text]`` a literal (bytes decoded), ``["i", digits]`` an
integer literal (a port; a topic only inside a string), ``["n", dotted]`` a name
to look up across files, ``["p", name]`` a parameter of the enclosing function, ``["a", name]``
a ``self`` attribute, ``["c", [parts]]`` a concatenation (f-string, ``+``, ``%``, ``format``),
``["l", [items]]`` a list or tuple display, ``["u", [choices]]`` one of several values
(``a if c else b``, ``a or b``), ``["d", text]`` something else (dynamic).
"""

from __future__ import annotations

import re
from typing import Any

from tree_sitter import Node

from graphsvc.extract.context import FileContext, call_arguments
from graphsvc.extract.flow import owner
from graphsvc.extract.scopes import Scope
from graphsvc.parsing import (
    F_ARGUMENTS,
    F_ATTRIBUTE,
    F_FUNCTION,
    F_LEFT,
    F_NAME,
    F_OBJECT,
    F_OPERATOR,
    F_PARAMETERS,
    F_RIGHT,
    F_VALUE,
    compact,
    json_writer,
    literal,
    text,
)

Expr = list[Any]
_MAX_DEPTH = 12
_MAX_RECEIVER_DEPTH = 4
UPPER = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}|%[-#0 +]*\d*(?:\.\d+)?[sdrifx]")
_PASS = frozenset({"encode", "decode", "strip", "lower", "upper"})
_CONVERSIONS = frozenset({"str", "bytes"})


def dyn(node: Node) -> Expr:
    return ["d", compact(text(node), 120)]


def is_dynamic(expr: Expr) -> bool:
    """Whether ``expr`` holds nothing a later pass could resolve."""
    tag = expr[0]
    if tag == "d":
        return True
    if tag in ("c", "l", "u"):
        return all(is_dynamic(p) for p in expr[1])
    return False


def interesting(expr: Expr) -> bool:
    tag = expr[0]
    if tag in ("s", "p", "a"):
        return True
    if tag == "n":
        last = expr[1].rsplit(".", 1)[-1]
        return bool(UPPER.match(last)) or any(p[:1].isupper() for p in expr[1].split(".")[-2:])
    if tag in ("c", "l", "u"):
        return any(interesting(p) for p in expr[1])
    return False


class Encoder:
    """Topic expressions of one file's nodes."""

    def __init__(self, ctx: FileContext, locals_: dict[tuple[str, str], list[Node]]) -> None:
        self.ctx = ctx
        self.locals = locals_
        self.params: dict[str, dict[str, tuple[int | None, str, Node | None]]] = {}

    def parameters(self, scope: Scope) -> dict[str, tuple[int | None, str, Node | None]]:
        """name -> (position, kind, default) of the function ``scope``."""
        found = self.params.get(scope.qualname)
        if found is not None:
            return found
        found = {}
        node = scope.node
        params = node.child_by_field_id(F_PARAMETERS) if node is not None else None
        index = 0
        keyword_only = False
        for param in params.named_children if params is not None else []:
            kind = param.type
            name: Node | None = param
            default: Node | None = None
            if kind in ("default_parameter", "typed_default_parameter"):
                name, default = (
                    param.child_by_field_id(F_NAME),
                    param.child_by_field_id(F_VALUE),
                )
            elif kind == "typed_parameter":
                name = param.named_children[0] if param.named_children else None
            elif kind == "keyword_separator" or kind == "list_splat_pattern":
                keyword_only = True
                continue
            if name is None or name.type != "identifier":
                continue
            found[text(name)] = (
                None if keyword_only else index,
                "kw" if keyword_only else "pos",
                default,
            )
            index += 1
        self.params[scope.qualname] = found
        return found

    def expr(self, node: Node | None, scope: Scope, depth: int = 0) -> Expr:
        if node is None:
            return ["d", ""]
        if depth > _MAX_DEPTH:
            return dyn(node)
        kind = node.type
        if kind in ("string", "concatenated_string", "integer"):
            return self.string(node, scope, depth)
        if kind == "parenthesized_expression" and node.named_child_count == 1:
            return self.expr(node.named_children[0], scope, depth + 1)
        if kind == "identifier":
            return self.name(node, scope, depth)
        if kind == "attribute":
            return self.attribute(node, scope, depth)
        if kind == "binary_operator":
            return self.binary(node, scope, depth)
        if kind == "call":
            return self.call(node, scope, depth)
        if kind in ("conditional_expression", "boolean_operator"):
            parts = node.named_children
            chosen = [parts[0], parts[-1]] if kind == "conditional_expression" else parts
            if (
                kind == "boolean_operator"
                and text(node.child_by_field_id(F_OPERATOR) or node) == "and"
            ):
                return dyn(node)
            return ["u", [self.expr(p, scope, depth + 1) for p in chosen[:4]]]
        if kind in ("list", "tuple", "expression_list"):
            return ["l", [self.expr(c, scope, depth + 1) for c in node.named_children[:8]]]
        return dyn(node)

    def binary(self, node: Node, scope: Scope, depth: int) -> Expr:
        """``a + b`` (a concatenation), ``"..." % x`` (a format)."""
        left, right = node.child_by_field_id(F_LEFT), node.child_by_field_id(F_RIGHT)
        op = node.child_by_field_id(F_OPERATOR)
        symbol = text(op) if op is not None else ""
        if symbol == "+":
            return ["c", [self.expr(left, scope, depth + 1), self.expr(right, scope, depth + 1)]]
        if symbol == "%" and left is not None and left.type == "string":
            template = literal(left)
            if template is not None:
                values = None
                if right is not None and right.type not in ("tuple", "dictionary"):
                    values = [self.expr(right, scope, depth + 1)]
                elif right is not None and right.type == "tuple":
                    values = [self.expr(v, scope, depth + 1) for v in right.named_children]
                return _format(template, values)
        return dyn(node)

    def string(self, node: Node, scope: Scope, depth: int) -> Expr:
        if node.type == "integer":  # a port: f"tcp://*:{PORT}", "tcp://h:%d" % PORT
            return ["i", text(node)]
        value = literal(node)
        if value is not None:
            return ["s", value]
        parts: list[Expr] = []
        pieces = node.named_children if node.type == "concatenated_string" else [node]
        for piece in pieces:
            for child in piece.named_children:
                if child.type == "string_content":
                    parts.append(["s", text(child)])
                elif child.type == "interpolation":
                    inner = child.named_children[0] if child.named_children else None
                    parts.append(self.expr(inner, scope, depth + 1))
        return ["c", parts]

    def name(self, node: Node, scope: Scope, depth: int) -> Expr:
        name = text(node)
        if scope.kind == "function" and name in self.parameters(scope):
            values = self.locals.get((scope.qualname, name))
            return ["p", name] if not values else dyn(node)
        values = self.locals.get((scope.qualname, name))
        if scope.kind == "function" and values is not None:
            if len(values) == 1:
                return self.expr(values[0], scope, depth + 1)
            return dyn(node)
        candidate, kind = self.ctx.resolver.candidate(node, scope, callee=False, written=name)
        if candidate and kind != "variable":
            return ["n", candidate]
        holder = owner(scope, name)
        if holder is not None and holder.kind in ("module", "class"):
            return ["n", f"{holder.qualname}.{name}"]
        return dyn(node)

    def attribute(self, node: Node, scope: Scope, depth: int) -> Expr:
        obj = node.child_by_field_id(F_OBJECT)
        attr = node.child_by_field_id(F_ATTRIBUTE)
        if obj is None or attr is None:
            return dyn(node)
        member = text(attr)
        if member in ("value", "name") and obj.type == "attribute":
            inner = self.attribute(obj, scope, depth + 1)
            if inner[0] == "n":
                return ["n", inner[1]] if member == "value" else ["s", inner[1].rsplit(".", 1)[-1]]
            return dyn(node)
        if obj.type == "identifier" and text(obj) in ("self", "cls"):
            return ["a", member]
        candidate, _ = self.ctx.resolver.candidate(node, scope, callee=False)
        return ["n", candidate] if candidate else dyn(node)

    def call(self, node: Node, scope: Scope, depth: int) -> Expr:
        function = node.child_by_field_id(F_FUNCTION)
        if function is None:
            return dyn(node)
        if function.type == "attribute":
            method = function.child_by_field_id(F_ATTRIBUTE)
            obj = function.child_by_field_id(F_OBJECT)
            name = text(method) if method is not None else ""
            if name in _PASS and obj is not None:
                return self.expr(obj, scope, depth + 1)
            if name == "format" and obj is not None and obj.type == "string":
                template = literal(obj)
                if template is not None:
                    values = [self.expr(a, scope, depth + 1) for a in _positional(node)]
                    return _format(template, values)
        elif text(function) in _CONVERSIONS:
            positional = _positional(node)
            if positional:
                return self.expr(positional[0], scope, depth + 1)
        return dyn(node)


def _positional(call: Node) -> list[Node]:
    """Every argument of ``call`` but comments (asked only where needed: each named_children
    builds a list of new nodes)."""
    args = call.child_by_field_id(F_ARGUMENTS)
    return [a for a in args.named_children if a.type != "comment"] if args else []


def _format(template: str, values: list[Expr] | None) -> Expr:
    """``template % x`` / ``template.format(...)``: the literal parts, each field a value of
    ``values`` (positional ``{}`` fields in order) or unknown."""
    parts: list[Expr] = []
    last = 0
    position = 0
    for match in _FORMAT_FIELD.finditer(template):
        parts.append(["s", template[last : match.start()]])
        field_text = match.group(0)
        value: Expr = ["d", field_text]
        if values is not None and field_text in ("{}", "{0}", "{1}", "{2}"):
            at = position if field_text == "{}" else int(field_text[1])
            if at < len(values):
                value = values[at]
            position += 1
        elif values is not None and field_text in ("%s", "%d", "%i"):
            if position < len(values):
                value = values[position]
            position += 1
        parts.append(value)
        last = match.end()
    parts.append(["s", template[last:]])
    return ["c", [p for p in parts if p != ["s", ""]]]


_DUMP = json_writer(ensure_ascii=False)


def dump(value: Any) -> str:
    return _DUMP(value)


def local_values(
    ctx: FileContext, captures: dict[str, list[Node]]
) -> dict[tuple[str, str], list[Node]]:
    """(scope, name) -> the values a plain name is assigned in that scope (loop targets and
    augmented assignments count as a second, unknown value)."""
    found: dict[tuple[str, str], list[Node]] = {}
    for node in captures.get("assign", []):
        left, right = node.child_by_field_id(F_LEFT), node.child_by_field_id(F_RIGHT)
        if left is None or left.type != "identifier":
            continue
        scope = ctx.index.at(node.start_byte)
        key = (scope.qualname, text(left))
        values = found.setdefault(key, [])
        if right is None or node.type == "augmented_assignment":
            values.append(left)
            values.append(left)  # two values: never inlined
        elif right.type not in ("assignment", "augmented_assignment"):
            values.append(right)
    for node in captures.get("loop", []):
        left = node.child_by_field_id(F_LEFT)
        if left is not None and left.type == "identifier":
            scope = ctx.index.at(node.start_byte)
            found.setdefault((scope.qualname, text(left)), []).extend((left, left))
    return found


def arguments(enc: Encoder, call: Node, scope: Scope) -> list[list[Any]]:
    args, args_kind, listed = call_arguments(enc.ctx, call)
    if args is None or args_kind != "argument_list":
        return []
    found: list[list[Any]] = []
    index = 0
    for kind, arg, name, value in listed:
        if kind == "keyword_argument":
            found.append([f"={text(name) if name is not None else '?'}", enc.expr(value, scope)])
        elif kind in ("list_splat", "dictionary_splat"):
            found.append(["*" if kind == "list_splat" else "**", dyn(arg)])
        else:
            found.append([str(index), enc.expr(arg, scope)])
            index += 1
    return found


def _value_of(
    ctx: FileContext,
    obj: Node,
    scope: Scope,
    locals_: dict[tuple[str, str], list[Node]] | None,
) -> tuple[Node | None, Scope]:
    """The call whose result ``obj`` holds (and the scope it runs in), when there is one."""
    kind = obj.type
    if kind == "call":
        return obj, scope
    if kind == "attribute":
        base = obj.child_by_field_id(F_OBJECT)
        attr = obj.child_by_field_id(F_ATTRIBUTE)
        cls = scope.enclosing_class()
        if base is not None and attr is not None and text(base) == "self" and cls is not None:
            bindings = ctx.resolver.attrs.get(cls.qualname, {}).get(text(attr), [])
            calls = [b for b in bindings if b.kind == "call" and b.node is not None]
            if len(calls) == 1:
                return calls[0].node, calls[0].scope or scope
        return None, scope
    if kind != "identifier":
        return None, scope
    bindings = scope.names.get(text(obj), [])
    if len(bindings) == 1 and bindings[0].kind == "call" and bindings[0].node is not None:
        return bindings[0].node, scope
    values = locals_.get((scope.qualname, text(obj)), []) if locals_ is not None else []
    if len(values) == 1 and values[0].type == "await" and values[0].named_children:
        inner = values[0].named_children[0]
        return (inner if inner.type == "call" else None), scope
    return None, scope


def _receiver_type(
    ctx: FileContext,
    obj: Node,
    scope: Scope,
    locals_: dict[tuple[str, str], list[Node]] | None = None,
    depth: int = 0,
) -> str | None:
    """What ``obj`` holds when this file can tell: ``C`` for an instance of class ``C``,
    ``f()`` for the result of calling ``f`` (a factory such as ``zmq.Context.socket``).
    Chains are followed a few calls deep (``self.x = self.x.next()`` refers to itself)."""
    if depth > _MAX_RECEIVER_DEPTH:
        return None
    value, scope = _value_of(ctx, obj, scope, locals_)
    if value is None:
        return None
    function = value.child_by_field_id(F_FUNCTION)
    if function is None:
        return None
    candidate, _ = ctx.resolver.candidate(function, scope)
    if candidate is None and function.type == "attribute":
        inner = function.child_by_field_id(F_OBJECT)
        attr = function.child_by_field_id(F_ATTRIBUTE)
        base = _receiver_type(ctx, inner, scope, locals_, depth + 1) if inner is not None else None
        candidate = f"{base}.{text(attr)}" if base and attr is not None else None
    return f"{candidate}()" if candidate else None


def callee_key(
    ctx: FileContext, function: Node, scope: Scope, locals_: dict[tuple[str, str], list[Node]]
) -> str | None:
    candidate, kind = ctx.resolver.candidate(function, scope)
    if candidate is not None and kind != "variable":
        return candidate
    if function.type != "attribute":
        return None
    obj = function.child_by_field_id(F_OBJECT)
    attr = function.child_by_field_id(F_ATTRIBUTE)
    if obj is None or attr is None:
        return None
    base = _receiver_type(ctx, obj, scope, locals_)
    return f"{base}.{text(attr)}" if base else None
