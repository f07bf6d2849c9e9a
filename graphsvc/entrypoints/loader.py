"""Entry-point rules as data: the shipped ``graphsvc/entrypoints/*.toml`` and the user's files.

A rule file holds tables of five kinds (every ``match`` is a list of globs over dotted names)::

    [[decorator]]                 # the decorated function or class is called by a framework
    framework = "fastapi"
    match = ["fastapi.FastAPI.*"] # the decorator's resolved target, or as written if unresolved

    [[transparent]]               # decorators that hide no use (functools.wraps, property)
    match = ["functools.wraps"]
    keep = false                  # true: never report what they decorate (typing.overload)

    [[base]]                      # classes deriving from a matching base
    match = ["unittest.TestCase"]
    entry = true                  # the class itself is found by the framework
    members = ["test*", "setUp"]  # method names the framework calls

    [[name]]                      # symbols by name
    match = ["test*"]
    kinds = ["function", "method", "class"]   # symbol kinds (default: function, method, class)
    tests = true                  # only in test files (GRAPHSVC_CHANNEL_TEST_GLOBS)
    paths = ["*conftest.py"]      # only in files whose path matches one of these

    [[constructor]]               # module variables assigned the result of these calls
    match = ["fastapi.FastAPI"]

Every table may also say ``framework`` and ``description``. A malformed file raises
:class:`~graphsvc.errors.RuleError` naming the file, the table and what is wrong.
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graphsvc.errors import RuleError

RULES_DIR = Path(__file__).parent
RuleKind = Literal["decorator", "transparent", "base", "name", "constructor"]
RULE_KINDS: tuple[RuleKind, ...] = ("decorator", "transparent", "base", "name", "constructor")
SYMBOL_KINDS = frozenset(
    {
        "function",
        "method",
        "staticmethod",
        "classmethod",
        "property",
        "class",
        "variable",
        "constant",
    }
)
_COMMON = frozenset({"match", "framework", "description"})
_KEYS: dict[str, frozenset[str]] = {
    "decorator": _COMMON,
    "transparent": _COMMON | {"keep"},
    "base": _COMMON | {"entry", "members"},
    "name": _COMMON | {"kinds", "tests", "paths"},
    "constructor": _COMMON,
}


@dataclass(frozen=True, slots=True)
class EntryRule:
    """One table of a rule file: what makes code an entry point."""

    id: str  # "<file stem>:<kind>:<n>"
    source: str  # the file it came from
    kind: RuleKind
    match: tuple[str, ...]
    framework: str = ""
    description: str = ""
    keep: bool = False
    entry: bool = False
    members: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    tests: bool = False
    paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntryRules:
    """The rules of several files, in load order, and a digest of their contents."""

    rules: tuple[EntryRule, ...]
    digests: tuple[str, ...]


def load_file(path: Path) -> tuple[list[EntryRule], str]:
    """The rules of one file and the sha256 of its bytes.

    Raises:
        RuleError: the file cannot be read, is not TOML, or a table is malformed.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleError(str(path), "file", f"cannot be read: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(str(path), "file", f"not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(RULE_KINDS))
    if unknown:
        raise RuleError(
            str(path), "file", f"unknown table {unknown[0]!r} (known: {', '.join(RULE_KINDS)})"
        )
    rules: list[EntryRule] = []
    for kind in RULE_KINDS:
        tables = data.get(kind, [])
        if not isinstance(tables, list):
            raise RuleError(str(path), kind, f"must be an array of tables ([[{kind}]])")
        for n, table in enumerate(tables, 1):
            rules.append(_rule(path, kind, n, table))
    return rules, hashlib.sha256(raw).hexdigest()[:16]


def _rule(path: Path, kind: RuleKind, n: int, table: object) -> EntryRule:
    where = f"[[{kind}]] #{n}"
    if not isinstance(table, dict):
        raise RuleError(str(path), where, "must be a table")
    unknown = sorted(set(table) - _KEYS[kind])
    if unknown:
        known = ", ".join(sorted(_KEYS[kind]))
        raise RuleError(str(path), where, f"unknown key {unknown[0]!r} (known: {known})")
    match = _strings(path, where, table, "match", required=True)
    kinds = _strings(path, where, table, "kinds")
    bad = sorted(set(kinds) - SYMBOL_KINDS)
    if bad:
        known = ", ".join(sorted(SYMBOL_KINDS))
        raise RuleError(str(path), where, f"kinds: unknown kind {bad[0]!r} (known: {known})")
    if kind == "name" and not kinds:
        kinds = ("function", "method", "class")
    return EntryRule(
        id=f"{path.stem}:{kind}:{n}",
        source=path.name,
        kind=kind,
        match=match,
        framework=_text(path, where, table, "framework"),
        description=_text(path, where, table, "description"),
        keep=_flag(path, where, table, "keep"),
        entry=_flag(path, where, table, "entry"),
        members=_strings(path, where, table, "members"),
        kinds=kinds,
        tests=_flag(path, where, table, "tests"),
        paths=_strings(path, where, table, "paths"),
    )


def _strings(
    path: Path, where: str, table: dict[str, Any], key: str, required: bool = False
) -> tuple[str, ...]:
    value = table.get(key)
    if value is None:
        if required:
            raise RuleError(str(path), where, f"{key}: required (a list of globs)")
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleError(str(path), where, f"{key}: must be a list of non-empty strings")
    if required and not value:
        raise RuleError(str(path), where, f"{key}: must not be empty")
    return tuple(value)


def _text(path: Path, where: str, table: dict[str, Any], key: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise RuleError(str(path), where, f"{key}: must be a string")
    return value


def _flag(path: Path, where: str, table: dict[str, Any], key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise RuleError(str(path), where, f"{key}: must be true or false")
    return value


def shipped_files() -> list[Path]:
    """The rule files shipped with graphsvc."""
    return sorted(RULES_DIR.glob("*.toml"))


@functools.cache
def _shipped() -> tuple[tuple[EntryRule, ...], tuple[str, ...]]:
    rules: list[EntryRule] = []
    digests: list[str] = []
    for path in shipped_files():
        found, digest = load_file(path)
        rules.extend(found)
        digests.append(digest)
    return tuple(rules), tuple(digests)


def load_entry_rules(user_files: list[Path] | tuple[Path, ...] = ()) -> EntryRules:
    """The shipped rules followed by those of ``user_files`` (GRAPHSVC_ENTRYPOINT_RULES).

    Raises:
        RuleError: a file is missing or malformed (the message names it, the table and why).
    """
    rules, digests = _shipped()
    all_rules = list(rules)
    all_digests = list(digests)
    for path in user_files:
        found, digest = load_file(path)
        all_rules.extend(found)
        all_digests.append(digest)
    return EntryRules(tuple(all_rules), tuple(all_digests))
