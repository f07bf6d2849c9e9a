"""tree-sitter setup, source decoding and small node helpers.

Decoding follows Python's own rules (BOM, PEP 263 cookie) through :func:`tokenize.detect_encoding`.
tree-sitter always receives UTF-8; a file in another encoding is transcoded first, so every
column graphsvc reports is a byte offset in the UTF-8 form of the line.
"""

from __future__ import annotations

import ast
import codecs
import io
import json
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from json import encoder as json_encoder
from typing import Any

import tree_sitter_python as tspython
from tree_sitter import Language, Node, Parser, Tree

from graphsvc.facts import ParseError

LANGUAGE = Language(tspython.language())
MAX_TEXT = 300  # characters kept of any expression stored as text

_parser: Parser | None = None


def parser() -> Parser:
    """The process's parser (created once; a parser is reused for every file)."""
    global _parser
    if _parser is None:
        _parser = Parser(LANGUAGE)
    return _parser


def parse(data: bytes) -> Tree:
    """Parse UTF-8 bytes; tree-sitter is error tolerant, so this always yields a tree."""
    return parser().parse(data)


@dataclass(frozen=True, slots=True)
class Source:
    """A file's bytes ready for tree-sitter, plus what decoding had to say about them."""

    data: bytes  # UTF-8, BOM removed
    encoding: str
    line_count: int
    problems: tuple[ParseError, ...]


def _position(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _line_count(raw: bytes) -> int:
    if not raw:
        return 0
    return raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)


def _detect(raw: bytes) -> tuple[str, ParseError | None]:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:
        line = exc.lineno or 1
        return "utf-8", ParseError(line, 1, "encoding", f"{exc.msg}; read as UTF-8 instead")
    try:
        codecs.lookup(encoding)
    except LookupError:  # pragma: no cover - detect_encoding already checks
        return "utf-8", ParseError(1, 1, "encoding", f"unknown encoding {encoding!r}")
    return encoding, None


def decode_source(raw: bytes) -> Source:
    """Turn a file's bytes into UTF-8 for tree-sitter, recording every decoding problem.

    Nothing raises: an unknown encoding falls back to UTF-8, undecodable bytes become U+FFFD,
    and each problem becomes a :class:`ParseError` with its line.
    """
    problems: list[ParseError] = []
    encoding, problem = _detect(raw)
    if problem is not None:
        problems.append(problem)
    body = raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
    nul = body.find(b"\0")
    if nul >= 0:
        line, col = _position(body, nul)
        problems.append(ParseError(line, col, "nul", "NUL byte in source (Python refuses it)"))
    if encoding in ("utf-8", "utf-8-sig"):
        data = body
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, col = _position(body, exc.start)
            problems.append(
                ParseError(line, col, "encoding", f"invalid UTF-8 byte 0x{body[exc.start]:02x}")
            )
    else:
        data = _transcode(body, encoding, problems)
        if data is None:  # rot13, hex, punycode...: not a text codec Python can compile with
            problems.append(
                ParseError(1, 1, "encoding", f"cannot decode as {encoding!r}; read as UTF-8")
            )
            encoding, data = "utf-8", body
    if b"\r" in data:  # old Mac line ends: Python counts a lone CR as a newline, tree-sitter not
        data = _LONE_CR.sub(b"\n", data)  # same length, so every offset stays put
    return Source(data, encoding, _line_count(data), tuple(problems))


_LONE_CR = re.compile(rb"\r(?!\n)")


def _transcode(body: bytes, encoding: str, problems: list[ParseError]) -> bytes | None:
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        line, col = _position(body, exc.start)
        byte = body[exc.start] if exc.start < len(body) else 0
        problems.append(
            ParseError(line, col, "encoding", f"byte 0x{byte:02x} is not valid {encoding}")
        )
        try:
            text = body.decode(encoding, errors="replace")
        except (LookupError, UnicodeError):
            return None
    except (LookupError, UnicodeError, TypeError):
        return None
    if not isinstance(text, str):
        return None
    return text.encode("utf-8", errors="replace")  # lone surrogates (unicode_escape) -> "?"


_OPEN, _CLOSE = b"([{", b")]}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _OPEN + _CLOSE)
_DELTA = [1 if b in _OPEN else -1 if b in _CLOSE else 0 for b in range(256)]


def nesting_depth(data: bytes, limit: int) -> int:
    """Deepest bracket nesting of ``data`` (brackets in strings count too), or 0 when it cannot
    exceed ``limit``. Cheap: the scan runs in C over the bracket bytes only."""
    brackets = data.translate(None, _NOT_BRACKETS)
    if len(brackets) <= 2 * limit and brackets.count(b"(") + brackets.count(b"[") <= limit:
        return 0
    return max(accumulate(map(_DELTA.__getitem__, brackets)), default=0)


def may_be_deep(data: bytes, limit: int) -> bool:
    """Whether the tree could nest deeper than ``limit`` without deep brackets: only a logical
    line of more than ``2 * limit`` characters (``a.b.b.b...``, ``x()()()...``) can."""
    if len(data) <= 2 * limit:
        return False
    if data.count(b"\\\n") > limit:
        return True
    return _has_line_longer_than(data, 2 * limit)


def _has_line_longer_than(data: bytes, length: int) -> bool:
    # A line of more than `length` bytes covers a whole window of `step` bytes on the grid
    # below. When every window holds a newline (nearly always) a few find() calls say so,
    # without splitting the whole file into lines.
    step = length // 2 + 1
    if all(data.find(b"\n", k, k + step) >= 0 for k in range(0, len(data) - step + 1, step)):
        return False
    return max(map(len, data.split(b"\n"))) > length


def tree_depth(root: Node, limit: int) -> int:
    """Depth of the tree under ``root``, counted up to ``limit + 1`` (iterative: no recursion)."""
    cursor = root.walk()
    depth = deepest = 0
    while True:
        if cursor.goto_first_child():
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return deepest
            depth -= 1


def safe(value: str) -> str:
    """``value`` with lone surrogates (from ``"\\ud800"`` literals, undecodable file names)
    escaped, so that it can be stored as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return value


_SIMPLE_LITERALS = frozenset({"integer", "float", "true", "false", "none"})
# literal() is None for every other node type: callers that know the type can skip the call
LITERAL_KINDS = _SIMPLE_LITERALS | {"unary_operator", "string", "concatenated_string"}
MAX_LITERAL = 500


def literal(node: Node) -> str | None:
    """The value of a string, bytes or number literal; None for anything else (f-strings too)."""
    kind = node.type
    if kind in _SIMPLE_LITERALS:
        return text(node)
    if kind == "unary_operator" and node.named_child_count == 1:
        operand = node.named_children[0]
        return text(node) if operand.type in ("integer", "float") else None
    if kind == "string":
        plain = plain_string(node)
        if plain is not None:
            return plain.decode("utf-8", "replace")[:MAX_LITERAL]
        children = node.named_children
        kinds = [c.type for c in children]  # each .type is a call into tree-sitter: ask once
        if "interpolation" in kinds:
            return None
        prefix = text(children[0]) if children else ""
        contents = [c for c, k in zip(children, kinds, strict=True) if k == "string_content"]
        body = "".join([text(c) for c in contents])
        if "\\" not in body and "b" not in prefix and "B" not in prefix:
            return body[:MAX_LITERAL]
    elif kind == "concatenated_string":
        if any(c.type == "interpolation" for p in node.named_children for c in p.named_children):
            return None
    else:
        return None
    try:
        value = ast.literal_eval(text(node))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")[:MAX_LITERAL]
    return safe(str(value)[:MAX_LITERAL])


_QUOTES = (0x22, 0x27)  # " and '
_TRIPLE = (b'"""', b"'''")


def plain_string(node: Node) -> bytes | None:
    """The bytes between the quotes of a ``string`` node without prefix, backslash or syntax
    error (the common case), read without asking for its children; None for any other string.
    Such a string has no escape or interpolation child and one ``string_content`` child that
    spans these bytes (none when they are empty)."""
    raw = node.text
    if not raw or raw[0] not in _QUOTES or b"\\" in raw or node.has_error:
        return None
    quote = raw[:3] if raw[:3] in _TRIPLE else raw[:1]
    width = len(quote)
    if len(raw) < 2 * width or raw[-width:] != quote:
        return None
    return raw[width:-width]


def string_value(node: Node) -> str | None:
    """The value of a (possibly concatenated) str literal; None for anything else."""
    return literal(node) if node.type in ("string", "concatenated_string") else None


def text(node: Node) -> str:
    """The node's source text (invalid UTF-8 replaced)."""
    raw = node.text
    # errors passed positionally: a keyword argument costs a third of the decode (hot path)
    return raw.decode("utf-8", "replace") if raw is not None else ""


def compact(value: str, limit: int = MAX_TEXT) -> str:
    """Whitespace collapsed to single spaces, truncated with an ellipsis."""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def field(node: Node, name: str) -> Node | None:
    """Shorthand for ``child_by_field_name`` (hot paths use ``child_by_field_id``: see below)."""
    return node.child_by_field_name(name)


def _field_id(name: str) -> int:
    found = LANGUAGE.field_id_for_name(name)
    if found is None:  # pragma: no cover - a grammar upgrade renamed a field
        raise LookupError(f"the Python grammar has no field {name!r}")
    return found


# Field ids for ``node.child_by_field_id(...)``: ``child_by_field_name`` looks the name up in
# the grammar on every call, which shows in loops that run once per call site or assignment.
F_ALIAS = _field_id("alias")
F_ARGUMENTS = _field_id("arguments")
F_ATTRIBUTE = _field_id("attribute")
F_BODY = _field_id("body")
F_DEFINITION = _field_id("definition")
F_FUNCTION = _field_id("function")
F_KEY = _field_id("key")
F_LEFT = _field_id("left")
F_NAME = _field_id("name")
F_OBJECT = _field_id("object")
F_OPERATOR = _field_id("operator")
F_PARAMETERS = _field_id("parameters")
F_RIGHT = _field_id("right")
F_SUBSCRIPT = _field_id("subscript")
F_SUPERCLASSES = _field_id("superclasses")
F_TYPE = _field_id("type")
F_TYPE_PARAMETERS = _field_id("type_parameters")
F_VALUE = _field_id("value")


def start(node: Node) -> tuple[int, int]:
    """1-based (line, column) of the node's first byte."""
    row, col = node.start_point
    return row + 1, col + 1


def end(node: Node) -> tuple[int, int]:
    """1-based (line, column) of the node's last byte."""
    row, col = node.end_point
    return row + 1, col + 1


def json_writer(*, ensure_ascii: bool) -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=...)`` for values without cycles
    (lists, dicts, strings, numbers, None): the same text, with the C encoder built once.
    ``JSONEncoder.encode`` builds it anew on every call, which is most of the cost of encoding
    a small value, and extraction encodes one or more for every call site."""
    reference = json.JSONEncoder(separators=(",", ":"), ensure_ascii=ensure_ascii)
    python = reference.encode
    make = json_encoder.c_make_encoder
    if make is None:  # pragma: no cover - CPython always has the _json accelerator
        return python
    ascii_only, plain = json_encoder.encode_basestring_ascii, json_encoder.encode_basestring
    strings = ascii_only if ensure_ascii else plain
    chunks = make(None, reference.default, strings, None, ":", ",", False, False, True)
    join = "".join

    def write(value: Any) -> str:
        if isinstance(value, str):
            return python(value)  # encode() writes a bare string itself, not through the encoder
        return join(chunks(value, 0))

    return write
