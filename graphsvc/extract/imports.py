"""Import statements: one :class:`Import` per imported name, plus the names they bind."""

from __future__ import annotations

import re

from tree_sitter import Node

from graphsvc.extract.bindings import bind_name
from graphsvc.extract.context import FileContext
from graphsvc.extract.scopes import UNKNOWN_BINDING, Binding, Scope
from graphsvc.facts import Import, ImportKind, ModuleInfo
from graphsvc.parsing import field, start, text

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_NAME = re.compile(r"[A-Za-z_][\w.]*")


def absolute_target(module: ModuleInfo, written: str, level: int) -> str | None:
    """The absolute module a (possibly relative) import names; None when it climbs too high."""
    if level == 0:
        return written
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    parts = package.split(".") if package else []
    if level - 1 >= len(parts):  # climbs above the top package: ImportError in Python
        return None
    base = parts[: len(parts) - (level - 1)]
    rest = written.lstrip(".")
    return ".".join([*base, rest] if rest else base) or None


def _catches_import_error(try_node: Node) -> bool:
    for clause in try_node.named_children:
        if clause.type != "except_clause":
            continue
        caught = [c for c in clause.named_children if c.type != "block"]
        if not caught:
            return True  # bare except
        expression = caught[0]
        if expression.type == "as_pattern" and expression.named_child_count:
            expression = expression.named_children[0]
        names = {n.rpartition(".")[2] for n in _NAME.findall(text(expression))}
        if names & _IMPORT_ERRORS:
            return True
    return False


def _is_type_checking(condition: Node | None) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:`` (not ``if not TYPE_CHECKING``)."""
    if condition is None or condition.type not in ("identifier", "attribute"):
        return False
    return text(condition).rpartition(".")[2] == "TYPE_CHECKING"


def _guards(node: Node) -> tuple[bool, bool]:
    """(inside a try that catches ImportError, inside ``if TYPE_CHECKING``)."""
    in_try = type_checking = False
    child, parent = node, node.parent
    while parent is not None and parent.type != "module":
        if parent.type == "try_statement" and child == field(parent, "body"):
            in_try = in_try or _catches_import_error(parent)
        elif parent.type == "if_statement" and child == field(parent, "consequence"):
            type_checking = type_checking or _is_type_checking(field(parent, "condition"))
        child, parent = parent, parent.parent
    return in_try, type_checking


def _in_function(scope: Scope | None) -> bool:
    while scope is not None:
        if scope.kind in ("function", "lambda"):
            return True
        scope = scope.parent
    return False


def _names(node: Node) -> list[tuple[str, str | None]]:
    """(name as written, alias) for each dotted_name / aliased_import child in the name field."""
    result: list[tuple[str, str | None]] = []
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            alias = field(child, "alias")
            result.append((text(field(child, "name")), text(alias) if alias else None))  # type: ignore[arg-type]
        else:
            result.append((text(child), None))
    return result


def _module_written(node: Node) -> tuple[str, int]:
    module_name = field(node, "module_name")
    if module_name is None:
        return "", 0
    written = text(module_name).replace(" ", "")
    level = len(written) - len(written.lstrip("."))
    return written, level


def extract_imports(ctx: FileContext, nodes: list[Node]) -> list[Import]:
    """An :class:`Import` per imported name; binds the names in the importing scope."""
    imports: list[Import] = []
    for node in nodes:
        scope = ctx.index.at(node.start_byte)
        in_try, type_checking = _guards(node)
        line, col = start(node)
        where = {
            "line": line,
            "col": col,
            "scope": scope.qualname,
            "in_try": in_try,
            "type_checking": type_checking,
            "in_function": _in_function(scope),
        }

        def add(
            written: str,
            level: int,
            target: str | None,
            name: str | None,
            alias: str | None,
            kind: ImportKind,
            where: dict[str, object] = where,
        ) -> None:
            imports.append(
                Import(
                    module=written,
                    level=level,
                    target=target,
                    name=name,
                    alias=alias,
                    kind=kind,
                    **where,  # type: ignore[arg-type]
                )
            )

        if node.type == "import_statement":
            for written, alias in _names(node):
                add(written, 0, written, None, alias, "import")
                bound, target = (alias, written) if alias else (written.split(".")[0],) * 2
                bind_name(ctx, scope, bound, Binding("import", target))
        elif node.type == "future_import_statement":
            for written, alias in _names(node):
                add("__future__", 0, "__future__", written, alias, "future")
        else:
            written, level = _module_written(node)
            target = absolute_target(ctx.module, written, level)
            if any(c.type == "wildcard_import" for c in node.children):
                add(written, level, target, "*", None, "star")
                ctx.resolver.star_import = True
                continue
            for name, alias in _names(node):
                add(written, level, target, name, alias, "from")
                full = f"{target}.{name}" if target else None
                binding = Binding("import", full) if full else UNKNOWN_BINDING
                bind_name(ctx, scope, alias or name, binding)
    return imports
