"""Channels that are objects: signals (blinker, Django) and tasks (Celery).

Such a channel is declared by an assignment (``user_created = Signal()``) or a decorator
(``@app.task def resize(...)``) and named by the variable or function (or by the name given to
it: ``signal("user-created")``, ``@app.task(name="images.resize")``). Calls of its methods
(``user_created.send(...)``, ``resize.delay(...)``, ``user_created.connect(f)``,
``@user_created.connect``) produce or consume it, wherever the object is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphsvc.link.topics import Evaluator, Expr, Topic
from graphsvc.rules import ObjectKind, Rule, RuleSet

Row = tuple[Any, ...]
# (file_id, path, line, col, scope, rule, written, topic, rule_id) -> a channel_sites row
MakeRow = Callable[[int, str, int, int, str, Rule, str, Topic, str], Row]


@dataclass(frozen=True, slots=True)
class ChannelObject:
    """A declared signal or task."""

    qualname: str
    kind: ObjectKind
    topic: Topic
    file_id: int
    path: str
    line: int
    col: int
    scope: str
    decorated: bool


def object_rule(kind: ObjectKind, role: str) -> Rule:
    return Rule(f"object:{kind.transport}", kind.transport, (), role, None, "object", "exact")  # type: ignore[arg-type]


def _name_argument(kind: ObjectKind, args: list[list[Any]]) -> Expr | None:
    for key, expr in args:
        if kind.name_keyword is not None and key == f"={kind.name_keyword}":
            return expr
    if kind.name_arg is not None:
        for key, expr in args:
            if key == str(kind.name_arg):
                return expr
    return None


class Objects:
    """The channel objects of the tree, and the sites that use them."""

    def __init__(self, rules: RuleSet, evaluator: Evaluator, resolve: Callable[[str], str]) -> None:
        self.rules = rules
        self.evaluator = evaluator
        self.resolve = resolve  # a dotted name through re-exports to where it is defined
        self.found: dict[str, ChannelObject] = {}
        self._sites: dict[str, tuple[Rule, Topic, str] | None] = {}

    def declare(
        self,
        qualname: str,
        callee: str,
        args: list[list[Any]],
        where: tuple[int, str, int, int, str],
        decorated: bool,
    ) -> None:
        """Note ``qualname`` as a channel object if ``callee`` (its constructor or decorator)
        declares one."""
        kind = self.rules.object_kind(callee, decorator=decorated) if callee else None
        if kind is None:
            return
        file_id, path, line, col, scope = where
        name = _name_argument(kind, args)
        topic = self.evaluator.topic(name, scope) if name is not None else None
        if topic is None or topic.dynamic:
            topic = Topic((qualname,), ("receiver",))
        self.found[qualname] = ChannelObject(
            qualname, kind, topic, file_id, path, line, col, scope, decorated
        )

    def declarations(self, make: MakeRow) -> list[Row]:
        """A declaration site per object declared by assignment; a consumer site per decorated
        one (the task function is what runs when the channel is produced)."""
        rows: list[Row] = []
        for obj in sorted(self.found.values(), key=lambda o: (o.path, o.line, o.qualname)):
            role = "consumer" if obj.decorated else "declaration"
            written = obj.qualname.rsplit(".", 1)[-1]
            rows.append(
                make(
                    obj.file_id,
                    obj.path,
                    obj.line,
                    obj.col,
                    obj.qualname if obj.decorated else obj.scope,
                    object_rule(obj.kind, role),
                    written,
                    obj.topic,
                    f"object:{obj.kind.transport}",
                )
            )
        return rows

    def method_site(self, key: str) -> tuple[Rule, Topic, str] | None:
        """(rule, topic, receiver) when ``key`` (``pkg.signals.saved.send``) calls a producing
        or consuming method of a channel object, declared in the tree or by a library."""
        if key not in self._sites:
            self._sites[key] = self._method_site(key)
        return self._sites[key]

    def _method_site(self, key: str) -> tuple[Rule, Topic, str] | None:
        receiver, _, method = key.rpartition(".")
        if not receiver:
            return None
        dotted = self.resolve(receiver)
        obj = self.found.get(dotted)
        kind = obj.kind if obj is not None else self.rules.external_object(dotted)
        if kind is None:
            return None
        topic = obj.topic if obj is not None else Topic((dotted,), ("external",))
        if method in kind.producers:
            return object_rule(kind, "producer"), topic, dotted
        if method in kind.consumers:
            return object_rule(kind, "consumer"), topic, dotted
        return None

    def named(self, expr: Expr) -> Topic | None:
        """The channel of the object an argument names (``@receiver(order_placed)``)."""
        if not expr or expr[0] != "n":
            return None
        dotted = self.resolve(expr[1])
        obj = self.found.get(dotted)
        if obj is not None:
            return obj.topic
        if self.rules.external_object(dotted) is not None:
            return Topic((dotted,), ("external",))
        return None
