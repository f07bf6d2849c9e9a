"""Classes, functions, methods and lambdas: scopes, qualified names, symbols, parameters."""

from __future__ import annotations

from tree_sitter import Node

from graphsvc.extract.context import FileContext
from graphsvc.extract.scopes import Binding, Scope
from graphsvc.facts import Symbol, SymbolKind
from graphsvc.parsing import compact, end, field, literal, start, text

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
    first = next((c for c in body.named_children if c.type != "comment"), None)
    if first is None or first.type != "expression_statement" or first.named_child_count != 1:
        return None
    string = first.named_children[0]
    if string.type not in ("string", "concatenated_string"):
        return None
    parts = string.named_children if string.type == "concatenated_string" else [string]
    for part in parts:
        prefix = text(part.named_children[0]).lower() if part.named_child_count else ""
        if "f" in prefix or "b" in prefix:
            return None
    value = literal(string)
    for line in (value or "").splitlines():
        if line.strip():
            return compact(line.strip())
    return None


def _decorators(node: Node) -> tuple[str, ...]:
    parent = node.parent
    if parent is None or parent.type != "decorated_definition":
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


def _param_names(params: Node | None) -> tuple[list[str], str | None]:
    """(every parameter name, the first positional parameter's name: the method receiver)."""
    names: list[str] = []
    receiver: str | None = None
    if params is None:
        return names, receiver
    for child in params.named_children:
        node: Node | None = child
        if child.type in _PARAM_NAME_FIELDS:
            node = field(child, "name")
        elif child.type == "typed_parameter":  # x: int, *args: int, **kw: int
            node = child.named_children[0] if child.named_child_count else None
        positional = node is not None and node.type == "identifier"
        while node is not None and node.type in ("list_splat_pattern", "dictionary_splat_pattern"):
            node = node.named_children[0] if node.named_child_count else None
        if node is None or node.type != "identifier":
            continue
        names.append(text(node))
        if positional and receiver is None and not names[:-1]:
            receiver = names[-1]
    return names, receiver


def _type_parameters(node: Node) -> list[str]:
    """Names a PEP 695 ``def f[T, *Ts, **P]`` / ``class C[T]`` binds in its own scope."""
    params = field(node, "type_parameters")
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


def _new_scope(ctx: FileContext, node: Node, parent: Scope) -> tuple[Scope, str]:
    body = field(node, "body")
    body_start = body.start_byte if body is not None else node.end_byte
    body_end = body.end_byte if body is not None else node.end_byte
    if node.type == "lambda":
        parent.lambdas += 1
        name = f"<lambda{parent.lambdas}>"
        kind = "lambda"
    else:
        name_node = field(node, "name")
        name = text(name_node) if name_node is not None else "<anonymous>"
        kind = "class" if node.type == "class_definition" else "function"
    scope = Scope(f"{parent.qualname}.{name}", kind, body_start, body_end, parent, node)  # type: ignore[arg-type]
    return scope, name


def _bind_params(node: Node, scope: Scope, parent: Scope, symbol_kind: SymbolKind) -> None:
    names, receiver = _param_names(field(node, "parameters"))
    for name in _type_parameters(node):
        scope.type_params.add(name)
        scope.bind(name, Binding("unknown"))
    is_method = parent.kind == "class" and symbol_kind != "staticmethod" and node.type != "lambda"
    for name in names:
        if is_method and name == receiver:
            is_cls = symbol_kind == "classmethod" or scope.qualname.rsplit(".", 1)[-1] in (
                _CLS_METHODS
            )
            scope.bind(name, Binding("self", scope=parent, receiver="cls" if is_cls else "self"))
        else:
            scope.bind(name, Binding("unknown"))


def extract_definitions(ctx: FileContext, nodes: list[Node]) -> None:
    """Create a scope, a symbol and a binding for every class, function and lambda."""
    for node in nodes:
        parent = ctx.index.at(node.start_byte)
        scope, name = _new_scope(ctx, node, parent)
        ctx.index.add(scope)
        ctx.qualnames[node.id] = scope.qualname
        decorators = _decorators(node)
        line, col = start(node)
        end_line, end_col = end(node)
        bases: tuple[str, ...] = ()
        if node.type == "class_definition":
            kind: SymbolKind = "class"
            ctx.resolver.classes.add(scope.qualname)
            superclasses = field(node, "superclasses")
            written = superclasses.named_children if superclasses is not None else []
            bases = tuple(compact(text(b)) for b in written if b.type != "comment")
            ctx.resolver.bases[scope.qualname] = [
                b for b in written if b.type not in ("keyword_argument", "comment")
            ]
        elif node.type == "lambda":
            kind = "lambda"
        else:
            kind = _function_kind(parent.kind, decorators)
            if parent.kind == "class":
                scope.method_of = parent
        if node.type != "lambda":
            parent.bind(name, Binding("def", scope.qualname))
        _bind_params(node, scope, parent, kind)
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
                decorators=decorators,
                bases=bases,
                docstring=docstring(field(node, "body")) if node.type != "lambda" else None,
                is_async=bool(node.child_count) and node.children[0].type == "async",
            )
        )
