"""Loading saved queries: ``queries/*.sql`` shipped with graphsvc plus the user's folders.

Every file is checked at load time against the real schema (an in-memory database migrated
with ``schema/*.sql``): one SELECT, no side-effect function or file read (the ad-hoc SQL
sandbox's parse-tree check, so a user's folder cannot smuggle in a write or a file read),
declared parameters equal to the ``$names`` the SQL uses, and every column a template, the
evidence, the locations or the metadata name exists in the query's output (``DESCRIBE``).
A broken file becomes a :class:`~graphsvc.errors.QueryFileError` naming file and line; the
other files still load.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import duckdb

from graphsvc.config import Settings
from graphsvc.errors import GraphsvcError, QueryFileError, QueryNotFound
from graphsvc.queries.finders import FINDERS, finder_names
from graphsvc.queries.header import (
    FindingSpec,
    Header,
    Param,
    ParamType,
    Partition,
    depends_on,
    finding_spec,
    incremental_fields,
    parse_header,
)
from graphsvc.queries.order import Order, sql_order
from graphsvc.sandbox import check_parse_tree, single_select
from graphsvc.schema import migrate

Source = Literal["builtin", "user"]
_DUMMY: dict[ParamType, str | int | float | bool] = {
    "text": "",
    "int": 0,
    "float": 0.0,
    "bool": False,
}
_LINE = re.compile(r"LINE (\d+):")


@dataclass(frozen=True, slots=True)
class SavedQuery:
    """One validated saved query."""

    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    sql: str
    path: Path
    source: Source
    columns: tuple[str, ...]  # output columns (after the finder, if any)
    finder: str | None = None
    finding: FindingSpec | None = None
    depends_on: str = "all"  # all | imports | internal_imports | docs (see header.depends_on)
    partition: Partition | None = None  # how the refresh recomputes it for a few files
    # the per-file rows its findings read (the refresh reuses its findings while the changed
    # files' rows are the same) and what else they read across files (graphsvc/findings/
    # partition.py)
    file_inputs: str | None = None
    global_inputs: str | None = None
    # the output columns its ORDER BY sorts by (graphsvc/queries/order.py; None: none, one
    # of other expressions, or a finder's output)
    order: Order | None = None
    # the terms file_inputs narrow a file's rows by (the names the docs say), and the files
    # with rows for some of ``$terms``: after the terms change, only those files' file inputs
    # are read again
    input_terms: str | None = None
    term_files: str | None = None
    # the rows of a file its findings can depend on, read cheaply for the changed files of
    # every query at once: while they are the same, its file inputs or keys are not read
    file_guard: str | None = None

    @property
    def kind(self) -> str | None:
        """The finding kind, or None for a plain query."""
        return self.finding.kind if self.finding is not None else None


@dataclass(slots=True)
class Catalog:
    """The loaded queries by name, and the files that failed to load."""

    queries: dict[str, SavedQuery] = field(default_factory=dict)
    errors: list[QueryFileError] = field(default_factory=list)

    def get(self, name: str) -> SavedQuery:
        """The query called ``name``.

        Raises:
            QueryNotFound: no such query (a file that failed to load names its error instead).
        """
        if name in self.queries:
            return self.queries[name]
        for error in self.errors:
            if error.name == name:
                raise QueryFileError(error.path, error.line, error.reason, name)
        raise QueryNotFound(name, sorted(self.queries))

    def finding_queries(self) -> list[SavedQuery]:
        """Queries with a ``kind:`` (their rows are findings), by name."""
        return [q for _, q in sorted(self.queries.items()) if q.finding is not None]

    def broken_names(self) -> set[str]:
        """Names of queries whose file failed to load (their findings must stay untouched)."""
        return {e.name for e in self.errors if e.name}


def default_queries_dir() -> Path:
    """``queries/`` of a source checkout, else the copy packed into the wheel."""
    checkout = Path(__file__).resolve().parent.parent.parent / "queries"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("graphsvc") / "_queries"))


def user_query_dirs(tree: Path, settings: Settings) -> list[Path]:
    """The user's query folders (GRAPHSVC_QUERY_DIRS), relative ones taken from ``tree``."""
    return [d if d.is_absolute() else tree / d for d in settings.query_dirs]


def schema_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory database with graphsvc's schema, for checking queries without a file."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    migrate(con, ":memory:")
    return con


def load_queries(
    builtin_dir: Path | None = None,
    user_dirs: Sequence[Path] = (),
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Catalog:
    """Load and check every ``*.sql`` of ``builtin_dir`` (default: the shipped queries) and of
    ``user_dirs``, in that order; errors are collected per file in ``Catalog.errors``.

    Args:
        builtin_dir: folder of the shipped queries.
        user_dirs: the user's query folders (GRAPHSVC_QUERY_DIRS); a missing folder is an error.
        con: a connection whose schema the queries are checked against (default: a fresh
            in-memory database migrated to the current schema).
    """
    catalog = Catalog()
    own = con is None
    check = schema_connection() if con is None else con
    try:
        folders: list[tuple[Path, Source]] = [(builtin_dir or default_queries_dir(), "builtin")]
        folders.extend((d, "user") for d in user_dirs)
        for folder, source in folders:
            if not folder.is_dir():
                catalog.errors.append(QueryFileError(str(folder), None, "no such query folder"))
                continue
            for path in sorted(folder.glob("*.sql")):
                _load_one(catalog, check, path, source)
    finally:
        if own:
            check.close()
    return catalog


def _load_one(catalog: Catalog, con: duckdb.DuckDBPyConnection, path: Path, source: Source) -> None:
    try:
        text = path.read_text(encoding="utf-8")
        header = parse_header(path, text)
        query = _validate(header, con, source)
    except QueryFileError as exc:
        catalog.errors.append(exc)
        return
    except (OSError, UnicodeDecodeError) as exc:
        catalog.errors.append(QueryFileError(str(path), None, f"cannot read: {exc}"))
        return
    if query.name in catalog.queries:
        first = catalog.queries[query.name].path
        catalog.errors.append(
            header.error("name", f"a query named {query.name!r} is already loaded from {first}")
        )
        return
    catalog.queries[query.name] = query


def _sql_error(header: Header, exc: BaseException) -> QueryFileError:
    """A DuckDB error at the file line it points at (``LINE n:`` is relative to the SQL)."""
    text = str(exc).strip()
    match = _LINE.search(text)
    line = header.sql_line + int(match[1]) - 1 if match else header.sql_line
    first = text.splitlines()[0] if text else type(exc).__name__
    first = first.removeprefix("query failed: ").removeprefix("query refused: ")
    return QueryFileError(str(header.path), line, f"SQL: {first}", header.values.get("name"))


def _validate(header: Header, con: duckdb.DuckDBPyConnection, source: Source) -> SavedQuery:
    spec = finding_spec(header)
    finder = header.values.get("finder")
    if finder is not None and finder not in FINDERS:
        raise header.error(
            "finder", f"unknown finder {finder!r}; known: {', '.join(finder_names())}"
        )
    try:
        duckdb.extract_statements(header.sql)
    except duckdb.Error as exc:
        raise _sql_error(header, exc) from exc
    try:
        statement = single_select(header.sql)
        check_parse_tree(con, header.sql, statement)
    except GraphsvcError as exc:
        raise _sql_error(header, getattr(exc, "reason", exc)) from exc
    fields = incremental_fields(header)
    partitioned = "partition" in fields
    if partitioned and any(p.name == "partition" for p in header.params):
        raise header.error("param", "$partition is the partition's; declare another name")
    _check_params(header, statement, implicit={"partition"} if partitioned else set())
    dummy: dict[str, object] = {
        p.name: p.default if not p.required else _DUMMY[p.type] for p in header.params
    }
    if partitioned:
        dummy["partition"] = None
    try:
        described = con.execute(f"DESCRIBE {statement}", dummy).fetchall()
    except duckdb.Error as exc:
        raise _sql_error(header, exc) from exc
    types = {str(row[0]): str(row[1]) for row in described}
    inputs, anchored = _incremental(header, con, fields)
    partition = None
    if partitioned:
        column = fields["partition"]
        if types.get(column) not in ("UBIGINT", "UBIGINT[]"):
            found = f"a {types[column]}" if column in types else "not in the output"
            raise header.error(
                "partition",
                f"partition: column {column!r} must be a UBIGINT key (hash(...)) or a list"
                f" of them; {found}",
            )
        partition = Partition(
            column, inputs["partition_keys"], anchored, _anchors_needed(header, fields, anchored)
        )
        del types[column]  # the refresh's, not an output column users see
    columns = tuple(types)
    order = sql_order(con, statement, columns) if finder is None else None
    if finder is not None:
        missing = [c for c in FINDERS[finder].inputs if c not in types]
        if missing:
            raise header.error(
                "finder", f"finder {finder} needs the columns {', '.join(missing)} in the output"
            )
        columns, types = FINDERS[finder].outputs, {}
    if spec is not None:
        spec = _check_columns(header, spec, columns, types)
    return SavedQuery(
        name=header.values["name"],
        title=header.values["title"],
        description=header.values.get("description", ""),
        params=tuple(header.params),
        sql=statement,
        path=header.path,
        source=source,
        columns=columns,
        finder=finder,
        finding=spec,
        depends_on=depends_on(header),
        partition=partition,
        file_inputs=inputs.get("file_inputs"),
        global_inputs=inputs.get("global_inputs"),
        order=order,
        input_terms=inputs.get("input_terms"),
        term_files=inputs.get("term_files"),
        file_guard=inputs.get("file_guard"),
    )


# field -> (the parameters its SELECT must use, the columns it must start with)
_INCREMENTAL = {
    "partition_keys": ({"files"}, [("file_id", "INTEGER"), ("key", "UBIGINT")]),
    "file_inputs": ({"files"}, [("file_id", "INTEGER")]),
    "global_inputs": (set[str](), []),
    "input_terms": (set[str](), [("term", "VARCHAR")]),
    "term_files": ({"terms"}, [("file_id", "INTEGER")]),
    "file_guard": ({"files"}, [("file_id", "INTEGER")]),
}


def _incremental(
    header: Header, con: duckdb.DuckDBPyConnection, fields: dict[str, str]
) -> tuple[dict[str, str], bool]:
    """The SELECTs of ``partition_keys``, ``file_inputs``, ``global_inputs``, ``input_terms``
    and ``term_files``, checked like the query itself (one SELECT, nothing it may not call or
    read) and against the schema; and whether ``partition_keys`` has a BOOLEAN ``anchor``
    column (see Partition)."""
    checked: dict[str, str] = {}
    anchored = False
    for key, (params, head) in _INCREMENTAL.items():
        if key not in fields:
            continue
        sql = fields[key]
        try:
            statement = single_select(sql)
            check_parse_tree(con, sql, statement)
            used = set(duckdb.extract_statements(statement)[0].named_parameters)
            # besides its own, the query's parameters that have a default (the refresh binds
            # those: it runs every finding query with its defaults)
            defaults = {p.name: p.default for p in header.params if not p.required}
            if not params <= used or used - params - defaults.keys():
                wanted = ", ".join(f"${p}" for p in sorted(params)) or "no parameters"
                raise header.error(
                    key,
                    f"{key}: the SELECT must use {wanted} (and may use the query's"
                    " parameters that have a default)",
                )
            bound = {name: [] for name in params} | {name: defaults[name] for name in used - params}
            described = con.execute(f"DESCRIBE {statement}", bound).fetchall()
        except duckdb.Error as exc:
            raise header.error(key, f"{key}: {str(exc).strip().splitlines()[0]}") from exc
        except QueryFileError:
            raise
        except GraphsvcError as exc:
            raise header.error(key, f"{key}: {getattr(exc, 'reason', exc)}") from exc
        columns = [(str(r[0]), str(r[1])) for r in described]
        if columns[: len(head)] != head:
            want = ", ".join(f"{n} {t}" for n, t in head) + ", ..."
            got = ", ".join(f"{n} {t}" for n, t in columns)
            raise header.error(key, f"{key}: the SELECT must give {want} (got {got})")
        anchor = dict(columns).get("anchor") if key == "partition_keys" else None
        if anchor not in (None, "BOOLEAN"):
            raise header.error(key, f"{key}: column anchor must be a BOOLEAN, not {anchor}")
        anchored = anchored or anchor is not None
        checked[key] = statement
    return checked, anchored


def _anchors_needed(header: Header, fields: dict[str, str], anchored: bool) -> int:
    """``anchors_needed``: a whole number from 1 (the default), with an ``anchor`` column."""
    text = fields.get("anchors_needed")
    if text is None:
        return 1
    if not text.strip().isdigit() or int(text) < 1:
        raise header.error("anchors_needed", f"anchors_needed: a whole number >= 1, not {text!r}")
    if not anchored:
        raise header.error(
            "anchors_needed", "anchors_needed: partition_keys needs a BOOLEAN anchor column"
        )
    return int(text)


def _check_params(header: Header, statement: str, implicit: set[str]) -> None:
    used = set(duckdb.extract_statements(statement)[0].named_parameters)
    declared = {p.name for p in header.params} | implicit
    if used - declared:
        name = sorted(used - declared)[0]
        raise header.error("param", f"the SQL uses ${name}, which no param: line declares")
    if declared - used:
        name = sorted(declared - used)[0]
        raise header.error("param", f"param ${name} is declared but the SQL never uses it")
    if any(p.isdigit() for p in used):
        raise header.error(None, "use $name parameters, not positional ones")


def _check_columns(
    header: Header, spec: FindingSpec, columns: tuple[str, ...], types: dict[str, str]
) -> FindingSpec:
    known = set(columns)

    def need(key: str, names: Iterable[str]) -> None:
        for name in names:
            if name not in known:
                raise header.error(
                    key,
                    f"{key}: column {name!r} is not in the query's output ({', '.join(columns)})",
                )

    for key in ("id", "hypothesis", "question", "severity", "confidence", "action"):
        need(key, getattr(spec, key).columns)
    for key in ("autonomy", "value", "cost", "capability_key"):
        need(key, getattr(spec, key).columns)
    need("evidence", spec.evidence)
    need("metadata", spec.metadata)
    locations = spec.locations
    if locations is None and "locations" in known:
        locations = "locations"
    if locations is not None:
        need("locations", [locations])
        kind = types.get(locations)
        if kind is not None and not (
            kind.startswith("STRUCT(")
            and kind.endswith("[]")
            and "path " in kind
            and "line " in kind
        ):
            raise header.error(
                "locations",
                f"locations: column {locations!r} must be a list of "
                f"{{'path': ..., 'line': ..., 'symbol': ...}} structs, not {kind}",
            )
    return dataclasses.replace(spec, locations=locations)
