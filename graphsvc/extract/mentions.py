"""Name mentions: every identifier a file reads, every attribute it reads, and every string
literal that looks like a name, counted per file.

The linker resolves what it can; dead-code analysis must also know what it could *not* see.
A method ``m`` is only certainly unreachable when no ``x.m`` anywhere could be a call of it, no
``getattr(obj, "m")`` and no registry listing ``"pkg.mod.m"`` names it. These counts are that
evidence (the way vulture decides, but kept per file so a change costs O(that file)).

What is left out, because it is a definition or a binding rather than a use: the names of
``def`` and ``class``, imported names (the import links say what those are), keyword argument
names, and plain names or attributes on the left of ``=``. Everything else counts: counting too
many mentions can only lower a dead-code finding's confidence, never invent one.
"""

from __future__ import annotations

import re
from collections import Counter
from operator import attrgetter

from tree_sitter import Node, Query, QueryCursor

from graphsvc.facts import NameMention
from graphsvc.parsing import (
    F_ATTRIBUTE,
    F_LEFT,
    F_NAME,
    F_OBJECT,
    F_VALUE,
    LANGUAGE,
    plain_string,
)

# Every identifier, and the contexts that decide what an identifier counts as, as captures
# (part of the extraction query, see graphsvc.extract.context):
# tree-sitter matches each pattern in C, so no Python code asks a node for its parent (each
# ``Node.parent`` re-descends from the root) or its fields. An identifier's class follows from
# its parent and the field it fills, which is exactly what a pattern states (an identifier is
# never a direct child of an import statement: the grammar, which the query checks, says so).
PATTERNS = """
    (identifier) @mention.name
    (function_definition name: (identifier) @mention.definer)
    (class_definition name: (identifier) @mention.definer)
    (keyword_argument name: (identifier) @mention.keyword)
    (dotted_name (identifier) @mention.dotted)
    (aliased_import (identifier) @mention.dotted)
    (attribute attribute: (identifier) @mention.attribute)
    (assignment left: (attribute attribute: (identifier) @mention.stored_attribute))
    (assignment left: (identifier) @mention.stored)
    (assignment left: (subscript value: (identifier) @mention.store))
    (expression_statement
      (call
        function: (attribute
          object: (identifier) @mention.store
          attribute: (identifier) @_mention.adder
          (#any-of? @_mention.adder
            "append" "add" "extend" "insert" "update" "setdefault" "appendleft" "register"))))
    (string) @mention.string
    (expression_statement (string) @mention.statement_string)
    (binary_operator left: (string) @mention.operand_string)
    """
_QUERY = Query(LANGUAGE, PATTERNS)
# A string that may name code: an identifier, a dotted path, or an entry point `pkg.mod:func`.
_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[.:][A-Za-z_][A-Za-z0-9_]*)*")
# The literal head of a name built at run time: "visit_" + x, f"do_{x}", "on_%s" % x.
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_STRING = 200
_DEFINERS = frozenset({"function_definition", "class_definition"})
_IMPORTS = frozenset(
    {"import_statement", "import_from_statement", "future_import_statement", "aliased_import"}
)
_ASSIGNS = frozenset({"assignment", "augmented_assignment"})
# Methods that put something into a collection without reading it back.
_ADDERS = frozenset(
    {"append", "add", "extend", "insert", "update", "setdefault", "appendleft", "register"}
)


def extract_mentions(
    root: Node, captures: dict[str, list[Node]] | None = None
) -> tuple[NameMention, ...]:
    """The name, attribute and string mentions of one file, counted, in a stable order.

    Args:
        root: the file's syntax tree.
        captures: the captures of a query that includes :data:`PATTERNS` (the extraction
            query does: one walk of the tree serves both); None runs them here.
    """
    if captures is None:
        captures = QueryCursor(_QUERY).captures(root)

    def nodes(capture: str) -> list[Node]:
        return captures.get(f"mention.{capture}", [])

    def texts(capture: str) -> Counter[bytes]:
        return Counter(map(_TEXT, nodes(capture)))

    # Each identifier has one parent and fills one field, so the capture lists below are
    # disjoint subsets of @name: what is left after taking them out is a plain name use.
    names = texts("name")
    for taken in ("definer", "keyword", "dotted", "attribute", "stored"):
        names.subtract(texts(taken))
    attributes = texts("attribute")
    attributes.subtract(texts("stored_attribute"))
    counts: Counter[tuple[str, str]] = Counter()
    for kind, found in (("name", names), ("attribute", attributes), ("store", texts("store"))):
        for raw, count in found.items():
            if count > 0:
                counts[(raw.decode("utf-8", "replace"), kind)] += count
    # names in dotted names and imports: only those outside an import statement count
    for node in nodes("dotted"):
        kind = _identifier_kind(node)
        if kind is not None and node.text is not None:
            counts[(node.text.decode("utf-8", "replace"), kind)] += 1
    statement = {n.id for n in nodes("statement_string")}
    operand = {n.id for n in nodes("operand_string")}
    for node in nodes("string"):
        node_id = node.id
        _string(node, counts, node_id in statement, node_id in operand)
    return tuple(NameMention(name, kind, count) for (name, kind), count in sorted(counts.items()))


_TEXT = attrgetter("text")


def _identifier_kind(node: Node) -> str | None:
    parent = node.parent
    if parent is None:
        return "name"
    ptype = parent.type
    if ptype in _DEFINERS and parent.child_by_field_id(F_NAME) == node:
        return None
    if ptype == "keyword_argument" and parent.child_by_field_id(F_NAME) == node:
        return None
    if ptype == "dotted_name" or ptype in _IMPORTS:
        holder = parent.parent if ptype == "dotted_name" else parent
        while holder is not None and holder.type in (
            "dotted_name",
            "aliased_import",
            "relative_import",
        ):
            holder = holder.parent
        if holder is not None and holder.type in _IMPORTS:
            return None
        return "name"
    if ptype == "attribute":
        if parent.child_by_field_id(F_ATTRIBUTE) != node:
            return "name"  # the object: `a` of a.b
        return None if _stored(parent) else "attribute"
    return None if _stored(node) else "name"


def _stores_into(node: Node) -> bool:
    """``node`` names a collection something is put into: ``R[k] = v``, ``R.append(v)``."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "subscript" and parent.child_by_field_id(F_VALUE) == node:
        return _stored(parent)
    if parent.type == "attribute" and parent.child_by_field_id(F_OBJECT) == node:
        method = parent.child_by_field_id(F_ATTRIBUTE)
        call = parent.parent
        return (
            method is not None
            and method.text is not None
            and method.text.decode("utf-8", "replace") in _ADDERS
            and call is not None
            and call.type == "call"
            and call.parent is not None
            and call.parent.type == "expression_statement"
        )
    return False


def _stored(node: Node) -> bool:
    """``node`` is the whole left side of ``=`` (a binding, not a use); ``x += 1`` reads x."""
    parent = node.parent
    return (
        parent is not None
        and parent.type == "assignment"
        and parent.child_by_field_id(F_LEFT) == node
    )


def _string(node: Node, counts: Counter[tuple[str, str]], statement: bool, operand: bool) -> None:
    """Count string ``node``: ``statement`` when it is a whole expression statement (a
    docstring), ``operand`` when it is the left operand of a binary operator."""
    plain = plain_string(node)
    if plain is not None:  # no interpolation, and one string_content: plain (none if empty)
        if not statement and plain:
            _counted(plain, counts, operand)
        return
    children = node.children  # asked once: each .children builds a list of new nodes
    kinds = [c.type for c in children]
    if "interpolation" in kinds:
        # f"visit_{x}": only a literal head that ends right before the first {...} can name code
        if len(children) > 2 and kinds[1] == "string_content" and children[1].text is not None:
            head = children[1].text.decode("utf-8", "replace")
            if _PREFIX.fullmatch(head):
                counts[(head, "prefix")] += 1
        return
    if statement:
        return  # a docstring or a bare string statement names nothing (and is no operand)
    if kinds.count("string_content") != 1:
        return
    raw = children[kinds.index("string_content")].text
    if raw is not None:
        _counted(raw, counts, operand)


def _counted(raw: bytes, counts: Counter[tuple[str, str]], operand: bool) -> None:
    """Count a plain string's content ``raw`` (see :func:`_string`)."""
    value = raw.decode("utf-8", "replace")
    if len(value) > MAX_STRING:
        return
    if operand:
        head = _PREFIX.match(value)  # "visit_" + name, "on_%s" % event
        if head is not None:
            counts[(head.group(), "prefix")] += 1
    if _NAME_LIKE.fullmatch(value):
        counts[(value, "string")] += 1
