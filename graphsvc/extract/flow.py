"""Value flow facts: what names, attributes, containers, parameters and returns may hold.

Each row says "this place receives that expression" in a small expression language the
linker's solver evaluates (it is the only reader: graphsvc/link/flow_rows.py decodes the rows,
graphsvc/link/flow_eval.py evaluates them). Expressions are lists, stored in marshal format 0
(no references, no interning: equal expressions are equal bytes, and encoding and decoding cost
a tenth of JSON's):

    ["V", scope, name]   the variable ``name`` bound in ``scope`` (a parameter, local, global)
    ["D", qualname]      a def, class or lambda of this file
    ["B", name]          a builtin
    ["I", dotted]        a dotted name to resolve across files (an import, a star-imported name)
    ["A", expr, name]    attribute ``name`` of ``expr``
    ["S", expr, key]     an element of ``expr`` (``key``: a literal subscript, else None)
    ["C", line, col, callee]  the result of the call at (line, col) with that callee text
    ["K", expr, [args]]  the result of calling ``expr`` with ``args`` (a decorator application)
    ["N", expr]          an instance of the class ``expr`` (``except E as e``)
    ["L", [expr, ...], "line:col"]  a list, tuple or set display (the place is its identity)
    ["M", [[key, expr], ...], "line:col"]  a dict display
    ["U", [expr, ...]]   any of them (``a if c else b``, ``a or b``)
    ["T", text]          a string literal passed as an argument (getattr's attribute name)
    ["X"]                something no call can come from (a literal, an operator result)

Rows (``kind``): ``assign`` (``place``: the target expression <- value), ``param`` (a parameter
of the function ``scope``: its position, kind and default), ``return`` and ``yield`` (of the
function ``scope``), ``call`` (target ``line:col:callee``, the call site as the calls table
names it; value: the callee expression) and ``arg`` (target ``line:col:key:callee``: ``key`` is
the position ``0``, ``1``, ..., ``=name`` for a keyword, ``*`` / ``**`` for unpacked
arguments). The arguments of a call of a builtin other than ``getattr`` are left out: the
solver binds arguments only into functions of the file, containers and ``getattr``, so no
evaluation reads them. A file's rows are sorted in the order the solver reads them and stored
together as one :class:`~graphsvc.facts.FlowRows` value (one ``flows`` row per file).
"""

from __future__ import annotations

import marshal
import zlib
from operator import itemgetter
from typing import Any

from tree_sitter import Node

from graphsvc.extract.context import FileContext, call_arguments
from graphsvc.extract.resolve import BUILTIN_NAMES
from graphsvc.extract.scopes import Scope
from graphsvc.facts import FlowKind, FlowRow, FlowRows
from graphsvc.parsing import (
    F_ALIAS,
    F_ATTRIBUTE,
    F_BODY,
    F_FUNCTION,
    F_KEY,
    F_LEFT,
    F_NAME,
    F_OBJECT,
    F_PARAMETERS,
    F_RIGHT,
    F_SUBSCRIPT,
    F_VALUE,
    compact,
    json_writer,
    literal,
    start,
    text,
)

Expr = list[Any]
UNKNOWN: Expr = ["X"]
_MAX_DEPTH = 40  # deeper expressions are ["X"]: no recursion limit, no quadratic blow-up
_CONTAINERS = {"list", "tuple", "set", "expression_list"}
_PASS_THROUGH = {"parenthesized_expression", "await"}
_ASSIGNMENTS = ("assignment", "augmented_assignment")


def _place(node: Node) -> str:
    """Where a display is written: its container's identity."""
    line, col = start(node)
    return f"{line}:{col}"


def _dump(expr: Expr) -> bytes:
    """An expression's stored form: marshal format 0 writes no references and no interning
    flags, so equal expressions are equal bytes (the solver shares their parsed form)."""
    return marshal.dumps(expr, 0)


_DUMPS = marshal.dumps


def owner(scope: Scope, name: str) -> Scope | None:
    """The scope whose binding of ``name`` a use in ``scope`` sees (Python's LEGB rule)."""
    current: Scope | None = scope
    first = True
    module = scope
    while module.parent is not None:
        module = module.parent
    while current is not None:
        if current.kind == "class" and not first and name not in current.type_params:
            current = current.parent
            continue
        if name in current.names:
            declared = current.declared.get(name)
            if declared is None or current is module:
                return current
            if declared == "global":
                return module
        first = False
        current = current.parent
    return None


def binder(scope: Scope, name: str) -> Scope:
    """The scope an assignment to ``name`` in ``scope`` binds in (``global``/``nonlocal``)."""
    declared = scope.declared.get(name)
    if declared == "global":
        module = scope
        while module.parent is not None:
            module = module.parent
        return module
    if declared == "nonlocal":
        outer = scope.parent
        while outer is not None:
            if outer.kind == "function" and name in outer.names:
                return outer
            outer = outer.parent
    return scope


class FlowExtractor:
    """Encodes expressions of one file and collects its flow rows."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.rows: list[FlowRow] = []

    def _site(self, call: Node) -> list[Any]:
        """A call site's key: line, column and callee as written (the calls table's, which
        extract_calls already computed)."""
        row, col = call.start_point
        callee = self.ctx.callees.get(call.id)
        if callee is None:
            function = call.child_by_field_id(F_FUNCTION)
            callee = compact(text(function)) if function is not None else ""
        return [row + 1, col + 1, callee]

    # add() and add_assign() run for most rows: start() and _dump() are spelt out in them
    def add(self, scope: Scope, kind: FlowKind, target: str, value: Expr, node: Node) -> None:
        row, col = node.start_point
        self.rows.append((scope.qualname, kind, target, None, _DUMPS(value, 0), row + 1, col + 1))

    def add_assign(self, scope: Scope, place: Expr, value: Expr, node: Node) -> None:
        """``place = value`` (``place``: a variable, attribute or element expression)."""
        row, col = node.start_point
        dumps = _DUMPS
        self.rows.append(
            (scope.qualname, "assign", "", dumps(place, 0), dumps(value, 0), row + 1, col + 1)
        )

    # ------------------------------------------------------------------ expressions

    def expr(self, node: Node | None, scope: Scope, depth: int = 0) -> Expr:
        """The expression language form of ``node`` as evaluated in ``scope``."""
        if node is None or depth > _MAX_DEPTH:
            return UNKNOWN
        kind = node.type
        if kind == "identifier":
            return self.name(text(node), scope)
        if kind == "attribute":
            obj, attr = node.child_by_field_id(F_OBJECT), node.child_by_field_id(F_ATTRIBUTE)
            if attr is None:
                return UNKNOWN
            return ["A", self.expr(obj, scope, depth + 1), text(attr)]
        if kind == "call":
            return ["C", *self._site(node)]
        if kind == "subscript":
            key = node.child_by_field_id(F_SUBSCRIPT)
            value = literal(key) if key is not None else None
            key_value = value if isinstance(value, str | int) else None
            return ["S", self.expr(node.child_by_field_id(F_VALUE), scope, depth + 1), key_value]
        if kind in _CONTAINERS:
            elements = [self.expr(e, scope, depth + 1) for e in node.named_children]
            return ["L", elements, _place(node)]
        if kind == "dictionary":
            return ["M", self._pairs(node, scope, depth), _place(node)]
        if kind == "lambda":
            qualname = self.ctx.qualnames.get(node.id)
            return ["D", qualname] if qualname else UNKNOWN
        if kind in ("conditional_expression", "boolean_operator"):
            parts = node.named_children
            chosen = [parts[0], parts[-1]] if kind == "conditional_expression" else parts
            return ["U", [self.expr(p, scope, depth + 1) for p in chosen]]
        if kind in _PASS_THROUGH or kind in ("list_splat", "dictionary_splat"):
            inner = node.named_children
            return self.expr(inner[0], scope, depth + 1) if inner else UNKNOWN
        return UNKNOWN

    def _pairs(self, node: Node, scope: Scope, depth: int) -> list[list[Any]]:
        pairs: list[list[Any]] = []
        for pair in node.named_children:
            if pair.type != "pair":
                continue
            key_node = pair.child_by_field_id(F_KEY)
            key = literal(key_node) if key_node is not None else None
            key_value = key if isinstance(key, str | int) else None
            pairs.append([key_value, self.expr(pair.child_by_field_id(F_VALUE), scope, depth + 1)])
        return pairs

    def name(self, name: str, scope: Scope) -> Expr:
        if name in ("True", "False", "None"):
            return UNKNOWN
        found = owner(scope, name)
        if found is not None:
            return ["V", found.qualname, name]
        if self.ctx.resolver.star_import:
            return ["I", f"{self.ctx.module.name}.{name}"]
        return ["B", name] if name in BUILTIN_NAMES else UNKNOWN

    # ------------------------------------------------------------------ statements

    def definition(self, node: Node) -> None:
        """``def``/``class``: the name is bound to the definition after its decorators."""
        qualname = self.ctx.qualnames.get(node.id)
        if qualname is None:
            return
        holder = self.ctx.index.at(node.start_byte)
        if node.type == "lambda":
            self.parameters(node, qualname)
            body = node.child_by_field_id(F_BODY)
            value = self.expr(body, self.ctx.index.at(body.start_byte)) if body else UNKNOWN
            if value != UNKNOWN:
                self.rows.append((qualname, "return", "", None, _dump(value), *start(node)))
            return
        value: Expr = ["D", qualname]
        parent = self.ctx.decorated.get(node.id)  # not node.parent: it re-descends from the root
        if parent is not None:
            for decorator in reversed([c for c in parent.named_children if c.type == "decorator"]):
                inner = decorator.named_children
                if inner:
                    value = ["K", self.expr(inner[0], holder), [value]]
        name_node = node.child_by_field_id(F_NAME)
        if name_node is None:
            return
        name = text(name_node)
        target = binder(holder, name)
        self.add_assign(holder, ["V", target.qualname, name], value, node)
        if node.type == "function_definition":
            self.parameters(node, qualname)

    def parameters(self, node: Node, qualname: str) -> None:
        params = node.child_by_field_id(F_PARAMETERS)
        if params is None:
            return
        holder = self.ctx.index.at(node.start_byte)
        keyword_only = False
        index = 0
        for param in params.named_children:
            kind, name, default = self._parameter(param)
            if kind == "separator":
                keyword_only = keyword_only or text(param) == "*"
                continue
            if name is None:
                continue
            if kind == "star":
                keyword_only = True
            elif kind == "pos" and keyword_only:
                kind = "kw"
            value = self.expr(default, holder) if default is not None else None
            row = [index if kind == "pos" else None, kind, value]
            if kind == "pos":
                index += 1
            self.rows.append((qualname, "param", name, None, _dump(row), *start(param)))

    @staticmethod
    def _parameter(param: Node) -> tuple[str, str | None, Node | None]:
        kind = param.type
        if kind == "identifier":
            return "pos", text(param), None
        if kind in ("default_parameter", "typed_default_parameter"):
            name = param.child_by_field_id(F_NAME)
            return (
                "pos",
                text(name) if name is not None else None,
                param.child_by_field_id(F_VALUE),
            )
        if kind == "typed_parameter":
            inner = param.named_children[0] if param.named_children else None
            if inner is not None and inner.type in (
                "list_splat_pattern",
                "dictionary_splat_pattern",
            ):
                return FlowExtractor._parameter(inner)
            return "pos", text(inner) if inner is not None else None, None
        if kind == "list_splat_pattern":
            inner = param.named_children
            return "star", text(inner[0]) if inner else None, None
        if kind == "dictionary_splat_pattern":
            inner = param.named_children
            return "dstar", text(inner[0]) if inner else None, None
        if kind in ("keyword_separator", "positional_separator"):
            return "separator", None, None
        return "other", None, None

    def assignment(self, node: Node) -> None:
        scope = self.ctx.index.at(node.start_byte)
        targets: list[Node] = []
        value: Node | None = node
        while value is not None and value.type in ("assignment", "augmented_assignment"):
            left = value.child_by_field_id(F_LEFT)
            if left is not None:
                targets.append(left)
            value = value.child_by_field_id(F_RIGHT)
        if value is None:
            return
        rhs = self.expr(value, scope)
        if rhs == UNKNOWN:
            return
        for target in targets:
            self.store(target, rhs, scope, node)

    def store(self, target: Node, value: Expr, scope: Scope, at: Node, depth: int = 0) -> None:
        """``target = value`` for every name, attribute or element the target binds."""
        kind = target.type
        if depth > _MAX_DEPTH:
            return
        if kind == "identifier":
            name = text(target)
            bound = binder(scope, name)
            self.add_assign(scope, ["V", bound.qualname, name], value, at)
        elif kind == "attribute" or kind == "subscript":
            self.add_assign(scope, self.expr(target, scope), value, at)
        elif kind in ("pattern_list", "tuple_pattern", "list_pattern", "tuple", "list"):
            parts = [p for p in target.named_children if p.type != "comment"]
            items = value[1] if value[0] == "L" and len(value[1]) == len(parts) else None
            for i, part in enumerate(parts):
                if part.type == "list_splat_pattern":
                    continue
                element = items[i] if items is not None else ["S", value, i]
                self.store(part, element, scope, at, depth + 1)

    def loop(self, node: Node) -> None:
        """``for x in xs`` (statements and comprehensions): x receives xs's elements."""
        scope = self.ctx.index.at(node.start_byte)
        left, right = node.child_by_field_id(F_LEFT), node.child_by_field_id(F_RIGHT)
        if left is None or right is None:
            return
        iterable = self.expr(right, scope)
        if iterable != UNKNOWN:
            self.store(left, ["S", iterable, None], scope, node)

    def handler(self, node: Node) -> None:
        """``except E as e``: e is an instance of E."""
        scope = self.ctx.index.at(node.start_byte)
        named = [c for c in node.named_children if c.type not in ("block", "comment")]
        for child in named:
            if child.type == "as_pattern":
                parts = child.named_children
                alias = child.child_by_field_id(F_ALIAS)
                if parts and alias is not None:
                    name_node = alias.named_children[0] if alias.named_children else alias
                    value = ["N", self.expr(parts[0], scope)]
                    self.store(name_node, value, scope, node)

    def result(self, node: Node, kind: FlowKind) -> None:
        """``return x`` / ``yield x`` of the innermost function."""
        scope = self.ctx.index.at(node.start_byte)
        if scope.kind not in ("function", "lambda"):
            return
        values = [c for c in node.named_children if c.type != "comment"]
        if not values:
            return
        value = self.expr(values[0], scope)
        if value != UNKNOWN:
            self.add(scope, kind, "", value, node)

    def call(self, node: Node) -> None:
        known = self.ctx.call_sites.get(node.id)  # None: a call without a callee
        scope = known[2] if known is not None else self.ctx.index.at(node.start_byte)
        site = self._site(node)
        callee = self.expr(known[0] if known is not None else None, scope)
        self.add(scope, "call", f"{site[0]}:{site[1]}:{site[2]}", callee, node)
        args, args_kind, found = call_arguments(self.ctx, node)
        if args is None or args_kind != "argument_list":
            return
        if callee[0] == "B" and callee[1] != "getattr":
            return  # a builtin's arguments reach no parameter, container or getattr
        index = 0
        for kind, arg, name, keyword_value in found:
            if kind == "keyword_argument":
                key = f"={text(name)}" if name is not None else None
                value = self.expr(keyword_value, scope)
            elif kind == "list_splat":
                key, value = "*", self.expr(arg, scope)
            elif kind == "dictionary_splat":
                key, value = "**", self.expr(arg, scope)
            else:
                key, value = str(index), self.expr(arg, scope)
                if value == UNKNOWN and kind == "string":
                    name = literal(arg)
                    value = ["T", name] if isinstance(name, str) else UNKNOWN
                index += 1
            if key is not None and value != UNKNOWN:
                self.add(scope, "arg", f"{site[0]}:{site[1]}:{key}:{site[2]}", value, arg)


def extract_flows(ctx: FileContext, captures: dict[str, list[Node]]) -> FlowRows | None:
    """Flow rows of one file from the query's captures (see the module docstring), in the
    order the solver reads them; None when there are none."""
    flows = FlowExtractor(ctx)
    for node in captures.get("def", []):
        flows.definition(node)
    assigns = captures.get("assign", [])
    # `a = b = c` nests assignments as the right side of another: those are handled with the
    # outermost one. Found from above, by id (Node.parent re-descends from the root).
    chained = set()
    for node in assigns:
        right = node.child_by_field_id(F_RIGHT)
        if right is not None and right.type in _ASSIGNMENTS:
            chained.add(right.id)
    for node in assigns:
        if node.id not in chained:
            flows.assignment(node)
    for node in captures.get("loop", []):
        flows.loop(node)
    for node in captures.get("handler", []):
        flows.handler(node)
    for node in captures.get("return", []):
        flows.result(node, "return")
    for node in captures.get("yield", []):
        flows.result(node, "yield")
    for node in captures.get("call", []):
        flows.call(node)
    if not flows.rows:
        return None
    rows = solve_order(flows.rows)
    # The list itself in format 4 (a scope or kind repeated by many rows is written once; the
    # expressions inside are format 0 bytes, compared by value), then zlib at its fastest
    # level: a fifth of the size to pickle, write and cache for ~0.2 us a row.
    return FlowRows(len(rows), zlib.compress(marshal.dumps(rows, 4), 1))


_ORDER = itemgetter(5, 6, 1, 2)  # line, column, kind, target: a C key function
_JSON = json_writer(ensure_ascii=False)


def solve_order(rows: list[FlowRow]) -> list[FlowRow]:
    """Rows by line, column, kind and target; the assignments of one statement (``a, b =
    ...``, ``a = b = ...``) by the JSON text of their target. That is the order the solver
    has always evaluated them in, which matters where a solve stops before its fixed point."""
    rows = sorted(rows, key=_ORDER)
    ordered: list[FlowRow] = []
    i, n = 0, len(rows)
    while i < n:
        row = rows[i]
        j = i + 1
        if row[1] == "assign":
            while j < n and rows[j][1] == "assign" and rows[j][5:] == row[5:]:
                j += 1
        if j - i > 1:
            ordered.extend(sorted(rows[i:j], key=lambda r: _JSON(marshal.loads(r[3] or b"N"))))
        else:
            ordered.append(row)
        i = j
    return ordered
