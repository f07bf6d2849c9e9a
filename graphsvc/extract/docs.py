"""Documentation files -> headings and mentions of code. Pure: (path, bytes) in, facts out.

Markdown is parsed with markdown-it-py (CommonMark); reStructuredText and plain text with a
line-based reader (docutils turns every Sphinx role it does not know, ``:func:`` included, into
an error node, and costs ten times more). What counts as a mention is chosen for precision:

- code spans and reST roles holding a dotted name (``pkg.mod.func``, ``Class.method()``), an
  identifier, a path (``src/app/x.py``) or a command line (``graphsvc index .``);
- in code blocks: imports and dotted names of Python blocks (also ``>>>`` lines), the commands
  of shell blocks (with ``python -m mod`` and script paths as mentions of their own);
- relative links (Markdown links and images, reST ``<target>`` links, ``include`` directives)
  and ``automodule``-style directives;
- in plain prose only paths with a folder and a known suffix (``see docs/setup.md``).

Configuration files (TOML, YAML, INI/``setup.cfg``, JSON) are read line by line for the values
that name code: entry points (``pkg.cli:main``), dotted module paths (``pkg.jobs.nightly``) and
file paths (``scripts/run.py``), with ``[sections]`` as headings; TOML, JSON and INI are also
parsed (standard library) so that a file that would not load is a ``syntax`` problem.

Plain English in backticks stays a bare identifier (``true``, ``foo``): the stale query never
counts a bare name that did not resolve when the doc was written.
"""

from __future__ import annotations

import codecs
import configparser
import hashlib
import json
import logging
import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token

from graphsvc.docfacts import (
    CONFIG_FORMATS,
    DocFacts,
    DocFormat,
    DocHeading,
    DocMention,
    MentionContext,
    MentionKind,
)
from graphsvc.facts import FileRecord, FileStatus, ParseError

__all__ = [
    "MAX_HEADINGS",
    "MAX_MENTIONS",
    "DocExtraction",
    "doc_format",
    "extract_doc",
    "index_doc",
]

log = logging.getLogger(__name__)
MAX_PROBLEMS = 50

MAX_MENTIONS = 5000  # per document; the rest are dropped with a note
MAX_HEADINGS = 2000
MAX_TEXT = 200
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME_SPAN = re.compile(r"^[~!]?(" + _NAME.pattern + r")(?:\(\s*\))?$")
_SUFFIXES = [
    "py",
    "pyi",
    "md",
    "rst",
    "txt",
    "toml",
    "cfg",
    "ini",
    "yaml",
    "yml",
    "json",
    "sql",
    "sh",
    "csv",
    "html",
    "css",
    "js",
    "ts",
    "lock",
]
_PATH = re.compile(r"^(?:\.{1,2}/)*[\w.@+-]+(?:/[\w.@+-]+)*/?$")
_PROSE_PATH = re.compile(
    r"(?<![\w/.:-])((?:\.{1,2}/)*[\w@+-]+(?:/[\w.@+-]+)+\.(?:" + "|".join(_SUFFIXES) + r"))\b"
)
_CMD_WORD = re.compile(r"^[a-z][\w.+-]*$")
_PY_LANGS = {"python", "py", "python3", "pycon", "pyi", "ipython", "doctest", "pytb"}
_SH_LANGS = {"bash", "sh", "shell", "console", "zsh", "shell-session", "sh-session", "fish"}
_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+(.+)|import\s+(.+))$")
_DOTTED_IN_CODE = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
_KEYWORDS = frozenset(
    {
        "and",
        "as",
        "assert",
        "async",
        "await",
        "break",
        "class",
        "continue",
        "def",
        "del",
        "elif",
        "else",
        "except",
        "finally",
        "for",
        "from",
        "global",
        "if",
        "import",
        "in",
        "is",
        "lambda",
        "nonlocal",
        "not",
        "or",
        "pass",
        "raise",
        "return",
        "try",
        "while",
        "with",
        "yield",
        "None",
        "True",
        "False",
        "self",
        "cls",
    }
)
_RST_ROLE = re.compile(
    r":(?:py:)?(mod|func|class|meth|attr|data|exc|obj|const|file|program):`([^`]+)`"
)
_RST_LITERAL = re.compile(r"``([^`]+?)``")
_SINGLE_TICK = re.compile(r"(?<![`\w:])`([^`\n]+?)`(?![`_])")
_RST_LINK = re.compile(r"`[^`<]*<([^>`]+)>`__?")
_RST_DIRECTIVE = re.compile(r"^\s*\.\.\s+([\w:-]+)::\s*(.*)$")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}\s*$")
_NAME_DIRECTIVES = {
    "automodule", "autoclass", "autofunction", "automethod", "autoattribute", "autodata",
    "autoexception", "module", "py:module", "currentmodule", "py:currentmodule",
}  # fmt: skip
_PATH_DIRECTIVES = {"include", "literalinclude", "image", "figure", "csv-table"}
_CODE_DIRECTIVES = {"code-block", "code", "sourcecode", "ipython", "doctest", "testcode"}
_MD = MarkdownIt("commonmark")


_CONFIG_SUFFIXES: dict[str, DocFormat] = {
    "toml": "toml", "yaml": "yaml", "yml": "yaml", "ini": "ini", "cfg": "ini", "json": "json",
}  # fmt: skip
# `[tool.x]`, `[[bin]]`, `[options.entry_points]`: a section header of TOML or INI.
_SECTION = re.compile(r"^\[\[?\s*([\w.\-\"' ]+?)\s*\]\]?\s*(?:[#;].*)?$")
_QUOTED = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'([^\'\n]*)\'')
# `pkg.cli:main`, `pkg.cli:App.run [extra]`: an entry point object reference.
_ENTRY_POINT = re.compile(r"^(" + _NAME.pattern + r"):(" + _NAME.pattern + r")(?:\s*\[[^\]]*\])?$")
_LINE_COL = re.compile(r"line (\d+), column (\d+)")


def doc_format(path: str) -> DocFormat:
    """The reader a documentation or configuration file gets, by its suffix."""
    lower = path.lower()
    suffix = lower.rpartition(".")[2] if "." in lower.rpartition("/")[2] else ""
    if suffix in _CONFIG_SUFFIXES:
        return _CONFIG_SUFFIXES[suffix]
    if lower.endswith((".md", ".markdown", ".mdx")):
        return "markdown"
    if lower.endswith((".rst", ".rest")):
        return "rst"
    return "text"


@dataclass(slots=True)
class DocExtraction:
    """Headings and mentions of one document, and what went wrong reading it."""

    title: str | None = None
    headings: list[DocHeading] = field(default_factory=list[DocHeading])
    mentions: list[DocMention] = field(default_factory=list[DocMention])
    problems: list[ParseError] = field(default_factory=list[ParseError])


class _Collector:
    """Collects mentions for one document, resolving paths against its folder."""

    def __init__(self, path: str, lines: list[str]) -> None:
        self.dir = posixpath.dirname(path)
        self.lines = lines
        self.out = DocExtraction()
        self.heading: str | None = None
        self._seen: set[tuple[int, str, str]] = set()
        self.dropped = 0

    def _col(self, line: int, text: str) -> int:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return source.find(text) + 1 if text else 0

    def add(
        self,
        line: int,
        kind: MentionKind,
        context: MentionContext,
        text: str,
        target: str,
        alt: str | None = None,
        bare: bool = False,
    ) -> None:
        key = (line, kind, target)
        if key in self._seen:
            return
        self._seen.add(key)
        if len(self.out.mentions) >= MAX_MENTIONS:
            self.dropped += 1
            return
        mention = DocMention(
            line, self._col(line, text), kind, context, text[:MAX_TEXT], target, alt, bare,
            self.heading,
        )  # fmt: skip
        self.out.mentions.append(mention)

    def heading_at(self, level: int, text: str, line: int) -> None:
        text = " ".join(text.split())[:MAX_TEXT]
        if len(self.out.headings) < MAX_HEADINGS:
            self.out.headings.append(DocHeading(level, text, line))
        if self.out.title is None and level == 1:
            self.out.title = text
        self.heading = text

    # ------------------------------------------------------------------ classification

    def span(self, line: int, raw: str, context: MentionContext) -> None:
        """A code span or role: a name, a path or a command, else nothing."""
        text = raw.strip()
        if not text or len(text) > MAX_TEXT:
            return
        if " " in text:
            self.command(line, text, context)
            return
        name = _NAME_SPAN.match(text)
        if name is not None:
            dotted = name[1]
            if dotted.split(".")[0] in _KEYWORDS:
                return
            looks_like_file = "." in dotted and dotted.rsplit(".", 1)[1] in _SUFFIXES
            if looks_like_file and "(" not in text:
                self.path(line, text, context, written=text)
                return
            self.add(line, "name", context, text, dotted, bare="." not in dotted)
            return
        if "/" in text and _PATH.match(text) and "://" not in text:
            self.path(line, text, context, written=text)

    def path(self, line: int, text: str, context: MentionContext, written: str) -> None:
        """A path as written in a code span or prose: relative to the doc, or to the tree."""
        clean = written.rstrip("/")
        if not clean or clean.startswith(("/", "~", "$")) or "*" in clean:
            return
        by_doc = _normal(posixpath.join(self.dir, clean))
        by_root = _normal(clean)
        first, alt = (by_doc, by_root) if clean.startswith(".") else (by_root, by_doc)
        if first is None:
            first, alt = alt, None
        if first is None:
            return
        self.add(line, "path", context, text, first, alt if alt != first else None)

    def link(self, line: int, href: str, context: MentionContext = "link") -> None:
        """A link target: relative links are files of the tree (``/x`` = from the root)."""
        href = href.strip()
        if not href or href.startswith("#") or re.match(r"^[A-Za-z][\w+.-]*:", href):
            return  # an anchor, or a URL with a scheme (https:, mailto:, ...)
        target = unquote(href.split("#", 1)[0].split("?", 1)[0]).rstrip("/")
        if not target:
            return
        if target.startswith("/"):
            found = _normal(target.lstrip("/"))
        else:
            found = _normal(posixpath.join(self.dir, target))
        if found is not None:
            self.add(line, "link", context, href, found)

    def command(self, line: int, text: str, context: MentionContext) -> None:
        """A shell command line: the program and its first word, plus the modules and scripts
        it runs (``python -m pkg.tool``, ``python scripts/x.py``) as mentions of their own."""
        text = text.strip().removeprefix("$ ").strip()
        words = text.split()
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words = words[1:]  # VAR=value prefixes
        if not words or not _CMD_WORD.match(words[0]) or words[0] in _KEYWORDS:
            return
        if words[0] in ("sudo", "exec", "time", "env", "uv", "poetry") and len(words) > 1:
            words = words[1:] if words[0] != "uv" or words[1] != "run" else words[2:]
        if not words or not _CMD_WORD.match(words[0]):
            return
        sub = next((w for w in words[1:2] if _CMD_WORD.match(w)), None)
        self.add(line, "command", context, text, f"{words[0]} {sub}" if sub else words[0])
        for i, word in enumerate(words[1:], start=1):
            if word == "-m" and i + 1 < len(words) and _NAME.fullmatch(words[i + 1]):
                self.add(line, "name", context, words[i + 1], words[i + 1])
            elif not word.startswith("-") and "/" in word and _PATH.match(word):
                if "://" not in word:
                    self.path(line, word, context, word)
            elif not word.startswith("-") and _PATH.match(word) and _has_suffix(word, "py"):
                self.path(line, word, context, word)

    def config_value(self, line: int, raw: str, bare_files: bool) -> None:
        """A value of a configuration file: an entry point, a dotted name, a path (with a
        folder, or with ``bare_files`` a file name with a known suffix), else nothing (bare
        words, numbers, URLs, sentences)."""
        value = raw.strip()
        if not value or len(value) > MAX_TEXT or "://" in value:
            return
        entry = _ENTRY_POINT.match(value)
        if entry is not None:
            self.add(line, "name", "config_value", value, f"{entry[1]}.{entry[2]}")
            return
        if " " in value:
            return
        dotted = _NAME.fullmatch(value) is not None and "." in value
        if dotted and value.rsplit(".", 1)[1] not in _SUFFIXES:
            self.add(line, "name", "config_value", value, value)
            return
        if _PATH.match(value) and ("/" in value or (bare_files and _has_suffix(value, *_SUFFIXES))):
            self.path(line, value, "config_value", written=value)

    def python_code(self, first_line: int, code: str) -> None:
        """Imports and dotted names of a Python code block."""
        for offset, raw in enumerate(code.splitlines()):
            line = first_line + offset
            text = raw.strip()
            if text.startswith((">>> ", "... ")):
                text = text[4:]
            if not text or text.startswith("#"):
                continue
            text = re.sub(r"(['\"]).*?\1", "''", text).split("#", 1)[0]  # strings, comments
            found = _IMPORT.match(text)
            if found is not None:
                self._imports(line, found)
                continue
            for dotted in _DOTTED_IN_CODE.findall(text):
                if dotted.split(".")[0] not in _KEYWORDS:
                    self.add(line, "name", "code_block", dotted, dotted)

    def _imports(self, line: int, found: re.Match[str]) -> None:
        if found[3] is not None:
            for part in found[3].split(","):
                module = part.split(" as ")[0].strip()
                if _NAME.fullmatch(module):
                    self.add(line, "name", "code_block", module, module)
            return
        module = found[1]
        if module.startswith(".") or not _NAME.fullmatch(module):
            return  # a relative import in an example names nothing we can place
        self.add(line, "name", "code_block", module, module)
        for part in found[2].strip("()\\ ").split(","):
            name = part.split(" as ")[0].strip()
            if name and name != "*" and _NAME.fullmatch(name):
                self.add(line, "name", "code_block", name, f"{module}.{name}")

    def shell_code(self, first_line: int, code: str, prompts_only: bool) -> None:
        """The commands of a shell block (lines after ``$`` only, when the block has prompts)."""
        for offset, raw in enumerate(code.splitlines()):
            text = raw.strip()
            if prompts_only:
                if not text.startswith("$ "):
                    continue
            elif text.startswith("#") or not text:
                continue
            self.command(first_line + offset, text.split(" #", 1)[0], "code_block")

    def code_block(self, first_line: int, lang: str, code: str) -> None:
        lang = (lang.split() or [""])[0].lower().strip("{}.")
        if lang in _PY_LANGS or (not lang and code.lstrip().startswith(">>>")):
            self.python_code(first_line, code)
        elif lang in _SH_LANGS:
            prompts = any(line.strip().startswith("$ ") for line in code.splitlines())
            self.shell_code(first_line, code, prompts_only=prompts)
        elif not lang and any(line.startswith("$ ") for line in code.splitlines()):
            self.shell_code(first_line, code, prompts_only=True)

    def prose(self, line: int, text: str) -> None:
        for found in _PROSE_PATH.finditer(text):
            self.path(line, found[1], "text", found[1])


def _has_suffix(word: str, *suffixes: str) -> bool:
    return "." in word and word.rsplit(".", 1)[1] in suffixes


def _normal(path: str) -> str | None:
    """A normalised tree-relative path, or None when it leaves the tree."""
    norm = posixpath.normpath(path)
    if norm in (".", "") or norm.startswith("../") or norm == ".." or norm.startswith("/"):
        return None
    return norm


# ---------------------------------------------------------------------- Markdown


def _markdown(c: _Collector, text: str) -> None:
    tokens = _MD.parse(text)
    for i, token in enumerate(tokens):
        start = token.map[0] + 1 if token.map else 0
        if token.type == "heading_open":
            inline = tokens[i + 1] if i + 1 < len(tokens) else None
            words = inline.content if inline is not None else ""
            c.heading_at(int(token.tag[1:]) if token.tag[1:].isdigit() else 1, words, start)
        elif token.type == "inline" and token.children is not None:
            _inline(c, token.children, start)
        elif token.type == "fence":
            c.code_block(start + 1, token.info, token.content)
        elif token.type == "code_block":
            c.code_block(start, "", token.content)
        elif token.type == "html_block":
            for href in re.findall(r"""(?:href|src)=["']([^"']+)["']""", token.content):
                c.link(start, href)


def _inline(c: _Collector, children: list[Token], line: int) -> None:
    for child in children:
        if child.type in ("softbreak", "hardbreak"):
            line += 1
        elif child.type == "code_inline":
            c.span(line, child.content, "code_span")
        elif child.type in ("link_open", "image"):
            href = child.attrs.get("href") or child.attrs.get("src")
            if isinstance(href, str):
                c.link(line, href)
        elif child.type == "text":
            c.prose(line, child.content)


# ---------------------------------------------------------------------- reST and text


def _indented_block(lines: list[str], start: int) -> tuple[int, str]:
    """The indented block starting at index ``start`` (blank lines allowed inside):
    (index after it, its text dedented)."""
    end = start
    while end < len(lines) and lines[end].strip() == "":
        end += 1
    first = end
    block: list[str] = []
    while end < len(lines) and (lines[end].strip() == "" or lines[end][:1] in " \t"):
        block.append(lines[end])
        end += 1
    while block and not block[-1].strip():
        block.pop()
    if not block:
        return first, ""
    indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
    return first + len(block), "\n".join(b[indent:] for b in block)


def _rst(c: _Collector, lines: list[str]) -> None:
    styles: list[tuple[str, bool]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        number = i + 1
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        under = _RST_UNDERLINE.match(nxt)
        text = line.strip()
        if under and text and not _RST_UNDERLINE.match(line) and len(nxt.rstrip()) >= len(text):
            over = i > 0 and lines[i - 1].strip() == nxt.strip()
            style = (under[1], over)
            if style not in styles:
                styles.append(style)
            c.heading_at(styles.index(style) + 1, text, number)
            i += 2
            continue
        directive = _RST_DIRECTIVE.match(line)
        if directive is not None:
            i = _directive(c, lines, i, directive[1].lower(), directive[2].strip())
            continue
        _rst_inline(c, number, line)
        if line.rstrip().endswith("::") and not line.strip().startswith(".."):
            end, code = _indented_block(lines, i + 1)
            if code:
                first = i + 2 + next(n for n, s in enumerate(lines[i + 1 :]) if s.strip())
                c.code_block(first, "python" if code.lstrip().startswith(">>>") else "", code)
                i = end
                continue
        if line.lstrip().startswith(">>> "):
            c.python_code(number, line)
        i += 1


def _directive(c: _Collector, lines: list[str], i: int, name: str, arg: str) -> int:
    number = i + 1
    if name in _NAME_DIRECTIVES and _NAME.fullmatch(arg.split("(")[0].strip()):
        target = arg.split("(")[0].strip()
        c.add(number, "name", "directive", arg, target, bare="." not in target)
    elif name in _PATH_DIRECTIVES and arg:
        c.link(number, arg, "directive")
    end, code = _indented_block(lines, i + 1)
    if name in _CODE_DIRECTIVES and code:
        body = [s for s in code.splitlines() if not s.startswith(":")]  # directive options
        first = i + 2 + next((n for n, s in enumerate(lines[i + 1 :]) if s.strip()), 0)
        offset = len(code.splitlines()) - len(body)
        c.code_block(first + offset, arg or "python", "\n".join(body))
    elif name.startswith("_") or name.startswith("|") or name in ("note", "warning", "tip"):
        for n, text in enumerate(code.splitlines()):
            _rst_inline(c, number + 1 + n, text)
    return max(end, i + 1)


def _rst_inline(c: _Collector, number: int, text: str) -> None:
    for role, target in _RST_ROLE.findall(text):
        inner = target.split("<")[-1].rstrip(">").strip() if "<" in target else target
        if role in ("file", "program"):
            c.span(number, inner, "role")
        else:
            c.span(number, inner.lstrip("~!."), "role")
    stripped = _RST_ROLE.sub("", text)
    for literal in _RST_LITERAL.findall(stripped):
        c.span(number, literal, "code_span")
    for href in _RST_LINK.findall(stripped):
        c.link(number, href)
    rest = _RST_LINK.sub("", _RST_LITERAL.sub("", stripped))
    for literal in _SINGLE_TICK.findall(rest):
        c.span(number, literal, "code_span")
    c.prose(number, _SINGLE_TICK.sub("", rest))


# ---------------------------------------------------------------------- entry point


def _config_syntax(text: str, fmt: DocFormat) -> ParseError | None:
    """The first reason the configuration file would not load, by the standard library's
    parsers (YAML has none there: not checked)."""
    try:
        if fmt == "toml":
            tomllib.loads(text)
        elif fmt == "json":
            json.loads(text)
        elif fmt == "ini":
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            parser.read_string(text)
    except json.JSONDecodeError as exc:
        return ParseError(exc.lineno, exc.colno, "syntax", f"invalid JSON: {exc.msg}")
    except tomllib.TOMLDecodeError as exc:
        at = _LINE_COL.search(str(exc))
        line, col = (int(at[1]), int(at[2])) if at else (1, 1)
        return ParseError(line, col, "syntax", f"invalid TOML: {exc}"[:MAX_TEXT])
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        reason = str(exc).splitlines()[0]
        errors = getattr(exc, "errors", None)  # ParsingError: [(line, repr of the line)]
        if isinstance(exc, configparser.MissingSectionHeaderError):
            reason = "a key before the first [section]"
        elif errors:
            line, bad = errors[0]
            reason = f"not a section, key or value: {bad}"
        message = f"invalid INI: {reason}"[:MAX_TEXT]
        return ParseError(int(line or 1), 1, "syntax", message)
    return None


def _config_values(raw: str, fmt: DocFormat) -> list[str]:
    """The values written on one line of a configuration file: its quoted strings, and the
    unquoted value after ``=`` / ``:`` (or after a YAML ``-``, or an INI continuation line)."""
    values = [a or b for a, b in _QUOTED.findall(raw)]
    if fmt == "json":
        return values
    rest = _QUOTED.sub(" ", raw).strip()
    rest = re.split(r"\s[#;]", rest, maxsplit=1)[0].strip()
    if rest.startswith("- "):
        rest = rest[2:].strip()
    _, sep, value = rest.partition("=") if "=" in rest and fmt != "yaml" else rest.partition(": ")
    if sep:
        rest = value.strip()
    elif fmt == "yaml" and rest.endswith(":"):
        return values  # a mapping key with its value on the next lines
    if rest and rest[0] not in "[{|>&*!":
        values.append(rest)
    return values


def _config(c: _Collector, text: str, fmt: DocFormat) -> None:
    problem = _config_syntax(text, fmt)
    if problem is not None:
        c.out.problems.append(problem)
    for number, raw in enumerate(c.lines, start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;" or stripped.startswith("//"):
            continue
        if fmt in ("toml", "ini"):
            section = _SECTION.match(stripped)
            if section is not None:
                c.heading_at(1, section[1].strip("\"' "), number)
                continue
        for value in _config_values(stripped, fmt):
            # `readme = "README.md"`; in YAML and JSON a bare file name is more often data
            c.config_value(number, value, bare_files=fmt in ("toml", "ini"))


def extract_doc(path: str, text: str, fmt: DocFormat) -> DocExtraction:
    """Headings and mentions of the document ``path`` (its decoded ``text``)."""
    lines = text.splitlines()
    collector = _Collector(path, lines)
    if fmt == "markdown":
        _markdown(collector, text)
    elif fmt in CONFIG_FORMATS:
        _config(collector, text, fmt)
    else:
        _rst(collector, lines)
    if collector.dropped:
        note = f"{collector.dropped} mentions past the first {MAX_MENTIONS} were dropped"
        collector.out.problems.append(ParseError(1, 1, "missing", note))
    if fmt in CONFIG_FORMATS:
        collector.out.title = None  # a section is not a title
    elif collector.out.title is None and collector.out.headings:
        collector.out.title = min(collector.out.headings, key=lambda h: h.level).text
    return collector.out


# ---------------------------------------------------------------------- bytes -> facts


def _decode(raw: bytes) -> tuple[str, str, list[ParseError]]:
    """(text, encoding, problems): UTF-8 (BOM or not) or UTF-16 with a BOM; undecodable
    bytes become U+FFFD and one ``encoding`` problem with the first bad byte's line."""
    if raw.startswith(codecs.BOM_UTF8):
        raw, encoding = raw[3:], "utf-8-sig"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace"), "utf-16", []
    else:
        encoding = "utf-8"
    try:
        return raw.decode("utf-8"), encoding, []
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = ParseError(line, col, "encoding", f"invalid UTF-8 byte 0x{raw[exc.start]:02x}")
        return raw.decode("utf-8", errors="replace"), encoding, [problem]


def index_doc(path: str, raw: bytes, mtime_ns: int) -> DocFacts:
    """Facts of the documentation file ``path`` from its bytes. Never raises: a binary file
    is ``skipped``, bad bytes make it ``partial``, a bug in the reader makes it ``failed``."""
    sha = hashlib.sha256(raw).hexdigest()
    fmt = doc_format(path)

    def record(
        status: FileStatus, reason: str | None, lines: int, enc: str | None, errors: int
    ) -> FileRecord:
        return FileRecord(path, None, sha, len(raw), mtime_ns, lines, enc, status, errors, reason)

    nul = raw.find(b"\0")
    if nul >= 0 and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        line = raw.count(b"\n", 0, nul) + 1
        reason = f"binary file: NUL byte on line {line}"
        return DocFacts(record("skipped", reason, 0, None, 0), fmt)
    text, encoding, problems = _decode(raw)
    lines = len(text.splitlines())
    try:
        found = extract_doc(path, text, fmt)
    except Exception as exc:  # a bug must cost one file, never the run
        log.error("doc extraction failed on %s", path, exc_info=exc)
        reason = f"extractor failed: {type(exc).__name__}: {exc}"[:500]
        error = ParseError(1, 1, "read", reason)
        return DocFacts(record("failed", reason, lines, encoding, 1), fmt, problems=(error,))
    problems += found.problems
    status: FileStatus = "partial" if problems else "ok"
    return DocFacts(
        record(status, None, lines, encoding, len(problems)),
        fmt,
        found.title,
        tuple(found.headings),
        tuple(found.mentions),
        tuple(problems[:MAX_PROBLEMS]),
    )
