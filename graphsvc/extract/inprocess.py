"""In-process queues and collections at attribute level: ``self.x = []`` (or ``deque()``,
``queue.Queue()``, ...) declares one, and each write or read of ``self.x`` in a method of the
class is a use (``write:append``, ``read:iterate``, ``read:passed``, ...)."""

from __future__ import annotations

from operator import attrgetter

from tree_sitter import Node

from graphsvc.extract.context import FileContext
from graphsvc.facts import Attribute, ChannelFact
from graphsvc.parsing import (
    F_ATTRIBUTE,
    F_FUNCTION,
    F_LEFT,
    F_OBJECT,
    F_RIGHT,
    F_VALUE,
    start,
    text,
)
from graphsvc.rules import VOCABULARY

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


_TRUTH = frozenset(
    {
        "if_statement",
        "elif_clause",
        "while_statement",
        "not_operator",
        "boolean_operator",
        "conditional_expression",
        "assert_statement",
    }
)
# Holding it somewhere else lets other code read (or write) it: an escape counts as both.
_ESCAPES = frozenset(
    {
        "pair",
        "set",
        "list",
        "tuple",
        "expression_list",
        "await",
        "lambda",
        "default_parameter",
        "typed_default_parameter",
    }
)


def _method_operation(attribute: Node) -> str | None:
    """``self.x.m(...)`` or ``self.x.m`` (a bound method kept for later): by the method's name;
    any other attribute of it (``self.x.maxlen``) reads it."""
    method = attribute.child_by_field_id(F_ATTRIBUTE)
    name = text(method) if method is not None else ""
    if name in WRITES:
        return f"write:{name}"
    if name == "clear":
        return None  # empties it: neither feeds nor drains a channel
    return f"read:{name}"


def _operation(node: Node) -> str | None:
    """What the code around ``self.x`` (``node``) does with it: ``write:...``/``read:...``."""
    parent = node.parent
    if parent is None:
        return None
    kind = parent.type
    if kind == "attribute":
        return _method_operation(parent)
    if kind == "augmented_assignment" and parent.child_by_field_id(F_LEFT) == node:
        return "write:extend"
    if kind == "subscript" and parent.child_by_field_id(F_VALUE) == node:
        holder = parent.parent
        if (
            holder is not None
            and holder.type in ("assignment", "augmented_assignment")
            and holder.child_by_field_id(F_LEFT) == parent
        ):
            return "write:setitem"
        return "read:index"
    if kind in ("for_statement", "for_in_clause") and parent.child_by_field_id(F_RIGHT) == node:
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
    return _plain_read(kind, parent, node)


def _plain_read(kind: str, parent: Node, node: Node) -> str | None:
    """Reads that name no method: returning, yielding, comparing, testing, aliasing it."""
    if kind == "return_statement":
        return "read:returned"
    if kind in ("yield", "comparison_operator", "list_splat", "binary_operator"):
        return "read:iterate"
    if kind in _TRUTH:
        return "read:truth"
    if kind == "assignment" and parent.child_by_field_id(F_RIGHT) == node:
        return "read:passed"  # aliased: another name now reads or writes it
    if kind in _ESCAPES:
        return "read:passed"
    return None


def _uses(names: list[Node], owners: dict[str, list[str]]) -> tuple[list[Node], list[Node]]:
    """The ``self.x`` attribute nodes and the ``x`` of other ``obj.x`` (any object but a plain
    ``self``), ``x`` an owned name, in document order.

    ``names`` are the attribute names of every ``obj.x`` of the file (the extraction query's
    ``mention.attribute``): filtered by text first, so that only the few uses of owned names
    pay for ``Node.parent`` (which re-descends from the root), instead of two more queries
    over the whole tree."""
    wanted = {name.encode("utf-8", "surrogatepass") for name in owners}
    own: list[Node] = []
    other: list[Node] = []
    for node in names:
        raw = node.text
        if raw is None or (
            raw not in wanted and (raw.isascii() or raw.decode("utf-8", "replace") not in owners)
        ):
            continue
        attribute = node.parent
        obj = attribute.child_by_field_id(F_OBJECT) if attribute is not None else None
        if attribute is None or obj is None:
            continue
        if obj.type == "identifier" and obj.text == b"self":
            own.append(attribute)
        elif obj.is_named and obj.text != b"self":
            other.append(node)
    own.sort(key=_START_BYTE)
    other.sort(key=_START_BYTE)
    return own, other


_START_BYTE = attrgetter("start_byte")


def _elsewhere(
    ctx: FileContext, declared: dict[str, set[str]], others: list[Node], rows: list[ChannelFact]
) -> None:
    """``other.x`` and ``getattr(self, "x")`` in this file, ``x`` the name of a declared
    collection attribute: code outside the class's own ``self.x`` may read it (or write it),
    so each such use counts as both (``read:elsewhere``) for every class here declaring ``x``."""
    owners = _owners(declared)
    found: list[tuple[int, int, str, str]] = []
    for node in others:
        name = text(node)
        if name in owners:
            line, col = start(node)
            found.append((line, col, ctx.index.at(node.start_byte).qualname, name))
    for ref in ctx.references:
        if ref.kind in ("getattr", "hasattr", "setattr") and ref.context in owners:
            found.append((ref.line, ref.col, ref.scope, ref.context))
    for line, col, scope, name in found:
        for cls in owners[name]:
            rows.append(
                ChannelFact("use", line, col, scope, f"{cls}.{name}", "read:passed", "null")
            )


def _fills(row: Attribute) -> bool:
    """Whether an assignment to a collection attribute puts items in it: a list display with
    elements, a comprehension, ``list(x)`` / ``deque(x)``, or any value computed elsewhere;
    not ``[]``, ``None`` or a constructor called empty (``Queue(10)``: its argument is a size)."""
    value = row.value.strip()
    if row.value_kind in ("none", "absent") or value in ("[]", ""):
        return False
    if row.value_kind == "call":
        kind = _collection_kind(row)
        if kind is None:
            return True  # self.x = compute(): whatever it returns
        if kind.rsplit(".", 1)[-1] not in ("list", "deque"):
            return False
        inside = value[value.find("(") + 1 : -1].strip()
        return bool(inside) and not inside.startswith("maxlen")
    return True


def _owners(declared: dict[str, set[str]]) -> dict[str, list[str]]:
    """Attribute name -> the classes of the file that declare it as a collection."""
    owners: dict[str, list[str]] = {}
    for cls, names in declared.items():
        for name in names:
            owners.setdefault(name, []).append(cls)
    return owners


def collections(ctx: FileContext, rows: list[ChannelFact], attribute_names: list[Node]) -> None:
    """``decl`` rows for attributes holding a collection or queue, ``use`` rows for every
    write or read of them in the methods of the classes of this file (``self.x`` counts for
    each class of the file that declares ``x``: a base class's method reads the subclass's).

    ``attribute_names``: the ``x`` of every ``obj.x`` in the file (see :func:`_uses`)."""
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
    owners = _owners(declared)
    for row in ctx.attributes:
        if row.via == "self" and row.name in declared.get(row.class_qualname, ()) and _fills(row):
            name = f"{row.class_qualname}.{row.name}"
            rows.append(
                ChannelFact("use", row.line, row.col, row.scope, name, "write:assigned", "null")
            )
    own, others = _uses(attribute_names, owners)
    for node in own:
        scope = ctx.index.at(node.start_byte)
        cls = scope.enclosing_class()
        attr = node.child_by_field_id(F_ATTRIBUTE)
        if cls is None or attr is None:
            continue
        name = text(attr)
        # every class of the file declaring it: self.x in a base class's method is the
        # subclass's x too (the file cannot tell which classes inherit which, so all count)
        holders = owners.get(name, [])
        op = _operation(node) if holders else None
        if op is None:
            continue
        line, col = start(node)
        for holder in holders:
            rows.append(
                ChannelFact("use", line, col, scope.qualname, f"{holder}.{name}", op, "null")
            )
    _elsewhere(ctx, declared, others, rows)
