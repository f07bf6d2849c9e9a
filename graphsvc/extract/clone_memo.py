"""A per-process memo of clone fingerprints, bounded in bytes: an edited file's unchanged
definitions are not fingerprinted again.

A definition's fingerprint (its token count, exact and shape hashes, MinHash bins and whether it
is boilerplate) is a function of its node type and its bytes after its name: tokens, the
docstring, the nested definitions (whose own fingerprints it folds in) and the statements the
boilerplate test reads all lie in that range. So the key is the type and a 128-bit BLAKE2b
digest of those bytes, and a renamed or moved definition, or one whose file changed elsewhere,
is found again. A hit costs the digest; a miss, the digest and the entry.

Entries are kept in least recently used order and each one's size (``sys.getsizeof`` of the key,
the entry and its fields, plus the dict slot) is counted: the oldest go when the total passes
:data:`LIMIT_BYTES`. The bins are stored as 64-bit words (a list of Python ints costs five times
as much), the empty ones flagged apart, since the empty marker does not fit a word.

The workers of a cold index see each file once, so they turn the memo off (``limit(0)``): it
would only fill their memory.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections import OrderedDict
from itertools import compress, repeat
from operator import and_

__all__ = ["LIMIT_BYTES", "MEMO", "Fingerprint", "Memo", "key", "limit"]

LIMIT_BYTES = 4 << 20  # a few thousand definitions: the last few dozen files edited
_SLOT_BYTES = 100  # an OrderedDict entry: hash table slot and its link
_MASK64 = (1 << 64) - 1
_POSITIONS = range(64)  # clones.BINS

# (tokens, exact digest, shape digest, bins, boilerplate); bins None: no shingles (``_NO_BINS``)
Fingerprint = tuple[int, bytes, bytes, list[int] | None, bool]
# (tokens, exact, shape, bins as words, per bin 1 where it is empty (b"": none), boilerplate)
_Entry = tuple[int, bytes, bytes, array | None, bytes, bool]


def key(kind: bytes, data: bytes, start: int, end: int) -> bytes:
    """The memo key of the definition of node type ``kind`` whose bytes after its name are
    ``data[start:end]`` (a view: no copy of the file's text)."""
    return kind + hashlib.blake2b(memoryview(data)[start:end], digest_size=16).digest()


class Memo:
    """Fingerprints by :func:`key`, least recently used first, at most ``limit`` bytes."""

    def __init__(self, limit: int, empty: int) -> None:
        self.limit = limit
        self.bytes = 0
        self._empty = empty  # the bins' empty marker (clones._EMPTY)
        self._entries: OrderedDict[bytes, tuple[_Entry, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, memo_key: bytes) -> Fingerprint | None:
        found = self._entries.get(memo_key)
        if found is None:
            return None
        self._entries.move_to_end(memo_key)
        tokens, exact, shape, words, empties, boilerplate = found[0]
        bins: list[int] | None = None
        if words is not None:
            bins = words.tolist()
            if empties:
                for i in compress(_POSITIONS, empties):
                    bins[i] = self._empty
        return tokens, exact, shape, bins, boilerplate

    def put(self, memo_key: bytes, found: Fingerprint) -> None:
        if self.limit <= 0 or memo_key in self._entries:
            return
        tokens, exact, shape, bins, boilerplate = found
        words: array | None = None
        empties = b""
        if bins is not None:
            # a real bin value is below 2**64 and kept as it is; the empty marker (2**64)
            # becomes 0 and is flagged (one byte per bin, only when there is one): all in C
            words = array("Q", map(and_, bins, repeat(_MASK64)))
            if self._empty in bins:
                empties = bytes(map(self._empty.__eq__, bins))
        entry: _Entry = (tokens, exact, shape, words, empties, boilerplate)
        size = entry_bytes(memo_key, entry)
        if size > self.limit:
            return
        self._entries[memo_key] = (entry, size)
        self.bytes += size
        self._evict()

    def resize(self, limit: int) -> None:
        """Set the bound, dropping the oldest entries over it (all of them for 0)."""
        self.limit = limit
        self._evict()

    def _evict(self) -> None:
        while self.bytes > max(self.limit, 0) and self._entries:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped

    def measured(self) -> int:
        """The entries' size counted afresh (what a test checks the running total against)."""
        return sum(entry_bytes(k, e) for k, (e, _) in self._entries.items())


def entry_bytes(memo_key: bytes, entry: _Entry) -> int:
    """What one entry holds: its key, the entry tuple, its fields and its dict slot (the small
    ints and booleans are shared objects, counted anyway)."""
    size = _SLOT_BYTES + sys.getsizeof(memo_key) + sys.getsizeof(entry)
    return size + sum(map(sys.getsizeof, entry))


def limit(limit_bytes: int) -> None:
    """Set the process's memo bound (0 turns it off and empties it)."""
    MEMO.resize(limit_bytes)


MEMO = Memo(LIMIT_BYTES, 1 << 64)  # clones._EMPTY: above every 64-bit hash
