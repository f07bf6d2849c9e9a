"""The clone fingerprint memo (graphsvc.extract.clone_memo): an unchanged definition is found
again with the very rows it had, an edit that changes a definition's fingerprint changes its row
(and its class's), and the memo stays within its byte bound."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from graphsvc.extract import clone_memo, extract
from graphsvc.extract.clone_memo import MEMO, Memo
from graphsvc.facts import CloneUnit, ModuleInfo
from graphsvc.update_pool import _worker_started

SOURCE = '''
class Store:
    """Keeps rows."""

    def __init__(self, path):
        self.path = path
        self.rows = []

    def add(self, row, retries=3):
        for attempt in range(retries):
            if self.try_add(row, attempt):
                return True
        raise RuntimeError(f"could not add {row!r} after {retries} tries")

    def total(self):
        return sum(len(r) for r in self.rows if r is not None and len(r) > 1)


def load(path, limit=10):
    found = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if len(found) >= limit:
                break
            found.append(line.strip().split(","))
    return found


def helper():
    pass
'''


@pytest.fixture(autouse=True)
def fresh_memo() -> Iterator[None]:
    """Each test starts with an empty memo of the default bound, and leaves none behind."""
    MEMO.resize(0)
    MEMO.resize(clone_memo.LIMIT_BYTES)
    yield
    MEMO.resize(0)
    MEMO.resize(clone_memo.LIMIT_BYTES)


def clones(source: str) -> dict[str, CloneUnit]:
    found = extract("m.py", source.encode(), ModuleInfo("m", False, ""))
    return {c.qualname: c for c in found.clones}


def unmemoized(source: str) -> dict[str, CloneUnit]:
    """The rows worked out without the memo (the reference every memoized run must equal)."""
    kept = MEMO.limit
    MEMO.resize(0)
    try:
        return clones(source)
    finally:
        MEMO.resize(kept)


def test_a_second_extraction_is_served_by_the_memo_with_the_same_rows() -> None:
    reference = unmemoized(SOURCE)
    assert len(MEMO) == 0
    first = clones(SOURCE)
    entries = len(MEMO)
    assert entries == len(reference)  # every definition kept once
    again = clones(SOURCE)
    assert len(MEMO) == entries  # all found: nothing new kept
    assert first == reference
    assert again == reference


def test_a_moved_or_renamed_definition_keeps_its_fingerprint() -> None:
    clones(SOURCE)
    entries = len(MEMO)
    edited = "import os\n\n\n" + SOURCE.replace("def load(", "def read_rows(")
    found = clones(edited)
    assert len(MEMO) == entries  # nothing fingerprinted again
    assert found == unmemoized(edited)
    before = unmemoized(SOURCE)["m.load"]
    after = found["m.read_rows"]
    assert (after.exact, after.shape, after.signature) == (
        before.exact,
        before.shape,
        before.signature,
    )
    assert after.line == before.line + 3


def test_an_edit_inside_a_method_changes_the_method_and_its_class() -> None:
    before = clones(SOURCE)
    edited = SOURCE.replace("return True", "return attempt + 1")
    after = clones(edited)
    assert after == unmemoized(edited)
    for changed in ("m.Store.add", "m.Store"):
        assert after[changed].exact != before[changed].exact
    for kept in ("m.Store.__init__", "m.Store.total", "m.load", "m.helper"):
        assert after[kept] == before[kept]


def test_an_edit_that_makes_a_body_boilerplate_changes_that_flag() -> None:
    before = clones(SOURCE)
    assert not before["m.load"].boilerplate
    edited = SOURCE.replace(
        SOURCE[SOURCE.index("    found = []") : SOURCE.index("\n\n\ndef helper")],
        "    return path",
    )
    after = clones(edited)
    assert after["m.load"].boilerplate
    assert after == unmemoized(edited)


def test_the_memo_is_bounded_in_bytes_and_drops_the_least_recently_used() -> None:
    empty = 1 << 64
    bins = [empty if i % 7 == 0 else (i * 2654435761) << 20 for i in range(64)]
    sample = clone_memo.key(b"f", b"x" * 100, 0, 100)
    one = Memo(1 << 20, empty)
    one.put(sample, (30, b"e" * 8, b"s" * 8, bins, False))
    size = one.bytes
    memo = Memo(size * 10, empty)  # room for ten entries (they are all of one size)
    keys = [clone_memo.key(b"f", str(n).encode(), 0, len(str(n))) for n in range(50)]
    for n, k in enumerate(keys[:10]):
        memo.put(k, (n, b"e" * 8, b"s" * 8, bins, False))
    assert len(memo) == 10
    assert memo.get(keys[0]) is not None  # used again: now the most recent
    memo.put(keys[10], (10, b"e" * 8, b"s" * 8, bins, False))
    assert memo.get(keys[1]) is None  # the least recently used went
    assert memo.get(keys[0]) is not None
    for n, k in enumerate(keys[11:], start=11):
        memo.put(k, (n, b"e" * 8, b"s" * 8, bins, False))
        assert memo.bytes <= memo.limit
    assert len(memo) == 10
    assert memo.bytes == memo.measured()
    # kept as a tuple (a list given is copied once: the memo's entry cannot change)
    assert memo.get(keys[-1]) == (49, b"e" * 8, b"s" * 8, tuple(bins), False)
    memo.resize(0)
    assert len(memo) == 0
    assert memo.bytes == 0
    memo.put(keys[0], (1, b"", b"", None, True))
    assert len(memo) == 0  # off: keeps nothing


def test_a_process_with_the_memo_off_keeps_nothing() -> None:
    clone_memo.limit(0)
    assert clones(SOURCE) == unmemoized(SOURCE)
    assert len(MEMO) == 0
    assert MEMO.bytes == 0


def test_a_cold_index_worker_starts_with_the_memo_off() -> None:
    """Pool workers see each file once: their setup turns the memo off (and empties it)."""
    clones(SOURCE)
    assert len(MEMO) > 0
    _worker_started(0)
    assert (MEMO.limit, len(MEMO), MEMO.bytes) == (0, 0, 0)
    assert clones(SOURCE) == unmemoized(SOURCE)
    assert len(MEMO) == 0


def test_a_miss_keeps_the_units_own_bins_and_a_hit_hands_them_back() -> None:
    """No copy either way: the fingerprint stored is the one put (bins a tuple), and its size
    counts each filled bin's int once, the shared empty marker not at all."""
    empty = 1 << 64
    bins = tuple(empty if i % 3 else (i * 2654435761) << 20 for i in range(64))
    memo = Memo(1 << 20, empty)
    k = clone_memo.key(b"f", b"def f(): pass", 0, 13)
    found = (12, b"e" * 8, b"s" * 8, bins, False)
    memo.put(k, found)
    assert memo.get(k) is found
    fewer = Memo(1 << 20, empty)
    fewer.put(k, (12, b"e" * 8, b"s" * 8, (empty,) * 64, False))
    filled = sum(1 for b in bins if b != empty)
    assert memo.bytes - fewer.bytes == filled * sys.getsizeof((1 << 64) - 1)
    assert memo.bytes == memo.measured()
