"""``graphsvc queries``, ``graphsvc query`` and ``graphsvc findings``: saved queries and the
findings feed from the command line (registered on the app in :mod:`graphsvc.cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from graphsvc import findings
from graphsvc.cli_options import (
    EXIT_CANNOT_RUN,
    EXIT_FINDINGS,
    DbOpt,
    FormatOpt,
    TreeOpt,
    catalog_for,
    settings_for,
    snapshot_instead,
)
from graphsvc.errors import DatabaseLocked
from graphsvc.formats import Format, render
from graphsvc.queries import SavedQuery, run_rows
from graphsvc.store import Store


def _read_store(database: Path) -> Store:
    """``database`` opened read-only, or its snapshot while a running service holds it."""
    try:
        return Store.open(database, read_only=True)
    except DatabaseLocked as exc:
        return Store.open(snapshot_instead(database, exc, "reading"), read_only=True)


def _param_text(query: SavedQuery) -> str:
    parts: list[str] = []
    for p in query.params:
        default = "required" if p.required else f"= {'NULL' if p.default is None else p.default}"
        parts.append(f"${p.name} {p.type} {default}")
    return "; ".join(parts)


def queries_(path: TreeOpt = Path("."), fmt: FormatOpt = Format.table) -> None:
    """List the saved queries (shipped and GRAPHSVC_QUERY_DIRS): name, kind, parameters, title.
    Files that fail to load are named on stderr with their line, and the exit code is 2."""
    settings, _ = settings_for(path, None)
    catalog = catalog_for(path, settings)
    rows = [
        (q.name, q.kind, q.source, _param_text(q), q.title, str(q.path))
        for _, q in sorted(catalog.queries.items())
    ]
    typer.echo(render(["name", "kind", "source", "params", "title", "file"], rows, fmt))
    if catalog.errors:
        raise typer.Exit(EXIT_CANNOT_RUN)


def _params(values: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected k=v, got {item!r}", param_hint="--param")
        params[key.strip()] = value
    return params


_FINDING_COLUMNS = ["id", "status", "severity", "hypothesis", "question", "locations", "evidence"]


def query(
    name: Annotated[str, typer.Argument(help="Saved query name (see graphsvc queries)")],
    db: DbOpt = None,
    path: TreeOpt = Path("."),
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Parameter as k=v (repeatable)")
    ] = None,
    fmt: FormatOpt = Format.table,
    fail_on_findings: Annotated[
        bool,
        typer.Option(help="Exit 1 when there are findings (open ones; rows of a plain query)"),
    ] = False,
    rows_only: Annotated[
        bool, typer.Option("--rows", help="A finding query's own rows instead of its findings")
    ] = False,
) -> None:
    """Run the saved query NAME on the graph. A finding query prints its findings (id, status,
    severity, hypothesis, question, locations, evidence; suppressions applied), others their rows.
    """
    settings, database = settings_for(path, db)
    catalog = catalog_for(path, settings)
    saved = catalog.get(name)
    with _read_store(database) as store:
        rows = run_rows(store, saved, _params(param))
        if saved.finding is None or rows_only:
            columns = list(saved.columns)
            table = [tuple(r.get(c) for c in columns) for r in rows]
            count = len(table)
        else:
            found = [findings.render(saved, r) for r in rows]
            reasons = findings.Suppressor(path, settings.suppress).reasons(store, found)
            columns = _FINDING_COLUMNS
            table = [
                (
                    f.id,
                    "suppressed" if f.id in reasons else "open",
                    f.severity,
                    f.hypothesis,
                    f.question,
                    [f"{loc.path}:{loc.line}" for loc in f.locations],
                    list(f.evidence),
                )
                for f in found
            ]
            count = sum(1 for row in table if row[1] == "open")
    typer.echo(render(columns, table, fmt))
    if fail_on_findings and count:
        raise typer.Exit(EXIT_FINDINGS)


def findings_(
    db: DbOpt = None,
    path: TreeOpt = Path("."),
    since: Annotated[
        int | None, typer.Option(help="Only findings changed after this event seq")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status: open, suppressed or fixed")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many", min=1)] = 1000,
    fmt: FormatOpt = Format.table,
) -> None:
    """The stored findings (as of the last index or batch), in id order."""
    _, database = settings_for(path, db)
    with _read_store(database) as store:
        page = findings.list_findings(
            store, since=since, kind=kind, status=status, limit=min(limit, findings.MAX_LIMIT)
        )
    if fmt is Format.json:
        typer.echo(json.dumps([f.to_dict() for f in page.findings], indent=2, ensure_ascii=False))
        return
    rows = [
        (
            f.id,
            f.status,
            f.severity,
            f.hypothesis,
            [f"{loc.path}:{loc.line}" for loc in f.locations],
            f.last_changed.seq if f.last_changed else None,
        )
        for f in page.findings
    ]
    typer.echo(render(["id", "status", "severity", "hypothesis", "locations", "seq"], rows, fmt))
