"""Configuration files (TOML, YAML, INI/``setup.cfg``, JSON), read for the values that name code.

Read line by line, not as data: a mention needs its line, and a file that does not load must
still give its mentions. Each line's values (quoted strings, the value after ``=`` / ``:``)
go to the shared :class:`Collector` (entry points ``pkg.cli:main``, dotted module paths, file
paths); ``[sections]`` are headings. TOML, JSON and INI are also parsed with the standard
library so that a file that would not load is a ``syntax`` problem (YAML has no parser there).
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib

from graphsvc.docfacts import DocFormat
from graphsvc.extract.doc_mentions import MAX_TEXT, Collector
from graphsvc.facts import ParseError

# `[tool.x]`, `[[bin]]`, `[options.entry_points]`: a section header of TOML or INI.
_SECTION = re.compile(r"^\[\[?\s*([\w.\-\"' ]+?)\s*\]\]?\s*(?:[#;].*)?$")
_QUOTED = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'([^\'\n]*)\'')
_LINE_COL = re.compile(r"line (\d+), column (\d+)")


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


def read_config(c: Collector, text: str, fmt: DocFormat) -> None:
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
