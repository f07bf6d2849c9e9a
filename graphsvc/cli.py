"""The ``graphsvc`` command: parse arguments, call the library, format the output, exit.

Exit codes: 0 ok, 1 findings with --fail-on-findings, 2 could not run.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer

from graphsvc import cli_findings, cli_hardware, findings, navigate
from graphsvc.cli_options import (
    EXIT_CANNOT_RUN,
    DbOpt,
    ExcludeOpt,
    FormatOpt,
    JobsOpt,
    PythonOpt,
    TreeArg,
    TreeOpt,
    catalog_for,
    settings_for,
    snapshot_instead,
)
from graphsvc.config import Settings
from graphsvc.errors import (
    ConfigError,
    DatabaseLocked,
    GraphsvcError,
    ServiceError,
    TreeError,
)
from graphsvc.formats import Format, render
from graphsvc.sandbox import SandboxLimits, SqlSandbox
from graphsvc.snapshot import duckdb_cli, shell_snapshot
from graphsvc.store import QueryResult, Store
from graphsvc.update import IndexSummary, index_tree

app = typer.Typer(
    help="Incremental code-graph database for Python trees (tree-sitter + DuckDB).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
export_app = typer.Typer(help="Export parts of the graph.", no_args_is_help=True)
app.add_typer(export_app, name="export")


class LogFormat(enum.StrEnum):
    text = "text"
    json = "json"


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


@app.command()
def index(
    path: TreeArg = Path("."),
    db: DbOpt = None,
    jobs: JobsOpt = None,
    max_file_bytes: Annotated[
        int | None, typer.Option(help="Skip (and record) files larger than this")
    ] = None,
    exclude: ExcludeOpt = None,
    python: PythonOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary line")] = False,
) -> None:
    """Index PATH, or bring its database up to date (only changed files are parsed), and
    re-link the calls, references and imports the changes can affect."""
    if not path.is_dir():  # before anything creates PATH/.graphsvc
        raise TreeError(str(path), "no such directory" if not path.exists() else "not a directory")
    settings, database = settings_for(
        path, db, jobs=jobs, max_file_bytes=max_file_bytes, exclude=exclude, python=python
    )
    catalog = catalog_for(path, settings)
    with Store.open(database, memory_mb=settings.db_memory_mb) as store:
        summary = _index_with_progress(path, store, settings)
        # GRAPHSVC_DB_MEMORY_MB bounds the writer's page cache; the refresh reads the whole
        # graph (dead_code's reachability needs ~300 MB on a 1,400-file tree), so it gets the
        # limit the service gives every query
        store.con.execute("SET memory_limit = $limit", {"limit": settings.sql_memory_limit})
        refresher = findings.Refresher(catalog, path, settings.suppress)
        result = refresher.run(store, summary.batch_id)
        findings.DependencySource(path, settings.python).refresh(refresher, store, summary.batch_id)
        findings.CapabilitySource(path).refresh(refresher, store, summary)
        findings.ContractSource(path, settings.contracts).refresh(refresher, store, summary)
        findings.KnowledgeSource(
            path, settings.knowledge_index, settings.knowledge_index_sql, bool(settings.doc_globs)
        ).refresh(refresher, store, summary)
    if not quiet:
        typer.echo(f"{summary.line()} -> {database}", err=True)
        for failure in summary.failures[:10]:
            typer.echo(f"  failed: {failure}", err=True)
        typer.echo(result.line(), err=True)
        for name, error in result.failed.items():
            typer.echo(f"  finding query {name} failed: {error}", err=True)


def _index_with_progress(path: Path, store: Store, settings: Settings) -> IndexSummary:
    if not sys.stderr.isatty():
        return index_tree(path, store, settings)
    # rich loads here, not at start: `graphsvc serve` never draws a bar (#5)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

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
    query: Annotated[str, typer.Argument(help="One read-only SELECT")],
    db: DbOpt = None,
    path: TreeOpt = Path("."),
    fmt: FormatOpt = Format.table,
    max_rows: Annotated[int | None, typer.Option(help="Row limit", min=0)] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Time limit in seconds", min=0.001)
    ] = None,
) -> None:
    """Run one read-only SELECT over the graph, sandboxed (no writes, no settings, no file or
    network access, time, memory and row limits). While a service holds the database, its
    snapshot is queried."""
    settings, database = settings_for(path, db, sql_max_rows=max_rows, sql_timeout_s=timeout)
    limits = SandboxLimits(
        max_rows=settings.sql_max_rows,
        timeout_s=settings.sql_timeout_s,
        memory_limit=settings.sql_memory_limit,
    )
    with _sandbox(database, limits) as sandbox:
        result = sandbox.run(query)
    typer.echo(render(result.columns, result.rows, fmt))
    if result.truncated:
        typer.echo(f"(stopped at {limits.max_rows} rows; use --max-rows)", err=True)


def _sandbox(database: Path, limits: SandboxLimits) -> SqlSandbox:
    """A sandbox on ``database``, or on its snapshot while a running service holds it."""
    try:
        return SqlSandbox.open(database, limits)
    except DatabaseLocked as exc:
        return SqlSandbox.open(snapshot_instead(database, exc, "querying"), limits)


app.command("queries")(cli_findings.queries_)
app.command("query")(cli_findings.query)
app.command("findings")(cli_findings.findings_)
app.command("hardware")(cli_hardware.hardware)


@app.command()
def summary(db: DbOpt = None, path: TreeOpt = Path(".")) -> None:
    """Row counts of the graph (links by site and status), and queries worth trying first."""
    _, database = settings_for(path, db)
    with Store.open(database, read_only=True) as store:
        counts = store.summary()
    typer.echo(render(["what", "rows"], sorted(counts.items()), Format.table))
    typer.echo("\nTry:")
    program = sys.argv[0] if Path(sys.argv[0]).name == "graphsvc" else "python -m graphsvc"
    for title, query in SUGGESTED_QUERIES:
        typer.echo(f'  # {title}\n  {program} sql --db {database} "{query}"\n')
    typer.echo(f"  # Or open the graph in the duckdb shell:\n  {program} shell --db {database}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def shell(ctx: typer.Context, db: DbOpt = None, path: TreeOpt = Path(".")) -> None:
    """Open the duckdb shell, read-only, on a snapshot of the graph (no lock errors while a
    service runs). Arguments after -- go to duckdb, e.g. -- -c "SELECT count(*) FROM files".

    With no service running, a fresh snapshot is published first; while one runs, its latest
    snapshot is opened.
    """
    _, database = settings_for(path, db)
    snapshot, fresh = shell_snapshot(database)
    program = duckdb_cli()
    if not fresh:
        age = time.time() - snapshot.stat().st_mtime
        typer.echo(f"(database in use; opening its snapshot from {age:.0f} s ago)", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(program, [str(program), "-readonly", str(snapshot), *ctx.args])


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
    _, database = settings_for(path, db)
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
    _, database = settings_for(path, db)
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
    _, database = settings_for(path, db)
    with Store.open(database, read_only=True) as store:
        groups = (
            navigate.call_cycles(store)
            if calls
            else navigate.import_cycles(store, include_type_checking=type_checking)
        )
    rows = [(len(group), ", ".join(group)) for group in groups]
    typer.echo(render(["size", "members"], rows, fmt))


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a batch's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        batch = getattr(record, "batch", None)
        if isinstance(batch, dict):
            entry["batch"] = batch
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _serve_logging(log_format: LogFormat) -> None:
    root = logging.getLogger()
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)  # one line per batch
    if log_format is LogFormat.json:
        for handler in root.handlers:
            handler.setFormatter(_JsonFormatter())


@app.command()
def serve(
    path: TreeArg = Path("."),
    db: DbOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8765,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="text, or json: one object per line")
    ] = LogFormat.text,
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request")] = False,
    jobs: JobsOpt = None,
    exclude: ExcludeOpt = None,
    python: PythonOpt = None,
) -> None:
    """Bring the database up to date with PATH, then watch PATH and re-index what changes,
    serving the HTTP API (/health, /status, POST /sync, /docs) until SIGINT or SIGTERM."""
    if not path.is_dir():
        raise TreeError(str(path), "no such directory" if not path.exists() else "not a directory")
    settings, database = settings_for(path, db, jobs=jobs, exclude=exclude, python=python)
    _serve_logging(log_format)
    from graphsvc.api import is_loopback, run_server  # FastAPI and uvicorn load only here
    from graphsvc.service import Service, index_in_child

    if settings.token is None and not is_loopback(host):
        raise ConfigError(
            f"serving on {host} (not loopback) needs a bearer token: set GRAPHSVC_TOKEN "
            "(every endpoint but /health will require it), or bind 127.0.0.1"
        )

    started = time.perf_counter()
    code = index_in_child(path, settings, database)  # the heavy first pass, then a small heap
    logging.getLogger(__name__).log(
        logging.INFO if code == 0 else logging.WARNING,
        "start-up index in a child process: %s in %.2f s",
        "done" if code == 0 else f"failed (exit code {code}); the service reconciles",
        time.perf_counter() - started,
    )
    with Store.open(database) as store:
        service = Service(path, store, settings)
        service.start()
        try:
            run_server(service, host, port, access_log=access_log)
        finally:
            logging.getLogger(__name__).info("stopping: finishing the batch in progress")
            service.stop()
    logging.getLogger(__name__).info("stopped; %s closed", database)


@app.command()
def sync(
    url: Annotated[str, typer.Option(help="The service's address")] = "http://127.0.0.1:8765",
    timeout: Annotated[float | None, typer.Option(help="Deadline in seconds")] = None,
) -> None:
    """Wait until every change made to the served tree before this command is queryable;
    prints the batch (as_of) that covers it."""
    target = url.rstrip("/") + "/sync" + (f"?timeout={timeout}" if timeout else "")
    request = urllib.request.Request(target, method="POST")
    token = os.environ.get("GRAPHSVC_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=(timeout or 3600) + 10) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise ServiceError(url, f"HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, TimeoutError) as exc:
        raise ServiceError(url, f"no answer ({getattr(exc, 'reason', exc)})") from exc
    typer.echo(
        f"in sync as of batch {answer['as_of']} ({answer['method']}, {answer['waited_ms']:.0f} ms)"
    )


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
