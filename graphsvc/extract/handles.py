"""Handles: objects a factory call makes and code hands around, whose method calls produce or
consume a channel (a ``multiprocessing.Pipe``'s two ends, a ZeroMQ PUSH/PULL socket).

A handle is followed through *places* of the file: ``["v", scope, name]`` (a local or a
parameter of function ``scope``, or a module name) and ``["a", "Class.attr"]`` (a ``self``
attribute). Rows (``channel_facts``; the channel pass joins them across files):

- ``hmake``: a factory call assigned to places: ``name`` the callee as the file infers it
  (``?.socket`` when the receiver's type is unknown),
  ``detail`` the places (JSON list, one per end: ``a, b = Pipe()``; null where not a place),
  ``data`` the arguments.
- ``huse``: a handle method called on a place (``b.recv()``, ``sock.bind(addr)``): ``name``
  the place (JSON), ``detail`` the method, ``data`` the arguments.
- ``hcopy``: ``dst = src`` between places (``self.conn = conn``): ``name`` dst, ``detail`` src.
- ``harg``: a place passed to a function (``f(b)``, ``Process(target=f, args=(b,))``):
  ``name`` the function as the file names it (``?`` when it cannot: the end escapes),
  ``detail`` ``position:bound`` (``=name:bound`` for a keyword; bound: called through an
  instance, so a method's ``self`` comes first), ``data`` the place.
- ``hparam``: a parameter of a function that a ``huse`` or ``hcopy`` row reads: ``name`` the
  function, ``detail`` the parameter, ``data`` ``[index, bound]`` (its index among the
  parameters, whether calls pass the first one implicitly).

Only places that can hold a handle are kept: made by a factory, used with a handle method, or
copied to or from such a place (to a fixed point within the file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tree_sitter import Node

from graphsvc.extract.channel_exprs import Encoder, arguments, callee_key, dump
from graphsvc.extract.context import FileContext
from graphsvc.extract.flow import owner
from graphsvc.extract.scopes import Scope, lookup
from graphsvc.facts import ChannelFact
from graphsvc.parsing import (
    F_ARGUMENTS,
    F_ATTRIBUTE,
    F_FUNCTION,
    F_LEFT,
    F_NAME,
    F_OBJECT,
    F_RIGHT,
    F_VALUE,
    json_writer,
    start,
    text,
)
from graphsvc.rules import HANDLE_FACTORIES, HANDLE_METHODS

Place = list[str]
_PATTERNS = frozenset({"pattern_list", "tuple_pattern", "list_pattern", "tuple"})
_BOUND_KINDS = frozenset({"self", "instance", "self_attr", "annotation", "cls"})


def place(node: Node | None, scope: Scope) -> Place | None:
    """The place ``node`` names in ``scope``: a name, or ``self.attr``; else None."""
    if node is None:
        return None
    if node.type == "identifier":
        name = text(node)
        holder = owner(scope, name)
        return ["v", holder.qualname, name] if holder is not None else None
    if node.type != "attribute":
        return None
    obj, attr = node.child_by_field_id(F_OBJECT), node.child_by_field_id(F_ATTRIBUTE)
    if obj is None or attr is None or obj.type != "identifier":
        return None
    bindings = lookup(scope, text(obj))
    if not bindings or len(bindings) != 1 or bindings[0].kind != "self":
        return None
    cls = bindings[0].scope
    if cls is None or bindings[0].receiver != "self":
        return None
    return ["a", f"{cls.qualname}.{text(attr)}"]


_DUMP = json_writer(ensure_ascii=True)


def _key(found: Place) -> str:
    return _DUMP(found)


@dataclass(slots=True)
class Handles:
    """Collects one file's handle rows while the channel extractor walks its calls."""

    ctx: FileContext
    enc: Encoder
    locals_: dict[tuple[str, str], list[Node]]
    rows: list[ChannelFact] = field(default_factory=list)
    relevant: set[str] = field(default_factory=set)  # places (JSON) that may hold a handle
    _calls: list[tuple[Node, Scope]] = field(default_factory=list)
    _used: set[int] = field(default_factory=set)  # ids of the calls of handle methods

    def call(self, node: Node, function: Node, written: str, scope: Scope) -> None:
        """Note a call: a factory (``Pipe()``, ``ctx.socket(...)``) or a handle method."""
        method = written.rsplit(".", 1)[-1]
        self._calls.append((node, scope))
        if method in HANDLE_FACTORIES:
            self._made(node, function, scope)
        elif method in HANDLE_METHODS and function.type == "attribute":
            obj = function.child_by_field_id(F_OBJECT)
            found = place(obj, scope)
            if found is None and obj is not None and _attribute_factory(obj):
                # channel.default_exchange.publish(...): a handle made and used at once
                found = ["t", scope.qualname, "{}:{}".format(*start(obj))]
                self._made(obj, obj, scope, [found])
            if found is not None:
                self._used.add(node.id)
                line, col = start(node)
                args = arguments(self.enc, node, scope)
                args += self._place_arguments(node, scope)
                self.rows.append(
                    ChannelFact("huse", line, col, scope.qualname, _key(found), method, dump(args))
                )
                self.relevant.add(_key(found))

    def _place_arguments(self, node: Node, scope: Scope) -> list[list[Any]]:
        """``["@0", place]``, ``["@=exchange", place]``: arguments that are places (an
        exchange object passed to ``queue.bind``)."""
        found: list[list[Any]] = []
        args = node.child_by_field_id(F_ARGUMENTS)
        position = 0
        for arg in args.named_children if args is not None else []:
            if arg.type == "keyword_argument":
                name = arg.child_by_field_id(F_NAME)
                where = place(arg.child_by_field_id(F_VALUE), scope)
                if where is not None and name is not None:
                    found.append([f"@={text(name)}", _key(where)])
            elif arg.type not in ("comment", "list_splat", "dictionary_splat"):
                where = place(arg, scope)
                if where is not None:
                    found.append([f"@{position}", _key(where)])
                position += 1
        return found

    def _made(
        self, node: Node, function: Node, scope: Scope, places: list[Place] | None = None
    ) -> None:
        """A factory call (or attribute: ``channel.default_exchange``) assigned to places
        (``a, b = Pipe()``, ``queue = await channel.declare_queue("q")``)."""
        if places is None:
            places = self._assigned(node, scope)
        if not places or not any(p is not None for p in places):
            return
        key = callee_key(self.ctx, function, scope, self.locals_)
        if key is None and function.type == "attribute":
            # ctx.socket(zmq.PUSH) on a context the file cannot type: the pass accepts it
            # only for factories whose type argument names one of the rules' types
            key = "?." + text(function).rsplit(".", 1)[-1]
        if key is None or key.startswith("<builtin>."):
            return
        self.relevant.update(_key(p) for p in places if p is not None)
        line, col = start(node)
        args = dump(arguments(self.enc, node, scope) if node.type == "call" else [])
        self.rows.append(ChannelFact("hmake", line, col, scope.qualname, key, dump(places), args))

    @staticmethod
    def _assigned(node: Node, scope: Scope) -> list[Place | None]:
        """The places ``node`` (a call, maybe awaited) is assigned to."""
        value, parent = node, node.parent
        if parent is not None and parent.type == "await":
            value, parent = parent, parent.parent
        if parent is None or parent.type != "assignment":
            return []
        right = parent.child_by_field_id(F_RIGHT)
        left = parent.child_by_field_id(F_LEFT)
        if right is None or right.id != value.id or left is None:
            return []
        targets = list(left.named_children) if left.type in _PATTERNS else [left]
        return [place(t, scope) for t in targets]

    def finish(self, assigns: list[Node]) -> list[ChannelFact]:
        """The rows, with the copies and arguments that move a relevant place's handle."""
        if not self.relevant:
            return []
        copies = self._copies(assigns)
        changed = True
        while changed:  # a copy touching a relevant place makes both ends relevant
            changed = False
            for dst, src, _ in copies:
                if (dst in self.relevant) != (src in self.relevant):
                    self.relevant.update((dst, src))
                    changed = True
        for dst, src, node in copies:
            if dst in self.relevant:
                line, col = start(node)
                scope = self.ctx.index.at(node.start_byte).qualname
                self.rows.append(ChannelFact("hcopy", line, col, scope, dst, src, "null"))
        for node, scope in self._calls:
            if node.id not in self._used:  # what a handle method is given is its payload
                self._arguments(node, scope)
        self._parameters()
        return self.rows

    def _copies(self, assigns: list[Node]) -> list[tuple[str, str, Node]]:
        found: list[tuple[str, str, Node]] = []
        for node in assigns:
            if node.type != "assignment":
                continue
            left, right = node.child_by_field_id(F_LEFT), node.child_by_field_id(F_RIGHT)
            if left is None or right is None or right.type not in ("identifier", "attribute"):
                continue
            scope = self.ctx.index.at(node.start_byte)
            dst, src = place(left, scope), place(right, scope)
            if src is None and _attribute_factory(right):  # exchange = channel.default_exchange
                self._made(right, right, scope)
                continue
            if dst is not None and src is not None:
                found.append((_key(dst), _key(src), node))
        return found

    def _arguments(self, node: Node, scope: Scope) -> None:
        """``f(end)`` and ``Process(target=f, args=(end,))``: the end reaches f's parameter."""
        args = node.child_by_field_id(F_ARGUMENTS)
        if args is None or args.type != "argument_list":
            return
        function = node.child_by_field_id(F_FUNCTION)
        if function is None:
            return
        target: Node | None = None
        passed: list[Node] = []
        position = 0
        for arg in args.named_children:
            if arg.type == "keyword_argument":
                name = arg.child_by_field_id(F_NAME)
                value = arg.child_by_field_id(F_VALUE)
                keyword = text(name) if name is not None else ""
                if keyword == "target" and value is not None:
                    target = value
                elif keyword == "args" and value is not None and value.type in ("tuple", "list"):
                    passed = [a for a in value.named_children if a.type != "comment"]
                elif value is not None and keyword:  # f(conn=b): the parameter named conn
                    self._argument(node, function, value, f"={keyword}", scope)
                continue
            if arg.type not in ("comment", "list_splat", "dictionary_splat"):
                self._argument(node, function, arg, position, scope)
                position += 1
        if target is not None:
            for index, arg in enumerate(passed):
                self._argument(node, target, arg, index, scope)

    def _argument(
        self, call: Node, function: Node, arg: Node, position: int | str, scope: Scope
    ) -> None:
        found = place(arg, scope)
        if found is None or _key(found) not in self.relevant:
            return
        candidate, kind = self.ctx.resolver.candidate(function, scope)
        if candidate is not None and candidate.startswith("<builtin>."):
            return  # print(conn), id(conn): no builtin sends or receives on it
        if candidate is None or "|" in candidate:
            candidate = "?"  # a callee the file cannot name: the end escapes there
        line, col = start(call)
        bound = int(kind in _BOUND_KINDS)
        self.rows.append(
            ChannelFact(
                "harg", line, col, scope.qualname, candidate, f"{position}:{bound}", _key(found)
            )
        )

    def _parameters(self) -> None:
        """``hparam`` rows for the parameters that relevant places name."""
        scopes = {s.qualname: s for s in self.ctx.index if s.kind == "function"}
        for key in sorted(self.relevant):
            found = json.loads(key)
            scope = scopes.get(found[1]) if found[0] == "v" else None
            if scope is None:
                continue
            params = list(self.enc.parameters(scope))
            if found[2] not in params:
                continue
            bound = bound_method(scope)
            line, col = start(scope.node) if scope.node is not None else (0, 0)
            data: list[Any] = [params.index(found[2]), bound]
            self.rows.append(
                ChannelFact(
                    "hparam", line, col, scope.qualname, scope.qualname, found[2], dump(data)
                )
            )


def _attribute_factory(node: Node) -> bool:
    """``x.default_exchange``: a factory that is an attribute, not a call."""
    if node.type != "attribute":
        return False
    attr = node.child_by_field_id(F_ATTRIBUTE)
    return attr is not None and text(attr) in HANDLE_FACTORIES


def bound_method(scope: Scope) -> bool:
    """Whether calls of the method pass its first parameter implicitly (self or cls)."""
    if scope.method_of is None or scope.node is None:
        return False
    parent = scope.node.parent
    if parent is not None and parent.type == "decorated_definition":
        return not any(text(c).strip() == "@staticmethod" for c in parent.named_children)
    return True
