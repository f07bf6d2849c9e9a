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

The parts: :mod:`graphsvc.link.flow_rows` reads a file's rows into a
:class:`~graphsvc.link.flow_rows.FileFlow`; :mod:`graphsvc.link.flow_eval` solves one file and
evaluates its expressions; :mod:`graphsvc.link.flow_names` asks the name layer in flow values.
This module's :class:`FlowSolver` is what the linker uses: it decides which files are solved,
keeps their solutions (replaying the names each consulted) and answers questions about calls.
"""

from __future__ import annotations

import duckdb

from graphsvc.link.consulted import Dep
from graphsvc.link.flow_eval import MAX_VALUES, FlowEvaluator, OutOfWork
from graphsvc.link.flow_names import FlowNames, order
from graphsvc.link.flow_rows import FileFlow, FlowRows, vkey
from graphsvc.link.names import Lookup, Value
from graphsvc.link.site_rows import ImportRow


class FlowSolver:
    """Solves files on demand within one linker run (answers replay their dependencies)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, lookup: Lookup) -> None:
        self.lookup = lookup
        self.names = FlowNames(lookup)
        self.rows = FlowRows(con)
        self.evaluator = FlowEvaluator(self.names)
        # file -> solution and the names it consulted. Kept whatever happened inside (unlike
        # Lookup's memo): a solution only asks top-level questions of the name layer, whose
        # answers do not depend on what was asked before.
        self._solutions: dict[int, tuple[FileFlow | None, frozenset[Dep]]] = {}
        # file -> the ``lookup.deps`` set its solution's names were last replayed into: a
        # file's every call site asks its solution, and the set only grows, so the (often
        # thousands of) names go into the same set once, not once per call
        self._replayed: dict[int, set[Dep]] = {}

    # ------------------------------------------------------------------ public

    def results(self, file_id: int, site: tuple[int, int, str]) -> list[Value]:
        """The functions and classes the call at ``site`` returns (a decorator factory's
        decorator: applying ``@factory(...)`` calls them)."""
        flow = self.file(file_id)
        if flow is None or site not in flow.calls:
            return []
        try:
            values = self.evaluator.call_values(flow, site)
        except OutOfWork:
            return []
        finally:
            flow.work = 0
        found = [
            v for v in map(self.names.to_value, values) if v is not None and v.kind == "symbol"
        ]
        return sorted(found, key=order) if len(found) <= MAX_VALUES else []

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
            values = self.evaluator.values(flow, callee)
        except OutOfWork:
            return [], False
        finally:
            flow.work = 0
        if len(values) > MAX_VALUES:
            return [], False
        rebound = callee[0] == "V" and flow.assign_counts.get(vkey(callee), 0) > 1
        certain = not (rebound and callee[1] == scope)
        return sorted(filter(None, map(self.names.to_value, values)), key=order), certain

    def file(self, file_id: int) -> FileFlow | None:
        """The solved flow of a file; using it replays the names its solution consulted.

        A solution reads no other file's flow (only the name layer), so the answers do not
        depend on the order files are solved in and import cycles cannot recurse.
        """
        hit = self._solutions.get(file_id)
        if hit is not None:
            deps = self.lookup.deps
            if self._replayed.get(file_id) is not deps:
                deps |= hit[1]
                self._replayed[file_id] = deps
            return hit[0]
        outer = self.lookup.deps
        self.lookup.deps = set()
        try:
            flow = self._solved(file_id)
            self._solutions[file_id] = (flow, frozenset(self.lookup.deps))
        finally:
            outer |= self.lookup.deps
            self.lookup.deps = outer
        self._replayed[file_id] = outer
        return flow

    def _solved(self, file_id: int) -> FileFlow | None:
        data = self.lookup.index.by_file.get(file_id)
        if data is None:
            return None
        flow = self.rows.load(file_id, data)
        self.evaluator.solve(flow)
        return flow

    # ------------------------------------------------------------------ loading

    def prefetch(
        self,
        file_ids: list[int],
        imports: dict[int, list[ImportRow]],
        flows: dict[int, bytes] | None = None,
    ) -> None:
        """Read the flow rows of ``file_ids`` ahead (see :meth:`FlowRows.prefetch`)."""
        self.rows.prefetch(file_ids, imports, flows)

    def release(self, file_id: int) -> None:
        """Forget a file's solutions once its sites are linked (memory stays per chunk)."""
        self._solutions.pop(file_id, None)
        self._replayed.pop(file_id, None)
