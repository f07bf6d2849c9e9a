"""Classes, functions, methods and lambdas: scopes, qualified names, symbols, parameters."""

from __future__ import annotations

from tree_sitter import Node

from graphsvc.extract.context import FileContext
from graphsvc.extract.scopes import UNKNOWN_BINDING, Binding, Scope
from graphsvc.facts import Symbol, SymbolKind
from graphsvc.parsing import (
    F_BODY,
    F_NAME,
    F_PARAMETERS,
    F_SUPERCLASSES,
    F_TYPE,
    F_TYPE_PARAMETERS,
    compact,
    end,
    literal,
    start,
    text,
)

_PROPERTY_DECORATORS = frozenset(
    {"property", "cached_property", "functools.cached_property", "abc.abstractproperty"}
)
_CLS_METHODS = frozenset({"__new__", "__init_subclass__", "__class_getitem__"})
_PARAM_NAME_FIELDS = ("default_parameter", "typed_default_parameter")


def docstring(body: Node | None) -> str | None:
    """First non-blank line of the docstring that opens ``body`` (a block or module).

    As Python: a plain or concatenated string literal (escapes decoded); f-strings and bytes
    are not docstrings.
    """
    if body is None:
        return None
    first = _first_statement(body)
    if first is None or first.type != "expression_statement" or first.named_child_count != 1:
        return None
    string = first.named_children[0]
    kind = string.type
    if kind not in ("string", "concatenated_string"):
        return None
    parts = string.named_children if kind == "concatenated_string" else [string]
    for part in parts:
        prefix = text(part.named_children[0]).lower() if part.named_child_count else ""
        if "f" in prefix or "b" in prefix:
            return None
    value = literal(string)
    for line in (value or "").splitlines():
        if line.strip():
            return compact(line.strip())
    return None


def _first_statement(body: Node) -> Node | None:
    """The first named child that is not a comment. Asked child by child: ``named_children``
    would wrap every statement of the body (every method of a class) in a Node first."""
    for i in range(body.named_child_count):
        child = body.named_child(i)
        if child.type != "comment":
            return child
    return None


def decorated_definitions(decorators: list[Node]) -> dict[int, Node]:
    """Node id of each child of a ``decorated_definition`` -> that decorated_definition.

    Found from the decorators up (one ``Node.parent`` each) rather than from every definition
    up: ``Node.parent`` re-descends from the root, and most definitions have no decorator. A
    decorated_definition without a decorator child is missed, which is the same: no decorators.
    """
    found: dict[int, Node] = {}
    for decorator in decorators:
        parent = decorator.parent
        if parent is None or parent.type != "decorated_definition":
            continue
        for child in parent.children:
            found[child.id] = parent
    return found


def _decorators(node: Node, decorated: dict[int, Node]) -> tuple[str, ...]:
    parent = decorated.get(node.id)
    if parent is None:
        return ()
    return tuple(
        compact(text(d.named_children[0]))
        for d in parent.named_children
        if d.type == "decorator" and d.named_child_count
    )


def _function_kind(scope_kind: str, decorators: tuple[str, ...]) -> SymbolKind:
    if scope_kind != "class":
        return "function"
    for decorator in decorators:
        if decorator in ("staticmethod",):
            return "staticmethod"
        if decorator == "classmethod":
            return "classmethod"
        if decorator in _PROPERTY_DECORATORS or decorator.endswith(
            (".setter", ".getter", ".deleter")
        ):
            return "property"
    return "method"


def _param_names(params: Node | None) -> tuple[list[str], str | None, dict[str, Node]]:
    """(every parameter name, the first positional parameter's name: the method receiver,
    the annotation of each plain annotated parameter: ``model: Model``, not ``*a: Model``)."""
    names: list[str] = []
    receiver: str | None = None
    annotations: dict[str, Node] = {}
    if params is None:
        return names, receiver, annotations
    for child in params.named_children:
        node: Node | None = child
        kind = child.type
        if kind in _PARAM_NAME_FIELDS:
            node = child.child_by_field_id(F_NAME)
        elif kind == "typed_parameter":  # x: int, *args: int, **kw: int
            node = child.named_children[0] if child.named_child_count else None
        kind = node.type if node is not None else ""
        annotation = (
            child.child_by_field_id(F_TYPE)
            if kind == "identifier" and child.type in ("typed_parameter", "typed_default_parameter")
            else None
        )
        positional = kind == "identifier"
        while node is not None and kind in ("list_splat_pattern", "dictionary_splat_pattern"):
            node = node.named_children[0] if node.named_child_count else None
            kind = node.type if node is not None else ""
        if node is None or kind != "identifier":
            continue
        names.append(text(node))
        if annotation is not None:
            annotations[names[-1]] = annotation
        if positional and receiver is None and len(names) == 1:
            receiver = names[-1]
    return names, receiver, annotations


def _type_parameters(node: Node) -> list[str]:
    """Names a PEP 695 ``def f[T, *Ts, **P]`` / ``class C[T]`` binds in its own scope."""
    params = node.child_by_field_id(F_TYPE_PARAMETERS)
    if params is None:
        return []
    names: list[str] = []
    stack = list(params.named_children)
    while stack:
        current = stack.pop()
        if current.type == "identifier":
            names.append(text(current))
        elif current.type in ("type", "list_splat_pattern", "dictionary_splat_pattern"):
            stack.extend(current.named_children[:1])
    return names


def _new_scope(node: Node, kind: str, body: Node | None, parent: Scope) -> tuple[Scope, str]:
    body_start = body.start_byte if body is not None else node.end_byte
    body_end = body.end_byte if body is not None else node.end_byte
    if kind == "lambda":
        parent.lambdas += 1
        name = f"<lambda{parent.lambdas}>"
        scope_kind = "lambda"
    else:
        name_node = node.child_by_field_id(F_NAME)
        name = text(name_node) if name_node is not None else "<anonymous>"
        scope_kind = "class" if kind == "class_definition" else "function"
    scope = Scope(f"{parent.qualname}.{name}", scope_kind, body_start, body_end, parent, node)  # type: ignore[arg-type]
    return scope, name


def _bind_params(
    node: Node, node_kind: str, scope: Scope, parent: Scope, symbol_kind: SymbolKind
) -> None:
    names, receiver, annotations = _param_names(node.child_by_field_id(F_PARAMETERS))
    for name in _type_parameters(node):
        scope.type_params.add(name)
        scope.bind(name, UNKNOWN_BINDING)
    is_method = parent.kind == "class" and symbol_kind != "staticmethod" and node_kind != "lambda"
    for name in names:
        if is_method and name == receiver:
            is_cls = symbol_kind == "classmethod" or scope.qualname.rsplit(".", 1)[-1] in (
                _CLS_METHODS
            )
            scope.bind(name, Binding("self", scope=parent, receiver="cls" if is_cls else "self"))
        elif name in annotations:  # evaluated where the def is: the class body or the module
            scope.bind(name, Binding("annotation", node=annotations[name], scope=parent))
        else:
            scope.bind(name, UNKNOWN_BINDING)


def extract_definitions(ctx: FileContext, nodes: list[Node], decorators: list[Node]) -> None:
    """Create a scope, a symbol and a binding for every class, function and lambda."""
    decorated = ctx.decorated = decorated_definitions(decorators)
    for node in nodes:
        node_kind = node.type
        body = node.child_by_field_id(F_BODY)
        parent = ctx.index.at(node.start_byte)
        scope, name = _new_scope(node, node_kind, body, parent)
        ctx.index.add(scope)
        ctx.qualnames[node.id] = scope.qualname
        decorations = _decorators(node, decorated)
        line, col = start(node)
        end_line, end_col = end(node)
        bases: tuple[str, ...] = ()
        if node_kind == "class_definition":
            kind: SymbolKind = "class"
            ctx.resolver.classes.add(scope.qualname)
            superclasses = node.child_by_field_id(F_SUPERCLASSES)
            written = superclasses.named_children if superclasses is not None else []
            bases = tuple(compact(text(b)) for b in written if b.type != "comment")
            ctx.resolver.bases[scope.qualname] = [
                b for b in written if b.type not in ("keyword_argument", "comment")
            ]
        elif node_kind == "lambda":
            kind = "lambda"
        else:
            kind = _function_kind(parent.kind, decorations)
            if parent.kind == "class":
                scope.method_of = parent
        if node_kind != "lambda":
            parent.bind(name, Binding("def", scope.qualname))
        _bind_params(node, node_kind, scope, parent, kind)
        ctx.symbols.append(
            Symbol(
                qualname=scope.qualname,
                name=name,
                kind=kind,
                parent=parent.qualname,
                line=line,
                col=col,
                end_line=end_line,
                end_col=end_col,
                decorators=decorations,
                bases=bases,
                docstring=docstring(body) if node_kind != "lambda" else None,
                # child(0), not children[0]: children would wrap every child in a Node
                is_async=bool(node.child_count) and node.child(0).type == "async",
            )
        )
