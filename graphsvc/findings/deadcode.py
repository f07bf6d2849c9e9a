"""Incremental ``dead_code``: the saved query's rows, kept up to date from the files of a batch.

``queries/dead_code.sql`` is the specification; the first refresh of a process (and any
refresh the engine cannot follow) computes the same parts from every file. The engine (one per
Refresher, which lives across batches) holds:

1. **per file** the rows the file contributes to reachability (edges, seeds, names its strings
   may seed, its symbol ids), its definitions that are reported when unreached, the names it
   mentions, and digests of what the class hierarchy reads from it (deadsql.PARTS_SQL);
2. **the graph**: edge and seed counts over all files (a seed is an edge from a root), plus the
   edges that need the whole class hierarchy (overrides, framework members; deadsql.GLOBAL_SQL),
   re-read only when a batch changes a file's classes, resolved bases or class members;
3. **reachability** from the root: after a batch, new edges from reached nodes extend it by a
   search from their targets; when an edge or seed that left a reached node disappears, it is
   searched again from the root (in Python, a few milliseconds per 100k edges);
4. **the unreached definitions** (dead rows, grouped by qualname as the query does) and the
   candidates (the outermost ones);
5. **the evidence per candidate** (deadsql.FACTS_SQL), recomputed only for candidates that are
   new, whose file changed, whose name (or a head of it, or its qualname as a link target) a
   changed file mentions before or after the batch, whose callers' reachability changed (the
   targets of links from scopes that became reachable or unreachable, and from their nested
   definitions), or whose class's outside base changed.

Why the per-file rows are exact: every lookup they make (the class a link's scope belongs to,
whether a member's parent is a class, a test's locals, the definitions a decorator keeps) stays
inside one file while the tree is *well-formed* (deadsql.CHECK_SQL: no qualname defined in two
files, no parent defined in another file that is not a package, no link scope or decorated name
defined in another file). Each batch checks that for its files; when it does not hold, every
file's rows are recomputed (the cost of the saved query), and the engine notes it in
:attr:`DeadCode.last`. Strings that name code seed a definition in any file: they are kept as
names and matched against the symbol ids of all files at reachability time.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graphsvc.findings import deadsql
from graphsvc.queries import SavedQuery
from graphsvc.queries.deadcode import doubts, score
from graphsvc.store import Store
from graphsvc.update import IndexSummary

log = logging.getLogger(__name__)

ROOT = -1  # the node every seed is an edge from (hashes are unsigned: never -1)
_ARRAYS = {"s": "seeds", "x": "strings", "i": "ids"}  # PARTS_SQL rows kept as they come
FACT_COLUMNS = (
    "qualname",
    "kind",
    "path",
    "line",
    "key",
    "parent",
    "callers",
    "attr_paths",
    "own_read",
    "string_paths",
    "prefix",
    "registering_decorator",
    "outside_base",
    "module_code",
    "reads_globals",
)
# a candidate's dead row (the query's ``dead``), as FACTS_SQL takes it
DEAD_COLUMNS = (
    "qualname",
    "name",
    "kind",
    "parent",
    "path",
    "line",
    "module",
    "file_id",
    "rebound",
)
# what FACTS_SQL returns (the others: callers and outside_base, the engine adds)
FACT_SQL_COLUMNS = (
    "qualname",
    "kind",
    "path",
    "line",
    "key",
    "parent",
    "attr_paths",
    "own_read",
    "string_paths",
    "prefix",
    "registering_decorator",
    "module_code",
    "reads_globals",
)
METHODS = ("method", "staticmethod", "classmethod")
# above this many scopes whose reachability changed, every candidate's evidence is recomputed
MAX_SCOPES = 2000
Row = dict[str, Any]
Eligible = tuple[int, str, int, str, str, str | None, str, int, str]  # ELIGIBLE_SQL's columns
DeadRow = tuple[str, str, str, str | None, str, int, str, int, bool]  # DEAD_COLUMNS


def follows(query: SavedQuery) -> bool:
    """Whether ``query`` is the saved ``dead_code`` query this engine computes (its statement
    unchanged and its ``mode`` defaulting to the configured one); other queries (a user's
    edited copy) run as SQL."""
    mode = next((p for p in query.params if p.name == "mode"), None)
    return (
        query.finder == "dead_code"
        and mode is not None
        and mode.default is None
        and hashlib.sha256(query.sql.encode()).hexdigest() == deadsql.SPEC_SHA256
    )


def min_confidence(query: SavedQuery) -> float:
    """The default ``min_confidence`` of ``query`` (what the refresh binds)."""
    param = next((p for p in query.params if p.name == "min_confidence"), None)
    value = param.default if param is not None else None
    return float(value) if isinstance(value, int | float) else 0.0


@dataclass(slots=True)
class _File:
    """What one file contributes."""

    edges: array[int] = field(default_factory=lambda: array("Q"))  # src, dst, src, dst, ...
    seeds: array[int] = field(default_factory=lambda: array("Q"))
    strings: array[int] = field(default_factory=lambda: array("Q"))
    ids: array[int] = field(default_factory=lambda: array("Q"))
    shape: tuple[int, ...] = ()  # sorted digests of its classes, resolved bases, members
    # what the well-formedness check reads, by hash: its qualnames (the code of each: file id
    # * 2 + 1 when some definition of it is not a module), the parents of its definitions that
    # it does not define, its link scopes and decorated names that it does not define
    defs: dict[int, int] = field(default_factory=dict[int, int])
    parents: array[int] = field(default_factory=lambda: array("Q"))
    scopes: array[int] = field(default_factory=lambda: array("Q"))
    null_context: bool = False  # a decorator without its decorated name
    eligible: list[Eligible] = field(default_factory=list[Eligible])
    keys: array[int] = field(default_factory=lambda: array("q"))  # hash() of names it reads
    heads: array[int] = field(default_factory=lambda: array("q"))  # of its computed names' heads


@dataclass(slots=True)
class _Fact:
    """A candidate's evidence as of its dead row."""

    dead: DeadRow
    row: Row  # the finder's input row
    # hash() of its key (the name attribute reads, strings and own-module reads are matched
    # by) and of its qualname (a link target: its callers); a changed file that mentions
    # neither (nor a head of the key, see _heads) leaves its evidence as it is
    names: tuple[int, int]
    doubts: list[tuple[float, str]]  # doubts(row), kept for the finder


@dataclass(slots=True)
class Stats:
    """What the last :meth:`DeadCode.rows` did."""

    full: bool = False  # every file's parts were recomputed
    reason: str = ""  # why (first run, unknown batch, entry rules, not well-formed)
    files: int = 0  # files whose parts were recomputed
    global_part: bool = False  # the class-hierarchy part ran
    searched: str = ""  # "none" | "added" | "root": how reachability was updated
    facts: int = 0  # candidates whose evidence was recomputed
    candidates: int = 0
    ms: dict[str, float] = field(default_factory=dict[str, float])


class DeadCode:
    """The engine (see the module docstring); :meth:`note` every batch, :meth:`rows` when the
    refresh runs ``dead_code``."""

    def __init__(self) -> None:
        self.last = Stats()
        self._ms: dict[str, float] = {}
        self._reset()

    def _reset(self) -> None:
        self._files: dict[int, _File] = {}
        self._out: dict[int, array[int]] = {}  # src -> its edges' targets (repeated per edge)
        self._tracking = False  # whether _edge notes what it changes (not in a full rebuild)
        self._strings: dict[int, int] = {}  # id a string may seed -> files naming it
        self._ids: dict[int, int] = {}  # symbol id -> files defining it
        self._global_edges: dict[tuple[int, int], int] = {}
        self._outside: dict[str, str] = {}  # class -> outside base
        self._reached: set[int] = set()
        self._by_q: dict[str, list[Eligible]] = {}
        self._q_by_id: dict[int, str | list[str]] = {}
        self._children: dict[str, list[str]] = {}
        # what the well-formedness check looks up, by hash: files defining a qualname, defining
        # it as something else than a module, defining a child of it, naming it as a scope
        self._defs: dict[int, int | list[int]] = {}  # qualname -> codes (see _File.defs)
        self._kids: dict[int, int | list[int]] = {}  # parent -> files defining a child of it
        self._scopes: dict[int, int | list[int]] = {}  # scope -> files naming it
        self._null_context: set[int] = set()
        self._dead: dict[str, DeadRow] = {}
        self._facts: dict[str, _Fact] = {}  # candidate -> its evidence
        self._min_confidence: float | None = None
        self._scored: list[Row] = []  # the finder's rows of the last call
        self._pending: set[int] | None = None  # files changed since the last rows(); None: all
        self._entry: object = None  # digest of entry_rules the parts were computed with
        self._mode = "application"
        self._well_formed = False
        self._consumers: set[int] = set()  # ids of channel consumers (seeds)
        self._string_seeds: set[int] = set()
        # edges whose count changed since the last search, with the count before
        self._moved: dict[tuple[int, int], int] = {}
        self._touched_ids: set[int] = set()  # string or symbol ids whose counts changed
        self._dropped_keys: list[int] = []  # the keys of the files dropped since the last run
        self._dropped_heads: list[int] = []
        self._changed_names: set[str] = set()  # qualnames defined by changed files
        self._outside_changed: set[str] = set()  # classes whose outside base changed

    def note(self, summary: IndexSummary | None) -> None:
        """Take note of a committed batch (None: anything may have changed)."""
        if summary is None or summary.relinked is None:
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
        con = store.con.cursor()
        try:
            con.execute("BEGIN TRANSACTION READ ONLY")
            try:
                changed = self._update(con, stats)
                stats.ms["update"] = (time.perf_counter() - clock) * 1000
                mark = time.perf_counter()
                delta_reach = self._reach(stats)
                delta_dead = self._update_dead(changed, delta_reach, stats.full)
                stats.ms["reach"] = (time.perf_counter() - mark) * 1000
                mark = time.perf_counter()
                rows = self._candidates(con, changed, delta_dead, stats, min_confidence)
                stats.ms["evidence"] = (time.perf_counter() - mark) * 1000
            finally:
                con.execute("ROLLBACK")
        finally:
            con.close()
        mark = time.perf_counter()
        if rows is not None:
            facts = self._facts
            self._scored = score(rows, lambda row: facts[row["qualname"]].doubts)
        out = [dict(row) for row in self._scored]
        stats.ms["score"] = (time.perf_counter() - mark) * 1000
        stats.ms["total"] = (time.perf_counter() - clock) * 1000
        self.last = stats
        self._pending = set()
        return out

    def _sql(
        self, con: Any, name: str, sql: str, params: dict[str, object] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement; its time goes to ``self.last.ms[name]``."""
        started = time.perf_counter()
        rows: list[tuple[Any, ...]] = con.execute(sql, params or {}).fetchall()
        ms = self._ms.get(name, 0.0) + (time.perf_counter() - started) * 1000
        self._ms[name] = ms
        return rows

    # -- per-file parts -------------------------------------------------------------------

    def _update(self, con: Any, stats: Stats) -> set[int] | None:
        """Bring the per-file parts up to date; the changed files (None: all of them)."""
        entry = self._sql(con, "entry", deadsql.ENTRY_SQL)[0]
        now = {int(r[0]) for r in self._sql(con, "files", "SELECT file_id FROM files")}
        full = self._pending is None or entry != self._entry or not self._well_formed
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
            self._mode = str(self._sql(con, "mode", deadsql.MODE_SQL)[0][0])
            files: list[int] | None = None
            changed: set[int] = set(now)
        else:
            assert self._pending is not None
            changed = (
                (self._pending & now) | (now - self._files.keys()) | (self._files.keys() - now)
            )
            files = sorted(changed & now)
        stats.full = full
        stats.files = len(changed)
        self._tracking = not full
        old_shape = {f: self._files[f].shape for f in changed if f in self._files}
        for file_id in changed:
            self._drop(file_id)
        if full or files:
            self._read(con, files, stats)
        well_formed = self._check(changed)
        if not well_formed and not full:
            self._well_formed = False
            return self._update(con, stats)
        self._well_formed = well_formed
        new_shape = {f: self._files[f].shape for f in changed if f in self._files}
        if full or old_shape != new_shape:
            self._global(con)
            stats.global_part = True
        consumers = {int(r[0]) for r in self._sql(con, "consumers", deadsql.CONSUMERS_SQL)}
        for node in consumers - self._consumers:
            self._edge(ROOT, node, 1)
        for node in self._consumers - consumers:
            self._edge(ROOT, node, -1)
        self._consumers = consumers
        return None if full else changed

    def _read(self, con: Any, files: list[int] | None, stats: Stats) -> None:
        """Read the parts of ``files`` (None: all) and add them."""
        parts: dict[int, _File] = {}
        shapes: dict[int, list[int]] = {}
        defined: dict[int, list[tuple[int, int, bool]]] = {}
        scopes: dict[int, list[int]] = {}
        self._read_parts(con, files, parts, shapes, defined, scopes)
        for row in self._sql(con, "eligible", deadsql.ELIGIBLE_SQL, {"files": files}):
            f = parts.get(row[0])
            if f is None:
                f = parts[row[0]] = _File()
            f.eligible.append(_interned(row))
        for file_id, key, head in self._sql(con, "keys", deadsql.KEYS_SQL, {"files": files}):
            f = parts.get(file_id)
            if f is None:
                f = parts[file_id] = _File()
            (f.heads if head else f.keys).append(hash(key))
        for file_id, f in parts.items():
            f.shape = tuple(sorted(shapes.get(file_id, ())))
            for _, q, other in defined.get(file_id, ()):
                f.defs[q] = f.defs.get(q, file_id * 2) | other
            # parents and scopes the file defines itself are in another file only if a
            # qualname of the file is (which the check sees)
            f.parents = array("Q", {p for p, _, _ in defined.get(file_id, ()) if p not in f.defs})
            f.scopes = array("Q", {q for q in scopes.get(file_id, ()) if q not in f.defs})
            self._add(file_id, f)

    def _read_parts(
        self,
        con: Any,
        files: list[int] | None,
        parts: dict[int, _File],
        shapes: dict[int, list[int]],
        defined: dict[int, list[tuple[int, int, bool]]],
        scopes: dict[int, list[int]],
    ) -> None:
        params = {"files": files, "library": self._mode == "library"}
        for part, file_id, a, b in self._sql(con, "parts", deadsql.PARTS_SQL, params):
            f = parts.get(file_id)
            if f is None:
                f = parts[file_id] = _File()
            if part == "e":
                f.edges.append(a)
                f.edges.append(b)
            elif part in _ARRAYS:
                getattr(f, _ARRAYS[part]).append(b)
            elif part in ("d", "D"):
                defined.setdefault(file_id, []).append((a, b, part == "d"))
            elif part == "l":
                scopes.setdefault(file_id, []).append(b)
            elif part == "n":
                f.null_context = True
            else:
                shapes.setdefault(file_id, []).append(hash((part, b)))

    def _add(self, file_id: int, f: _File) -> None:
        self._files[file_id] = f
        pairs = iter(f.edges)
        for src, dst in zip(pairs, pairs, strict=True):
            self._edge(src, dst, 1)
        for node in f.seeds:
            self._edge(ROOT, node, 1)
        for node in f.ids:
            self._count(self._ids, node, 1)
        for node in f.strings:
            self._count(self._strings, node, 1)
        for q, code in f.defs.items():
            _put(self._defs, q, code)
        for parent in f.parents:
            _put(self._kids, parent, file_id)
        for scope in f.scopes:
            _put(self._scopes, scope, file_id)
        if f.null_context:
            self._null_context.add(file_id)
        for row in f.eligible:
            self._changed_names.add(row[1])
            self._by_q.setdefault(row[1], []).append(row)
            _put_name(self._q_by_id, row[2], row[1])
            if row[5] is not None:
                self._children.setdefault(row[5], []).append(row[1])

    def _drop(self, file_id: int) -> None:
        f = self._files.pop(file_id, None)
        if f is None:
            return
        pairs = iter(f.edges)
        for src, dst in zip(pairs, pairs, strict=True):
            self._edge(src, dst, -1)
        for node in f.seeds:
            self._edge(ROOT, node, -1)
        for node in f.ids:
            self._count(self._ids, node, -1)
        for node in f.strings:
            self._count(self._strings, node, -1)
        self._unindex(file_id, f)
        for row in f.eligible:
            self._changed_names.add(row[1])
            rows = self._by_q[row[1]]
            rows.remove(row)
            if not rows:
                del self._by_q[row[1]]
                _take_name(self._q_by_id, row[2], row[1])
            if row[5] is not None:
                kids = self._children[row[5]]
                kids.remove(row[1])
                if not kids:
                    del self._children[row[5]]
        self._dropped_keys.extend(f.keys)
        self._dropped_heads.extend(f.heads)

    def _unindex(self, file_id: int, f: _File) -> None:
        """Take ``f`` out of the well-formedness check's indexes."""
        for q, code in f.defs.items():
            _take(self._defs, q, code)
        for parent in f.parents:
            _take(self._kids, parent, file_id)
        for scope in f.scopes:
            _take(self._scopes, scope, file_id)
        self._null_context.discard(file_id)

    def _check(self, files: Iterable[int]) -> bool:
        """Whether the tree is well-formed, given that it was before the rows of ``files``
        changed: no qualname of theirs defined in another file, no parent of theirs defined
        elsewhere as something else than a module (and no child elsewhere of a non-module of
        theirs), no scope or decorated name of theirs defined elsewhere (nor the reverse), no
        decorator without its decorated name anywhere (deadsql.CHECK_SQL says it in SQL)."""
        if self._null_context:
            return False
        for file_id in files:
            f = self._files.get(file_id)
            if f is None:
                continue
            for q, code in f.defs.items():
                if (
                    _other_file(self._defs, q, file_id, coded=True)
                    or _other_file(self._scopes, q, file_id)
                    or (code & 1 and _other_file(self._kids, q, file_id))
                ):
                    return False
            for parent in f.parents:
                if any(c & 1 for c in _codes(self._defs, parent)):
                    return False
            if any(_codes(self._defs, scope) for scope in f.scopes):
                return False
        return True

    def _global(self, con: Any) -> None:
        edges: dict[tuple[int, int], int] = {}
        seeds: dict[tuple[int, int], int] = {}
        outside: dict[str, str] = {}
        for part, a, b, cls, base in self._sql(con, "global", deadsql.GLOBAL_SQL):
            if part == "e":
                edges[(a, b)] = edges.get((a, b), 0) + 1
            elif part == "s":
                seeds[(ROOT, b)] = 1
            else:
                outside[cls] = base
        now = edges | seeds
        for (src, dst), n in self._global_edges.items():
            self._edge(src, dst, -n)
        for (src, dst), n in now.items():
            self._edge(src, dst, n)
        self._global_edges = now
        self._outside_changed = {
            cls
            for cls in self._outside.keys() | outside.keys()
            if self._outside.get(cls) != outside.get(cls)
        }
        self._outside = outside

    # -- graph and reachability ----------------------------------------------------------

    def _edge(self, src: int, dst: int, n: int) -> None:
        out = self._out.get(src)
        if out is None:
            out = self._out[src] = array("Q")
        if self._tracking and (src, dst) not in self._moved:
            self._moved[(src, dst)] = int(dst in out)
        if n > 0:
            out.extend([dst] * n)
        else:
            for _ in range(-n):
                out.remove(dst)
            if not out:
                del self._out[src]

    def _count(self, counts: dict[int, int], node: int, n: int) -> None:
        after = counts.get(node, 0) + n
        if after:
            counts[node] = after
        else:
            del counts[node]
        self._touched_ids.add(node)

    def _strings_seeds(self) -> None:
        """A string seeds the definition it names when some file defines it (as the query's
        join with the symbols does): re-decide for the ids whose counts changed."""
        for node in self._touched_ids:
            want = node in self._strings and node in self._ids
            has = node in self._string_seeds
            if want and not has:
                self._string_seeds.add(node)
                self._edge(ROOT, node, 1)
            elif has and not want:
                self._string_seeds.discard(node)
                self._edge(ROOT, node, -1)
        self._touched_ids = set()

    def _reach(self, stats: Stats) -> set[int]:
        """Update the reached nodes; the nodes that became reached or unreached."""
        self._strings_seeds()
        reached = self._reached
        added: list[tuple[int, int]] = []
        removed: list[tuple[int, int]] = []
        for (src, dst), before in self._moved.items():
            now = dst in self._out.get(src, ())
            if before and not now:
                removed.append((src, dst))
            elif now and not before:
                added.append((src, dst))
        self._moved = {}
        if stats.full or any(
            (src == ROOT or src in reached) and dst in reached for src, dst in removed
        ):
            stats.searched = "root"
            now = _search(self._out, [ROOT], set())
            delta = now ^ reached
            self._reached = now
        else:
            starts = [
                dst for src, dst in added if (src == ROOT or src in reached) and dst not in reached
            ]
            stats.searched = "added" if starts else "none"
            before = len(reached)
            delta = _search(self._out, starts, reached, mark=True)
            assert len(reached) == before + len(delta)
        return delta

    # -- dead rows and candidates --------------------------------------------------------

    def _update_dead(self, changed: set[int] | None, delta: set[int], full: bool) -> set[str]:
        """Update the unreached definitions; the qualnames whose dead row changed."""
        if full or changed is None:
            todo: Iterable[str] = set(self._by_q) | set(self._dead)
        else:
            names: set[str] = set(self._changed_names)
            for node in delta:
                known = self._q_by_id.get(node)
                if isinstance(known, str):
                    names.add(known)
                elif known is not None:
                    names.update(known)
            todo = names
        moved: set[str] = set()
        for q in todo:
            rows = self._by_q.get(q)
            row = _dead_row(rows) if rows and rows[0][2] not in self._reached else None
            if row != self._dead.get(q):
                moved.add(q)
                if row is None:
                    del self._dead[q]
                else:
                    self._dead[q] = row
        return moved

    def _candidates(
        self,
        con: Any,
        changed: set[int] | None,
        moved: set[str],
        stats: Stats,
        min_confidence: float,
    ) -> list[Row] | None:
        """The finder's input rows of every candidate (the query's ``cand``), in qualname
        order; None when they are those of the last call."""
        dead = self._dead
        cand = {q: r for q, r in dead.items() if r[3] is None or r[3] not in dead}
        stats.candidates = len(cand)
        facts = self._facts
        wanted = set(cand) if changed is None else self._wanted(con, cand, changed, moved)
        stats.facts = len(wanted)
        self._dropped_keys = []
        self._dropped_heads = []
        self._changed_names = set()
        self._outside_changed = set()
        same = (
            not wanted
            and min_confidence == self._min_confidence
            and len(cand) == len(facts)
            and all(q in facts for q in cand)
        )
        if len(facts) > len(cand) or not all(q in cand for q in facts):
            self._facts = facts = {q: v for q, v in facts.items() if q in cand}
        if wanted:
            for row in self._facts_of(con, wanted):
                row["min_confidence"] = min_confidence
                row["mode"] = self._mode
                q = row["qualname"]
                key = _key(q, cand[q])
                facts[q] = _Fact(cand[q], row, (hash(key), hash(q)), doubts(row))
        if min_confidence != self._min_confidence:
            for fact in facts.values():
                fact.row["min_confidence"] = min_confidence
            self._min_confidence = min_confidence
        if same:
            return None
        return [facts[q].row for q in sorted(cand)]

    def _wanted(
        self, con: Any, cand: dict[str, DeadRow], changed: set[int], moved: set[str]
    ) -> set[str]:
        """The candidates whose evidence the batch may have changed (see the module
        docstring, 5.)."""
        facts = self._facts
        keys = set(self._dropped_keys)
        heads = set(self._dropped_heads)
        for file_id in changed:
            f = self._files.get(file_id)
            if f is not None:
                keys.update(f.keys)
                heads.update(f.heads)
        outside = self._outside_changed
        wanted = set()
        for q, r in cand.items():
            known = facts.get(q)
            if (
                known is None
                or known.dead != r
                or r[7] in changed
                or known.names[0] in keys
                or known.names[1] in keys
                or (heads and not heads.isdisjoint(_heads(q, r)))
                or r[3] in outside
            ):
                wanted.add(q)
        scopes = self._descendants(moved)
        if len(scopes) > MAX_SCOPES:
            return set(cand)
        if scopes:
            rows = self._sql(con, "targets", deadsql.TARGETS_SQL, {"scopes": sorted(scopes)})
            wanted |= {r[0] for r in rows if r[0] in cand}
        return wanted

    def _descendants(self, moved: set[str]) -> set[str]:
        """``moved`` and the definitions nested in them (three levels: the outermost dead
        ancestor a scope is reported through is looked up that far)."""
        found = set(moved)
        level = moved
        for _ in range(3):
            level = {kid for q in level for kid in self._children.get(q, ())}
            found |= level
        return found

    def _facts_of(self, con: Any, wanted: set[str]) -> list[Row]:
        """The finder's input rows of the candidates ``wanted`` (their evidence)."""
        names = sorted(wanted)
        dead = [self._dead[q] for q in names]
        params = {col: [r[i] for r in dead] for i, col in enumerate(DEAD_COLUMNS)}
        found = self._sql(con, "facts", deadsql.FACTS_SQL, params)
        callers: dict[str, set[str]] = {}
        for scope, target in self._sql(con, "callers", deadsql.CALLERS_SQL, {"targets": names}):
            top = self._outermost(scope)
            if top is not None and top != target:
                callers.setdefault(target, set()).add(top)
        out: list[Row] = []
        for values in found:
            row: Row = dict(zip(FACT_SQL_COLUMNS, values, strict=True))
            q = row["qualname"]
            row["callers"] = sorted(callers[q]) if q in callers else None
            row["outside_base"] = (
                self._outside.get(row["parent"]) if row["kind"] in METHODS else None
            )
            out.append({column: row[column] for column in FACT_COLUMNS})
        return out

    def _outermost(self, scope: str | None) -> str | None:
        """The outermost unreached definition ``scope`` is reported through (itself, or its
        unreached parent, up to three levels), or None when it is reached: the query's
        ``outer_of``."""
        row = self._dead.get(scope) if scope is not None else None
        if row is None:
            return None
        top, parent = scope, row[3]
        for _ in range(3):
            above = self._dead.get(parent) if parent is not None else None
            if above is None:
                break
            top, parent = parent, above[3]
        return top


def _search(
    out: dict[int, dict[int, int]], starts: list[int], seen: set[int], *, mark: bool = False
) -> set[int]:
    """Nodes reachable from ``starts`` (the starts themselves unless they are the root) that
    ``seen`` does not hold; with ``mark``, they are added to ``seen`` too."""
    found: set[int] = set()
    stack = list(starts)
    for node in starts:
        if node != ROOT and node not in seen:
            found.add(node)
            if mark:
                seen.add(node)
    while stack:
        node = stack.pop()
        for dst in out.get(node, ()):
            if dst not in seen and dst not in found:
                found.add(dst)
                if mark:
                    seen.add(dst)
                stack.append(dst)
    return found


def _interned(row: tuple[Any, ...]) -> Eligible:
    """``row`` with one copy of the strings many definitions share (kind, parent, path,
    module): the state holds every definition of the tree."""
    file_id, qualname, node, name, kind, parent, path, line, module = row
    return (
        file_id,
        qualname,
        node,
        name,
        sys.intern(kind),
        None if parent is None else sys.intern(parent),
        sys.intern(path),
        line,
        sys.intern(module),
    )


def _dead_row(rows: list[Eligible]) -> DeadRow:
    """The query's ``dead`` row of one qualname's definitions (min of each column, as GROUP BY)."""
    parents = [r[5] for r in rows if r[5] is not None]
    return (
        rows[0][1],
        min(r[3] for r in rows),
        min(r[4] for r in rows),
        min(parents) if parents else None,
        min(r[6] for r in rows),
        min(r[7] for r in rows),
        min(r[8] for r in rows),
        min(r[0] for r in rows),
        any(r[4] in ("variable", "constant") for r in rows),
    )


def _key(qualname: str, row: DeadRow) -> str:
    """The query's ``key``: a module's last name, else the name."""
    return qualname.rsplit(".", 1)[-1] if row[2] == "module" else row[1]


def _heads(qualname: str, row: DeadRow) -> set[int]:
    """hash() of the heads of the key of three characters or more (the computed names that
    may reach it; shorter ones count in the candidate's own file only)."""
    key = _key(qualname, row)
    return {hash(key[:n]) for n in range(3, len(key))}


def _put(index: dict[int, int | list[int]], key: int, value: int) -> None:
    """Add ``value`` to ``key``'s values (an int while there is one: most keys have one)."""
    held = index.get(key)
    if held is None:
        index[key] = value
    elif isinstance(held, int):
        index[key] = [held, value]
    else:
        held.append(value)


def _take(index: dict[int, int | list[int]], key: int, value: int) -> None:
    held = index[key]
    if isinstance(held, int):
        del index[key]
        return
    held.remove(value)
    if len(held) == 1:
        index[key] = held[0]


def _codes(index: dict[int, int | list[int]], key: int) -> list[int]:
    held = index.get(key)
    return [] if held is None else [held] if isinstance(held, int) else held


def _other_file(
    index: dict[int, int | list[int]], key: int, file_id: int, *, coded: bool = False
) -> bool:
    """Whether a file other than ``file_id`` holds ``key`` (values are file ids, or codes:
    file id * 2 + flag)."""
    return any((v >> 1 if coded else v) != file_id for v in _codes(index, key))


def _put_name(index: dict[int, str | list[str]], key: int, name: str) -> None:
    held = index.get(key)
    if held is None:
        index[key] = name
    elif isinstance(held, str):
        index[key] = [held, name]
    else:
        held.append(name)


def _take_name(index: dict[int, str | list[str]], key: int, name: str) -> None:
    held = index[key]
    if isinstance(held, str):
        del index[key]
        return
    held.remove(name)
    if len(held) == 1:
        index[key] = held[0]
