"""Facts: what one file says about itself, with the user's names.

Every value here is owned by exactly one file. Paths are POSIX and relative to the indexed tree,
lines are 1-based, columns are 1-based byte offsets within the UTF-8 line (``ast`` col_offset + 1).
Qualified names are dotted from the package root: ``pkg.mod.Class.method``, lambdas ``<lambdaN>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FileStatus = Literal["ok", "partial", "failed", "skipped"]
SymbolKind = Literal[
    "module",
    "class",
    "function",
    "method",
    "staticmethod",
    "classmethod",
    "property",
    "lambda",
    "variable",
    "constant",
]
ImportKind = Literal["import", "from", "star", "future"]
# What a file alone can say a name points at (see README, "local candidates").
CandidateKind = Literal[
    "local",  # a def, class or lambda of this file
    "import",  # a name bound by an import of this file: candidate is the imported dotted name
    "builtin",  # a builtin that nothing in the file shadows: <builtin>.name
    "self",  # self.m() in a method: candidate is the enclosing class's m
    "cls",  # cls.m() in a classmethod
    "super",  # super().m(): candidate through the first base class as written
    "instance",  # x = C(); x.m(): candidate C.m
    "self_attr",  # self.a = C() somewhere in the class; self.a.m(): candidate C.m
    "annotation",  # x: C (a parameter, self.x: C, a local): x.m() is C.m; A.m|B.m for A | B
    "variable",  # a parameter or local bound to something this file cannot name
    "ambiguous",  # the name is bound more than once to different things
    "unknown",  # not a plain name chain (f()(), d[k]()) or a name bound nowhere
]
FlowKind = Literal["assign", "param", "return", "yield", "call", "arg"]
ParseErrorKind = Literal["syntax", "missing", "encoding", "nul", "read"]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One indexed (or deliberately skipped) file and what happened to it."""

    path: str
    module: str | None
    sha256: str | None
    size: int
    mtime_ns: int
    line_count: int
    encoding: str | None
    status: FileStatus
    error_count: int
    skip_reason: str | None


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    """The module a file defines, as the package layout names it."""

    name: str
    is_package: bool
    package_root: str  # "" for the tree root, else a relative POSIX path such as "src"


@dataclass(frozen=True, slots=True)
class ModuleFact:
    """The module row: its name plus what ``__all__`` says, if anything."""

    name: str
    is_package: bool
    package_root: str
    all_names: tuple[str, ...] | None  # None: the module has no literal __all__
    all_dynamic: bool  # __all__ is built from something other than string literals


@dataclass(frozen=True, slots=True)
class Symbol:
    """A definition: module, class, function/method, lambda, module or class variable."""

    qualname: str
    name: str
    kind: SymbolKind
    parent: str | None
    line: int
    col: int
    end_line: int
    end_col: int
    decorators: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()
    docstring: str | None = None
    in_all: bool | None = None
    is_async: bool = False


@dataclass(frozen=True, slots=True)
class Import:
    """One imported name. ``import a.b`` binds ``a``; ``from a import b as c`` binds ``c``."""

    line: int
    col: int
    scope: str
    module: str  # as written, with leading dots for relative imports
    level: int
    target: str | None  # absolute module after resolving relative dots; None: beyond top level
    name: str | None  # the imported name for from-imports, "*" for star imports
    alias: str | None
    kind: ImportKind
    in_try: bool  # inside try: whose handlers catch ImportError / ModuleNotFoundError
    type_checking: bool  # inside `if TYPE_CHECKING:`
    in_function: bool


@dataclass(frozen=True, slots=True)
class CallSite:
    """A call expression and the callee this file alone can name."""

    line: int
    col: int
    scope: str
    callee: str  # the callee expression as written (whitespace collapsed, truncated)
    candidate: str | None
    candidate_kind: CandidateKind
    arg_count: int
    keywords: tuple[str, ...]  # keyword argument names; "**" for a **mapping
    first_arg: str | None  # literal value of the first positional argument
    # "literal" (first_arg is the argument), "sequence" (the first element of a list or tuple
    # literal: an argv such as ["git", "status"]); None when first_arg is None
    first_arg_from: Literal["literal", "sequence"] | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    """A non-call use of code: callback argument, container element, decorator, getattr."""

    line: int
    col: int
    scope: str
    kind: Literal[
        "argument",
        "container",
        "decorator",
        "assignment",
        "getattr",
        "hasattr",
        "setattr",
        "subscript",
    ]
    expression: str
    candidate: str | None
    candidate_kind: CandidateKind
    context: str | None  # the called function, the dict key, the decorated symbol


@dataclass(frozen=True, slots=True)
class Attribute:
    """An attribute assigned on a class: ``self.x = ...`` in a method or ``x = ...`` in its body."""

    class_qualname: str
    name: str
    line: int
    col: int
    scope: str
    via: Literal["self", "cls", "class"]
    value: str
    value_kind: Literal["call", "name", "literal", "none", "lambda", "other", "absent"]
    value_candidate: str | None
    candidate_kind: CandidateKind | None


@dataclass(frozen=True, slots=True)
class AttributeWrite:
    """An attribute set on something other than the method's own ``self``/``cls``:
    ``obj.a = v``, ``Class.a = v``, ``module.a = v`` (also ``+=`` and tuple targets)."""

    line: int
    col: int
    scope: str
    receiver: str  # the object as written (whitespace collapsed, at most 300 characters)
    name: str
    value: str  # the assigned expression as written; '' in a tuple target or for ``+=``


@dataclass(frozen=True, slots=True)
class NameString:
    """A string literal shaped like a dotted path to code (``"pkg.mod:Class"``,
    ``"pkg.mod.func"``) or a class name (``"Topic"``) in a container, an argument or an
    assignment: how registries, settings and plugin tables name what they import."""

    line: int
    col: int
    scope: str
    value: str


# One value-flow row: (scope, kind, target, place, value, line, col); ``place`` and ``value``
# are expressions in marshal format 0 (see graphsvc/extract/flow.py).
FlowRow = tuple[str, FlowKind, str, bytes | None, bytes, int, int]


@dataclass(frozen=True, slots=True)
class FlowRows:
    """A file's value-flow rows, encoded together: the linker reads a file's flow at once,
    and as rows of their own they cost more to write and read than every other fact table."""

    row_count: int
    data: bytes  # zlib of marshal (format 4) of the list of FlowRow, in the solver's order


@dataclass(frozen=True, slots=True)
class ChannelFact:
    """An input of channel recognition: a call that may carry a topic, a topic constant, a
    parameter, an attribute, an in-process collection's declaration or use (see
    graphsvc/extract/channels.py for each kind's columns)."""

    kind: Literal[
        "call",
        "const",
        "attr",
        "param",
        "decl",
        "use",
        "deco",
        "hmake",
        "huse",
        "hcopy",
        "harg",
        "hparam",
    ]
    line: int
    col: int
    scope: str
    name: str
    detail: str
    data: str  # JSON: the arguments, or a topic expression


@dataclass(frozen=True, slots=True)
class NameMention:
    """How often a file reads a name, an attribute, or names code in a string (see
    graphsvc/extract/mentions.py): the evidence of uses the linker could not resolve."""

    name: str
    kind: Literal["name", "attribute", "string", "prefix", "store"]
    count: int


@dataclass(frozen=True, slots=True)
class CloneUnit:
    """Clone fingerprints of one function, method or class (see graphsvc/extract/clones.py).

    Hashes cover the tokens after the name (parameters, bases, body; nested definitions by
    their own hashes), never comments, whitespace, the docstring or the decorators.
    """

    qualname: str
    parent: str | None  # the enclosing function or class, None at module level
    kind: Literal["function", "class"]
    line: int
    end_line: int
    tokens: int  # tokens hashed, nested definitions included
    exact: str  # 16 hex: the token texts as written
    shape: str  # 16 hex: local names renamed by first use, literals by their type
    boilerplate: bool  # pass, ..., raise NotImplementedError, plain assignments, one return
    signature: tuple[int, ...]  # MinHash of 4-token shingles of the shape; () when too small
    bands: tuple[int, ...]  # LSH: one hash per band of the signature; () without a signature


@dataclass(frozen=True, slots=True)
class ParseError:
    """Something in the file that could not be parsed or decoded."""

    line: int
    col: int
    kind: ParseErrorKind
    message: str


@dataclass(frozen=True, slots=True)
class FileFacts:
    """Everything one file contributes to the graph; replaced as a whole when the file changes."""

    record: FileRecord
    module: ModuleFact | None = None
    symbols: tuple[Symbol, ...] = ()
    imports: tuple[Import, ...] = ()
    calls: tuple[CallSite, ...] = ()
    references: tuple[Reference, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    flows: FlowRows | None = None
    channel_facts: tuple[ChannelFact, ...] = ()
    mentions: tuple[NameMention, ...] = ()
    attribute_writes: tuple[AttributeWrite, ...] = ()
    name_strings: tuple[NameString, ...] = ()
    clones: tuple[CloneUnit, ...] = ()
    parse_errors: tuple[ParseError, ...] = field(default=())


# Bump when extraction changes what it writes: rows written by an older version are re-indexed.
INDEXER_VERSION = 8
