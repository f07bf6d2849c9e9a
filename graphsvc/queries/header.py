"""The header of a saved query file: ``-- key: value`` lines before the SQL.

Parsing here checks what the text alone can tell (names, types, defaults, literal values,
template syntax); :mod:`graphsvc.queries.catalog` checks the SQL and the output columns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from graphsvc.errors import QueryFileError
from graphsvc.queries.templates import Template

ParamType = Literal["text", "int", "float", "bool"]
PARAM_TYPES: tuple[ParamType, ...] = ("text", "int", "float", "bool")
SEVERITIES = ("critical", "high", "medium", "low")
ACTION_CLASSES = (
    "investigate",
    "propose_fix",
    "find_substitute",
    "experiment",
    "explore",
    "explain_and_soft_fallback",
)
# the fields that tell the refresh what a finding query reads (see incremental_fields)
INCREMENTAL_FIELDS = (
    "partition",
    "partition_keys",
    "anchors_needed",
    "file_inputs",
    "global_inputs",
    "input_terms",
    "term_files",
    "file_guard",
)
SINGLE_FIELDS = (
    "name",
    "title",
    "description",
    "finder",
    "depends_on",
    *INCREMENTAL_FIELDS,
    "kind",
    "id",
    "hypothesis",
    "question",
    "evidence",
    "locations",
    "metadata",
    "severity",
    "confidence",
    "action",
    "autonomy",
    "value",
    "cost",
    "capability_key",
)
FINDING_FIELDS = SINGLE_FIELDS[SINGLE_FIELDS.index("id") :]
REQUIRED_FINDING_FIELDS = (
    "id",
    "hypothesis",
    "question",
    "evidence",
    "severity",
    "action",
    "autonomy",
    "value",
    "cost",
)
TEMPLATE_FIELDS = (
    "id",
    "hypothesis",
    "question",
    *FINDING_FIELDS[FINDING_FIELDS.index("severity") :],
)
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FIELD = re.compile(r"--\s?([A-Za-z_]+):\s*(.*)")
_CONTINUATION = re.compile(r"--\s{2,}(\S.*)")
_PARAM = re.compile(
    r"\$([a-z_][a-z0-9_]*)\s+([a-z]+)"
    r"(?:\s*=\s*('(?:[^']|'')*'|[^\s(]+))?"
    r"\s*(?:\((.*)\))?"
)
DEPENDS_ON = ("all", "imports", "internal_imports", "docs")
_HYPOTHESIS_PREFIX = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_")


@dataclass(frozen=True, slots=True)
class Param:
    """A declared parameter: ``-- param: $name type = default (description)``."""

    name: str
    type: ParamType
    default: str | int | float | bool | None
    required: bool  # no default given
    description: str


@dataclass(frozen=True, slots=True)
class FindingSpec:
    """How each output row becomes a finding (templates over the output columns)."""

    kind: str
    id: Template
    hypothesis: Template
    question: Template
    evidence: tuple[str, ...]
    locations: str | None
    metadata: tuple[str, ...]
    severity: Template
    confidence: Template
    action: Template
    autonomy: Template
    value: Template
    cost: Template
    capability_key: Template


@dataclass(slots=True)
class Header:
    """A parsed header, with the line of every field (for errors found later)."""

    path: Path
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    params: list[Param] = field(default_factory=list)
    sql: str = ""
    sql_line: int = 1  # file line where the SQL starts

    def error(self, key: str | None, reason: str) -> QueryFileError:
        """An error at the line of ``key`` (the file's first line when unknown)."""
        line = self.lines.get(key, 1) if key else self.sql_line
        return QueryFileError(str(self.path), line, reason, self.values.get("name"))


def parse_header(path: Path, text: str) -> Header:
    """Split ``text`` into header fields and SQL, checking each field on its own.

    Raises:
        QueryFileError: a malformed or repeated field, a bad parameter, a bad literal value.
    """
    header = Header(path)
    lines = text.splitlines()
    last: str | None = None
    index = 0
    for index, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.startswith("--"):
            if line.strip():
                break
            last = None
            continue
        last = _header_line(header, line, index, last)
    else:
        index = len(lines) + 1
    header.sql_line = index
    header.sql = "\n".join(lines[index - 1 :])
    if not header.sql.strip():
        raise QueryFileError(str(path), index, "no SQL after the header", header.values.get("name"))
    for key in ("name", "title"):
        if key not in header.values:
            raise QueryFileError(str(path), 1, f"the header has no {key}: field")
    _check_name(header)
    return header


def _header_line(header: Header, line: str, number: int, last: str | None) -> str | None:
    """Record one ``--`` line; returns the field a continuation line would extend."""
    if line.strip() == "--":
        return None
    cont = _CONTINUATION.fullmatch(line)
    if cont and last is not None:
        header.values[last] += " " + cont[1].strip()
        return last
    match = _FIELD.fullmatch(line)
    if match is None:
        reason = "header lines are '-- key: value' (or '--   continued text'); got " + repr(line)
        raise QueryFileError(str(header.path), number, reason, header.values.get("name"))
    key, value = match[1], match[2].strip()
    if key in ("param", "params"):
        header.lines.setdefault("param", number)
        header.params.append(_param(header, value, number))
        return None
    if key not in SINGLE_FIELDS:
        known = ", ".join(("param", *SINGLE_FIELDS))
        raise QueryFileError(
            str(header.path), number, f"unknown header field {key!r}; known: {known}"
        )
    if key in header.values:
        raise QueryFileError(
            str(header.path), number, f"{key}: given twice (first on line {header.lines[key]})"
        )
    header.values[key] = value
    header.lines[key] = number
    return key


def depends_on(header: Header) -> str:
    """What the query's rows depend on: ``imports`` (import links and import facts, module
    names and paths only), ``internal_imports`` (only import edges that resolve in the tree,
    with their flags; module names and paths): the refresh reuses its rows when a batch changed
    none of them; ``docs`` (documentation mentions and whatever they resolve against: it runs
    after every batch while the tree has a doc mention, and reports nothing without one); or
    ``all`` (the default: it runs after every batch).

    Raises:
        QueryFileError: an unknown value.
    """
    value = header.values.get("depends_on", "all")
    if value not in DEPENDS_ON:
        raise header.error(
            "depends_on", f"depends_on {value!r} is not one of {', '.join(DEPENDS_ON)}"
        )
    return value


@dataclass(frozen=True, slots=True)
class Partition:
    """How the refresh recomputes a query for the files a batch changed, not the whole tree.

    ``column`` names the output column that holds each row's partition key (a UBIGINT, as
    ``hash(...)`` gives, or a list of them: the row is in each of those partitions); the SQL
    reads ``$partition`` (NULL: every partition, a list of keys:
    only those partitions' rows, exactly as the whole query gives them). ``keys`` is a SELECT
    of ``file_id, key, ...`` for the files of ``$files`` (an INTEGER[]): the partitions whose
    rows that file's facts can change, and in the other columns what the file contributes to
    each (a key whose rows are the same before and after an edit is not recomputed).
    ``anchored``: ``keys`` has a BOOLEAN column ``anchor``, and a partition can have rows
    only while some file lists its key with ``anchor`` true (a class of that name is
    defined): a touched partition that had no rows and that no file anchors is not run.
    ``needed``: how many files must anchor a partition for it to have rows (``anchors_needed``:
    ``duplicate_files`` needs two files of the same content).
    """

    column: str
    keys: str
    anchored: bool = False
    needed: int = 1


def incremental_fields(header: Header) -> dict[str, str]:
    """``partition``, ``partition_keys``, ``file_inputs``, ``global_inputs``, ``input_terms``,
    ``term_files`` and ``file_guard`` as given.

    Raises:
        QueryFileError: one of ``partition`` and ``partition_keys`` without the other,
            ``global_inputs`` with neither a partition nor ``file_inputs``, or one of
            ``input_terms`` and ``term_files`` without the other or without ``file_inputs``,
            ``file_guard`` with neither a partition nor ``file_inputs``.
    """
    values = header.values
    given = {k: values[k] for k in INCREMENTAL_FIELDS if k in values}
    if "partition_keys" in given and "partition" not in given:
        raise header.error(
            "partition_keys", "partition_keys: needs partition: (the key column) as well"
        )
    if "partition" in given and "partition_keys" not in given:
        raise header.error("partition", "partition: needs partition_keys: (a SELECT) as well")
    if "global_inputs" in given and not {"partition", "file_inputs"} & set(given):
        raise header.error(
            "global_inputs", "global_inputs: needs partition: or file_inputs: as well"
        )
    if "anchors_needed" in given and "partition" not in given:
        raise header.error("anchors_needed", "anchors_needed: needs partition: as well")
    if "file_guard" in given and not {"partition", "file_inputs"} & set(given):
        raise header.error("file_guard", "file_guard: needs partition: or file_inputs: as well")
    for key, other in (("input_terms", "term_files"), ("term_files", "input_terms")):
        if key in given and (other not in given or "file_inputs" not in given):
            raise header.error(key, f"{key}: needs {other}: and file_inputs: as well")
    return given


def _check_name(header: Header) -> None:
    name = header.values["name"]
    if not _NAME.fullmatch(name):
        raise header.error("name", f"name {name!r} must be snake_case ([a-z][a-z0-9_]*)")
    if header.path.stem != name:
        raise header.error("name", f"name {name!r} must match the file name ({name}.sql)")


def _param(header: Header, text: str, number: int) -> Param:
    def fail(reason: str) -> QueryFileError:
        return QueryFileError(str(header.path), number, reason, header.values.get("name"))

    match = _PARAM.fullmatch(text)
    if match is None:
        raise fail(f"param: expected '$name type [= default] [(description)]', got {text!r}")
    name, kind, default_text, description = match[1], match[2], match[3], match[4] or ""
    if kind not in PARAM_TYPES:
        raise fail(f"param ${name}: unknown type {kind!r}; use one of {', '.join(PARAM_TYPES)}")
    if any(p.name == name for p in header.params):
        raise fail(f"param ${name} is declared twice")
    ptype: ParamType = kind  # type: ignore[assignment]
    if default_text is None:
        return Param(name, ptype, None, True, description.strip())
    try:
        default = convert(ptype, default_text, quoted=True)
    except ValueError as exc:
        raise fail(f"param ${name}: bad default {default_text!r}: {exc}") from exc
    return Param(name, ptype, default, False, description.strip())


def convert(
    ptype: ParamType, text: str, *, quoted: bool = False
) -> str | int | float | bool | None:
    """A parameter value from text (``NULL`` is None; with ``quoted``, text may be '...').

    Raises:
        ValueError: ``text`` is not a value of ``ptype``.
    """
    if text.upper() == "NULL":
        return None
    if ptype == "text":
        if quoted and len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1].replace("''", "'")
        return text
    if ptype == "int":
        return int(text)
    if ptype == "float":
        number = float(text)
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return number
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError("expected true or false")


def finding_spec(header: Header) -> FindingSpec | None:
    """The finding mapping of the header (None without ``kind:``), templates parsed and
    literal values checked.

    Raises:
        QueryFileError: a missing or malformed finding field.
    """
    values = header.values
    if "kind" not in values:
        stray = [k for k in FINDING_FIELDS if k in values]
        if stray:
            raise header.error(stray[0], f"{stray[0]}: is a finding field; add kind: first")
        return None
    kind = values["kind"]
    if not _NAME.fullmatch(kind):
        raise header.error("kind", f"kind {kind!r} must be snake_case")
    for key in REQUIRED_FINDING_FIELDS:
        if key not in values:
            raise header.error("kind", f"a finding query needs {key}: in its header")
    templates = {key: _template(header, key) for key in TEMPLATE_FIELDS}
    if not templates["id"].columns:
        raise header.error("id", "id: must use at least one column ({column}) so ids differ")
    if not _HYPOTHESIS_PREFIX.fullmatch(templates["hypothesis"].prefix):
        raise header.error(
            "hypothesis",
            "hypothesis: must start with an UPPER_SNAKE prefix ending in _, "
            "e.g. MISSING_WIRING_{name}",
        )
    _check_literals(header, templates)
    return FindingSpec(
        kind=kind,
        evidence=_columns(header, "evidence"),
        locations=values.get("locations"),
        metadata=_columns(header, "metadata") if "metadata" in values else (),
        **templates,  # type: ignore[arg-type]
    )


def _template(header: Header, key: str) -> Template:
    default = {"confidence": "1.0", "capability_key": header.values.get("kind", "")}
    text = header.values.get(key, default.get(key, ""))
    try:
        return Template.parse(text)
    except ValueError as exc:
        raise header.error(key, f"{key}: {exc}") from exc


def _columns(header: Header, key: str) -> tuple[str, ...]:
    names = tuple(n.strip().strip('"') for n in header.values[key].split(","))
    if not all(names):
        raise header.error(key, f"{key}: expected a comma-separated list of output columns")
    return names


def check_value(key: str, value: str) -> str | None:
    """Why ``value`` is not valid for the finding field ``key`` (None when it is)."""
    if key == "severity" and value not in SEVERITIES:
        return f"severity {value!r} is not one of {', '.join(SEVERITIES)}"
    if key == "action" and value not in ACTION_CLASSES:
        return f"action {value!r} is not one of {', '.join(ACTION_CLASSES)}"
    if key == "autonomy" and value not in ("1", "2", "3"):
        return f"autonomy {value!r} is not 1, 2 or 3"
    if key in ("confidence", "value", "cost"):
        try:
            number = float(value)
        except ValueError:
            return f"{key} {value!r} is not a number"
        if not 0 <= number <= 1:
            return f"{key} {value!r} is not between 0 and 1"
    return None


def _check_literals(header: Header, templates: dict[str, Template]) -> None:
    for key in ("severity", "action", "autonomy", "confidence", "value", "cost"):
        template = templates[key]
        if not template.columns:  # a literal: check it now; a template is checked per row
            problem = check_value(key, template.text)
            if problem:
                raise header.error(key, problem)
