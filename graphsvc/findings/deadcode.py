"""Incremental ``dead_code``: the saved query's rows, kept up to date from the files of a batch.

``queries/dead_code.sql`` is the specification; the first refresh of a process (and any
refresh the engine cannot follow) computes the same parts from every file. The engine (one per
Refresher, which lives across batches) holds:

1. **per file** the rows the file contributes to reachability (edges, seeds, names its strings
   may seed, its symbol ids), its definitions that are reported when unreached, the names it
   mentions, and what the class hierarchy reads from it: its classes, resolved bases and class
   members, and a digest of them (deadsql.PARTS_SQL is the specification of these rows; a
   batch's are computed in Python by deadparts.py);
2. **the graph**: edge and seed counts over all files (a seed is an edge from a root), plus the
   edges that need the whole class hierarchy (overrides, framework members; deadfacts.GLOBAL_SQL),
   recomputed in Python from every file's classes, resolved bases and class members it keeps
   (deadhier.py) only when a batch changes some file's;
3. **reachability** (deadgraph.py): new edges from reached nodes extend it from their targets;
   when an edge or seed that left a reached node disappears, it is searched from the root;
4. **the unreached definitions** (dead rows, grouped by qualname) and the candidates;
5. **the evidence per candidate** (deadnames.py: from every file's evidence parts, held per
   file and indexed by name; the callers by deadfacts.CALLERS_SQL), recomputed only for
   candidates that are new, whose file changed, whose name (or a head of it, or its qualname
   as a link target) a changed file mentions before or after the batch, whose callers'
   reachability changed (the targets of links from scopes that became reachable or
   unreachable, and from their nested definitions: from the graph's edges, deadgraph.py
   Graph.link_targets), or whose class's outside base changed; their callers are read
   again only for the new ones, those whose dead row moved, those a changed file links to
   and those targets (the others keep theirs);
6. **the finder's rows**: confidences passed on by users are recomputed, the row of a
   candidate whose evidence, confidence and user did not move is reused.

Why the per-file rows are exact: every lookup they make (the class a link's scope belongs to,
whether a member's parent is a class, a test's locals, the definitions a decorator keeps) stays
inside one file while the tree is *well-formed* (deadspec.CHECK_SQL: no qualname defined in two
files, no parent defined in another file that is not a package, no link scope or decorated name
defined in another file). Where a tree breaks that, the breach ties its files together: each
batch recomputes its files with every file tied to them (Graph.tangle, before and after the
batch), so their lookups see what the whole tree's do. Only a decorator without its decorated
name, which any file's rows may read, makes every file's rows be recomputed (the saved
query's cost; :attr:`DeadCode.last` says why). Strings that name code seed a definition in
any file: they are kept as names and matched against the symbol ids of all files.
"""

from __future__ import annotations

import logging
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from graphsvc.findings import deadspec, deadsql
from graphsvc.findings.deadcand import Candidates
from graphsvc.findings.deadgraph import (
    ROOT,
    DeadRow,
    FileParts,
    Graph,
    dead_row,
    interned,
)
from graphsvc.findings.deadhier import Hierarchy
from graphsvc.findings.deadnames import Evidence, file_evidence
from graphsvc.findings.deadparts import batch_parts
from graphsvc.findings.deadrules import Rules
from graphsvc.store import Store
from graphsvc.update import IndexSummary

log = logging.getLogger(__name__)

_ARRAYS = {"s": "seeds", "x": "strings", "i": "ids"}  # PARTS_SQL rows kept as they come
_KEYS = {"k": "keys", "h": "heads"}  # PARTS_SQL rows kept as hash() of their name
_EVIDENCE = frozenset("FANSPGCR")  # PARTS_SQL rows of the evidence (deadnames.py)
# Below this many files the refresh runs the saved query: on a small tree it costs about what
# the engine's statements per batch do (12 files: 110-150 ms), and less than its first run.
MIN_FILES = 200
CHUNK = 8192  # rows fetched at a time from the statement of every file's parts
Row = dict[str, Any]


@dataclass(slots=True)
class Stats:
    """What the last :meth:`DeadCode.rows` did."""

    full: bool = False  # every file's parts were recomputed
    reason: str = ""  # why (first run, unknown batch, entry rules, a decorator without a name)
    files: int = 0  # files whose parts were recomputed
    global_part: bool = False  # the class-hierarchy part ran
    searched: str = ""  # "none" | "added" | "root": how reachability was updated
    tied: int = 0  # files recomputed with the changed ones (a breach of well-formedness ties them)
    facts: int = 0  # candidates whose evidence was recomputed
    callers: int = 0  # of them, those whose callers were read again
    candidates: int = 0
    ms: dict[str, float] = field(default_factory=dict[str, float])


class DeadCode:
    """The engine (module docstring): :meth:`note` every batch, :meth:`rows` to refresh."""

    def __init__(self, min_files: int = MIN_FILES) -> None:
        self.min_files = min_files
        self.last = Stats()
        self._ms: dict[str, float] = {}
        self.was_engaged = False  # what the last engaged() said
        self._reset()

    def _reset(self) -> None:
        self.graph = Graph()
        self.evidence = Evidence()
        self.outside: dict[str, str] = {}  # class -> outside base
        self.dead: dict[str, DeadRow] = {}
        self.candidates = Candidates(self)  # their evidence and the finder's rows (5., 6.)
        self._pending: set[int] | None = None  # files changed since the last rows(); None: all
        self._entry: object = None  # digest of entry_rules the parts were computed with
        self.mode = "application"
        self._followable = False  # no decorator without its decorated name (see Graph.partners)
        self._tangled: set[int] = set()  # files in a breach of well-formedness
        self._unknown = False  # note(None) since the last rows()
        self._as_of = -1  # the newest batch at the last rows()
        self.outside_changed: set[str] = set()  # classes whose outside base changed
        self._rules: Rules | None = None  # the entry rules a batch's parts read (deadparts.py)
        self.hierarchy = Hierarchy()  # every file's classes, bases and members (deadhier.py)

    def engaged(self, store: Store) -> bool:
        """Whether the tree has the :attr:`min_files` that make the engine worth its state;
        when it has not, the state is dropped (the refresh runs the saved query, and the next
        engaged run recomputes every file)."""
        self.was_engaged = store.con.execute("SELECT count(*) FROM files").fetchall()[0][0] >= (
            self.min_files
        )
        if not self.was_engaged and (self.graph.files or self._pending is not None):
            self._reset()
        return self.was_engaged

    @property
    def well_formed(self) -> bool:
        """Whether the tree was well-formed at the last :meth:`rows` (see the module doc)."""
        return self._followable and not self._tangled

    def note(self, summary: IndexSummary | None) -> None:
        """Take note of a committed batch (None: unknown; anything may have changed unless no
        batch was committed since the last :meth:`rows`, as in the service's catch-up of
        deferred queries)."""
        if summary is None:
            self._unknown = True
        elif summary.relinked is None:
            self._pending = None
        elif self._pending is not None:
            self._pending |= summary.relinked

    def rows(self, store: Store, min_confidence: float) -> list[Row]:
        """The finder's rows of ``dead_code`` with its default ``mode`` on ``store`` now (what
        ``run_rows`` of the saved query returns).

        Raises:
            duckdb.Error: a statement failed (the next call recomputes everything).
        """
        try:
            return self._rows(store, min_confidence)
        except Exception:
            self._reset()
            raise

    def _rows(self, store: Store, min_confidence: float) -> list[Row]:
        stats = Stats()
        self._ms = stats.ms
        clock = time.perf_counter()
        con = store.cursor()
        try:
            con.execute("BEGIN TRANSACTION READ ONLY")
            try:
                changed = self._update(con, stats)
                stats.ms["update"] = (time.perf_counter() - clock) * 1000
                mark = time.perf_counter()
                delta_reach, stats.searched = self.graph.reach(stats.full)
                delta_dead = self._update_dead(changed, delta_reach, stats.full)
                stats.ms["reach"] = (time.perf_counter() - mark) * 1000
                mark = time.perf_counter()
                moved = self.candidates.update(con, changed, delta_dead, stats, min_confidence)
                stats.ms["evidence"] = (time.perf_counter() - mark) * 1000
            finally:
                con.execute("ROLLBACK")
        finally:
            con.close()
        mark = time.perf_counter()
        if moved:
            self.candidates.score(min_confidence)
        out = self.candidates.rows()
        stats.ms["score"] = (time.perf_counter() - mark) * 1000
        stats.ms["total"] = (time.perf_counter() - clock) * 1000
        self.last = stats
        self._pending = set()
        return out

    def sql(
        self, con: Any, name: str, sql: str, params: dict[str, object] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement; its time goes to ``self.last.ms[name]``."""
        started = time.perf_counter()
        rows: list[tuple[Any, ...]] = con.execute(sql, params or {}).fetchall()
        ms = self._ms.get(name, 0.0) + (time.perf_counter() - started) * 1000
        self._ms[name] = ms
        return rows

    def _stream(
        self, con: Any, name: str, sql: str, params: dict[str, object]
    ) -> Iterator[tuple[Any, ...]]:
        """Run one statement and hand out its rows :data:`CHUNK` at a time (the time spent in
        DuckDB goes to ``self.last.ms[name]``): the rows of every file, all fetched at once,
        were ~370,000 tuples on the standard library, and the pages of Python's heap they
        took stayed with the process after the first run (#5)."""
        started = time.perf_counter()
        cursor = con.execute(sql, params)
        spent = time.perf_counter() - started
        try:
            while True:
                started = time.perf_counter()
                rows: list[tuple[Any, ...]] = cursor.fetchmany(CHUNK)
                spent += time.perf_counter() - started
                if not rows:
                    return
                yield from rows
        finally:
            self._ms[name] = self._ms.get(name, 0.0) + spent * 1000

    def _update(self, con: Any, stats: Stats) -> set[int] | None:
        """Bring the per-file parts up to date; the changed files (None: all of them)."""
        entry: tuple[Any, ...] = ()
        as_of, now, consumers = 0, set[int](), set[int]()
        for part, n, digest, node in self.sql(con, "state", deadspec.STATE_SQL):
            if part == "r":
                entry = (n, digest)
            elif part == "b":
                as_of = n
            elif part == "f":
                now.add(n)
            else:
                consumers.add(node)
        if self._unknown and as_of != self._as_of:
            self._pending = None  # a batch the engine was not told about
        full = self._pending is None or entry != self._entry or not self._followable
        if full:
            stats.reason = (
                "first run or unknown batch"
                if self._pending is None
                else "entry rules changed"
                if entry != self._entry
                else "tree not well-formed"
            )
            self._reset()
            self._entry = entry
            self.mode = str(self.sql(con, "mode", deadspec.MODE_SQL)[0][0])
            changed: set[int] = set(now)
        else:
            assert self._pending is not None
            changed = (
                (self._pending & now)
                | (now - self.graph.files.keys())
                | (self.graph.files.keys() - now)
            )
        self._unknown, self._as_of = False, as_of
        stats.full = full
        self.graph.tracking = not full
        done = self._recompute(con, changed, now, full, stats)
        if done is None:
            log.warning("dead_code: a decorator without its decorated name: full runs")
            self._followable = False
            return self._update(con, stats)
        changed, old_shape = done
        stats.files = len(changed)
        self._followable = self.graph.followable
        if full:
            self._tangled = {f for f in changed if self.graph.partners(f)}
        else:
            stats.tied = len(changed - self._pending)
            self._tangled -= changed
            self._tangled.update(f for f in changed if self.graph.partners(f))
        new_shape = {f: self.graph.files[f].shape for f in changed if f in self.graph.files}
        if full or old_shape != new_shape:
            self._global(con)
            stats.global_part = True
        self.graph.set_consumers(consumers)
        return None if full else changed

    def _recompute(
        self, con: Any, changed: set[int], now: set[int], full: bool, stats: Stats
    ) -> tuple[set[int], dict[int, array[int]]] | None:
        """Drop and re-read the parts of ``changed`` (every file of ``now`` when ``full``) and of
        the files a breach of well-formedness ties to them, before the batch and after it:
        their rows may read each other's. The files recomputed and their shapes before; None:
        the engine cannot follow the tree (a decorator without its decorated name)."""
        old_shape: dict[int, array[int]] = {}
        dropped: set[int] = set()  # files whose parts before the batch are taken away
        while True:
            tied = set(now) if full else self.graph.tangle(changed)
            if tied is None or not self.graph.followable:
                return None
            for file_id in tied - dropped:  # (a file read in a pass before is not "before")
                if file_id in self.graph.files:
                    old_shape[file_id] = self.graph.files[file_id].shape
            dropped |= tied
            for file_id in tied:
                self.graph.drop(file_id)
                self.evidence.drop(file_id)
                self.hierarchy.drop(file_id)
            files = sorted(tied & now)
            if files:
                self._read(con, None if full else files, stats)
            after = set(now) if full else self.graph.tangle(tied)
            if after is not None and after <= tied:
                return tied, old_shape
            changed = tied if after is None else after

    def _read(self, con: Any, files: list[int] | None, stats: Stats) -> None:
        """Read the parts of ``files`` (None: all) and add them, one file at a time: the rows
        come in file order, and each file's are made into its state and dropped before the
        next file's (the rows of every file held until the end were ~200,000 tuples on the
        standard library, in pymalloc arenas the state's objects then pinned, #5)."""
        rows: list[tuple[Any, ...]] = []
        for row in self._parts_rows(con, files):
            if rows and row[1] != rows[0][1]:
                self._add_file(rows)
                rows = []
            rows.append(row)
        if rows:
            self._add_file(rows)

    def _add_file(self, rows: list[tuple[Any, ...]]) -> None:
        """Add one file's parts from its PARTS_SQL rows."""
        file_id = rows[0][1]  # one int object for the file (each definition kept holds it)
        f = FileParts()
        hier: list[tuple[Any, ...]] = []  # c, b, m rows: the class hierarchy
        defined: list[tuple[int, int, bool]] = []
        scopes: list[int] = []
        evidence: list[tuple[Any, ...]] = []
        self._sort_rows(file_id, rows, f, hier, defined, scopes, evidence)
        if evidence:
            self.evidence.add(file_id, file_evidence(evidence))
        if hier:
            self.hierarchy.set(file_id, hier)
        # what the class hierarchy reads (values in qualname, name, kind, parent, module)
        f.shape = array("q", sorted(hash((r[0], r[4], r[5], r[6], r[7], r[10])) for r in hier))
        f.keys = array("q", set(f.keys))  # PARTS_SQL repeats them
        f.heads = array("q", set(f.heads))
        defs: dict[int, int] = {}
        for _, value, other in defined:
            q = self.graph.node(value)  # the state's one object of it
            defs[q] = defs.get(q, 0) | other
        codes = (file_id * 2, file_id * 2 + 1)  # one object each
        f.defs = tuple(n for q, other in defs.items() for n in (q, codes[other]))
        # parents and scopes the file defines itself are in another file only if a
        # qualname of the file is (which the check sees)
        f.parents = array("Q", {p for p, _, _ in defined if p not in defs})
        f.scopes = array("Q", {q for q in scopes if q not in defs})
        self.graph.add(file_id, f)

    def _sort_rows(
        self,
        file_id: int,
        rows: list[tuple[Any, ...]],
        f: FileParts,
        hier: list[tuple[Any, ...]],
        defined: list[tuple[int, int, bool]],
        scopes: list[int],
        evidence: list[tuple[Any, ...]],
    ) -> None:
        node = self.graph.node
        heads3: set[int] = set()
        for row in rows:
            part, a, b = row[0], row[2], row[3]
            if part in _EVIDENCE:
                evidence.append((part, row[5], row[11], row[12]))
            elif part == "e":
                f.edges.append(a)
                f.edges.append(b)
            elif part in _ARRAYS:
                getattr(f, _ARRAYS[part]).append(b)
            elif part == "q":
                f.eligible.append(interned((file_id, row[4], node(b), *row[5:11])))
            elif part in _KEYS:
                getattr(f, _KEYS[part]).append(hash(row[5]))
                if part == "h" and row[5] is not None:
                    heads3.add(hash(row[5][:3]))
            elif part in ("d", "D"):
                defined.append((a, b, part == "d"))
            elif part == "l":
                scopes.append(b)
            elif part == "n":
                f.null_context = True
            else:  # c, b, m: the class hierarchy (deadhier.py)
                hier.append(row)
        if heads3:
            f.heads3 = array("q", heads3)

    def _parts_rows(self, con: Any, files: list[int] | None) -> Iterable[tuple[Any, ...]]:
        """PARTS_ALL_SQL's rows (files None), or PARTS_SQL's for a batch, computed in Python
        from the batch's rows (deadparts.py: the statement cost ~5x as much, its planning the
        same for one file as for all); in file order."""
        library = self.mode == "library"
        if files is None:
            params = {"files": None, "library": library}
            return self._stream(con, "parts", deadsql.PARTS_ALL_SQL, params)
        started = time.perf_counter()
        rows = batch_parts(con, files, self._entry_rules(con), library)
        rows.sort(key=itemgetter(1))  # in file order (stable: each file's rows as they were)
        self._ms["parts"] = self._ms.get("parts", 0.0) + (time.perf_counter() - started) * 1000
        return rows

    def _entry_rules(self, con: Any) -> Rules:
        """The entry rules, read once per engine state (a change of them starts it over)."""
        if self._rules is None:
            self._rules = Rules.read(con)
        return self._rules

    def _global(self, con: Any) -> None:
        """The class hierarchy's edges, seeds and outside bases (deadfacts.GLOBAL_SQL), from
        every file's c, b, m parts (deadhier.py; the statement over the whole database cost
        100-240 ms after each edit that adds, removes or renames a method or class)."""
        started = time.perf_counter()
        found, seeds, outside = self.hierarchy.compute(con, self._entry_rules(con))
        now = dict.fromkeys(found, 1) | dict.fromkeys(((ROOT, b) for b in seeds), 1)
        self._ms["global"] = self._ms.get("global", 0.0) + (time.perf_counter() - started) * 1000
        self.graph.set_global(now)
        self.outside_changed = {
            cls
            for cls in self.outside.keys() | outside.keys()
            if self.outside.get(cls) != outside.get(cls)
        }
        self.outside = outside

    def _update_dead(self, changed: set[int] | None, delta: set[int], full: bool) -> set[str]:
        """Update the unreached definitions; the qualnames whose dead row changed."""
        if full or changed is None:
            todo: Iterable[str] = set(self.graph.by_q) | set(self.dead)
        else:
            names: set[str] = set(self.graph.changed_names)
            for node in delta:
                known = self.graph.q_by_id.get(node)
                if isinstance(known, str):
                    names.add(known)
                elif known is not None:
                    names.update(known)
            todo = names
        moved: set[str] = set()
        for q in todo:
            rows = self.graph.definitions(q)
            row = dead_row(rows) if rows and rows[0][2] not in self.graph.reached else None
            if row != self.dead.get(q):
                moved.add(q)
                if row is None:
                    del self.dead[q]
                else:
                    self.dead[q] = row
        return moved
