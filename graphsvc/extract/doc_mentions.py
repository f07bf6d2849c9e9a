"""What a fragment of a document names: the mention classifier every doc reader shares.

:class:`Collector` takes the pieces a reader found (a code span, a role, a link target, a code
block, a line of prose, a configuration value) and decides whether each is a dotted name, a
path of the tree, a command line or nothing, and records the mentions and headings of one
document (:class:`DocExtraction`), with their limits. The readers of each format
(:mod:`graphsvc.extract.doc_markup`, :mod:`graphsvc.extract.doc_config`) only walk their
format; what counts as a mention is decided here, once, so every format agrees.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from graphsvc.docfacts import DocHeading, DocMention, MentionContext, MentionKind
from graphsvc.facts import ParseError

MAX_MENTIONS = 5000  # per document; the rest are dropped with a note
MAX_HEADINGS = 2000
MAX_TEXT = 200
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME_SPAN = re.compile(r"^[~!]?(" + NAME.pattern + r")(?:\(\s*\))?$")
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
# `pkg.cli:main`, `pkg.cli:App.run [extra]`: an entry point object reference.
_ENTRY_POINT = re.compile(r"^(" + NAME.pattern + r"):(" + NAME.pattern + r")(?:\s*\[[^\]]*\])?$")


@dataclass(slots=True)
class DocExtraction:
    """Headings and mentions of one document, and what went wrong reading it."""

    title: str | None = None
    headings: list[DocHeading] = field(default_factory=list[DocHeading])
    mentions: list[DocMention] = field(default_factory=list[DocMention])
    problems: list[ParseError] = field(default_factory=list[ParseError])


class Collector:
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
            if word == "-m" and i + 1 < len(words) and NAME.fullmatch(words[i + 1]):
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
        dotted = NAME.fullmatch(value) is not None and "." in value
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
                if NAME.fullmatch(module):
                    self.add(line, "name", "code_block", module, module)
            return
        module = found[1]
        if module.startswith(".") or not NAME.fullmatch(module):
            return  # a relative import in an example names nothing we can place
        self.add(line, "name", "code_block", module, module)
        for part in found[2].strip("()\\ ").split(","):
            name = part.split(" as ")[0].strip()
            if name and name != "*" and NAME.fullmatch(name):
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
