"""Scopes of one file and the names bound in each: the file's own view of what a name means.

Scopes are modules, classes, functions and lambdas (comprehensions are not: their targets are
bound in the enclosing scope). A node's scope is the innermost scope whose *body* contains it,
so decorators, defaults and base classes belong to the scope that holds the definition.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from tree_sitter import Node

BindingKind = Literal[
    "def", "import", "call", "alias", "unknown", "global", "nonlocal", "self", "annotation"
]
ScopeKind = Literal["module", "class", "function", "lambda"]


@dataclass(slots=True)
class Binding:
    """One way a name gets a value in a scope."""

    kind: BindingKind
    target: str | None = None  # qualname (def), dotted import target (import)
    node: Node | None = None  # value expression (call, alias); the type (annotation)
    scope: Scope | None = None  # where ``node`` is evaluated; the class for ``self``
    receiver: Literal["self", "cls"] | None = None
    fallback: Binding | None = None  # annotation: the value's binding, when it names no class


# Bindings are never changed once made, so the many of unknown value (parameters, loop
# targets, ...) share this one instead of each allocating its own.
UNKNOWN_BINDING = Binding("unknown")


@dataclass(slots=True, eq=False)
class Scope:
    """A module, class, function or lambda body."""

    qualname: str
    kind: ScopeKind
    start: int
    end: int
    parent: Scope | None
    node: Node | None = None
    names: dict[str, list[Binding]] = field(default_factory=dict)
    lambdas: int = 0
    method_of: Scope | None = None  # the class whose method this function is
    declared: dict[str, str] = field(default_factory=dict)  # name -> "global" | "nonlocal"
    type_params: set[str] = field(default_factory=set)  # PEP 695: def f[T] / class C[T]

    def bind(self, name: str, binding: Binding) -> None:
        """Add a binding of ``name`` in this scope."""
        self.names.setdefault(name, []).append(binding)

    def enclosing_class(self) -> Scope | None:
        """The class whose method encloses this scope (through nested functions), if any."""
        scope: Scope | None = self
        while scope is not None:
            if scope.method_of is not None:
                return scope.method_of
            scope = scope.parent
        return None


class ScopeIndex:
    """Finds the innermost scope containing a byte offset."""

    def __init__(self, module: Scope) -> None:
        self.module = module
        self._scopes: list[Scope] = [module]
        self._starts: list[int] = [module.start]

    def add(self, scope: Scope) -> None:
        """Register a scope (kept sorted by body start; a lambda in a default comes later)."""
        i = bisect.bisect_right(self._starts, scope.start)
        self._starts.insert(i, scope.start)
        self._scopes.insert(i, scope)

    def at(self, offset: int) -> Scope:
        """The innermost scope whose body contains ``offset``."""
        i = bisect.bisect_right(self._starts, offset) - 1
        scope: Scope | None = self._scopes[i if i > 0 else 0]
        while scope is not None and not (scope.start <= offset < scope.end):
            scope = scope.parent
        return scope if scope is not None else self.module

    def __iter__(self) -> Iterator[Scope]:
        return iter(self._scopes)


def lookup(scope: Scope, name: str) -> list[Binding] | None:
    """Python's LEGB lookup of ``name`` from ``scope`` (class bodies are skipped when nested)."""
    current: Scope | None = scope
    first = True
    while current is not None:
        if current.kind == "class" and not first and name not in current.type_params:
            current = current.parent  # class bodies are invisible to nested scopes...
            continue  # ...except PEP 695 type parameters (class C[T]: ... T in a method)
        bindings = current.names.get(name)
        if bindings:
            declared = current.declared.get(name)
            if declared is None or current.parent is None:  # no parent: the module
                return bindings
            if declared == "global":
                module = current
                while module.parent is not None:
                    module = module.parent
                return module.names.get(name)
            # nonlocal: the binding lives in an enclosing function
        first = False
        current = current.parent
    return None
