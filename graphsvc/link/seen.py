"""Which (module, name) keys some file's links consulted, as a Bloom filter.

After a change the linker asks ``link_deps`` which files consulted the keys whose fingerprint
changed. On a 1,400-file tree that table has ~380,000 rows and the question costs 2-4 ms, and
most of the time the answer is "none": a function was added that nobody looked up yet. The
filter answers "none" from memory for a key no file consulted (a false "maybe" costs the query,
never a wrong answer), in ~10 bits a key instead of a Python object a key.
"""

from __future__ import annotations

from collections.abc import Iterable

# bits per key the filter is sized for, and bit positions set per key: ~1% false "maybe"
BITS_PER_KEY = 10
HASHES = 7
MIN_BITS = 1 << 16


class SeenKeys:
    """A Bloom filter of (module, name) keys, sized for ``capacity`` keys."""

    def __init__(self, capacity: int) -> None:
        bits = MIN_BITS
        while bits < capacity * BITS_PER_KEY:
            bits <<= 1
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)
        self.capacity = capacity
        self.added = 0

    @classmethod
    def of(cls, keys: Iterable[tuple[str, str]], count: int) -> SeenKeys:
        """A filter holding ``keys`` (``count`` of them), with room for as many again."""
        seen = cls(max(2 * count, 1024))
        seen.add(keys)
        return seen

    def _positions(self, key: tuple[str, str]) -> list[int]:
        h = hash(key)  # stable within the process, which is all the filter lives for
        first, step = h & 0xFFFFFFFF, ((h >> 32) & 0xFFFFFFFF) | 1
        return [(first + i * step) & self._mask for i in range(HASHES)]

    def add(self, keys: Iterable[tuple[str, str]]) -> None:
        """Remember ``keys``."""
        bits = self._bits
        for key in keys:
            self.added += 1
            for p in self._positions(key):
                bits[p >> 3] |= 1 << (p & 7)

    def may_hold(self, key: tuple[str, str]) -> bool:
        """False: no file consulted ``key``; True: one may have."""
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(key))

    @property
    def full(self) -> bool:
        """More keys were added than it was sized for (its false "maybe"s grow): rebuild."""
        return self.added > self.capacity
