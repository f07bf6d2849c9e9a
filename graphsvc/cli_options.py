"""Options, exit codes and set-up shared by the ``graphsvc`` commands (defined once)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from graphsvc.config import Settings, db_path, load_settings
from graphsvc.formats import Format
from graphsvc.queries import Catalog, load_queries, user_query_dirs

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


def settings_for(tree: Path, db: Path | None, **flags: object) -> tuple[Settings, Path]:
    settings = load_settings(tree, db=db, **flags)
    return settings, db_path(tree, settings)


def catalog_for(tree: Path, settings: Settings) -> Catalog:
    """The shipped and the user's saved queries; files that fail to load are named on stderr."""
    catalog = load_queries(None, user_query_dirs(tree, settings))
    for error in catalog.errors:
        typer.echo(f"graphsvc: saved query not loaded: {error}", err=True)
    return catalog
