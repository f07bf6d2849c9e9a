"""Options, exit codes and set-up shared by the ``graphsvc`` commands (defined once)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from graphsvc.config import Settings, db_path, load_settings
from graphsvc.errors import DatabaseError, DatabaseLocked
from graphsvc.formats import Format
from graphsvc.queries import Catalog, load_queries, user_query_dirs
from graphsvc.snapshot import snapshot_path

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_CANNOT_RUN = 2

TreeArg = Annotated[
    Path, typer.Argument(help="Tree to index (default: current directory)", show_default=False)
]
TreeOpt = Annotated[Path, typer.Option("--path", help="Tree whose default database to use")]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Database file [default: PATH/.graphsvc/graph.duckdb]"),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format")]
JobsOpt = Annotated[
    int | None, typer.Option("--jobs", "-j", help="Parser processes (0 = CPU count)")
]
ExcludeOpt = Annotated[
    list[str] | None, typer.Option(help="Extra gitignore-style pattern to leave out")
]
PythonOpt = Annotated[
    Path | None,
    typer.Option(help="Interpreter of the target environment (classifies outside imports)"),
]


def settings_for(tree: Path, db: Path | None, **flags: object) -> tuple[Settings, Path]:
    settings = load_settings(tree, db=db, **flags)
    return settings, db_path(tree, settings)


def snapshot_instead(database: Path, locked: DatabaseLocked, reading: str) -> Path:
    """The snapshot to read while a running service holds ``database`` (saying how old it is
    on stderr).

    Raises:
        DatabaseError: the service has published no snapshot yet.
    """
    snapshot = snapshot_path(database)
    if not snapshot.is_file():
        raise DatabaseError(
            str(database), f"{locked.reason}, and it has published no snapshot yet"
        ) from locked
    age = time.time() - snapshot.stat().st_mtime
    typer.echo(f"(database in use; {reading} its snapshot from {age:.0f} s ago)", err=True)
    return snapshot


def catalog_for(tree: Path, settings: Settings) -> Catalog:
    """The shipped and the user's saved queries; files that fail to load are named on stderr."""
    catalog = load_queries(None, user_query_dirs(tree, settings))
    for error in catalog.errors:
        typer.echo(f"graphsvc: saved query not loaded: {error}", err=True)
    return catalog
