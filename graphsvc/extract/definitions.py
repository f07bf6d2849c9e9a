"""Classes, functions, methods and lambdas: scopes, qualified names, symbols, parameters."""

from __future__ import annotations

from tree_sitter import Node

from graphsvc.extract.context import FileContext
from graphsvc.extract.scopes import Binding, Scope
from graphsvc.facts import Symbol, SymbolKind
from graphsvc.parsing import compact, end, field, start, text

_PROPERTY_DECORATORS = frozenset(
    {"property", "cached_property", "functools.cached_property", "abc.abstractproperty"}
)
_CLS_METHODS = frozenset({"__new__", "__init_subclass__", "__class_getitem__"})
_PARAM_NAME_FIELDS = ("default_parameter", "typed_default_parameter")


def docstring(body: Node | None) -> str | None:
    """First non-blank line of the docstring that opens ``body`` (a block or module)."""
    if body is None:
        return None
    for child in body.named_children:
        if child.type == "comment":
            continue
        if child.type != "expression_statement" or child.named_child_count != 1:
            return None
        string = child.named_children[0]
        if string.type != "string":
            return None
        content = "".join(text(c) for c in string.named_children if c.type == "string_content")
        for line in content.splitlines():
            if line.strip():
                return compact(line.strip())
        return None
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


def _param_names(params: Node | None) -> list[str]:
    names: list[str] = []
    if params is None:
        return names
    for child in params.named_children:
        if child.type == "identifier":
            names.append(text(child))
        elif child.type in _PARAM_NAME_FIELDS:
            name = field(child, "name")
            if name is not None:
                names.append(text(name))
        elif child.type in ("typed_parameter", "list_splat_pattern", "dictionary_splat_pattern"):
            ident = next((c for c in child.named_children if c.type == "identifier"), None)
            if ident is not None:
                names.append(text(ident))
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
    names = _param_names(field(node, "parameters"))
    for i, name in enumerate(names):
        if i == 0 and parent.kind == "class" and symbol_kind != "staticmethod":
            is_cls = symbol_kind == "classmethod" or scope.qualname.rsplit(".", 1)[-1] in (
                _CLS_METHODS
            )
            receiver = "cls" if is_cls else "self"
            scope.bind(name, Binding("self", scope=parent, receiver=receiver))
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
