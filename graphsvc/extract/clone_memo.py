"""A per-process memo of clone fingerprints, bounded in bytes: an edited file's unchanged
definitions are not fingerprinted again.

A definition's fingerprint (its token count, exact and shape hashes, MinHash bins and whether it
is boilerplate) is a function of its node type and its bytes after its name: tokens, the
docstring, the nested definitions (whose own fingerprints it folds in) and the statements the
boilerplate test reads all lie in that range. So the key is the type and a 128-bit BLAKE2b
digest of those bytes, and a renamed or moved definition, or one whose file changed elsewhere,
is found again. A hit costs the digest; a miss, the digest and the entry.

Entries are kept in least recently used order and each one's size (``sys.getsizeof`` of the key,
the entry and its fields, each filled bin's int, plus the dict slot) is counted: the oldest go
when the total passes :data:`LIMIT_BYTES`. An entry is the fingerprint itself, its bins the
unit's own tuple (the empty bins all one shared int): a miss stores without copying or
converting anything (packing the bins into 64-bit words cost ~9 us a definition, a tenth of
the clone step of a file seen for the first time) and a hit hands the tuple back as it is.

The workers of a cold index see each file once, so they turn the memo off (``limit(0)``): it
would only fill their memory.
"""

from __future__ import annotations

import hashlib
import sys
from collections import OrderedDict

__all__ = ["LIMIT_BYTES", "MEMO", "Fingerprint", "Memo", "key", "limit"]

LIMIT_BYTES = 4 << 20  # a few thousand definitions: the last few dozen files edited
_SLOT_BYTES = 100  # an OrderedDict entry: hash table slot and its link
_BIN_BYTES = sys.getsizeof((1 << 64) - 1)  # a filled bin's int (a 64-bit hash)

# (tokens, exact digest, shape digest, bins, boilerplate); bins None: no shingles (``_NO_BINS``)
Fingerprint = tuple[int, bytes, bytes, tuple[int, ...] | None, bool]


def key(kind: bytes, data: bytes, start: int, end: int) -> bytes:
    """The memo key of the definition of node type ``kind`` whose bytes after its name are
    ``data[start:end]`` (a view: no copy of the file's text)."""
    return kind + hashlib.blake2b(memoryview(data)[start:end], digest_size=16).digest()


class Memo:
    """Fingerprints by :func:`key`, least recently used first, at most ``limit`` bytes."""

    def __init__(self, limit: int, empty: int) -> None:
        self.limit = limit
        self.bytes = 0
        self._empty = empty  # the bins' empty marker (clones._EMPTY), shared by every empty bin
        self._entries: OrderedDict[bytes, tuple[Fingerprint, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, memo_key: bytes) -> Fingerprint | None:
        found = self._entries.get(memo_key)
        if found is None:
            return None
        self._entries.move_to_end(memo_key)
        return found[0]

    def put(self, memo_key: bytes, found: Fingerprint) -> None:
        if self.limit <= 0 or memo_key in self._entries:
            return
        bins = found[3]
        if bins is not None and type(bins) is not tuple:
            found = (found[0], found[1], found[2], tuple(bins), found[4])  # kept as it is now
        size = self.entry_bytes(memo_key, found)
        if size > self.limit:
            return
        self._entries[memo_key] = (found, size)
        self.bytes += size
        self._evict()

    def entry_bytes(self, memo_key: bytes, entry: Fingerprint) -> int:
        """What one entry holds: its key, the entry tuple, its fields, its filled bins' ints
        and its dict slot (the small ints, booleans and the empty marker are shared objects,
        counted anyway but the marker)."""
        size = _SLOT_BYTES + sys.getsizeof(memo_key) + sys.getsizeof(entry)
        size += sum(map(sys.getsizeof, entry))
        bins = entry[3]
        if bins is not None:
            size += (len(bins) - bins.count(self._empty)) * _BIN_BYTES
        return size

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
        return sum(self.entry_bytes(k, e) for k, (e, _) in self._entries.items())


def limit(limit_bytes: int) -> None:
    """Set the process's memo bound (0 turns it off and empties it)."""
    MEMO.resize(limit_bytes)


MEMO = Memo(LIMIT_BYTES, 1 << 64)  # clones._EMPTY: above every 64-bit hash
