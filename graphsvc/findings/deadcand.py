"""Incremental ``dead_code``, steps 5 and 6 (deadcode.py's module docstring): the evidence
of each candidate (an unreached definition whose parent is reached), recomputed only for the
candidates a batch may have changed, and the finder's rows made from it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from graphsvc.findings import deadfacts
from graphsvc.findings.deadgraph import DeadRow, candidate_key, key_heads
from graphsvc.queries.deadcode import doubts, finding, finding_order, lowered, own_confidence

if TYPE_CHECKING:
    from graphsvc.findings.deadcode import DeadCode, Stats

METHODS = ("method", "staticmethod", "classmethod")
_CALLERS = deadfacts.FACT_COLUMNS.index("callers")
MAX_SCOPES = 2000  # more scopes whose reachability changed: every candidate's evidence again
Row = dict[str, Any]


@dataclass(slots=True)
class Fact:
    """A candidate's evidence as of its dead row."""

    dead: DeadRow
    # the finder's input row but its two parameters, as values in deadfacts.FACT_COLUMNS
    # order: a dict of 15 keys per candidate was ~1 KB of the engine's state each (#5)
    values: tuple[Any, ...]
    # hash() of its key: a changed file that mentions neither it nor its qualname (whose
    # hash() the str caches) nor a head of the key (deadgraph.key_heads) leaves its evidence
    # as it is (a tuple of both hashes was ~0.7 MB of the state on the standard library, #5)
    key_hash: int
    # the confidence its doubts leave (the doubts themselves, ~2 MB of text on the standard
    # library, are made again for the finder's rows that are recomputed)
    own: float


class Candidates:
    """The candidates of a :class:`~graphsvc.findings.deadcode.DeadCode` engine, their
    evidence and the finder's rows; it reads the engine's dead rows, graph, evidence parts,
    outside bases and mode."""

    def __init__(self, engine: DeadCode) -> None:
        self.engine = engine
        self.cand: dict[str, DeadRow] = {}  # the outermost unreached definitions
        self.facts: dict[str, Fact] = {}  # candidate -> its evidence
        self.own: dict[str, float] = {}  # candidate -> its own confidence (Fact.own)
        # the callers of the candidates with callers (what inherit() reads of their rows: a
        # whole input row each, 17 keys, was ~1.4 MB of the state on 1,407 files, #5)
        self.used: dict[str, list[str]] = {}
        self._used_sorted: list[tuple[str, list[str]]] | None = None  # used's items, by name
        # what users pass on (queries/deadcode.py lowered()) as of used and own: None when
        # either changed since
        self._lowered: tuple[dict[str, float], dict[str, str]] | None = None
        # the names lowered() reads the own confidence of (used's names and their users): a
        # change of another's (most batches add or change a candidate nobody uses) keeps it
        self._read_by_lowered: set[str] | None = None
        # the candidates whose own confidence is at least ``_least`` (most are below it: score
        # need not look at them)
        self._passing: set[str] = set()
        self._least: float | None = None
        self.min_confidence: float | None = None
        self.scored: list[Row] = []  # the finder's rows of the last call
        # candidate -> (its fact, inherited confidence, via, its finding row) of the last call:
        # a row whose inputs did not move is reused
        self.found: dict[str, tuple[Fact, float, str | None, Row]] = {}

    def update(
        self,
        con: Any,
        changed: set[int] | None,
        moved: set[str],
        stats: Stats,
        min_confidence: float,
    ) -> bool:
        """Bring the evidence of every candidate (the query's ``cand``) up to date; whether
        anything the finder reads moved since the last call."""
        left = self._update_cand(changed is None, moved)
        cand = self.cand
        stats.candidates = len(cand)
        facts = self.facts
        if changed is None:
            wanted, relinked = set(cand), None
        else:
            wanted, relinked = self._wanted(con, cand, changed, moved)
        stats.facts = len(wanted)
        stats.callers = len(wanted) if relinked is None else len(relinked)
        self.engine.graph.dropped_keys = []
        self.engine.graph.dropped_heads = []
        self.engine.graph.dropped_heads3 = []
        self.engine.graph.changed_names = set()
        self.engine.outside_changed = set()
        for q in left:
            facts.pop(q, None)
            if self.own.pop(q, None) is not None:
                self._own_moved(q)
            self._passing.discard(q)
            self._use(q, None)
        same = not wanted and not left and min_confidence == self.min_confidence
        if wanted:
            for values in self._facts_of(con, wanted, relinked):
                row = self._row(values, min_confidence)
                q = row["qualname"]
                key = candidate_key(q, cand[q])
                own = own_confidence(doubts(row))
                facts[q] = Fact(cand[q], values, hash(key), own)
                if self.own.get(q) != own:
                    self.own[q] = own
                    self._own_moved(q)
                if self._least is not None and round(own, 2) >= self._least:
                    self._passing.add(q)
                else:
                    self._passing.discard(q)
                self._use(q, row["callers"] or None)
        if min_confidence != self.min_confidence:
            self.min_confidence = min_confidence
        return not same

    def _use(self, q: str, callers: list[str] | None) -> None:
        """Set (None: drop) the callers of candidate ``q`` that score reads."""
        if callers is None:
            if self.used.pop(q, None) is not None:
                self._used_sorted = self._lowered = self._read_by_lowered = None
        elif self.used.get(q) != callers:
            self.used[q] = callers
            self._used_sorted = self._lowered = self._read_by_lowered = None

    def _own_moved(self, q: str) -> None:
        """Candidate ``q``'s own confidence changed (or it has none now)."""
        if self._read_by_lowered is None or q in self._read_by_lowered:
            self._lowered = None

    def _row(self, values: tuple[Any, ...], min_confidence: float | None) -> Row:
        """The finder's input row of a candidate from its fact's values."""
        row = dict(zip(deadfacts.FACT_COLUMNS, values, strict=True))
        row["min_confidence"] = min_confidence
        row["mode"] = self.engine.mode
        return row

    def _update_cand(self, full: bool, moved: set[str]) -> set[str]:
        """Update the candidates (an unreached definition whose parent is reached) from the
        dead rows that moved and their children; the qualnames that stopped being one."""
        dead, cand = self.engine.dead, self.cand
        if full:
            todo: Iterable[str] = set(dead) | set(cand)
        else:
            todo = set(moved)
            for q in moved:
                todo.update(self.engine.graph.children.get(q, ()))
        left: set[str] = set()
        for q in todo:
            r = dead.get(q)
            if r is not None and (r[3] is None or r[3] not in dead):
                cand[q] = r
            elif cand.pop(q, None) is not None:
                left.add(q)
        return left

    def score(self, min_confidence: float) -> list[Row]:
        """The finder's rows (queries/deadcode.py ``score``) from the candidates' evidence:
        the confidences users pass on are recomputed when a user list or an own confidence
        they read changed, a row whose fact, confidence and user did not change is the one of
        the last call."""
        facts, own_of = self.facts, self.own
        least = min_confidence or 0.0
        if least != self._least:
            self._least = least
            # what users pass on only lowers a confidence (and round() keeps the order)
            self._passing = {q for q, own in own_of.items() if round(own, 2) >= least}
        if self._lowered is None:
            if self._used_sorted is None:
                self._used_sorted = sorted(self.used.items(), key=itemgetter(0))
            if self._read_by_lowered is None:
                read = set(self.used)
                for callers in self.used.values():
                    read.update(callers)
                self._read_by_lowered = read
            self._lowered = lowered(self._used_sorted, own_of)
        low, via = self._lowered
        held = self.found
        found: dict[str, tuple[Fact, float, str | None, Row]] = {}
        for q in self._passing:
            value = low.get(q, own_of[q])
            if round(value, 2) < least:
                continue
            fact = facts[q]
            user = via.get(q)
            last = held.get(q)
            if last is not None and last[0] is fact and last[1] == value and last[2] == user:
                found[q] = last
            else:
                row = self._row(fact.values, self.min_confidence)
                found[q] = (fact, value, user, _kept(finding(row, doubts(row), value, user)))
        self.found = found
        self.scored = sorted((entry[3] for entry in found.values()), key=finding_order)
        return self.scored

    def rows(self) -> list[Row]:
        """The finder's rows of the last :meth:`score` (new dicts: the caller may change them;
        their lists are the kept rows' own, as they always were)."""
        return [dict(row) for row in self.scored]

    def _wanted(
        self, con: Any, cand: dict[str, DeadRow], changed: set[int], moved: set[str]
    ) -> tuple[set[str], set[str]]:
        """The candidates whose evidence the batch may have changed (see the module
        docstring, 5.), and those of them whose callers it may have changed: new ones, those
        whose dead row moved, those a changed file links to (before or after the batch: its
        ``k`` parts hold its links' targets) and the targets of links from scopes whose
        reachability changed (a caller is the outermost unreached definition of a link's
        scope). The others keep their callers: a batch that only mentions a candidate's name,
        or changes its file but no link to it, leaves them as they were."""
        facts = self.facts
        keys = set(self.engine.graph.dropped_keys)
        heads = set(self.engine.graph.dropped_heads)
        heads3 = set(self.engine.graph.dropped_heads3)
        for file_id in changed:
            f = self.engine.graph.files.get(file_id)
            if f is not None:
                keys.update(f.keys)
                heads.update(f.heads)
                heads3.update(f.heads3)
        outside = self.engine.outside_changed
        wanted = set()
        relinked = set()
        for q, r in cand.items():
            known = facts.get(q)
            if known is None or known.dead != r or hash(q) in keys:
                relinked.add(q)
            elif (
                r[7] in changed
                or known.key_hash in keys
                or (heads and _headed(q, r, heads, heads3))
                or r[3] in outside
            ):
                wanted.add(q)
        scopes = self.engine.graph.descendants(moved)
        if len(scopes) > MAX_SCOPES:
            return set(cand), set(cand)
        if scopes:
            # from the graph's edges (a superset: recomputing more evidence changes nothing);
            # the statement, 4-8 ms CPU a refresh on 1,407 files, only where it cannot say
            found = self.engine.graph.link_targets(scopes)
            if found is None:
                rows = self.engine.sql(
                    con, "targets", deadfacts.TARGETS_SQL, {"scopes": sorted(scopes)}
                )
                found = {r[0] for r in rows}
            relinked |= {q for q in found if q in cand}
        return wanted | relinked, relinked

    def _facts_of(
        self, con: Any, wanted: set[str], relinked: set[str] | None
    ) -> list[tuple[Any, ...]]:
        """The finder's input rows of the candidates ``wanted`` (their evidence), as values in
        deadfacts.FACT_COLUMNS order; the callers are read for ``relinked`` (None: all), the
        others keep those of their fact."""
        names = sorted(wanted)
        ask = names if relinked is None else sorted(relinked)
        callers: dict[str, set[str]] = {}
        if ask:
            for scope, target in self.engine.sql(
                con, "callers", deadfacts.CALLERS_SQL, {"targets": ask}
            ):
                top = self._outermost(scope)
                if top is not None and top != target:
                    callers.setdefault(target, set()).add(top)
        out: list[tuple[Any, ...]] = []
        for q in names:
            row = self.engine.evidence.facts(self.engine.dead[q])
            if relinked is None or q in relinked:
                row["callers"] = sorted(callers[q]) if q in callers else None
            else:
                row["callers"] = self.facts[q].values[_CALLERS]
            row["outside_base"] = (
                self.engine.outside.get(row["parent"]) if row["kind"] in METHODS else None
            )
            out.append(tuple(row[column] for column in deadfacts.FACT_COLUMNS))
        return out

    def _outermost(self, scope: str | None) -> str | None:
        """The outermost unreached definition ``scope`` is reported through (itself, or its
        unreached parent, up to three levels), or None when it is reached: the query's
        ``outer_of``."""
        row = self.engine.dead.get(scope) if scope is not None else None
        if row is None:
            return None
        top, parent = scope, row[3]
        for _ in range(3):
            above = self.engine.dead.get(parent) if parent is not None else None
            if above is None:
                break
            top, parent = parent, above[3]
        return top


def _headed(q: str, r: DeadRow, heads: set[int], heads3: set[int]) -> bool:
    """Whether a head of ``heads`` is a head of the candidate's key (deadgraph.key_heads): its
    first three characters must be one of ``heads3`` (the heads' first three) first, which
    most keys' are not (making every key's heads was ~8 ms of a big file's edit)."""
    key = r[1] if r[2] != "module" else q.rsplit(".", 1)[-1]
    if len(key) <= 3 or hash(key[:3]) not in heads3:
        return False
    return not heads.isdisjoint(key_heads(q, r))


def _kept(row: Row) -> Row:
    """A finding row as the engine keeps it: its reasons' texts shared with every row that
    has the same (on the standard library ~14,000 texts, ~3,700 different: ~1 MB, #5).
    Dropping its ``locations`` and making them again per call saved ~2.3 MB more but cost
    6-70 ms a refresh (the cyclic GC over the engine's state), so they stay."""
    reasons = [sys.intern(text) for text in row["reasons"]]
    row["reasons"] = reasons
    row["summary"] = reasons[0]
    return row
