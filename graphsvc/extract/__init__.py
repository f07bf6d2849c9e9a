"""Extraction: a pure function from (path, UTF-8 source, module name) to a file's facts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from graphsvc.extract.bindings import (
    bind_globals,
    bind_nonlocals,
    bind_targets,
    extract_assignments,
    replay_all,
)
from graphsvc.extract.calls import extract_calls, extract_references, resolve_attributes
from graphsvc.extract.channels import extract_channels
from graphsvc.extract.clones import extract_clones
from graphsvc.extract.context import FileContext, run_query
from graphsvc.extract.definitions import docstring, extract_definitions
from graphsvc.extract.flow import extract_flows
from graphsvc.extract.imports import absolute_target, extract_imports
from graphsvc.extract.mentions import extract_mentions
from graphsvc.extract.scopes import Scope, ScopeIndex
from graphsvc.extract.strings import extract_name_strings
from graphsvc.facts import (
    Attribute,
    AttributeWrite,
    CallSite,
    ChannelFact,
    CloneUnit,
    FlowRows,
    Import,
    ModuleFact,
    ModuleInfo,
    NameMention,
    NameString,
    ParseError,
    Reference,
    Symbol,
)
from graphsvc.parsing import compact, end, may_be_deep, parse, text, tree_depth

__all__ = ["Extraction", "TooDeep", "absolute_target", "extract"]

MAX_ERROR_ROWS = 50
# Channel facts are extracted unless this is False (the benchmark measures their cost with it).
CHANNELS = True
# Clone fingerprints likewise (bench/bench_duplicates.py measures their cost with it).
CLONES = True


@dataclass(frozen=True, slots=True)
class Extraction:
    """The facts of one file (everything but the file row, which the indexer adds)."""

    module: ModuleFact
    symbols: tuple[Symbol, ...]
    imports: tuple[Import, ...]
    calls: tuple[CallSite, ...]
    references: tuple[Reference, ...]
    attributes: tuple[Attribute, ...]
    flows: FlowRows | None
    parse_errors: tuple[ParseError, ...]
    error_count: int
    channel_facts: tuple[ChannelFact, ...] = ()
    mentions: tuple[NameMention, ...] = ()
    attribute_writes: tuple[AttributeWrite, ...] = ()
    name_strings: tuple[NameString, ...] = ()
    clones: tuple[CloneUnit, ...] = ()


def _syntax_errors(nodes: list[Node]) -> tuple[list[ParseError], int]:
    errors: list[ParseError] = []
    count = 0
    for node in nodes:
        parent = node.parent
        if node.type == "ERROR" and parent is not None and parent.type == "ERROR":
            continue  # one row for the outermost error region
        count += 1
        if len(errors) >= MAX_ERROR_ROWS:
            continue
        line, col = node.start_point[0] + 1, node.start_point[1] + 1
        if node.is_missing:
            errors.append(ParseError(line, col, "missing", f"missing {node.type!r}"))
        else:
            snippet = compact(text(node), 40)
            errors.append(ParseError(line, col, "syntax", f"syntax error at {snippet!r}"))
    return errors, count


def _module_symbol(info: ModuleInfo, root: Node) -> Symbol:
    end_line, end_col = end(root)
    return Symbol(
        qualname=info.name,
        name=info.name.rpartition(".")[2],
        kind="module",
        parent=info.name.rpartition(".")[0] or None,
        line=1,
        col=1,
        end_line=end_line,
        end_col=end_col,
        docstring=docstring(root),
    )


_RESYNC = re.compile(rb"\n([ \t]*)(?:async[ \t]+def|def|class|@)[ \t]")
MASK_PASSES = 3


def _in_string(root: Node, offset: int) -> bool:
    node: Node | None = root.descendant_for_byte_range(offset, offset + 1)
    while node is not None:
        if node.type in ("string", "string_content", "concatenated_string"):
            return True
        node = node.parent
    return False


def _mask_errors(data: bytes, root: Node, errors: list[Node]) -> bytes:
    """Blank out broken statements that swallow the definitions after them.

    tree-sitter's recovery can fold everything after an unclosed bracket into one ERROR node.
    Each ERROR region is blanked (newlines kept, so every position stays the same) up to the
    first later line that starts a def, class or decorator no deeper than the broken line.
    """
    masked = bytearray(data)
    changed = False
    for node in errors:
        if node.type != "ERROR" or node.start_point[0] == node.end_point[0]:
            continue
        line_start = data.rfind(b"\n", 0, node.start_byte) + 1
        indent = len(data[line_start : node.start_byte]) - len(
            data[line_start : node.start_byte].lstrip()
        )
        for match in _RESYNC.finditer(data, node.start_byte, node.end_byte):
            if len(match[1]) <= indent and not _in_string(root, match.end(1)):
                for i in range(node.start_byte, match.start()):
                    if masked[i] not in (0x0A, 0x0D):
                        masked[i] = 0x20
                changed = True
                break
    return bytes(masked) if changed else data


class TooDeep(Exception):
    """The syntax tree nests deeper than extraction's limit (see :func:`extract`)."""

    def __init__(self, depth: int) -> None:
        super().__init__(f"syntax tree nested {depth}+ levels")
        self.depth = depth


def extract(path: str, data: bytes, module: ModuleInfo, max_depth: int | None = None) -> Extraction:
    """Parse UTF-8 ``data`` (the file at ``path``) and extract every fact it holds.

    Never raises on bad source: syntax errors become :class:`ParseError` rows and the parts that
    parse still yield their facts.

    Raises:
        TooDeep: the tree nests deeper than ``max_depth`` (tree-sitter queries are quadratic in
            depth, so such a file would stall extraction for minutes).
    """
    tree = parse(data)
    root = tree.root_node
    if max_depth is not None and may_be_deep(data, max_depth):
        depth = tree_depth(root, max_depth)
        if depth > max_depth:
            raise TooDeep(depth)
    captures = run_query(root)
    errors, error_count = _syntax_errors(captures.get("error", []))
    found = _facts(path, data, module, root, captures, errors, error_count)
    if not root.has_error:
        return found
    # tree-sitter's recovery sometimes drops the definitions after a broken statement (an
    # unclosed bracket swallows them), sometimes keeps nearly everything inside one huge ERROR
    # node (valid code it cannot parse). Blanking the error regions helps the first case and
    # hurts the second, so both are extracted and the one that keeps more facts wins.
    masked_data, masked_root, masked_captures = data, root, captures
    for _ in range(MASK_PASSES):
        masked = _mask_errors(masked_data, masked_root, masked_captures.get("error", []))
        if masked == masked_data:
            break
        masked_data = masked
        masked_root = parse(masked_data).root_node
        masked_captures = run_query(masked_root)
    if masked_data is data:
        return found
    alternative = _facts(
        path, masked_data, module, masked_root, masked_captures, errors, error_count
    )
    return alternative if _weight(alternative) > _weight(found) else found


def _with_in_all(symbol: Symbol, in_all: bool) -> Symbol:
    """``replace(symbol, in_all=in_all)``, spelt out: ``replace`` is several times slower and
    runs for every module-level symbol of a module with ``__all__`` (a test keeps the two equal).
    """
    s = symbol
    return Symbol(
        qualname=s.qualname,
        name=s.name,
        kind=s.kind,
        parent=s.parent,
        line=s.line,
        col=s.col,
        end_line=s.end_line,
        end_col=s.end_col,
        decorators=s.decorators,
        bases=s.bases,
        docstring=s.docstring,
        in_all=in_all,
        is_async=s.is_async,
    )


def _release(scopes: ScopeIndex) -> None:
    """Drop every scope's bindings: ``x = f()`` binds x to a value evaluated in x's own scope,
    so scopes and bindings form cycles that only the cyclic GC would free, hundreds of objects
    per file that it traverses again and again first. Without them reference counting frees a
    file's scopes as soon as its extraction is done."""
    for scope in scopes:
        scope.names.clear()


def _weight(found: Extraction) -> tuple[int, int, int]:
    """Definitions first: a call that error recovery made out of `def name()` is worth less."""
    return len(found.symbols), len(found.imports), len(found.calls)


def _facts(
    path: str,
    data: bytes,
    module: ModuleInfo,
    root: Node,
    captures: dict[str, list[Node]],
    errors: list[ParseError],
    error_count: int,
) -> Extraction:
    module_scope = Scope(module.name, "module", 0, len(data) + 1, None, root)
    ctx = FileContext(path, module, root, ScopeIndex(module_scope))

    def nodes(name: str) -> list[Node]:
        return captures.get(name, [])

    definitions = nodes("def")
    extract_definitions(ctx, definitions, nodes("decorator"))
    clones = (
        extract_clones(
            data,
            [
                (n, s)
                for n, s in zip(definitions, ctx.symbols[: len(definitions)], strict=True)
                if s.kind != "lambda"
            ],
        )
        if CLONES
        else []
    )
    bind_globals(ctx, nodes("global"))
    imports = extract_imports(ctx, nodes("import"))
    bind_targets(ctx, nodes("target"))
    extract_assignments(ctx, nodes("assign"))
    bind_nonlocals(ctx)
    calls = extract_calls(ctx, nodes("call"))
    extract_references(ctx, nodes("argref"), nodes("elemref"), nodes("decorator"), nodes("subref"))
    resolve_attributes(ctx)
    flows = extract_flows(ctx, captures)
    channel_facts = extract_channels(ctx, captures) if CHANNELS else []
    name_strings = extract_name_strings(ctx, nodes("strref"))

    all_names, all_dynamic = replay_all(ctx)
    exported = set(all_names or ())
    symbols = [_module_symbol(module, root)]
    for symbol in ctx.symbols:
        if all_names is not None and symbol.parent == module.name:
            symbol = _with_in_all(symbol, symbol.name in exported)
        symbols.append(symbol)
    _release(ctx.index)
    return Extraction(
        module=ModuleFact(
            module.name, module.is_package, module.package_root, all_names, all_dynamic
        ),
        symbols=tuple(symbols),
        imports=tuple(imports),
        calls=tuple(calls),
        references=tuple(ctx.references),
        attributes=tuple(ctx.attributes),
        flows=flows,
        parse_errors=tuple(errors),
        error_count=error_count,
        channel_facts=tuple(channel_facts),
        mentions=extract_mentions(root, captures),
        attribute_writes=tuple(ctx.attribute_writes),
        name_strings=tuple(name_strings),
        clones=tuple(clones),
    )
