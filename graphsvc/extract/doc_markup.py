"""Markdown and reStructuredText (or plain text) documents, walked for what they mention.

Markdown is parsed with markdown-it-py (CommonMark): headings, inline code, links, images,
fenced and indented code blocks, HTML blocks' ``href``/``src``. reStructuredText and plain text
are read line by line (docutils turns every Sphinx role it does not know, ``:func:`` included,
into an error node, and costs ten times more): underlined headings, roles, literals, links,
directives and literal blocks. Each piece goes to the shared :class:`Collector`, which decides
what it names; this module only knows the two markups.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from graphsvc.extract.doc_mentions import NAME, Collector

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


# ---------------------------------------------------------------------- Markdown


def read_markdown(c: Collector, text: str) -> None:
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


def _inline(c: Collector, children: list[Token], line: int) -> None:
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


def read_rst(c: Collector, lines: list[str]) -> None:
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


def _directive(c: Collector, lines: list[str], i: int, name: str, arg: str) -> int:
    number = i + 1
    if name in _NAME_DIRECTIVES and NAME.fullmatch(arg.split("(")[0].strip()):
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


def _rst_inline(c: Collector, number: int, text: str) -> None:
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
