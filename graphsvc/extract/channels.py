"""Channel facts: what one file says about topics, queues and the calls that may carry them.

The file alone cannot say which calls publish or subscribe (that needs the callee resolved across
files, the shipped and user rules, and the wrappers found in other files), so this step records
the *inputs* of that decision, small enough to keep for every file (``channel_facts``); the
channel pass (:mod:`graphsvc.link.channels`) turns them into ``channel_sites``.

Rows (``kind``):

- ``call``: a call that may carry a topic: its method name is in the rules' vocabulary, or an
  argument is topic-like (a string, an f-string or concatenation, an UPPER_CASE or enum name, a
  parameter or ``self`` attribute of the enclosing function). ``name`` is the callee as this file
  infers it (``redis.Redis.publish``, ``zmq.Context.socket().send_multipart``); ``data`` the
  arguments, each ``[key, expr]`` with ``key`` ``"0"``, ``"1"``, ... or ``"=keyword"``.
- ``const``: a module or class level name bound once to a topic-like value (``TOPIC = "a.b"``,
  an enum member, a ``Final``); ``name`` is its qualname.
- ``attr``: ``self.x = expr`` in a method, ``expr`` topic-like; ``name`` is ``Class.x``.
- ``param``: a parameter of a function that has ``call`` or ``attr`` rows; ``detail``
  ``index:kind``, ``data`` its default.
- ``decl`` / ``use``: in-process collections at attribute level: ``self.x = []`` (``detail`` the
  constructor) and each write or read of ``self.x`` (``detail``: ``write:append``,
  ``read:iterate``, ...).

Topic expressions (JSON): ``["s", text]`` a literal (bytes decoded), ``["n", dotted]`` a name
to look up across files, ``["p", name]`` a parameter of the enclosing function, ``["a", name]``
a ``self`` attribute, ``["c", [parts]]`` a concatenation (f-string, ``+``, ``%``, ``format``),
``["l", [items]]`` a list or tuple display, ``["d", text]`` something else (dynamic).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tree_sitter import Node, Query, QueryCursor

from graphsvc.extract.calls import lookup_scope
from graphsvc.extract.context import FileContext
from graphsvc.extract.flow import owner
from graphsvc.extract.scopes import Scope
from graphsvc.facts import Attribute, ChannelFact
from graphsvc.parsing import (
    F_ARGUMENTS,
    F_FUNCTION,
    F_OBJECT,
    LANGUAGE,
    compact,
    literal,
    start,
    text,
)
from graphsvc.rules import VOCABULARY

Expr = list[Any]
_MAX_DEPTH = 12
_UPPER = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}|%[-#0 +]*\d*(?:\.\d+)?[sdrifx]")
_PASS = frozenset({"encode", "decode", "strip", "lower", "upper"})
_CONVERSIONS = frozenset({"str", "bytes"})
# What a method call on an in-process collection or queue does to it.
WRITES = frozenset(
    {
        "append",
        "appendleft",
        "extend",
        "extendleft",
        "insert",
        "put",
        "put_nowait",
        "send",
        "add",
    }
)
READS = frozenset(
    {"pop", "popleft", "get", "get_nowait", "recv", "poll", "task_done", "join", "index", "count"}
)
_ITERATORS = frozenset({"len", "list", "tuple", "sorted", "iter", "next", "sum", "any", "all"})


def _dyn(node: Node) -> Expr:
    return ["d", compact(text(node), 120)]


def is_dynamic(expr: Expr) -> bool:
    """Whether ``expr`` holds nothing a later pass could resolve."""
    tag = expr[0]
    if tag == "d":
        return True
    if tag in ("c", "l"):
        return all(is_dynamic(p) for p in expr[1])
    return False


def _interesting(expr: Expr) -> bool:
    tag = expr[0]
    if tag in ("s", "p", "a"):
        return True
    if tag == "n":
        last = expr[1].rsplit(".", 1)[-1]
        return bool(_UPPER.match(last)) or any(p[:1].isupper() for p in expr[1].split(".")[-2:])
    if tag in ("c", "l"):
        return any(_interesting(p) for p in expr[1])
    return False


class _Encoder:
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
        params = node.child_by_field_name("parameters") if node is not None else None
        index = 0
        keyword_only = False
        for param in params.named_children if params is not None else []:
            kind = param.type
            name: Node | None = param
            default: Node | None = None
            if kind in ("default_parameter", "typed_default_parameter"):
                name, default = (
                    param.child_by_field_name("name"),
                    param.child_by_field_name("value"),
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
            return _dyn(node)
        kind = node.type
        if kind in ("string", "concatenated_string"):
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
        if kind in ("list", "tuple", "expression_list"):
            return ["l", [self.expr(c, scope, depth + 1) for c in node.named_children[:8]]]
        return _dyn(node)

    def binary(self, node: Node, scope: Scope, depth: int) -> Expr:
        """``a + b`` (a concatenation), ``"..." % x`` (a format)."""
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        op = node.child_by_field_name("operator")
        symbol = text(op) if op is not None else ""
        if symbol == "+":
            return ["c", [self.expr(left, scope, depth + 1), self.expr(right, scope, depth + 1)]]
        if symbol == "%" and left is not None and left.type == "string":
            template = literal(left)
            if template is not None:
                return _format(template, None)
        return _dyn(node)

    def string(self, node: Node, scope: Scope, depth: int) -> Expr:
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
            return ["p", name] if not values else _dyn(node)
        values = self.locals.get((scope.qualname, name))
        if scope.kind == "function" and values is not None:
            if len(values) == 1:
                return self.expr(values[0], scope, depth + 1)
            return _dyn(node)
        candidate, kind = self.ctx.resolver.candidate(node, scope, callee=False, written=name)
        if candidate and kind != "variable":
            return ["n", candidate]
        holder = owner(scope, name)
        if holder is not None and holder.kind in ("module", "class"):
            return ["n", f"{holder.qualname}.{name}"]
        return _dyn(node)

    def attribute(self, node: Node, scope: Scope, depth: int) -> Expr:
        obj = node.child_by_field_id(F_OBJECT)
        attr = node.child_by_field_name("attribute")
        if obj is None or attr is None:
            return _dyn(node)
        member = text(attr)
        if member in ("value", "name") and obj.type == "attribute":
            inner = self.attribute(obj, scope, depth + 1)
            if inner[0] == "n":
                return ["n", inner[1]] if member == "value" else ["s", inner[1].rsplit(".", 1)[-1]]
            return _dyn(node)
        if obj.type == "identifier" and text(obj) in ("self", "cls"):
            return ["a", member]
        candidate, _ = self.ctx.resolver.candidate(node, scope, callee=False)
        return ["n", candidate] if candidate else _dyn(node)

    def call(self, node: Node, scope: Scope, depth: int) -> Expr:
        function = node.child_by_field_id(F_FUNCTION)
        args = node.child_by_field_id(F_ARGUMENTS)
        positional = [a for a in args.named_children if a.type != "comment"] if args else []
        if function is None:
            return _dyn(node)
        if function.type == "attribute":
            method = function.child_by_field_name("attribute")
            obj = function.child_by_field_id(F_OBJECT)
            name = text(method) if method is not None else ""
            if name in _PASS and obj is not None:
                return self.expr(obj, scope, depth + 1)
            if name == "format" and obj is not None and obj.type == "string":
                template = literal(obj)
                if template is not None:
                    values = [self.expr(a, scope, depth + 1) for a in positional]
                    return _format(template, values)
        elif text(function) in _CONVERSIONS and positional:
            return self.expr(positional[0], scope, depth + 1)
        return _dyn(node)


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
        parts.append(value)
        last = match.end()
    parts.append(["s", template[last:]])
    return ["c", [p for p in parts if p != ["s", ""]]]


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _locals(ctx: FileContext, captures: dict[str, list[Node]]) -> dict[tuple[str, str], list[Node]]:
    """(scope, name) -> the values a plain name is assigned in that scope (loop targets and
    augmented assignments count as a second, unknown value)."""
    found: dict[tuple[str, str], list[Node]] = {}
    for node in captures.get("assign", []):
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
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
        left = node.child_by_field_name("left")
        if left is not None and left.type == "identifier":
            scope = ctx.index.at(node.start_byte)
            found.setdefault((scope.qualname, text(left)), []).extend((left, left))
    return found


def _arguments(enc: _Encoder, call: Node, scope: Scope) -> list[list[Any]]:
    args = call.child_by_field_id(F_ARGUMENTS)
    if args is None or args.type != "argument_list":
        return []
    found: list[list[Any]] = []
    index = 0
    for arg in args.named_children:
        kind = arg.type
        if kind == "comment":
            continue
        if kind == "keyword_argument":
            name = arg.child_by_field_name("name")
            value = arg.child_by_field_name("value")
            found.append([f"={text(name) if name is not None else '?'}", enc.expr(value, scope)])
        elif kind in ("list_splat", "dictionary_splat"):
            found.append(["*" if kind == "list_splat" else "**", _dyn(arg)])
        else:
            found.append([str(index), enc.expr(arg, scope)])
            index += 1
    return found


def _receiver_type(
    ctx: FileContext,
    obj: Node,
    scope: Scope,
    locals_: dict[tuple[str, str], list[Node]] | None = None,
) -> str | None:
    """What ``obj`` holds when this file can tell: ``C`` for an instance of class ``C``,
    ``f()`` for the result of calling ``f`` (a factory such as ``zmq.Context.socket``)."""
    value: Node | None = None
    kind = obj.type
    if kind == "call":
        value = obj
    elif kind == "attribute":
        base = obj.child_by_field_id(F_OBJECT)
        attr = obj.child_by_field_name("attribute")
        cls = scope.enclosing_class()
        if base is not None and attr is not None and text(base) == "self" and cls is not None:
            bindings = ctx.resolver.attrs.get(cls.qualname, {}).get(text(attr), [])
            calls = [b for b in bindings if b.kind == "call" and b.node is not None]
            if len(calls) == 1:
                value, scope = calls[0].node, calls[0].scope or scope
    elif kind == "identifier":
        bindings = scope.names.get(text(obj), [])
        if len(bindings) == 1 and bindings[0].kind == "call" and bindings[0].node is not None:
            value = bindings[0].node
        elif locals_ is not None:
            values = locals_.get((scope.qualname, text(obj)), [])
            if len(values) == 1 and values[0].type == "await" and values[0].named_children:
                inner = values[0].named_children[0]
                value = inner if inner.type == "call" else None
    if value is None:
        return None
    function = value.child_by_field_id(F_FUNCTION)
    if function is None:
        return None
    candidate, _ = ctx.resolver.candidate(function, scope)
    if candidate is None and function.type == "attribute":
        inner = function.child_by_field_id(F_OBJECT)
        attr = function.child_by_field_name("attribute")
        base = _receiver_type(ctx, inner, scope) if inner is not None else None
        candidate = f"{base}.{text(attr)}" if base and attr is not None else None
    return f"{candidate}()" if candidate else None


def _callee_key(
    ctx: FileContext, function: Node, scope: Scope, locals_: dict[tuple[str, str], list[Node]]
) -> str | None:
    candidate, kind = ctx.resolver.candidate(function, scope)
    if candidate is not None and kind != "variable":
        return candidate
    if function.type != "attribute":
        return None
    obj = function.child_by_field_id(F_OBJECT)
    attr = function.child_by_field_name("attribute")
    if obj is None or attr is None:
        return None
    base = _receiver_type(ctx, obj, scope, locals_)
    return f"{base}.{text(attr)}" if base else None


def extract_channels(ctx: FileContext, captures: dict[str, list[Node]]) -> list[ChannelFact]:
    """The channel facts of one file (see the module docstring)."""
    locals_ = _locals(ctx, captures)
    enc = _Encoder(ctx, locals_)
    rows: list[ChannelFact] = []
    _constants(ctx, enc, locals_, rows)
    wanted: set[str] = set()  # functions whose parameters the rows refer to
    for node in captures.get("call", []):
        function = node.child_by_field_id(F_FUNCTION)
        if function is None:
            continue
        caller = ctx.index.at(node.start_byte)
        scope = lookup_scope(ctx, node) if caller.kind == "class" else caller
        written = text(function)
        method = written.rsplit(".", 1)[-1]
        args = _arguments(enc, node, scope)
        if method not in VOCABULARY and not any(_interesting(a[1]) for a in args):
            continue
        key = _callee_key(ctx, function, scope, locals_)
        if key is not None and key.startswith("<builtin>."):
            continue
        line, col = start(node)
        rows.append(
            ChannelFact(
                "call", line, col, caller.qualname, key or "", compact(written), _dump(args)
            )
        )
        if '["p",' in rows[-1].data:
            wanted.add(scope.qualname)
    _attributes(ctx, enc, rows, wanted)
    _parameters(ctx, enc, rows, wanted)
    _collections(ctx, rows)
    return rows


def _constants(
    ctx: FileContext,
    enc: _Encoder,
    locals_: dict[tuple[str, str], list[Node]],
    rows: list[ChannelFact],
) -> None:
    scopes = {s.qualname: s for s in ctx.index if s.kind in ("module", "class")}
    for (holder, name), values in locals_.items():
        scope = scopes.get(holder)
        if scope is None or len(values) != 1:
            continue
        value = enc.expr(values[0], scope)
        if value[0] in ("s", "n", "c") and not is_dynamic(value):
            line, col = start(values[0])
            rows.append(
                ChannelFact("const", line, col, holder, f"{holder}.{name}", "", _dump(value))
            )


def _attributes(ctx: FileContext, enc: _Encoder, rows: list[ChannelFact], wanted: set[str]) -> None:
    for row, value, scope in ctx.pending_attributes:
        if row.via != "self" or value is None or scope.kind != "function":
            continue
        expr = enc.expr(value, scope)
        if not _interesting(expr) or is_dynamic(expr):
            continue
        rows.append(
            ChannelFact(
                "attr",
                row.line,
                row.col,
                scope.qualname,
                f"{row.class_qualname}.{row.name}",
                "",
                _dump(expr),
            )
        )
        if '["p",' in rows[-1].data:
            wanted.add(scope.qualname)


def _parameters(ctx: FileContext, enc: _Encoder, rows: list[ChannelFact], wanted: set[str]) -> None:
    for scope in ctx.index:
        if scope.qualname not in wanted or scope.kind != "function":
            continue
        for name, (index, kind, default) in enc.parameters(scope).items():
            holder = scope.parent or scope
            value = enc.expr(default, holder) if default is not None else None
            line, col = (
                start(default)
                if default is not None
                else start(scope.node)
                if scope.node
                else (0, 0)
            )
            detail = f"{'' if index is None else index}:{kind}:{int(_bound(scope))}"
            rows.append(ChannelFact("param", line, col, scope.qualname, name, detail, _dump(value)))


def _bound(scope: Scope) -> bool:
    """Whether calls of the function pass its first parameter implicitly (self or cls)."""
    if scope.method_of is None or scope.node is None:
        return False
    parent = scope.node.parent
    if parent is not None and parent.type == "decorated_definition":
        return not any(text(c).strip() == "@staticmethod" for c in parent.named_children)
    return True


_SELF_ATTRIBUTES = Query(LANGUAGE, '((attribute object: (identifier) @o) @attr (#eq? @o "self"))')


def _collection_kind(row: Attribute) -> str | None:
    """The constructor of an in-process collection or queue assigned to an attribute."""
    if row.value_kind == "call":
        candidate = row.value_candidate or ""
        last = candidate.rsplit(".", 1)[-1]
        if last == "list" or (last in VOCABULARY and last[:1].isupper()) or last == "deque":
            return candidate.removeprefix("<builtin>.")
        return None
    value = row.value
    return "list" if value.startswith("[") and value.endswith("]") else None


def _self_attributes(ctx: FileContext) -> list[Node]:
    return QueryCursor(_SELF_ATTRIBUTES).captures(ctx.root).get("attr", [])


def _method_operation(attribute: Node) -> str | None:
    """``self.x.m(...)``: a write or read by the method's name."""
    method = attribute.child_by_field_name("attribute")
    call = attribute.parent
    name = text(method) if method is not None else ""
    if call is None or call.type != "call":
        return None
    if name in WRITES:
        return f"write:{name}"
    if name in READS or name == "copy":
        return f"read:{name}"
    return None


def _operation(node: Node) -> str | None:
    """What the code around ``self.x`` (``node``) does with it: ``write:...``/``read:...``."""
    parent = node.parent
    if parent is None:
        return None
    kind = parent.type
    if kind in ("tuple", "list") and parent.parent is not None:
        outer = parent.parent.type
        if outer in ("argument_list", "keyword_argument"):
            return "read:passed"
    if kind == "attribute":
        return _method_operation(parent)
    if kind == "augmented_assignment" and parent.child_by_field_name("left") == node:
        return "write:extend"
    if kind == "subscript" and parent.child_by_field_name("value") == node:
        holder = parent.parent
        if (
            holder is not None
            and holder.type in ("assignment", "augmented_assignment")
            and holder.child_by_field_name("left") == parent
        ):
            return "write:setitem"
        return "read:index"
    if kind in ("for_statement", "for_in_clause") and parent.child_by_field_name("right") == node:
        return "read:iterate"
    if kind in ("argument_list", "keyword_argument"):
        call = (
            parent.parent
            if kind == "argument_list"
            else parent.parent.parent
            if parent.parent
            else None
        )
        function = call.child_by_field_id(F_FUNCTION) if call is not None else None
        name = text(function) if function is not None else ""
        return f"read:{name}" if name in _ITERATORS else "read:passed"
    if kind == "return_statement":
        return "read:returned"
    if kind in ("yield", "comparison_operator", "list_splat"):
        return "read:iterate"
    return None


def _collections(ctx: FileContext, rows: list[ChannelFact]) -> None:
    """``decl`` rows for attributes holding a collection or queue, ``use`` rows for every
    write or read of them in the methods of their class (in this file)."""
    declared: dict[str, set[str]] = {}
    for row in ctx.attributes:
        if row.via != "self" or row.value_kind not in ("call", "literal", "other"):
            continue
        kind = _collection_kind(row)
        if kind is None:
            continue
        declared.setdefault(row.class_qualname, set()).add(row.name)
        name = f"{row.class_qualname}.{row.name}"
        rows.append(ChannelFact("decl", row.line, row.col, row.scope, name, kind, "null"))
    if not declared:
        return
    for node in _self_attributes(ctx):
        scope = ctx.index.at(node.start_byte)
        cls = scope.enclosing_class()
        attr = node.child_by_field_name("attribute")
        if cls is None or attr is None or text(attr) not in declared.get(cls.qualname, ()):
            continue
        op = _operation(node)
        if op is None:
            continue
        line, col = start(node)
        name = f"{cls.qualname}.{text(attr)}"
        rows.append(ChannelFact("use", line, col, scope.qualname, name, op, "null"))
