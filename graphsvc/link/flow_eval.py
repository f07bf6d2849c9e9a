"""Solving one file's value flow: rounds to a fixpoint, and expressions evaluated to values.

:class:`FlowEvaluator` holds the semantics of the expression forms the extractor writes
(:mod:`graphsvc.extract.flow`): variables, definitions, imports, attributes along the MRO,
subscripts of containers, calls (a function's returns evaluated with that call's arguments,
one level of call-site sensitivity), displays, unions. :meth:`FlowEvaluator.solve` runs the
file's assignments, argument bindings and returns in rounds until no node gains a value.
It is separate from :class:`~graphsvc.link.flow.FlowSolver`, which decides which files are
solved, keeps their solutions and replays the names they consulted, and asks questions of a
solution; this module only computes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from graphsvc.link.flow_names import FlowNames
from graphsvc.link.flow_rows import Env, FileFlow, Param, Val, vkey
from graphsvc.link.index import ModuleData

log = logging.getLogger(__name__)

_STORE_METHODS = {"append": 0, "add": 0, "appendleft": 0, "insert": 1, "put": 0}
_EXTEND_METHODS = frozenset({"extend", "update"})
_READ_METHODS = frozenset({"get", "pop", "setdefault", "popleft", "copy"})
_MAX_ROUNDS = 6
_MAX_DEPTH = 24
MAX_VALUES = 64  # a node with more values is not precise enough to name a callee
# Expressions one file's solve may evaluate (a few rounds over a large module). Past it the
# solve stops with what it found so far: fewer edges, never invented ones, and the same cut
# every time for the same facts.
_WORK_LIMIT = 400_000


class OutOfWork(Exception):
    """An evaluation went past ``_WORK_LIMIT`` expressions (the caller resets ``flow.work``)."""


class FlowEvaluator:
    """Evaluates the flow expressions of a file and solves its flow (see the module doc)."""

    def __init__(self, names: FlowNames) -> None:
        self.names = names

    def values(self, flow: FileFlow, expr: Any) -> set[Val]:
        """The values ``expr`` may have in the solved ``flow``.

        Raises:
            OutOfWork: past the work limit.
        """
        return self._eval(flow, expr, {}, 0)

    def call_values(self, flow: FileFlow, site: tuple[int, int, str]) -> set[Val]:
        """The values the call at ``site`` returns, with its own arguments.

        Raises:
            OutOfWork: past the work limit.
        """
        return self._form_call(flow, ["C", *site], {}, 0)

    # ------------------------------------------------------------------ solving

    def solve(self, flow: FileFlow) -> None:
        """Solve ``flow`` in place (a solve past the work limit keeps what it found)."""
        try:
            self._rounds(flow)
        except OutOfWork:
            flow.truncated = True
            log.info("value flow of %s stopped after %d evaluations", flow.data.path, flow.work)
        flow.work = 0  # questions asked of the solution later get a budget of their own
        flow.memo.clear()
        flow.values.clear()

    def _rounds(self, flow: FileFlow) -> None:
        for fn, params in flow.params.items():
            receiver = self._receiver(flow, fn)
            if receiver is not None and params and params[0].index == 0:
                self._add(flow, f"V|{fn}|{params[0].name}", {receiver})
        for _ in range(_MAX_ROUNDS):
            before = flow.version
            flow.memo.clear()
            flow.values.clear()
            for target, value in flow.assigns:
                self._assign(flow, target, self._eval(flow, value, {}, 0))
            for site, args in flow.args.items():  # calls without arguments bind nothing
                callee = flow.calls.get(site)
                if callee is not None:
                    for target in self._eval(flow, callee, {}, 0):
                        self._bind(flow, target, args, {})
            for fn, exprs in flow.returns.items():
                for expr in exprs:
                    self._add(flow, f"R|{fn}", self._eval(flow, expr, {}, 0))
            if flow.version == before:
                break

    def _receiver(self, flow: FileFlow, fn: str) -> Val | None:
        kind = flow.data.kinds.get(fn)
        cls = flow.data.parents.get(fn)
        if cls is None or flow.data.kinds.get(cls) != "class":
            return None
        if kind in ("method", "property"):
            return ("inst", cls)
        if kind == "classmethod":
            return ("cls", cls)
        return None

    def _add(self, flow: FileFlow, key: str, values: Iterable[Val]) -> bool:
        node = flow.nodes.get(key)
        if node is not None and len(node) >= MAX_VALUES:
            return False  # imprecise already: more values would only cost time
        if node is None:
            node = flow.nodes[key] = set()
            if key.startswith("E|"):
                container, _, slot = key[2:].rpartition("|")
                flow.slots.setdefault(container, set()).add(slot)
        before = len(node)
        node.update(values)
        if len(node) == before:
            return False
        flow.version += 1
        return True

    def _assign(self, flow: FileFlow, target: Any, values: set[Val]) -> bool:
        if not values:
            return False
        if target[0] == "V":
            return self._add(flow, vkey(target), values)
        changed = False
        if target[0] == "A":
            for obj in self._eval(flow, target[1], {}, 0):
                if obj[0] in ("inst", "cls"):
                    changed |= self._add(flow, f"F|{obj[1]}|{target[2]}", values)
        elif target[0] == "S":
            key = "*" if target[2] is None else str(target[2])
            for obj in self._eval(flow, target[1], {}, 0):
                if obj[0] == "cont":
                    changed |= self._add(flow, f"E|{obj[1]}|{key}", values)
        return changed

    def _bind(self, flow: FileFlow, target: Val, args: list[tuple[str, Any]], env: Env) -> bool:
        """Arguments of a call of ``target`` into its parameters (functions of this file)."""
        fn, shift = self._function(flow, target)
        if target[0] == "cm":
            return self._container_call(flow, target, args, env)
        if fn is None or fn not in flow.params:
            return False
        changed = False
        for param, values in self._arguments(flow, flow.params[fn], args, shift, env):
            changed |= self._add(flow, f"V|{fn}|{param}", values)
        return changed

    def _function(self, flow: FileFlow, target: Val) -> tuple[str | None, int]:
        """The function a call of ``target`` runs in this file, and the argument shift."""
        if target[0] == "fn":
            return target[1], 0
        if target[0] == "meth":
            return target[1], 1
        if target[0] == "cls":
            init = f"{target[1]}.__init__"
            return (init, 1) if init in flow.params else (None, 0)
        return None, 0

    def _arguments(
        self,
        flow: FileFlow,
        params: list[Param],
        args: list[tuple[str, Any]],
        shift: int,
        env: Env,
    ) -> list[tuple[str, set[Val]]]:
        by_index = {p.index: p for p in params if p.index is not None}
        by_name = {p.name: p for p in params}
        bound: list[tuple[str, set[Val]]] = []
        for key, expr in args:
            values = self._eval(flow, expr, env, 0)
            if not values:
                continue
            if key.startswith("="):
                param = by_name.get(key[1:])
            elif key.isdigit():
                param = by_index.get(int(key) + shift)
            else:
                param = None
            if param is not None:
                bound.append((param.name, values))
        return bound

    def _container_call(
        self, flow: FileFlow, target: Val, args: list[tuple[str, Any]], env: Env
    ) -> bool:
        container, method = target[1].rsplit("|", 1)
        positional = {key: expr for key, expr in args if key.isdigit()}
        changed = False
        if method in _STORE_METHODS and str(_STORE_METHODS[method]) in positional:
            values = self._eval(flow, positional[str(_STORE_METHODS[method])], env, 0)
            changed |= self._add(flow, f"E|{container}|*", values)
        elif method in _EXTEND_METHODS and "0" in positional:
            values = self._elements(flow, self._eval(flow, positional["0"], env, 0), None)
            changed |= self._add(flow, f"E|{container}|*", values)
        return changed

    # ------------------------------------------------------------------ evaluation

    def _eval(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        """The values ``expr`` may have (see graphsvc/extract/flow.py for the forms)."""
        if depth > _MAX_DEPTH or not expr:
            return set()
        flow.work += 1
        if flow.work > _WORK_LIMIT:
            raise OutOfWork
        if not env:
            known = flow.values.get(id(expr))
            if known is not None:
                return known
        form = _FORMS.get(expr[0])
        found = form(self, flow, expr, env, depth + 1) if form is not None else set()
        if not env:
            flow.values[id(expr)] = found
        return found

    def _form_variable(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        return self._variable(flow, expr, env)

    def _form_definition(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        return {self._definition(flow.data, expr[1])}

    def _form_builtin(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        return {("ext", f"<builtin>.{expr[1]}")}

    def _form_import(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        return self.names.resolve(expr[1])

    def _form_attribute(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        found: set[Val] = set()
        for obj in self._eval(flow, expr[1], env, depth):
            found |= self._attribute(flow, obj, expr[2])
        return found

    def _form_element(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        return self._elements(flow, self._eval(flow, expr[1], env, depth), expr[2])

    def _form_call(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        site = (expr[1], expr[2], expr[3])
        callee = flow.calls.get(site)
        if callee is None:
            return set()
        if not env and site in flow.memo:
            return flow.memo[site]
        found = self._call(flow, callee, flow.args.get(site, []), env, depth)
        if not env:
            flow.memo[site] = found
        return found

    def _form_apply(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        args = [(str(i), a) for i, a in enumerate(expr[2])]
        for target in self._eval(flow, expr[1], env, depth):
            self._bind(flow, target, args, env)
        return self._call(flow, expr[1], args, env, depth)

    def _form_new(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        classes = self._eval(flow, expr[1], env, depth)
        return {("inst", v[1]) for v in classes if v[0] == "cls"}

    def _form_display(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        self._fill(flow, expr, env, depth)
        return {("cont", f"{flow.data.file_id}:{expr[2]}")}

    def _form_union(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> set[Val]:
        found: set[Val] = set()
        for part in expr[1]:
            found |= self._eval(flow, part, env, depth)
        return found

    def _fill(self, flow: FileFlow, expr: Any, env: Env, depth: int) -> None:
        """Put a display's elements into its container's slots."""
        container = f"{flow.data.file_id}:{expr[2]}"
        items = enumerate(expr[1]) if expr[0] == "L" else ((k, e) for k, e in expr[1])
        for key, element in items:
            values = self._eval(flow, element, env, depth + 1)
            slot = "*" if key is None else str(key)
            self._add(flow, f"E|{container}|{slot}", values)

    def _variable(self, flow: FileFlow, expr: Any, env: Env) -> set[Val]:
        key = vkey(expr)
        if key in env:
            return env[key]
        found = set(flow.nodes.get(key, ()))
        scope, name = expr[1], expr[2]
        dotted = flow.imports.get((scope, name))
        if dotted is not None:
            found |= self.names.resolve(dotted)
        elif scope == flow.data.name and not flow.assign_counts.get(key):
            found |= self.names.module_member(scope, name)
        return found

    def _definition(self, data: ModuleData, qualname: str) -> Val:
        kind = data.kinds.get(qualname)
        return ("cls", qualname) if kind == "class" else ("fn", qualname)

    def _attribute(self, flow: FileFlow, obj: Val, name: str) -> set[Val]:
        kind = obj[0]
        if kind == "mod":
            return self.names.module_member(obj[1], name)
        if kind == "ext":
            return {("ext", f"{obj[1]}.{name}")}
        if kind == "cont":
            return {("cm", f"{obj[1]}|{name}")}
        if kind in ("cls", "inst"):
            return self._class_attribute(flow, obj, name)
        return set()

    def _class_attribute(self, flow: FileFlow, obj: Val, name: str) -> set[Val]:
        """``C.name`` / ``instance.name``: fields assigned anywhere in the MRO's classes, then
        the class body's binding (a decorated method is what its decorator returned), then the
        definition found along the MRO."""
        found: set[Val] = set()
        body: set[Val] = set()
        for entry in self.names.mro(obj[1]):
            owner = self._flow_of(flow, entry.name) if entry.kind == "symbol" else None
            if owner is None:
                continue
            found |= owner.nodes.get(f"F|{entry.name}|{name}", set())
            if not body:
                body = set(owner.nodes.get(f"V|{entry.name}|{name}", ()))
        instance = obj[0] == "inst"
        if body:
            for value in body:
                method = value[0] == "fn" and self.names.kind(value[1]) in ("method", "property")
                found.add(
                    ("meth", value[1]) if (instance and method) or value[0] == "meth" else value
                )
            return found
        return found | self.names.class_member(obj[1], name, instance)

    def _elements(self, flow: FileFlow, objs: set[Val], key: Any) -> set[Val]:
        found: set[Val] = set()
        for obj in objs:
            if obj[0] == "cont":
                if key is None:
                    for slot in flow.slots.get(obj[1], ()):
                        found |= flow.nodes[f"E|{obj[1]}|{slot}"]
                else:
                    found |= flow.nodes.get(f"E|{obj[1]}|{key}", set())
                    found |= flow.nodes.get(f"E|{obj[1]}|*", set())
            elif obj[0] == "gen":
                owner = self._flow_of(flow, obj[1])
                if owner is not None:
                    for expr in owner.yields.get(obj[1], []):
                        found |= self._eval(owner, expr, {}, 0)
        return found

    def _flow_of(self, flow: FileFlow, qualname: str) -> FileFlow | None:
        """The solution holding ``qualname``: this file's; another file's flow is not read."""
        return flow if qualname in flow.data.kinds else None

    def _call(
        self,
        flow: FileFlow,
        callee: Any,
        args: list[tuple[str, Any]],
        env: Env,
        depth: int,
    ) -> set[Val]:
        """The values a call returns, per target, with this call's arguments (k=1)."""
        found: set[Val] = set()
        for target in self._eval(flow, callee, env, depth + 1):
            kind = target[0]
            if kind == "cls":
                found.add(("inst", target[1]))
            elif kind in ("fn", "meth"):
                found |= self._returns(flow, target, args, env, depth)
            elif target == ("ext", "<builtin>.getattr"):
                found |= self._getattr(flow, args, env, depth)
            elif kind == "cm":
                container, method = target[1].rsplit("|", 1)
                if method in _READ_METHODS:
                    found |= self._elements(flow, {("cont", container)}, None)
                    if method in ("get", "pop", "setdefault"):
                        default = next((e for k, e in args if k == "1"), None)
                        if default is not None:
                            found |= self._eval(flow, default, env, depth + 1)
        return found

    def _getattr(
        self, flow: FileFlow, args: list[tuple[str, Any]], env: Env, depth: int
    ) -> set[Val]:
        """``getattr(obj, "name"[, default])``."""
        given = dict(args)
        name = given.get("1")
        if "0" not in given or not name or name[0] != "T":
            return set()
        found: set[Val] = set()
        for obj in self._eval(flow, given["0"], env, depth + 1):
            found |= self._attribute(flow, obj, name[1])
        if "2" in given:
            found |= self._eval(flow, given["2"], env, depth + 1)
        return found

    def _returns(
        self,
        flow: FileFlow,
        target: Val,
        args: list[tuple[str, Any]],
        env: Env,
        depth: int,
    ) -> set[Val]:
        owner = self._flow_of(flow, target[1])
        if owner is None:
            return set()
        fn = target[1]
        if fn in owner.yields:
            return {("gen", fn)}
        if fn in owner.busy or owner is not flow or env:
            # Recursion, another file's answer, or a call inside a call being evaluated with
            # its arguments: the context-insensitive return (one level of context, k=1).
            return set(owner.nodes.get(f"R|{fn}", ()))
        local: dict[str, set[Val]] = {}
        if owner is flow:
            shift = 1 if target[0] == "meth" else 0
            for param, values in self._arguments(flow, flow.params.get(fn, []), args, shift, env):
                local.setdefault(f"V|{fn}|{param}", set()).update(values)
        found: set[Val] = set(owner.nodes.get(f"R|{fn}", ())) if not local else set()
        owner.busy.add(fn)
        try:
            for expr in owner.returns.get(fn, []):
                found |= self._eval(owner, expr, local, depth + 1)
        finally:
            owner.busy.discard(fn)
        return found


_FORMS: dict[str, Any] = {
    "V": FlowEvaluator._form_variable,
    "D": FlowEvaluator._form_definition,
    "B": FlowEvaluator._form_builtin,
    "I": FlowEvaluator._form_import,
    "A": FlowEvaluator._form_attribute,
    "S": FlowEvaluator._form_element,
    "C": FlowEvaluator._form_call,
    "K": FlowEvaluator._form_apply,
    "N": FlowEvaluator._form_new,
    "L": FlowEvaluator._form_display,
    "M": FlowEvaluator._form_display,
    "U": FlowEvaluator._form_union,
}
