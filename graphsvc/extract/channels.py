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
  ``read:iterate``, ...); also module and class names bound to a call in the vocabulary
  (``sig = Signal()``: ``detail`` the constructor, ``data`` its arguments).
- ``deco``: a decorator in the vocabulary on a def (``@app.task``, ``@receiver(sig)``):
  ``name`` the decorated function, ``detail`` the decorator, ``data`` its arguments.

Topic expressions (JSON): ``["s", text]`` a literal (bytes decoded), ``["n", dotted]`` a name
to look up across files, ``["p", name]`` a parameter of the enclosing function, ``["a", name]``
a ``self`` attribute, ``["c", [parts]]`` a concatenation (f-string, ``+``, ``%``, ``format``),
``["l", [items]]`` a list or tuple display, ``["u", [choices]]`` one of several values
(``a if c else b``, ``a or b``), ``["d", text]`` something else (dynamic).
"""

from __future__ import annotations

from tree_sitter import Node

from graphsvc.extract.channel_exprs import (
    UPPER,
    Encoder,
    arguments,
    callee_key,
    dump,
    interesting,
    is_dynamic,
    local_values,
)
from graphsvc.extract.context import FileContext, call_arguments
from graphsvc.extract.handles import Handles, bound_method
from graphsvc.extract.inprocess import collections
from graphsvc.facts import ChannelFact
from graphsvc.parsing import F_DEFINITION, F_FUNCTION, compact, start, text
from graphsvc.rules import VOCABULARY


def extract_channels(ctx: FileContext, captures: dict[str, list[Node]]) -> list[ChannelFact]:
    """The channel facts of one file (see the module docstring)."""
    locals_ = local_values(ctx, captures)
    enc = Encoder(ctx, locals_)
    rows: list[ChannelFact] = []
    _constants(ctx, enc, locals_, rows)
    handles = Handles(ctx, enc, locals_)
    wanted: set[str] = set()  # functions whose parameters the rows refer to
    # calls that are a decorator's expression, by id: asking each call for its parent would
    # re-descend from the root every time (Node.parent)
    decorating = {c.id for d in captures.get("decorator", []) for c in d.named_children}
    sites = ctx.call_sites  # every call with a callee, as extract_calls found it
    for node in captures.get("call", []):
        site = sites.get(node.id)
        if site is None or node.id in decorating:
            continue  # a decorator's call is recorded with the def it decorates
        function, written, caller, scope = site
        handles.call(node, function, written, scope)
        method = written.rsplit(".", 1)[-1]
        if method not in VOCABULARY and not _may_interest(ctx, node):
            continue  # a prefilter on argument node types: no encoding to find nothing
        args = arguments(enc, node, scope)
        if method not in VOCABULARY and not any(interesting(a[1]) for a in args):
            continue
        key = callee_key(ctx, function, scope, locals_)
        if key is not None and key.startswith("<builtin>."):
            continue
        line, col = start(node)
        rows.append(
            ChannelFact("call", line, col, caller.qualname, key or "", compact(written), dump(args))
        )
        if '["p",' in rows[-1].data:
            wanted.add(scope.qualname)
    _declarations(ctx, enc, locals_, rows)
    _decorators(ctx, enc, captures.get("decorator", []), rows)
    _attributes(ctx, enc, rows, wanted)
    _parameters(ctx, enc, rows, wanted)
    collections(ctx, rows, captures.get("mention.attribute", []))
    rows.extend(handles.finish(captures.get("assign", [])))
    return rows


# Argument node types whose topic expression may be interesting (Encoder.expr's cases that
# are not ["d", ...] or ["i", ...], both of which interesting() rejects, as it does an unpacked
# argument's ["d", ...]).
_MAY_INTEREST = frozenset(
    {
        "string",
        "concatenated_string",
        "parenthesized_expression",
        "identifier",
        "attribute",
        "binary_operator",
        "call",
        "conditional_expression",
        "boolean_operator",
        "list",
        "tuple",
        "expression_list",
    }
)


def _may_interest(ctx: FileContext, call: Node) -> bool:
    """Whether an argument of ``call`` may encode to an interesting expression, from the
    argument nodes' types alone (False: :func:`arguments` would find none)."""
    args, args_kind, listed = call_arguments(ctx, call)
    if args is None or args_kind != "argument_list":
        return False
    for kind, _arg, _name, value in listed:
        if kind == "keyword_argument":
            if value is not None and value.type in _MAY_INTEREST:
                return True
        elif kind in _MAY_INTEREST:
            return True
    return False


def _declarations(
    ctx: FileContext,
    enc: Encoder,
    locals_: dict[tuple[str, str], list[Node]],
    rows: list[ChannelFact],
) -> None:
    """``decl`` rows for module level names bound once to a call (``app = Celery("x")``,
    ``user_created = signal("user-created")``), and class level ones whose callee is in the
    vocabulary: what a receiver imported from elsewhere holds."""
    scopes = {s.qualname: s for s in ctx.index if s.kind in ("module", "class")}
    for (holder, name), values in locals_.items():
        scope = scopes.get(holder)
        if scope is None or len(values) != 1 or values[0].type != "call":
            continue
        function = values[0].child_by_field_id(F_FUNCTION)
        if function is None:
            continue
        written = text(function).rsplit(".", 1)[-1]
        key = callee_key(ctx, function, scope, locals_)
        if key is None or key.startswith("<builtin>."):
            continue
        if scope.kind == "class" and written not in VOCABULARY:
            continue
        args = arguments(enc, values[0], scope)
        line, col = start(values[0])
        rows.append(ChannelFact("decl", line, col, holder, f"{holder}.{name}", key, dump(args)))


def _decorators(
    ctx: FileContext, enc: Encoder, decorators: list[Node], rows: list[ChannelFact]
) -> None:
    """``deco`` rows: a decorator in the vocabulary (``@app.task``, ``@receiver(sig)``,
    ``@sig.connect``) on a def; ``name`` is the decorated function."""
    for node in decorators:
        if not node.named_child_count:
            continue
        expression = node.named_children[0]
        call = expression if expression.type == "call" else None
        function = call.child_by_field_id(F_FUNCTION) if call is not None else expression
        if function is None or text(function).rsplit(".", 1)[-1] not in VOCABULARY:
            continue
        decorated = node.parent
        definition = decorated.child_by_field_id(F_DEFINITION) if decorated else None
        qualname = ctx.qualnames.get(definition.id) if definition is not None else None
        if qualname is None:
            continue
        scope = ctx.index.at(node.start_byte)
        key = callee_key(ctx, function, scope, enc.locals)
        args = arguments(enc, call, scope) if call is not None else []
        line, col = start(node)
        rows.append(ChannelFact("deco", line, col, scope.qualname, qualname, key or "", dump(args)))


def _constants(
    ctx: FileContext,
    enc: Encoder,
    locals_: dict[tuple[str, str], list[Node]],
    rows: list[ChannelFact],
) -> None:
    scopes = {s.qualname: s for s in ctx.index if s.kind in ("module", "class")}
    for (holder, name), values in locals_.items():
        scope = scopes.get(holder)
        if scope is None or len(values) != 1:
            continue
        value = enc.expr(values[0], scope)
        if value[0] == "i" and not UPPER.match(name):
            continue  # an integer is a topic only as a named constant (a PORT) in a string
        if value[0] in ("s", "n", "c", "i") and not is_dynamic(value):
            line, col = start(values[0])
            rows.append(
                ChannelFact("const", line, col, holder, f"{holder}.{name}", "", dump(value))
            )


def _attributes(ctx: FileContext, enc: Encoder, rows: list[ChannelFact], wanted: set[str]) -> None:
    for row, value, scope in ctx.pending_attributes:
        if row.via != "self" or value is None or scope.kind != "function":
            continue
        expr = enc.expr(value, scope)
        if not interesting(expr) or is_dynamic(expr):
            continue
        rows.append(
            ChannelFact(
                "attr",
                row.line,
                row.col,
                scope.qualname,
                f"{row.class_qualname}.{row.name}",
                "",
                dump(expr),
            )
        )
        if '["p",' in rows[-1].data:
            wanted.add(scope.qualname)


def _parameters(ctx: FileContext, enc: Encoder, rows: list[ChannelFact], wanted: set[str]) -> None:
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
            detail = f"{'' if index is None else index}:{kind}:{int(bound_method(scope))}"
            rows.append(ChannelFact("param", line, col, scope.qualname, name, detail, dump(value)))
