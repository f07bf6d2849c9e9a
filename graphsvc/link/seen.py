"""Which (module, name) keys some file's links consulted, as a Bloom filter (``rbloom``).

After a change the linker asks ``link_deps`` which files consulted the keys whose fingerprint
changed. On a 1,400-file tree that table has ~380,000 rows and the question costs 2-4 ms, and
most of the time the answer is "none": a function was added that nobody looked up yet. The
filter answers "none" from memory for a key no file consulted (a false "maybe" costs the query,
never a wrong answer), in ~10 bits a key instead of a Python object a key.
"""

from __future__ import annotations

from collections.abc import Iterable

from rbloom import Bloom

FALSE_MAYBE_RATE = 0.01  # the share of keys no file consulted that the filter calls "maybe"
MIN_CAPACITY = 1024


class SeenKeys:
    """A Bloom filter of (module, name) keys, sized for ``capacity`` keys."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, MIN_CAPACITY)
        # Python's own hash of the key: stable within the process, all the filter lives for
        self._bloom = Bloom(self.capacity, FALSE_MAYBE_RATE)
        self.added = 0

    @classmethod
    def of(cls, keys: Iterable[tuple[str, str]], count: int) -> SeenKeys:
        """A filter holding ``keys`` (``count`` of them), with room for as many again."""
        seen = cls(2 * count)
        seen.add(keys)
        return seen

    def add(self, keys: Iterable[tuple[str, str]]) -> None:
        """Remember ``keys``. Only keys the filter did not hold yet count towards its capacity:
        a file re-linked again adds the keys it consulted before, which would otherwise fill
        it (and force a re-read of link_deps) after some hundred one-file runs."""
        bloom = self._bloom
        for key in keys:
            if key not in bloom:
                bloom.add(key)
                self.added += 1

    def may_hold(self, key: tuple[str, str]) -> bool:
        """False: no file consulted ``key``; True: one may have."""
        return key in self._bloom

    @property
    def full(self) -> bool:
        """More keys were added than it was sized for (its false "maybe"s grow): rebuild."""
        return self.added > self.capacity
