"""Numbered SQL migrations in ``schema/NNNN_name.sql``, applied in order when a database opens."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from graphsvc.errors import DatabaseError, MigrationError, SchemaTooNew

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_TRACKING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
COMMENT ON TABLE schema_migrations IS 'Schema migrations applied to this database, one row each';
COMMENT ON COLUMN schema_migrations.version IS 'Number of the migration file (NNNN_name.sql)';
COMMENT ON COLUMN schema_migrations.name IS 'Name part of the migration file';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the migration was applied';
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str


def default_schema_dir() -> Path:
    """``schema/`` of a source checkout, else the copy packed into the wheel."""
    checkout = Path(__file__).resolve().parent.parent / "schema"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("graphsvc") / "_schema"))


def load_migrations(directory: Path) -> list[Migration]:
    """Migrations in ``directory`` in version order; a malformed name or a gap is an error."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(str(path), "migration files are named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                str(directory), f"expected migration {expected:04d}, found {migration.version:04d}"
            )
    return found


def applied_version(con: duckdb.DuckDBPyConnection) -> int:
    """Highest applied migration; 0 for an empty database."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
        " AND database_name = current_database()"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, db: str, directory: Path | None = None) -> int:
    """Bring the database to the newest schema; returns the version it is at.

    Each migration runs in its own transaction, so a failure leaves the previous version intact.

    Raises:
        SchemaTooNew: the database was written by a newer graphsvc.
        MigrationError: a migration file is malformed or failed.
    """
    migrations = load_migrations(directory or default_schema_dir())
    known = len(migrations)
    current = applied_version(con)
    if current > known:
        raise SchemaTooNew(db, current, known)
    for migration in migrations[current:]:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(_TRACKING)
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                [migration.version, migration.name],
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):  # a failed COMMIT has rolled back already
                con.execute("ROLLBACK")
            raise MigrationError(db, f"migration {migration.version:04d} failed: {exc}") from exc
    return known


def check_current(con: duckdb.DuckDBPyConnection, db: str, directory: Path | None = None) -> None:
    """For read-only opens: the database must be at exactly the schema this graphsvc knows."""
    known = len(load_migrations(directory or default_schema_dir()))
    current = applied_version(con)
    if current == 0:
        raise DatabaseError(db, "not a graphsvc database yet; run `graphsvc index` first")
    if current > known:
        raise SchemaTooNew(db, current, known)
    if current < known:
        raise DatabaseError(
            db, f"schema version {current} is older than {known}; run `graphsvc index` to migrate"
        )
