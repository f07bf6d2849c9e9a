"""The ``graphsvc`` command: parse arguments, call the library, format the output, exit.

Exit codes: 0 ok, 1 findings with --fail-on-findings (later), 2 could not run.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from graphsvc import navigate
from graphsvc.config import Settings, db_path, load_settings
from graphsvc.errors import GraphsvcError, TreeError
from graphsvc.formats import Format, render
from graphsvc.store import QueryResult, Store
from graphsvc.update import IndexSummary, index_tree

EXIT_OK = 0
EXIT_CANNOT_RUN = 2

app = typer.Typer(
    help="Incremental code-graph database for Python trees (tree-sitter + DuckDB).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
export_app = typer.Typer(help="Export parts of the graph.", no_args_is_help=True)
app.add_typer(export_app, name="export")

TreeArg = Annotated[
    Path, typer.Argument(help="Tree to index (default: current directory)", show_default=False)
]
TreeOpt = Annotated[Path, typer.Option("--path", help="Tree whose default database to use")]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Database file [default: PATH/.graphsvc/graph.duckdb]"),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format")]

_state = {"debug": False}
SUGGESTED_QUERIES = (
    (
        "Biggest modules by number of definitions",
        "SELECT f.path, count(*) AS symbols FROM symbols s JOIN files f USING (file_id) "
        "GROUP BY f.path ORDER BY symbols DESC LIMIT 10",
    ),
    (
        "Most called functions, resolved across files",
        "SELECT callee, count(*) AS calls FROM call_edges WHERE status = 'resolved' "
        "GROUP BY callee ORDER BY calls DESC LIMIT 10",
    ),
    (
        "Imports that lead nowhere, and why",
        "SELECT importer, expression, reason FROM import_edges WHERE status = 'unresolved' "
        "ORDER BY importer LIMIT 20",
    ),
    (
        "Files that did not parse cleanly",
        "SELECT f.path, e.line, e.kind, e.message FROM parse_errors e "
        "JOIN files f USING (file_id) ORDER BY f.path, e.line LIMIT 20",
    ),
)


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each batch")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Tracebacks on errors")] = False,
) -> None:
    """Index a Python tree into DuckDB and query it."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _state["debug"] = debug


def _settings(tree: Path, db: Path | None, **flags: object) -> tuple[Settings, Path]:
    settings = load_settings(tree, db=db, **flags)
    return settings, db_path(tree, settings)


@app.command()
def index(
    path: TreeArg = Path("."),
    db: DbOpt = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Parser processes (0 = CPU count)")
    ] = None,
    max_file_bytes: Annotated[
        int | None, typer.Option(help="Skip (and record) files larger than this")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Extra gitignore-style pattern to leave out")
    ] = None,
    python: Annotated[
        Path | None,
        typer.Option(help="Interpreter of the target environment (classifies outside imports)"),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary line")] = False,
) -> None:
    """Index PATH, or bring its database up to date (only changed files are parsed), and
    re-link the calls, references and imports the changes can affect."""
    if not path.is_dir():  # before anything creates PATH/.graphsvc
        raise TreeError(str(path), "no such directory" if not path.exists() else "not a directory")
    settings, database = _settings(
        path, db, jobs=jobs, max_file_bytes=max_file_bytes, exclude=exclude, python=python
    )
    with Store.open(database, memory_mb=settings.db_memory_mb) as store:
        summary = _index_with_progress(path, store, settings)
    if not quiet:
        typer.echo(f"{summary.line()} -> {database}", err=True)
        for failure in summary.failures[:10]:
            typer.echo(f"  failed: {failure}", err=True)


def _index_with_progress(path: Path, store: Store, settings: Settings) -> IndexSummary:
    if not sys.stderr.isatty():
        return index_tree(path, store, settings)
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("parsing", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return index_tree(path, store, settings, advance)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query")],
    db: DbOpt = None,
    path: TreeOpt = Path("."),
    fmt: FormatOpt = Format.table,
    max_rows: Annotated[int | None, typer.Option(help="Row limit", min=0)] = None,
) -> None:
    """Run read-only SQL over the graph (no writes, no file or network access)."""
    settings, database = _settings(path, db)
    limit = max_rows if max_rows is not None else settings.sql_max_rows
    with Store.open(database, read_only=True) as store:
        result = store.query(query, max_rows=limit)
    typer.echo(render(result.columns, result.rows, fmt))
    if result.truncated:
        typer.echo(f"(stopped at {limit} rows; use --max-rows)", err=True)


@app.command()
def summary(db: DbOpt = None, path: TreeOpt = Path(".")) -> None:
    """Row counts of the graph (links by site and status), and queries worth trying first."""
    _, database = _settings(path, db)
    with Store.open(database, read_only=True) as store:
        counts = store.summary()
    typer.echo(render(["what", "rows"], sorted(counts.items()), Format.table))
    typer.echo("\nTry:")
    program = sys.argv[0] if Path(sys.argv[0]).name == "graphsvc" else "python -m graphsvc"
    for title, query in SUGGESTED_QUERIES:
        typer.echo(f'  # {title}\n  {program} sql --db {database} "{query}"\n')
    typer.echo(f"  # Or open the graph in the duckdb shell:\n  duckdb -readonly {database}")


@export_app.command("callgraph")
def export_callgraph(
    db: DbOpt = None,
    path: TreeOpt = Path("."),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE")] = None,
    ambiguous: Annotated[
        bool, typer.Option("--ambiguous", help="Also every candidate of ambiguous calls")
    ] = False,
) -> None:
    """JSON adjacency {caller: [callees]} of the resolved call graph; every definition a key.

    Edges: resolved, external (os.path.join) and builtin (<builtin>.len) calls.
    """
    _, database = _settings(path, db)
    with Store.open(database, read_only=True) as store:
        graph = navigate.callgraph(store, ambiguous=ambiguous)
    text = json.dumps(graph, indent=1, sort_keys=True)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


SymbolArg = Annotated[str, typer.Argument(help="Qualified name, e.g. pkg.mod.Class.method")]
ModuleArg = Annotated[str, typer.Argument(help="Dotted module name, e.g. pkg.mod")]
NoAmbiguousOpt = Annotated[
    bool, typer.Option("--no-ambiguous", help="Leave out candidates of ambiguous calls")
]


def _navigate(
    db: Path | None, path: Path, fmt: Format, answer: Callable[[Store], QueryResult]
) -> None:
    _, database = _settings(path, db)
    with Store.open(database, read_only=True) as store:
        result = answer(store)
    typer.echo(render(result.columns, result.rows, fmt))


@app.command()
def callers(
    symbol: SymbolArg,
    db: DbOpt = None,
    path: TreeOpt = Path("."),
    fmt: FormatOpt = Format.table,
    no_ambiguous: NoAmbiguousOpt = False,
) -> None:
    """Call sites that call SYMBOL (for a class: also its __init__)."""
    _navigate(db, path, fmt, lambda s: navigate.callers(s, symbol, not no_ambiguous))


@app.command()
def callees(
    symbol: SymbolArg,
    db: DbOpt = None,
    path: TreeOpt = Path("."),
    fmt: FormatOpt = Format.table,
    no_ambiguous: NoAmbiguousOpt = False,
) -> None:
    """What SYMBOL calls, unresolved calls included (with the reason)."""
    _navigate(db, path, fmt, lambda s: navigate.callees(s, symbol, not no_ambiguous))


@app.command("imports")
def imports_(
    module: ModuleArg, db: DbOpt = None, path: TreeOpt = Path("."), fmt: FormatOpt = Format.table
) -> None:
    """What MODULE imports: internal, stdlib, external or unresolved, after re-exports."""
    _navigate(db, path, fmt, lambda s: navigate.imports(s, module))


@app.command("imported-by")
def imported_by(
    module: ModuleArg, db: DbOpt = None, path: TreeOpt = Path("."), fmt: FormatOpt = Format.table
) -> None:
    """Modules that import MODULE or a name defined in it."""
    _navigate(db, path, fmt, lambda s: navigate.imported_by(s, module))


@app.command()
def cycles(
    db: DbOpt = None,
    path: TreeOpt = Path("."),
    fmt: FormatOpt = Format.table,
    calls: Annotated[
        bool, typer.Option("--calls", help="Call cycles (recursion) instead of import cycles")
    ] = False,
    type_checking: Annotated[
        bool, typer.Option("--type-checking", help="Count imports under if TYPE_CHECKING")
    ] = False,
) -> None:
    """Import cycles between modules of the tree (or call cycles), largest first."""
    _, database = _settings(path, db)
    with Store.open(database, read_only=True) as store:
        groups = (
            navigate.call_cycles(store)
            if calls
            else navigate.import_cycles(store, include_type_checking=type_checking)
        )
    rows = [(len(group), ", ".join(group)) for group in groups]
    typer.echo(render(["size", "members"], rows, fmt))


def main() -> None:
    """Console-script entry point: map graphsvc errors to exit code 2 with a clear message.

    Usage errors (unknown option, bad --format) are typer's: usage text and exit code 2.
    """
    # Arrow's default allocator (jemalloc) keeps freed memory for reuse: the facts batches
    # passing through left ~30 MB more resident in a cold index than malloc does.
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        app()
    except (GraphsvcError, OSError) as exc:  # OSError: an --output or --db path we cannot use
        if _state["debug"]:
            raise
        typer.echo(f"graphsvc: error: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
