"""Value flow: what a callee expression may hold, solved per file over its ``flows`` rows.

The solver is flow-insensitive within a file (every assignment to a name counts everywhere)
with one exception that keeps it precise where it matters: a function's return value is
evaluated per call with that call's arguments bound to the parameters (one level of call-site
sensitivity), so ``register(f)`` returning ``f`` returns this ``f``, not every function ever
registered. Arguments flow into parameters of functions of the same file; a function of another
file contributes its return value (from that file's own solution), not its parameters.

Values: a function, method, lambda or class of the tree; an instance of a class; a bound
method; a module; an outside name (stdlib, installed, builtin); a container created at one
place in the code (its elements are slots, by literal key or ``*``); a generator of a function
(its elements are what the function yields).
"""

from __future__ import annotations

import logging
import marshal
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from graphsvc.facts import FlowRow
from graphsvc.link.index import ImportRow, Key, ModuleData, top_name
from graphsvc.link.names import CALLABLE_SYMBOLS, Lookup, Value
from graphsvc.store import one_of

log = logging.getLogger(__name__)

# A value: (kind, name). kinds: fn, cls, inst, meth (bound method), mod, ext (outside or
# builtin: name is the dotted name), cont (container id), gen (function qualname), cm
# (a container's method: name is "id|method").
Val = tuple[str, str]
Env = dict[str, set[Val]]  # variable values of one call's parameters (call-site sensitivity)
_STORE_METHODS = {"append": 0, "add": 0, "appendleft": 0, "insert": 1, "put": 0}
_EXTEND_METHODS = frozenset({"extend", "update"})
_READ_METHODS = frozenset({"get", "pop", "setdefault", "popleft", "copy"})
_MAX_ROUNDS = 6
_MAX_DEPTH = 24
_MAX_VALUES = 64  # a node with more values is not precise enough to name a callee
# Expressions one file's solve may evaluate (a few rounds over a large module). Past it the
# solve stops with what it found so far: fewer edges, never invented ones, and the same cut
# every time for the same facts.
_WORK_LIMIT = 400_000


class _OutOfWork(Exception):
    pass


@dataclass(slots=True)
class _Param:
    name: str
    index: int | None
    kind: str
    default: Any


@dataclass(slots=True)
class FileFlow:
    """The solved flow of one file."""

    data: ModuleData
    assigns: list[tuple[Any, Any]] = field(default_factory=list)  # (target, value)
    calls: dict[tuple[int, int, str], Any] = field(default_factory=dict)  # site -> callee
    args: dict[tuple[int, int, str], list[tuple[str, Any]]] = field(default_factory=dict)
    params: dict[str, list[_Param]] = field(default_factory=dict)
    returns: dict[str, list[Any]] = field(default_factory=dict)
    yields: dict[str, list[Any]] = field(default_factory=dict)
    imports: dict[tuple[str, str], str] = field(default_factory=dict)  # (scope, name) -> dotted
    nodes: dict[str, set[Val]] = field(default_factory=dict)
    assign_counts: dict[str, int] = field(default_factory=dict)
    version: int = 0  # bumped whenever a node gains a value
    memo: dict[tuple[int, int, str], set[Val]] = field(default_factory=dict)  # per round
    slots: dict[str, set[str]] = field(default_factory=dict)  # container -> its slot keys
    # id(expression) -> its values, this round (expressions are the parsed rows: ids stay put)
    values: dict[int, set[Val]] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)  # functions whose returns are being evaluated
    work: int = 0  # expressions evaluated; the solve stops at _WORK_LIMIT
    truncated: bool = False


class FlowSolver:
    """Solves files on demand within one linker run (answers replay their dependencies)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, lookup: Lookup) -> None:
        self.con = con
        self.lookup = lookup
        # file -> solution and the names it consulted. Kept whatever happened inside (unlike
        # Lookup's memo): a solution only asks top-level questions of the name layer, whose
        # answers do not depend on what was asked before.
        self._solutions: dict[int, tuple[FileFlow | None, frozenset[Key]]] = {}
        # file -> its encoded flow rows (FlowRows.data; None: it has none), read ahead
        self._rows: dict[int, bytes | None] = {}
        self._imports: dict[int, list[tuple[Any, ...]]] = {}
        self._parsed: dict[bytes, Any] = {}

    # ------------------------------------------------------------------ public

    def results(self, file_id: int, site: tuple[int, int, str]) -> list[Value]:
        """The functions and classes the call at ``site`` returns (a decorator factory's
        decorator: applying ``@factory(...)`` calls them)."""
        flow = self.file(file_id)
        if flow is None or site not in flow.calls:
            return []
        try:
            values = self._form_call(flow, ["C", *site], {}, 0)
        except _OutOfWork:
            return []
        finally:
            flow.work = 0
        found = [v for v in map(self._to_value, values) if v is not None and v.kind == "symbol"]
        return sorted(found, key=_order) if len(found) <= _MAX_VALUES else []

    def callees(
        self, file_id: int, site: tuple[int, int, str], scope: str
    ) -> tuple[list[Value], bool]:
        """What the call at ``site`` of ``file_id`` (in ``scope``) may call, and whether each
        of them does: not so when the callee is a name its own scope binds more than once
        (which binding is current depends on the order of statements, which is not tracked;
        a function reading a rebound global or outer name may see any of them)."""
        flow = self.file(file_id)
        if flow is None or site not in flow.calls:
            return [], False
        callee = flow.calls[site]
        try:
            values = self._eval(flow, callee, {}, 0)
        except _OutOfWork:
            return [], False
        finally:
            flow.work = 0
        if len(values) > _MAX_VALUES:
            return [], False
        rebound = callee[0] == "V" and flow.assign_counts.get(_vkey(callee), 0) > 1
        certain = not (rebound and callee[1] == scope)
        return sorted(filter(None, map(self._to_value, values)), key=_order), certain

    def file(self, file_id: int) -> FileFlow | None:
        """The solved flow of a file; using it replays the names its solution consulted.

        A solution reads no other file's flow (only the name layer), so the answers do not
        depend on the order files are solved in and import cycles cannot recurse.
        """
        hit = self._solutions.get(file_id)
        if hit is not None:
            self.lookup.deps |= hit[1]
            return hit[0]
        outer = self.lookup.deps
        self.lookup.deps = set()
        try:
            flow = self._solved(file_id)
            self._solutions[file_id] = (flow, frozenset(self.lookup.deps))
        finally:
            outer |= self.lookup.deps
            self.lookup.deps = outer
        return flow

    def _solved(self, file_id: int) -> FileFlow | None:
        data = self.lookup.index.by_file.get(file_id)
        if data is None:
            return None
        flow = self._load(file_id, data)
        self._solve(flow)
        return flow

    # ------------------------------------------------------------------ loading

    def prefetch(
        self,
        file_ids: list[int],
        imports: dict[int, list[ImportRow]],
        flows: dict[int, bytes] | None = None,
    ) -> None:
        """Read the flow rows of ``file_ids`` in one query, unless ``flows`` has them (a file
        is loaded when solved); ``imports`` holds their import rows (read with their other
        sites)."""
        self._rows = dict.fromkeys(file_ids)
        self._parsed.clear()
        if flows is not None:
            self._rows.update((f, flows[f]) for f in file_ids if f in flows)
        else:
            for file_id, data in self.con.execute(
                "SELECT file_id, data FROM flows WHERE " + one_of("file_id", len(file_ids)),
                {"ids": file_ids},
            ).fetchall():
                self._rows[file_id] = data
        self._imports.clear()
        for file_id in file_ids:
            self._imports[file_id] = [
                (scope, kind, target, name, alias)
                for _, _, _, scope, kind, target, name, _, alias in imports.get(file_id, ())
                if kind in ("import", "from") and target is not None
            ]

    def release(self, file_id: int) -> None:
        """Forget a file's solutions once its sites are linked (memory stays per chunk)."""
        self._solutions.pop(file_id, None)

    def _parse(self, data: bytes) -> Any:
        """An expression, decoded once per distinct encoding (rows repeat expressions such as
        ``self``; equal expressions share one object, which the per-round cache relies on)."""
        parsed = self._parsed.get(data)
        if parsed is None:
            parsed = self._parsed[data] = marshal.loads(data)
        return parsed

    def _load(self, file_id: int, data: ModuleData) -> FileFlow:
        flow = FileFlow(data)
        if file_id in self._rows:
            encoded = self._rows.pop(file_id)
        else:
            found = self.con.execute(
                "SELECT data FROM flows WHERE file_id = $f", {"f": file_id}
            ).fetchone()
            encoded = found[0] if found is not None else None
        rows: list[FlowRow] = marshal.loads(zlib.decompress(encoded)) if encoded else []
        for scope, kind, target, place, value, _, _ in rows:
            parsed = self._parse(value)
            if kind == "assign" and place is not None:
                tgt = self._parse(place)
                flow.assigns.append((tgt, parsed))
                if tgt[0] == "V":
                    key = _vkey(tgt)
                    flow.assign_counts[key] = flow.assign_counts.get(key, 0) + 1
            elif kind == "param":
                index, pkind, default = parsed
                flow.params.setdefault(scope, []).append(_Param(target, index, pkind, default))
                if default is not None:  # a default reaches the parameter whatever the call
                    flow.assigns.append((["V", scope, target], default))
            elif kind == "return":
                flow.returns.setdefault(scope, []).append(parsed)
            elif kind == "yield":
                flow.yields.setdefault(scope, []).append(parsed)
            elif kind == "call":
                line, col, callee = target.split(":", 2)
                flow.calls[(int(line), int(col), callee)] = parsed
            elif kind == "arg":
                line, col, key, callee = target.split(":", 3)
                flow.args.setdefault((int(line), int(col), callee), []).append((key, parsed))
        self._load_imports(flow)
        return flow

    def _load_imports(self, flow: FileFlow) -> None:
        """What each import binds, by (scope, name): names the flow rows leave to imports."""
        rows = self._imports.pop(flow.data.file_id, None)
        if rows is None:
            rows = self.con.execute(
                "SELECT scope, kind, target, name, alias FROM imports WHERE file_id = $f"
                " AND kind IN ('import', 'from') AND target IS NOT NULL",
                {"f": flow.data.file_id},
            ).fetchall()
        for scope, kind, target, name, alias in rows:
            if kind == "from":
                flow.imports[(scope, alias or name)] = f"{target}.{name}"
            else:
                top = target.split(".", 1)[0]
                flow.imports[(scope, alias or top)] = target if alias else top

    # ------------------------------------------------------------------ solving

    def _solve(self, flow: FileFlow) -> None:
        try:
            self._rounds(flow)
        except _OutOfWork:
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
        if node is not None and len(node) >= _MAX_VALUES:
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
            return self._add(flow, _vkey(target), values)
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
        params: list[_Param],
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
            raise _OutOfWork
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
        return self._resolved(self.lookup.resolve(expr[1]))

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
        key = _vkey(expr)
        if key in env:
            return env[key]
        found = set(flow.nodes.get(key, ()))
        scope, name = expr[1], expr[2]
        dotted = flow.imports.get((scope, name))
        if dotted is not None:
            found |= self._resolved(self.lookup.resolve(dotted))
        elif scope == flow.data.name and not flow.assign_counts.get(key):
            values = self.lookup.module_member(scope, name)
            found |= self._resolved([v for v in values if v.kind != "missing"])
        return found

    def _definition(self, data: ModuleData, qualname: str) -> Val:
        kind = data.kinds.get(qualname)
        return ("cls", qualname) if kind == "class" else ("fn", qualname)

    def _resolved(self, values: Iterable[Value]) -> set[Val]:
        """Name-layer values as flow values (a variable's value is not followed across files)."""
        found: set[Val] = set()
        for value in values:
            if value.kind == "module":
                found.add(("mod", value.name))
            elif value.kind in ("external", "builtin"):
                found.add(("ext", value.name))
            elif value.kind == "symbol":
                if value.symbol_kind == "class":
                    found.add(("cls", value.name))
                elif value.symbol_kind in CALLABLE_SYMBOLS:
                    found.add(("fn", value.name))
        return found

    def _attribute(self, flow: FileFlow, obj: Val, name: str) -> set[Val]:
        kind = obj[0]
        if kind == "mod":
            members = self.lookup.module_member(obj[1], name)
            return self._resolved(v for v in members if v.kind != "missing")
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
        for entry in self.lookup.mro(obj[1], self._module_of(obj[1])):
            owner = self._flow_of(flow, entry.name) if entry.kind == "symbol" else None
            if owner is None:
                continue
            found |= owner.nodes.get(f"F|{entry.name}|{name}", set())
            if not body:
                body = set(owner.nodes.get(f"V|{entry.name}|{name}", ()))
        instance = obj[0] == "inst"
        if body:
            for value in body:
                method = value[0] == "fn" and self._kind(value[1]) in ("method", "property")
                found.add(
                    ("meth", value[1]) if (instance and method) or value[0] == "meth" else value
                )
            return found
        members = self.lookup.remember(
            ("member", obj[1], name), lambda: self.lookup.class_member(obj[1], name)
        )
        for value in members:
            if value.kind == "symbol" and value.symbol_kind in CALLABLE_SYMBOLS:
                bound = instance and value.symbol_kind in ("method", "property")
                bound |= value.symbol_kind == "classmethod"
                found.add(("meth" if bound else "fn", value.name))
            elif value.kind != "missing":
                found |= self._resolved([value])
        return found

    def _kind(self, qualname: str) -> str | None:
        """Symbol kind of a definition; an inner function (a decorator's wrapper) counts as a
        method when it is stored on a class, as Python binds it then."""
        module = self._module_of(qualname)
        for data in self.lookup.read(module, top_name(qualname, module)):
            kind = data.kinds.get(qualname)
            if kind is not None:
                return "method" if kind == "function" else kind
        return None

    def _module_of(self, qualname: str) -> str:
        return self.lookup.remember(
            ("module_of", qualname), lambda: self.lookup.module_of(qualname) or ""
        )

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

    # ------------------------------------------------------------------ back to link values

    def _to_value(self, val: Val) -> Value | None:
        kind, name = val
        if kind in ("fn", "meth"):
            module = self._module_of(name)
            datas = self.lookup.read(module, top_name(name, module))
            symbol_kind = next((d.kinds[name] for d in datas if name in d.kinds), "function")
            return Value("symbol", name, symbol_kind, module)
        if kind == "cls":
            return Value("symbol", name, "class", self._module_of(name))
        if kind == "ext":
            if name.startswith("<builtin>."):
                return Value("builtin", name, None, None, "builtin")
            return self.lookup.outside(name)
        return None


def _vkey(expr: Any) -> str:
    return f"V|{expr[1]}|{expr[2]}"


def _order(value: Value) -> str:
    return value.name


_FORMS: dict[str, Any] = {
    "V": FlowSolver._form_variable,
    "D": FlowSolver._form_definition,
    "B": FlowSolver._form_builtin,
    "I": FlowSolver._form_import,
    "A": FlowSolver._form_attribute,
    "S": FlowSolver._form_element,
    "C": FlowSolver._form_call,
    "K": FlowSolver._form_apply,
    "N": FlowSolver._form_new,
    "L": FlowSolver._form_display,
    "M": FlowSolver._form_display,
    "U": FlowSolver._form_union,
}
