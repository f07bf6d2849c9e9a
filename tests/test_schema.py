"""Migrations: applied at open, older databases migrated, newer ones refused; all commented."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from graphsvc.config import load_settings
from graphsvc.errors import DatabaseError, MigrationError, SchemaTooNew
from graphsvc.schema import default_schema_dir, load_migrations
from graphsvc.store import Store
from graphsvc.update import index_tree


def test_new_database_has_every_table_and_column_commented(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        tables = store.query(
            "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = 'g'"
        ).rows
        columns = store.query(
            "SELECT table_name, column_name, comment FROM duckdb_columns()"
            " WHERE database_name = 'g'"
        ).rows
    names = {t for t, _ in tables}
    assert {"files", "modules", "symbols", "imports", "calls", "references"} <= names
    assert {"attributes", "parse_errors", "schema_migrations"} <= names
    assert [t for t, comment in tables if not comment] == []
    assert [(t, c) for t, c, comment in columns if not comment] == []


def test_older_database_is_migrated(tmp_path: Path) -> None:
    old = tmp_path / "old_schema"
    old.mkdir()
    shutil.copy(default_schema_dir() / "0001_init.sql", old / "0001_init.sql")
    db = tmp_path / "g.duckdb"
    Store.open(db, schema_dir=old).close()
    new = tmp_path / "new_schema"
    shutil.copytree(old, new)
    (new / "0002_notes.sql").write_text(
        "ALTER TABLE files ADD COLUMN note VARCHAR;\nCOMMENT ON COLUMN files.note IS 'a note';\n"
    )
    with Store.open(db, schema_dir=new) as store:
        versions = store.query("SELECT version, name FROM schema_migrations ORDER BY 1").rows
        cols = store.query("SELECT column_name FROM duckdb_columns() WHERE table_name='files'")
    assert versions == [(1, "init"), (2, "notes")]
    assert ("note",) in cols.rows


def test_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "g.duckdb"
    Store.open(db).close()
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
    con.close()
    with pytest.raises(SchemaTooNew, match="schema version 99 is newer"):
        Store.open(db)
    with pytest.raises(SchemaTooNew):
        Store.open(db, read_only=True)


def test_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    schema = tmp_path / "schema"
    shutil.copytree(default_schema_dir(), schema)
    db = tmp_path / "g.duckdb"
    Store.open(db, schema_dir=schema).close()
    latest = len(list(schema.glob("*.sql")))
    broken = f"{latest + 1:04d}"
    (schema / f"{broken}_broken.sql").write_text("ALTER TABLE nowhere ADD COLUMN x INT;")
    with pytest.raises(MigrationError, match=f"migration {broken} failed"):
        Store.open(db, schema_dir=schema)
    with Store.open(db) as store:
        assert store.query("SELECT max(version) FROM schema_migrations").rows == [(latest,)]


def test_migration_files_must_be_numbered_without_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="expected migration 0002"):
        load_migrations(tmp_path)
    (tmp_path / "notes.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        load_migrations(tmp_path)


def test_read_only_open_of_missing_or_foreign_database(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=r"run `graphsvc index` first"):
        Store.open(tmp_path / "missing.duckdb", read_only=True)
    foreign = tmp_path / "foreign.duckdb"
    duckdb.connect(str(foreign)).close()
    with pytest.raises(DatabaseError, match="not a graphsvc database"):
        Store.open(foreign, read_only=True)


def test_channel_digests_of_a_database_from_before_them(tmp_path: Path) -> None:
    """0015 adds the per-file channel digests; a database indexed before it gets them from one
    full re-link, equal to those of a cold index."""
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("", "utf-8")
    (tree / "pkg" / "topics.py").write_text('ORDERS = "orders"\n', "utf-8")
    (tree / "pkg" / "worker.py").write_text(
        "import queue\nfrom pkg.topics import ORDERS\n\njobs = queue.Queue()\n\n\n"
        "def feed():\n    jobs.put(ORDERS)\n",
        "utf-8",
    )
    settings = load_settings(tree, jobs=1)
    digests = "SELECT f.path, c.digest, c.facts FROM channel_inputs c JOIN files f USING (file_id)"
    with Store.open(tmp_path / "cold.duckdb") as cold:
        index_tree(tree, cold, settings)
        expected = sorted(cold.query(digests).rows)
    assert expected and any(facts for _, _, facts in expected)
    db = tmp_path / "g.duckdb"
    with Store.open(db) as store:
        index_tree(tree, store, settings)
    con = duckdb.connect(str(db))  # back to what 0014 left: no table, no migration row
    con.execute("DROP TABLE channel_inputs")
    con.execute("DELETE FROM schema_migrations WHERE version >= 15")  # and the later ones
    con.close()
    with Store.open(db) as store:
        assert store.query("SELECT count(*) FROM channel_inputs").rows == [(0,)]
        summary = index_tree(tree, store, settings)
        assert summary.relinked is None  # everything was re-linked
        assert sorted(store.query(digests).rows) == expected


def test_doc_mention_status_of_a_database_from_before_0017(tmp_path: Path) -> None:
    """0017 rewrites doc_mention_status (names looked up from the mentions' side); a database
    indexed before it is migrated at open, and the view's rows are those 0013's view gave:
    modules, re-exports, class attributes, methods by Class.method, bare names, files,
    folders, and the missing ones with their reasons."""
    tree = tmp_path / "tree"
    (tree / "pkg" / "sub").mkdir(parents=True)
    (tree / "docs").mkdir()
    (tree / "pkg" / "__init__.py").write_text("from pkg.models import Order as Purchase\n")
    (tree / "pkg" / "sub" / "__init__.py").write_text("")
    (tree / "pkg" / "models.py").write_text(
        "class Order:\n    def __init__(self):\n        self.status = 'new'\n\n"
        "    def total(self):\n        return sum(self.items())\n\n"
        "    def items(self):\n        return []\n\n\n"
        "class Base(dict):\n    pass\n\n\ndef total():\n    return Order().total()\n"
    )
    (tree / "docs" / "guide.md").write_text(
        "# Guide\n\n`pkg.models` holds `pkg.models.Order`, whose `pkg.models.Order.total` and\n"
        "`Order.total()` sum it into `pkg.models.Order.status`; `pkg.Purchase` is the same.\n"
        "Gone: `pkg.models.Order.gone`, `pkg.models.nothing`, `pkg.models.Base.maybe`,\n"
        "`pkg.nowhere.at_all`, `total`, `items`. Files: `pkg/models.py`, [sub](../pkg/sub),\n"
        "[pkg](../pkg), `pkg/gone.py`, `docs/guide.md`, `elsewhere/x.py`.\n"
    )
    settings = load_settings(tree, jobs=1)
    old = tmp_path / "schema_0016"
    old.mkdir()
    for migration in sorted(default_schema_dir().glob("*.sql"))[:16]:
        shutil.copy(migration, old / migration.name)
    rows = "SELECT * EXCLUDE (doc_id) FROM doc_mention_status ORDER BY ALL"
    db = tmp_path / "g.duckdb"
    with Store.open(db, schema_dir=old) as store:
        index_tree(tree, store, settings)
        before = store.query(rows).rows
    with Store.open(db) as store:
        assert store.query("SELECT max(version) FROM schema_migrations").rows == [(17,)]
        after = store.query(rows).rows
        sql = store.query("SELECT sql FROM duckdb_views() WHERE view_name = 'doc_mention_status'")
    assert "said AS" in sql.rows[0][0]
    assert after == before
    status = {(r[7], r[10], r[11], r[12]) for r in before}  # target, resolved, entity, kind
    assert ("pkg.Purchase", True, "pkg.Purchase", "import") in status
    assert ("pkg.models.Order.status", True, "pkg.models.Order.status", "attribute") in status
    assert ("Order.total", True, "pkg.models.Order.total", "method") in status
    assert any(r[7] == "pkg.models.Order.gone" and r[-1] for r in before)  # a missing reason
    assert any(r[12] == "folder" for r in before)
