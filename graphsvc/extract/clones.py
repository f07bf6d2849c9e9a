"""Clone fingerprints of every function, method and class: the inputs of duplicate findings.

Per definition (lambdas are part of the code around them), computed from the file's bytes and
the definition nodes the extraction query already found, so no Python code visits every node:

- **tokens**: a regular expression cuts the definition's text after its name into Python tokens
  (names, attributes ``.name``, numbers, strings, operators); comments, whitespace, the
  docstring and the decorators are left out. Nested definitions count by their own hashes.
- **exact**: hash of the tokens as written. Equal: the same code, whatever the layout,
  comments, docstring, decorators or the definition's own name.
- **shape**: hash of the tokens with local names renamed by order of first use (``$0``,
  ``$1``...) and literals replaced by their type (``S``, ``N``); keywords, builtins,
  ``self``/``cls`` and attribute names (``.append``) are kept, since they say what the code
  does. Equal: the same code with variables renamed or constants changed.
- **signature**: a MinHash (one permutation hashing, 64 bins, densified) of the set of 4-token
  shingles of the tokens with every local name as ``$`` (first-use numbering would rename every
  name after one inserted variable) and literals by type, for near duplicates: the fraction of
  equal positions of two signatures estimates the Jaccard similarity of their shingle sets. A
  class's or function's bins are the minimum of its own and its nested definitions' bins (the
  MinHash of a union).
- **bands**: the signature's first 60 positions in 12 bands of 5, each band hashed: two
  definitions that share a band value are LSH candidates, compared in SQL.
- **boilerplate**: the body is only ``pass``, ``...``, a docstring, ``raise
  NotImplementedError``, plain assignments of names and literals (an ``__init__`` that only
  stores its arguments), ``super()`` calls and one simple ``return``; a class whose own body and
  methods are all such. These are similar by nature and never duplicate responsibilities.

A definition with a syntax error inside gets no row: its tokens are not what the author meant.

Shingles are hashed with Python's hash of a tuple of 64-bit token hashes, which is fixed for
integers (no hash randomisation) on every 64-bit CPython since 3.8; a change of that function
would need an INDEXER_VERSION bump.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import re
from collections.abc import Iterable
from itertools import repeat
from operator import add, and_, rshift

from tree_sitter import Node

from graphsvc.extract.clone_memo import MEMO, Fingerprint
from graphsvc.extract.clone_memo import key as memo_key
from graphsvc.facts import CloneUnit, Symbol
from graphsvc.parsing import F_BODY, F_NAME, F_RIGHT

__all__ = ["BANDS", "BINS", "ROWS", "SHINGLE", "SIGNATURE_MIN_TOKENS", "bands", "extract_clones"]

BINS = 64  # MinHash positions
BANDS, ROWS = 12, 5  # LSH: the first BANDS * ROWS positions, in bands of ROWS
SHINGLE = 4  # tokens per shingle
SIGNATURE_MIN_TOKENS = 20  # smaller definitions get no signature (too few shingles to compare)
_BIN_SHIFT = 64 - (BINS - 1).bit_length()  # top bits of a shingle hash pick its bin
_MASK64 = (1 << 64) - 1
_VALUE_MASK = 0x7FFFFFFF  # stored values fit an INTEGER
_EMPTY = _MASK64 + 1  # an empty MinHash bin: above every 64-bit hash, so min() keeps the other
_NO_BINS = (_EMPTY,) * BINS
_BAND_KEYS = [(band,) for band in range(BANDS)]
_CACHE_LIMIT = 50_000  # about 6 MB per process at most

# One alternative per token kind; group 1 is empty for a comment, so findall + filter drops it.
# So it is for a run of whitespace: no token starts with one, and matching the run at once
# spares findall trying every alternative at each space of the indentation.
_TOKEN = re.compile(
    rb"""\s+
    |\#[^\r\n]*
    |(
      [rRbBuUfFtT]{0,3}(?:'''(?:[^\\]|\\.)*?'''|\"\"\"(?:[^\\]|\\.)*?\"\"\"
                        |'(?:[^'\\\r\n]|\\.)*'|"(?:[^"\\\r\n]|\\.)*")
    |\.?[0-9][\w.]*
    |\.[A-Za-z_\x80-\xff][\w\x80-\xff]*
    |[A-Za-z_\x80-\xff][\w\x80-\xff]*
    |\*\*=?|//=?|>>=?|<<=?|->|:=|[-+*/%&|^@<>=!]=|[^\s\w\\]
    )""",
    re.VERBOSE | re.DOTALL,
)
_KEPT = frozenset(
    w.encode()
    for w in (*keyword.kwlist, *keyword.softkwlist, *dir(builtins), "self", "cls")
    if w.isidentifier()
)
_ALPHA = [b"$%d" % i for i in range(512)]
_NAME_START = frozenset(b"_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") | frozenset(
    range(0x80, 0x100)
)
_DIGITS = frozenset(b"0123456789")
_QUOTES = frozenset(b"'\"")
_BOILERPLATE_VALUES = frozenset(
    {
        "identifier",
        "attribute",
        "string",
        "concatenated_string",
        "integer",
        "float",
        "true",
        "false",
        "none",
        "ellipsis",
        "list",
        "dictionary",
        "tuple",
        "set",
        "unary_operator",
    }
)


class _Vocabulary(dict[bytes, int]):
    """Token -> 64-bit hash, computed once per distinct token in a process (bounded)."""

    def __missing__(self, token: bytes) -> int:
        if len(self) > _CACHE_LIMIT:
            self.clear()
        value = int.from_bytes(hashlib.blake2b(token, digest_size=8).digest(), "little")
        self[token] = value
        return value


_VOCABULARY = _Vocabulary()


def _tokens(data: bytes, start: int, end: int) -> list[bytes]:
    return list(filter(None, _TOKEN.findall(data, start, end)))


def _shape(tokens: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(local names renamed by first use, literals by type; local names all ``$``, literals by
    type): the first for the shape hash, the second for shingles, where one inserted name must
    not rename every name after it.

    Decided once per distinct token (``dict.fromkeys`` keeps first-use order), then applied to
    every token by ``map`` in C: most tokens repeat.
    """
    rename: dict[bytes, bytes] = {}
    blind: dict[bytes, bytes] = {}
    n = 0
    for token in dict.fromkeys(tokens):
        first = token[0]
        if first in _NAME_START:
            if token[-1] in _QUOTES:
                rename[token] = blind[token] = b"S"  # a prefixed string: f"...", rb'...'
            elif token not in _KEPT:
                rename[token] = _ALPHA[n] if n < len(_ALPHA) else b"$%d" % n
                blind[token] = b"$"
                n += 1
        elif first in _QUOTES:
            rename[token] = blind[token] = b"S"
        elif first in _DIGITS or (first == 0x2E and len(token) > 1 and token[1] in _DIGITS):
            rename[token] = blind[token] = b"N"
    return list(map(rename.get, tokens, tokens)), list(map(blind.get, tokens, tokens))


def _bins(shape: list[bytes]) -> tuple[int, ...]:
    """Per bin, the smallest 64-bit shingle hash in it, ``_EMPTY`` where none fell (one
    permutation hashing), all in C."""
    ints = list(map(_VOCABULARY.__getitem__, shape))
    if len(ints) < SHINGLE:
        return _NO_BINS
    hashes = set(map(hash, zip(*(ints[i:] for i in range(SHINGLE)), strict=False)))
    ordered = sorted(map(and_, hashes, repeat(_MASK64)), reverse=True)
    # dict() keeps the last value per key: the smallest hash of each bin
    smallest = dict(zip(map(rshift, ordered, repeat(_BIN_SHIFT)), ordered, strict=True))
    return tuple(map(smallest.get, range(BINS), repeat(_EMPTY)))


def _signature(bins: tuple[int, ...]) -> tuple[int, ...]:
    """The 64 positions; an empty bin takes the value of the next filled one to its right,
    wrapping around (rotation densification: both sides of a comparison borrow alike)."""
    if _EMPTY not in bins:
        return tuple(map(and_, bins, repeat(_VALUE_MASK)))
    filled = [i for i, v in enumerate(bins) if v != _EMPTY]
    if not filled:
        return ()
    values = list(bins)
    following = filled[0] + BINS  # for empty bins after the last filled one
    for i in range(BINS - 1, -1, -1):
        if values[i] == _EMPTY:
            values[i] = values[following % BINS]
        else:
            following = i
    return tuple(map(and_, values, repeat(_VALUE_MASK)))


def bands(signature: tuple[int, ...]) -> tuple[int, ...]:
    """One 31-bit hash per LSH band: (band number, its ROWS positions) hashed together, so that
    equal keys mean the same band of two signatures agrees (12 bands of 5: candidates from a
    similarity of about 0.6; 96% of pairs at 0.75 share a band)."""
    if not signature:
        return ()
    # all in C: the signature cut into tuples of ROWS (zip of one iterator), each prefixed
    # with its band number and hashed; map stops after BANDS bands
    rows = zip(*[iter(signature)] * ROWS, strict=False)
    return tuple(map(and_, map(hash, map(add, _BAND_KEYS, rows)), repeat(_VALUE_MASK)))


def _docstring_range(body: Node | None) -> tuple[int, int] | None:
    if body is None:
        return None
    for i in range(body.named_child_count):
        child = body.named_child(i)
        if child.type == "comment":
            continue
        if child.type == "expression_statement" and child.named_child_count == 1:
            value = child.named_child(0)
            if value.type in ("string", "concatenated_string"):
                return child.start_byte, child.end_byte
        return None
    return None


def _is_stub_raise(node: Node, data: bytes) -> bool:
    return b"NotImplementedError" in data[node.start_byte : node.end_byte]


def _is_super_call(node: Node, data: bytes) -> bool:
    return node.type == "call" and data[node.start_byte : node.end_byte].startswith(b"super(")


def _boilerplate_statement(stmt: Node, data: bytes) -> bool:
    kind = stmt.type
    if kind in ("pass_statement", "comment", "function_definition", "class_definition"):
        return True  # nested definitions are judged on their own
    if kind == "decorated_definition":
        return True
    if kind == "raise_statement":
        return _is_stub_raise(stmt, data)
    if kind == "return_statement":
        value = stmt.named_child(0) if stmt.named_child_count else None
        return value is None or value.type in _BOILERPLATE_VALUES
    if kind != "expression_statement" or stmt.named_child_count != 1:
        return False
    expr = stmt.named_child(0)
    if expr.type in ("string", "concatenated_string", "ellipsis"):
        return True
    if _is_super_call(expr, data):
        return True
    if expr.type == "assignment":
        right = expr.child_by_field_id(F_RIGHT)
        return right is None or right.type in _BOILERPLATE_VALUES or _is_super_call(right, data)
    return False


def _boilerplate(body: Node | None, data: bytes, returns: int = 1) -> bool:
    """Every statement of ``body`` is boilerplate (stops at the first that is not)."""
    if body is None:
        return True
    seen_returns = 0
    for i in range(body.named_child_count):
        stmt = body.named_child(i)
        if stmt.type == "return_statement":
            seen_returns += 1
            if seen_returns > returns:
                return False
        if not _boilerplate_statement(stmt, data):
            return False
    return True


class _Unit:
    """A definition being fingerprinted (children before parents)."""

    __slots__ = ("bins", "boilerplate", "exact", "node", "parent", "shape", "symbol", "tokens")

    def __init__(self, node: Node, symbol: Symbol, parent: _Unit | None) -> None:
        self.node = node
        self.symbol = symbol
        self.parent = parent
        self.tokens = 0
        self.exact = b""
        self.shape = b""
        self.bins: tuple[int, ...] = _NO_BINS
        self.boilerplate = True


def _nest(defs: Iterable[tuple[Node, Symbol]]) -> tuple[list[_Unit], dict[int, list[_Unit]]]:
    """The units in document order and each one's direct children (by id of the parent)."""
    units: list[_Unit] = []
    children: dict[int, list[_Unit]] = {}
    stack: list[_Unit] = []
    for node, symbol in defs:
        while stack and stack[-1].node.end_byte <= node.start_byte:
            stack.pop()
        parent = stack[-1] if stack else None
        unit = _Unit(node, symbol, parent)
        if parent is not None:
            children.setdefault(id(parent), []).append(unit)
        units.append(unit)
        stack.append(unit)
    return units, children


_KINDS = {"function_definition": b"f", "class_definition": b"c"}


def _fingerprint(unit: _Unit, kids: list[_Unit], data: bytes) -> None:
    """The unit's fields, from the memo when its bytes after the name were seen before (see
    :mod:`graphsvc.extract.clone_memo`), else worked out (and kept)."""
    node = unit.node
    name = node.child_by_field_id(F_NAME)
    start = name.end_byte if name is not None else node.start_byte
    if MEMO.limit <= 0:
        _compute(unit, kids, data, start)
        return
    kind = node.type
    found_key = memo_key(_KINDS.get(kind, b"?"), data, start, node.end_byte)
    found = MEMO.get(found_key)
    if found is None:
        _compute(unit, kids, data, start)
        bins = None if unit.bins is _NO_BINS else unit.bins
        found = (unit.tokens, unit.exact, unit.shape, bins, unit.boilerplate)
        MEMO.put(found_key, found)
        return
    _apply(unit, found)


def _apply(unit: _Unit, found: Fingerprint) -> None:
    unit.tokens, unit.exact, unit.shape, bins, unit.boilerplate = found
    unit.bins = _NO_BINS if bins is None else bins


def _compute(unit: _Unit, kids: list[_Unit], data: bytes, start: int) -> None:
    node = unit.node
    body = node.child_by_field_id(F_BODY)
    skips: list[tuple[int, int, _Unit | None]] = [
        (k.node.start_byte, k.node.end_byte, k) for k in kids
    ]
    doc = _docstring_range(body)
    if doc is not None:
        skips.append((doc[0], doc[1], None))
    skips.sort(key=lambda s: s[0])
    exact: list[bytes] = []
    written: list[bytes] = []  # for the shape: a nested definition is one token, its shape hash
    position = start
    for skip_start, skip_end, kid in skips:
        raw = _tokens(data, position, skip_start)
        exact += raw
        written += raw
        if kid is not None:
            exact.append(b"\x01" + kid.exact)
            written.append(b"\x01" + kid.shape)
        position = max(position, skip_end)
    raw = _tokens(data, position, node.end_byte)
    exact += raw
    written += raw
    own, shingled = _shape(written)
    unit.tokens = len(exact) - len(kids) + sum(k.tokens for k in kids)
    unit.exact = hashlib.blake2b(b"\x00".join(exact), digest_size=8).digest()
    unit.shape = hashlib.blake2b(b"\x00".join(own), digest_size=8).digest()
    bins = _bins(shingled)
    if kids:  # the MinHash of the union: the smallest value of each bin, all kids in one pass
        bins = tuple(map(min, bins, *[k.bins for k in kids]))
    unit.bins = bins
    is_class = node.type == "class_definition"
    unit.boilerplate = _boilerplate(body, data, returns=0 if is_class else 1) and all(
        k.boilerplate for k in kids
    )


def extract_clones(data: bytes, defs: list[tuple[Node, Symbol]]) -> list[CloneUnit]:
    """Fingerprints of ``defs`` (function and class nodes with their symbols, document order).

    Args:
        data: the file's UTF-8 bytes the nodes point into.
        defs: every function and class definition of the file (no lambdas).

    Returns:
        One row per definition without a syntax error inside, in document order.
    """
    units, children = _nest(defs)
    broken: set[int] = set()
    for unit in reversed(units):
        kids = children.get(id(unit), [])
        if unit.node.has_error or any(id(k) in broken for k in kids):
            broken.add(id(unit))
            continue
        _fingerprint(unit, kids, data)
    rows: list[CloneUnit] = []
    for unit in units:
        if id(unit) in broken:
            continue
        s = unit.symbol
        parent = unit.parent.symbol.qualname if unit.parent is not None else None
        signature = _signature(unit.bins) if unit.tokens >= SIGNATURE_MIN_TOKENS else ()
        rows.append(
            CloneUnit(
                qualname=s.qualname,
                parent=parent,
                kind="class" if s.kind == "class" else "function",
                line=s.line,
                end_line=s.end_line,
                tokens=unit.tokens,
                exact=unit.exact.hex(),
                shape=unit.shape.hex(),
                boilerplate=unit.boilerplate,
                signature=signature,
                bands=bands(signature),
            )
        )
    return rows
