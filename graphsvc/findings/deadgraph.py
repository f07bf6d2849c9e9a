"""The incremental ``dead_code``'s graph state (graphsvc/findings/deadcode.py runs it).

Per file: the reachability edges and seeds its rows contribute, the qualnames its strings may
name, its symbol ids, its definitions that are reported when unreached, the names it reads, and
what the well-formedness check needs (by hash: its qualnames, the parents and scopes it does not
define). Over all files: edge counts (a seed is an edge from :data:`ROOT`), the reached nodes,
the definitions by qualname and by id, and the check's indexes. Nodes are DuckDB ``hash()``
values of qualnames (unsigned 64-bit), as in queries/dead_code.sql.
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphsvc.findings.deadindex import codes, put, take

ROOT = -1  # the node every seed is an edge from (hashes are unsigned: never -1)
_MANY = 16  # edges of one source changed at once from which its array is scanned once
Eligible = tuple[int, str, int, str, str, str | None, str, int, str]  # PARTS_SQL q rows
# the query's ``dead`` row: qualname, name, kind, parent, path, line, module, file_id, rebound
DeadRow = tuple[str, str, str, str | None, str, int, str, int, bool]


@dataclass(slots=True)
class FileParts:
    """What one file contributes."""

    edges: array[int] = field(default_factory=lambda: array("Q"))  # src, dst, src, dst, ...
    seeds: array[int] = field(default_factory=lambda: array("Q"))
    strings: array[int] = field(default_factory=lambda: array("Q"))
    ids: array[int] = field(default_factory=lambda: array("Q"))
    # sorted digests of its classes, resolved bases, members
    shape: array[int] = field(default_factory=lambda: array("q"))
    # what the well-formedness check reads, by hash: its qualnames (the code of each: file id
    # * 2 + 1 when some definition of it is not a module), flat (qualname, code, ...: a dict
    # of them was 2.5 MB of the state on the standard library, #5; a tuple's ints are the
    # objects the check's index holds too), the parents of its definitions that it does not
    # define, its link scopes and decorated names that it does not define
    defs: tuple[int, ...] = ()
    parents: array[int] = field(default_factory=lambda: array("Q"))
    scopes: array[int] = field(default_factory=lambda: array("Q"))
    null_context: bool = False  # a decorator without its decorated name
    eligible: list[Eligible] = field(default_factory=list[Eligible])
    keys: array[int] = field(default_factory=lambda: array("q"))  # hash() of names it reads
    heads: array[int] = field(default_factory=lambda: array("q"))  # of its computed names' heads
    # hash() of each head's first three characters: a key none of them starts with has no
    # head among them (Candidates._wanted tests that before making the key's heads)
    heads3: array[int] | tuple[()] = ()


class Graph:
    """Every file's parts, their sums, and reachability over them."""

    def __init__(self) -> None:
        self.files: dict[int, FileParts] = {}
        # one int object per node value: the same ~27,000 values are keys of _out, _ids,
        # _defs, q_by_id, members of reached and of the definitions' rows, and each value
        # read from an array or a row is a new object (~150,000 ints, 5 MB, on the standard
        # library, #5); stale values are pruned by reach() (see node())
        self._nodes: dict[int, int] = {}
        self._out: dict[int, array[int]] = {}  # src -> its edges' targets (repeated per edge)
        self.tracking = False  # whether edge() notes what it changes (not in a full rebuild)
        self._strings: dict[int, int] = {}  # id a string may seed -> files naming it
        self._ids: dict[int, int] = {}  # symbol id -> files defining it
        self._string_seeds: set[int] = set()
        self._global_edges: dict[tuple[int, int], int] = {}
        self._consumers: set[int] = set()  # ids of channel consumers (seeds)
        self.reached: set[int] = set()
        # qualname -> its reportable definitions: the row itself while there is one (most
        # qualnames have one: a list each was 2 MB of the state on the standard library, #5)
        self.by_q: dict[str, Eligible | list[Eligible]] = {}
        self.q_by_id: dict[int, str | list[str]] = {}
        self.children: dict[str, list[str]] = {}
        # what the well-formedness check looks up, by hash: files defining a qualname (codes,
        # see FileParts.defs), defining a child of it, naming it as a scope
        self._defs: dict[int, int | list[int]] = {}
        self._kids: dict[int, int | list[int]] = {}
        self._scopes: dict[int, int | list[int]] = {}
        self._null_context: set[int] = set()
        # edges whose count changed since the last search, with whether they were there
        self._moved: dict[tuple[int, int], int] = {}
        self._touched_ids: set[int] = set()  # string or symbol ids whose counts changed
        self.dropped_keys: list[int] = []  # the keys of the files dropped since the last run
        self.dropped_heads: list[int] = []
        self.dropped_heads3: list[int] = []
        self.changed_names: set[str] = set()  # qualnames defined by changed files

    def node(self, value: int) -> int:
        """The one int object the state holds for ``value`` (an identity cache: equal ints
        compare equal whatever object holds them)."""
        return self._nodes.setdefault(value, value)

    def _prune_nodes(self) -> None:
        """Forget the node values no index holds any more (edits that rename code leave
        them), once they are as many as the live ones."""
        if len(self._nodes) <= 2 * len(self._ids) + 4096:
            return
        held = (self._out, self._ids, self._strings, self._defs, self.q_by_id, self.reached)
        self._nodes = {n: n for n in self._nodes if any(n in index for index in held)}

    def set_global(self, edges: dict[tuple[int, int], int]) -> None:
        """Replace the edges that need the whole class hierarchy (deadsql.GLOBAL_SQL): only
        those whose count changed move (an edit that adds a method moves a few of the ~6,000
        on 1,407 files; taking all away and adding them again cost ~30 ms, most of it the
        arrays' remove)."""
        held = self._global_edges
        for (src, dst), n in held.items():
            after = edges.get((src, dst), 0)
            if after != n:
                self.edge(src, dst, after - n)
        for (src, dst), n in edges.items():
            if (src, dst) not in held:
                self.edge(src, dst, n)
        self._global_edges = edges

    def set_consumers(self, consumers: set[int]) -> None:
        """Replace the channel consumers (seeds)."""
        for node in consumers - self._consumers:
            self.edge(ROOT, node, 1)
        for node in self._consumers - consumers:
            self.edge(ROOT, node, -1)
        self._consumers = consumers

    def add(self, file_id: int, f: FileParts) -> None:
        """Add what ``file_id`` contributes (after :meth:`drop` of what it did before)."""
        self.files[file_id] = f
        for src, dst in pairs(f.edges):
            self.edge(src, dst, 1)
        self.seed_each(f.seeds, 1)
        for node in f.ids:
            self._count(self._ids, node, 1)
        for node in f.strings:
            self._count(self._strings, node, 1)
        for q, code in pairs(f.defs):
            put(self._defs, q, code)
        for parent in f.parents:
            put(self._kids, parent, file_id)
        for scope in f.scopes:
            put(self._scopes, scope, file_id)
        if f.null_context:
            self._null_context.add(file_id)
        self._add_eligible(f.eligible)

    def _add_eligible(self, eligible: list[Eligible]) -> None:
        for row in eligible:
            self.changed_names.add(row[1])
            held = self.by_q.get(row[1])
            if held is None:  # one q_by_id entry per qualname, as drop() takes it
                self.by_q[row[1]] = row
                put(self.q_by_id, row[2], row[1])
            elif isinstance(held, list):
                held.append(row)
            else:
                self.by_q[row[1]] = [held, row]
            if row[5] is not None:
                self.children.setdefault(row[5], []).append(row[1])

    def drop(self, file_id: int) -> None:
        """Take away what ``file_id`` contributed (nothing when it is not known)."""
        f = self.files.pop(file_id, None)
        if f is None:
            return
        for src, dst in pairs(f.edges):
            self.edge(src, dst, -1)
        self.seed_each(f.seeds, -1)
        for node in f.ids:
            self._count(self._ids, node, -1)
        for node in f.strings:
            self._count(self._strings, node, -1)
        self._unindex(file_id, f)
        for row in f.eligible:
            self.changed_names.add(row[1])
            held = self.by_q[row[1]]
            if not isinstance(held, list):
                del self.by_q[row[1]]
                take(self.q_by_id, row[2], row[1])
            else:
                held.remove(row)
                if len(held) == 1:
                    self.by_q[row[1]] = held[0]
            if row[5] is not None:
                kids = self.children[row[5]]
                kids.remove(row[1])
                if not kids:
                    del self.children[row[5]]
        self.dropped_keys.extend(f.keys)
        self.dropped_heads.extend(f.heads)
        self.dropped_heads3.extend(f.heads3)

    def definitions(self, qualname: str) -> list[Eligible]:
        """The reportable definitions of ``qualname`` (none: not defined)."""
        held = self.by_q.get(qualname)
        return [] if held is None else held if isinstance(held, list) else [held]

    def _unindex(self, file_id: int, f: FileParts) -> None:
        """Take ``f`` out of the well-formedness check's indexes."""
        for q, code in pairs(f.defs):
            take(self._defs, q, code)
        for parent in f.parents:
            take(self._kids, parent, file_id)
        for scope in f.scopes:
            take(self._scopes, scope, file_id)
        self._null_context.discard(file_id)

    @property
    def followable(self) -> bool:
        """Whether no decorator is without its decorated name (see :meth:`partners`)."""
        return not self._null_context

    def partners(self, file_id: int) -> set[int] | None:
        """The other files whose rows may read, or be read by, the rows of ``file_id``: those
        in a breach of well-formedness with it (deadspec.CHECK_SQL says it in SQL): defining a
        qualname of its too, defining as something else than a module a parent of its (or
        holding a child of a non-module of its), naming as a scope or decorated name a
        definition of its (or defining one it names). Empty: its rows stay inside it. None:
        a decorator without its decorated name somewhere, which every file's rows may read."""
        if self._null_context:
            return None
        found: set[int] = set()
        f = self.files.get(file_id)
        if f is None:
            return found
        for q, code in pairs(f.defs):
            found.update(c >> 1 for c in codes(self._defs, q))
            found.update(codes(self._scopes, q))
            if code & 1:
                found.update(codes(self._kids, q))
        for parent in f.parents:
            coded = codes(self._defs, parent)
            if any(c & 1 for c in coded):
                found.update(c >> 1 for c in coded)
        for scope in f.scopes:
            found.update(c >> 1 for c in codes(self._defs, scope))
        found.discard(file_id)
        return found

    def tangle(self, files: Iterable[int]) -> set[int] | None:
        """``files`` and every file tied to them by :meth:`partners`, transitively: computed
        together, these files' rows are those that computing every file gives them. None: see
        :meth:`partners`."""
        tangle = set(files)
        todo = list(tangle)
        while todo:
            file_id = todo.pop()
            found = self.partners(file_id)
            if found is None:
                return None
            found -= tangle
            tangle |= found
            todo.extend(found)
        return tangle

    def edge(self, src: int, dst: int, n: int) -> None:
        """Add ``n`` edges ``src -> dst`` (negative: take them away)."""
        out = self._out.get(src)
        if out is None:
            out = self._out[self.node(src)] = array("Q")
        if self.tracking and (src, dst) not in self._moved:
            self._moved[(src, dst)] = int(dst in out)
        if n > 0:
            out.extend([dst] * n)
        else:
            for _ in range(-n):
                out.remove(dst)
            if not out:
                del self._out[src]

    def seed_each(self, nodes: Sequence[int], n: int) -> None:
        """``edge(ROOT, node, n)`` for each of ``nodes`` (n: 1 or -1), the same array after
        it: the root's edges are every file's seeds (~7,000 on 1,407 files), and an edge
        taken away or noted one at a time scans them each time (~3 ms a big file's edit)."""
        if len(nodes) < _MANY:
            for node in nodes:
                self.edge(ROOT, node, n)
            return
        out = self._out.get(ROOT)
        if out is None:
            out = self._out[ROOT] = array("Q")
        if self.tracking:
            present = set(out)
            for node in nodes:
                self._moved.setdefault((ROOT, node), int(node in present))
        if n > 0:
            out.extend(nodes)
            return
        # each node's first occurrences go, as out.remove() one at a time takes them
        gone = Counter(nodes)
        kept = array("Q")
        for node in out:
            left = gone.get(node)
            if left:
                gone[node] = left - 1
            else:
                kept.append(node)
        if +gone:
            raise ValueError(f"seed_each: {len(+gone)} seeds the root does not have")
        if kept:
            self._out[ROOT] = kept
        else:
            del self._out[ROOT]

    def _count(self, counts: dict[int, int], node: int, n: int) -> None:
        held = counts.get(node)
        after = (held or 0) + n
        if after:
            counts[node if held is not None else self.node(node)] = after
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
                self.edge(ROOT, node, 1)
            elif has and not want:
                self._string_seeds.discard(node)
                self.edge(ROOT, node, -1)
        self._touched_ids = set()

    def reach(self, full: bool) -> tuple[set[int], str]:
        """Update the reached nodes (``full``: search from the root); the nodes that became
        reached or unreached, and how it searched: "root", "added" (from the targets of new
        edges) or "none"."""
        self._strings_seeds()
        reached = self.reached
        added: list[tuple[int, int]] = []
        removed: list[tuple[int, int]] = []
        # a source with many moved edges (the root) is looked up in a set, not its array
        many = Counter(src for src, _ in self._moved)
        sets = {src: set(self._out.get(src, ())) for src, k in many.items() if k >= _MANY}
        for (src, dst), before in self._moved.items():
            held = sets.get(src)
            now = dst in held if held is not None else dst in self._out.get(src, ())
            if before and not now:
                removed.append((src, dst))
            elif now and not before:
                added.append((src, dst))
        self._moved = {}
        if full or any((src == ROOT or src in reached) and dst in reached for src, dst in removed):
            searched = "root"
            now = search(self._out, [ROOT], set(), self._nodes)
            delta = now ^ reached
            self.reached = now
        else:
            starts = [
                dst for src, dst in added if (src == ROOT or src in reached) and dst not in reached
            ]
            searched = "added" if starts else "none"
            delta = search(self._out, starts, reached, self._nodes, mark=True)
        self._prune_nodes()
        return delta, searched

    def link_targets(self, scopes: Iterable[str]) -> set[str] | None:
        """The reportable definitions links from ``scopes`` may target (a superset of those
        of deadfacts.TARGETS_SQL), from the edges links left: a class body's leave from where
        it runs (PARTS_SQL's ``runner``), an unlinked link none (nor a caller). None: a scope
        or a class's parent is not reportable (the statement answers)."""
        srcs: set[int] = set()
        for scope in scopes:
            rows = self.definitions(scope)
            if not rows:
                return None
            srcs.add(rows[0][2])
            for row in rows:
                if row[4] != "class":
                    continue  # a scope is a class when it has a reportable class row
                runs = self._runs_in(row)
                if runs is None:
                    return None
                srcs |= runs
        found: set[str] = set()
        for src in srcs:
            for dst in set(self._out.get(src, ())):
                known = self.q_by_id.get(dst)
                if isinstance(known, str):
                    found.add(known)
                elif known is not None:
                    found.update(known)
        return found

    def _runs_in(self, row: Eligible) -> set[int] | None:
        parents = self.definitions(row[5]) if row[5] is not None else []  # (see runner)
        if not parents:
            return None
        runs: set[int] = set()
        for parent in parents:
            if parent[4] != "class":
                runs.add(parent[2])
                continue
            above = self.definitions(parent[5]) if parent[5] is not None else []
            module = self.definitions(row[8])
            if not above or not module:
                return None
            runs.update(a[2] for a in above if a[4] != "class")
            if any(a[4] == "class" for a in above):
                runs.add(module[0][2])
        return runs

    def descendants(self, moved: set[str]) -> set[str]:
        """``moved`` and the definitions nested in them (three levels: the outermost dead
        ancestor a scope is reported through is looked up that far)."""
        found = set(moved)
        level = moved
        for _ in range(3):
            level = {kid for q in level for kid in self.children.get(q, ())}
            found |= level
        return found


def search(
    out: dict[int, array[int]],
    starts: list[int],
    seen: set[int],
    nodes: dict[int, int],
    *,
    mark: bool = False,
) -> set[int]:
    """Nodes reachable from ``starts`` (the starts themselves unless they are the root) that
    ``seen`` does not hold; with ``mark``, they are added to ``seen`` too. Each found node is
    its object in ``nodes`` where it has one (see Graph.node)."""
    found: set[int] = set()
    stack = list(starts)
    for node in starts:
        if node != ROOT and node not in seen:
            node = nodes.get(node, node)
            found.add(node)
            if mark:
                seen.add(node)
    while stack:
        node = stack.pop()
        for dst in out.get(node, ()):
            if dst not in seen and dst not in found:
                dst = nodes.get(dst, dst)
                found.add(dst)
                if mark:
                    seen.add(dst)
                stack.append(dst)
    return found


def pairs(flat: Iterable[int]) -> Iterator[tuple[int, int]]:
    """(a, b), (c, d), ... of the flat sequence a, b, c, d, ..."""
    items = iter(flat)
    return zip(items, items, strict=True)


def interned(row: tuple[Any, ...]) -> Eligible:
    """``row`` with one copy of the strings many definitions share (name, kind, parent, path,
    module): the state holds every definition of the tree."""
    file_id, qualname, node, name, kind, parent, path, line, module = row
    return (
        file_id,
        qualname,
        node,
        sys.intern(name),  # "__init__", "run", ...: one copy each
        sys.intern(kind),
        None if parent is None else sys.intern(parent),
        sys.intern(path),
        line,
        sys.intern(module),
    )


def dead_row(rows: list[Eligible]) -> DeadRow:
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


def candidate_key(qualname: str, row: DeadRow) -> str:
    """The query's ``key``: a module's last name, else the name."""
    return qualname.rsplit(".", 1)[-1] if row[2] == "module" else row[1]


def key_heads(qualname: str, row: DeadRow) -> set[int]:
    """hash() of the heads of the key of three characters or more (the computed names that
    may reach it; shorter ones count in the candidate's own file only)."""
    key = candidate_key(qualname, row)
    return {hash(key[:n]) for n in range(3, len(key))}
