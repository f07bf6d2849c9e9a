"""Memoised answers that remember the (module, name) keys they consulted.

The name layer (:class:`~graphsvc.link.names.Lookup`) answers the same questions many times in
one linker run, and each answer depends on the top-level names it read. :class:`Consulting`
memoises answers together with those keys and replays the keys into ``deps`` at every hit, so
caching never hides a dependency: what a file's links consulted becomes its ``link_deps``.

An element of ``deps`` is a key or a group of keys always consulted together (a module's star
imports: ~140 keys for ``networkx``, in every answer that walked them). A group is one element
in every set an answer's keys pass through (its memo entry, each enclosing answer's, the
file's), instead of its keys one by one in each; :func:`flat` expands them once per file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from graphsvc.link.index import Key

T = TypeVar("T")
Dep = Key | frozenset[Key]  # a key, or a group of keys consulted together
Memo = tuple[Any, frozenset[Dep]]
# Answers that consulted fewer keys are replayed every time (cheaper than remembering that
# they were).
_REPLAY_TRACKED = 8


class Consulting:
    """``deps`` (the keys consulted since it was last reset) and answers memoised with theirs."""

    def __init__(self) -> None:
        self.deps: set[Dep] = set()
        self._memo: dict[object, Memo] = {}
        self._mro_memo: dict[object, Memo] = {}
        self._derived: dict[object, Memo] = {}
        self._in_progress: set[object] = set()
        self._cycle_hits = 0
        # the deps set that the memoised answers whose ids are in _replayed were replayed into
        self._replay_into: set[Dep] | None = None
        self._replayed: set[int] = set()

    def memoised(self) -> int:
        """Memoised answers held."""
        return len(self._memo) + len(self._mro_memo) + len(self._derived)

    def forget(self) -> None:
        """Drop every memoised answer (they are recomputed on demand, with the same names
        consulted): bounds memory over a long run."""
        self._memo.clear()
        self._mro_memo.clear()
        self._derived.clear()
        self._replay_into, self._replayed = None, set()

    def remember(self, key: object, compute: Callable[[], T]) -> T:
        """A derived answer (the linker's per-site work) memoised like the lookups are."""
        return self._remember(self._derived, key, compute)

    def _remember(self, memo: dict[object, Memo], key: object, compute: Callable[[], T]) -> T:
        """``compute()``, memoised with the module names it consulted.

        A key met again while it is being computed (an import cycle) contributes nothing, the
        least fixed point; answers computed inside such a cycle are not memoised, because they
        depend on where the cycle was entered, and cold and incremental runs enter it at
        different places.
        """
        hit = memo.get(key)
        if hit is not None:
            self._replay(hit)
            return cast(T, hit[0])
        if key in self._in_progress:
            self._cycle_hits += 1
            return cast(T, [])
        outer, hits = self.deps, self._cycle_hits
        replayed = self._replay_into, self._replayed
        self.deps = set()
        self._in_progress.add(key)
        try:
            values = compute()
            if self._cycle_hits == hits:
                memo[key] = (values, frozenset(self.deps))
        finally:
            self._in_progress.discard(key)
            outer |= self.deps
            self.deps = outer
            # what was replayed into ``outer`` before is still in it (it only grows)
            self._replay_into, self._replayed = replayed
        return values

    def _replay(self, hit: Memo) -> None:
        """Add the keys a memoised answer consulted to ``deps``. A file's value-flow solve asks
        the same questions in every round: an answer's keys already added to this same
        ``deps`` (a set that only grows) are not added again."""
        keys = hit[1]
        if len(keys) < _REPLAY_TRACKED:
            self.deps |= keys
            return
        if self.deps is not self._replay_into:
            self._replay_into, self._replayed = self.deps, set()
        elif id(hit) in self._replayed:
            return
        self.deps |= keys
        self._replayed.add(id(hit))  # memoised answers live until forget(): their ids hold


def flat(deps: Iterable[Dep]) -> set[Key]:
    """The keys of ``deps``, groups expanded."""
    keys: set[Key] = set()
    for dep in deps:
        if isinstance(dep, frozenset):
            keys |= dep
        else:
            keys.add(dep)
    return keys
