"""The state one extraction run shares between its steps (one file, one tree, one query run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

from tree_sitter import Node, Query, QueryCursor

from graphsvc.extract.mentions import PATTERNS as MENTION_PATTERNS
from graphsvc.extract.resolve import Resolver
from graphsvc.extract.scopes import Binding, Scope, ScopeIndex
from graphsvc.facts import Attribute, AttributeWrite, ModuleInfo, ParseError, Reference, Symbol
from graphsvc.parsing import F_ARGUMENTS, F_NAME, F_VALUE, LANGUAGE

# One query, run once per file: tree-sitter walks the tree in C and hands back only the nodes
# the extractors need, so no Python code ever recurses over (or even visits) every node.
QUERY = Query(
    LANGUAGE,
    """
    (function_definition) @def
    (class_definition) @def
    (lambda) @def
    (import_statement) @import
    (import_from_statement) @import
    (future_import_statement) @import
    (global_statement) @global
    (nonlocal_statement) @global
    (assignment) @assign
    (augmented_assignment) @assign
    (for_statement left: (_) @target)
    (for_in_clause left: (_) @target)
    (as_pattern_target) @target
    (named_expression name: (identifier) @target)
    (case_pattern (dotted_name . (identifier) @target .))
    (keyword_pattern (dotted_name . (identifier) @target .))
    (splat_pattern (identifier) @target)
    (case_pattern (as_pattern (identifier) @target))
    (call) @call
    (for_statement) @loop
    (for_in_clause) @loop
    (except_clause) @handler
    (return_statement) @return
    (yield) @yield
    (decorator) @decorator
    (argument_list [(identifier) (attribute)] @argref)
    (keyword_argument value: [(identifier) (attribute)] @argref)
    (list [(identifier) (attribute)] @elemref)
    (tuple [(identifier) (attribute)] @elemref)
    (set [(identifier) (attribute)] @elemref)
    (pair value: [(identifier) (attribute)] @elemref)
    (subscript value: [(identifier) (attribute)] @subref subscript: (string))
    (argument_list (string) @strref)
    (keyword_argument value: (string) @strref)
    (list (string) @strref)
    (tuple (string) @strref)
    (set (string) @strref)
    (pair value: (string) @strref)
    (assignment right: (string) @strref)
    """
    + MENTION_PATTERNS,
)
# Only a tree that has_error holds ERROR or MISSING nodes (both carry the error cost has_error
# reports), so they are looked for in such trees alone: in every other tree the two patterns
# would cost a tenth of the query's time to find nothing.
ERROR_QUERY = Query(
    LANGUAGE,
    """
    (ERROR) @error
    (MISSING) @error
    """,
)


def run_query(root: Node) -> dict[str, list[Node]]:
    """All captures of :data:`QUERY` (and, in a tree with errors, :data:`ERROR_QUERY`) under
    ``root``, each list in document order (the ``mention.*`` lists, which are only counted, in
    no particular order).

    Document order is pre-order: of two nodes that start at the same byte (``a().b()`` and
    ``a()``), the enclosing one comes first. ``captures()`` hands its nodes back in an order
    that changes from run to run, so sorting by start alone left such ties in that order.
    """
    captures = QueryCursor(QUERY).captures(root)
    if root.has_error:
        captures.update(QueryCursor(ERROR_QUERY).captures(root))
    for name, nodes in captures.items():
        if not name.startswith("mention."):
            nodes.sort(key=_END_BYTE, reverse=True)  # stable, as the next one: ties by end...
            nodes.sort(key=_START_BYTE)  # ...then by start, the enclosing node first
    return captures


# C key functions: no Python frame per node
_START_BYTE = attrgetter("start_byte")
_END_BYTE = attrgetter("end_byte")


# (type, node, keyword name, keyword value) of an argument; name and value for a keyword only
Argument = tuple[str, Node, Node | None, Node | None]
# a call's arguments node (None without one), its type, and its arguments but comments (none
# listed for a generator expression, the one argument of f(x for x in y))
CallArguments = tuple[Node | None, str, list[Argument]]
_NO_ARGUMENTS: CallArguments = (None, "", [])


def call_arguments(ctx: FileContext, call: Node) -> CallArguments:
    """The arguments of ``call`` (a ``call`` node of ``ctx``'s tree), read once per file."""
    found = ctx.arguments.get(call.id)
    if found is None:
        found = ctx.arguments[call.id] = _read_arguments(call)
    return found


def _read_arguments(call: Node) -> CallArguments:
    args = call.child_by_field_id(F_ARGUMENTS)
    if args is None:
        return _NO_ARGUMENTS
    kind = args.type
    if kind == "generator_expression":
        return args, kind, []
    found: list[Argument] = []
    for child in args.named_children:
        child_kind = child.type
        if child_kind == "keyword_argument":
            name, value = child.child_by_field_id(F_NAME), child.child_by_field_id(F_VALUE)
            found.append((child_kind, child, name, value))
        elif child_kind != "comment":
            found.append((child_kind, child, None, None))
    return args, kind, found


@dataclass(slots=True)
class FileContext:
    """What the extract steps of one file build up and read."""

    path: str
    module: ModuleInfo
    root: Node
    index: ScopeIndex
    resolver: Resolver = field(default_factory=Resolver)
    qualnames: dict[int, str] = field(default_factory=dict)  # def/class/lambda node id -> qualname
    symbols: list[Symbol] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    attribute_writes: list[AttributeWrite] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    # (value node, scope, target text) of `name = other_name` assignments, resolved after binding
    aliases: list[tuple[Node, Scope, str]] = field(default_factory=list)
    # (attribute row without candidate, value node, scope), resolved after binding
    pending_attributes: list[tuple[Attribute, Node | None, Scope]] = field(default_factory=list)
    nonlocals: list[tuple[Scope, str, Binding]] = field(default_factory=list)
    all_events: list[tuple[int, str, Node | None]] = field(default_factory=list)  # __all__
    # argument node id -> its call's callee as written: saves extract_references a climb up
    # the tree per argument (Node.parent re-descends from the root: the priciest node access)
    argument_callees: dict[int, str] = field(default_factory=dict)
    callees: dict[int, str] = field(default_factory=dict)  # call node id -> callee as written
    # call node id -> (callee node, callee as written, enclosing scope, scope its names are
    # looked up in): extract_calls works them out, the channel and flow steps reuse them
    call_sites: dict[int, tuple[Node, str, Scope, Scope]] = field(default_factory=dict)
    # def/class node id -> the decorated_definition around it (one with decorators only)
    decorated: dict[int, Node] = field(default_factory=dict)
    # call node id -> its arguments (see call_arguments): asked of tree-sitter once, not once
    # per extractor (calls, flows and channels each read every call's arguments)
    arguments: dict[int, CallArguments] = field(default_factory=dict)
    variables: set[str] = field(default_factory=set)
