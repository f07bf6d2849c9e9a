"""The docs match the product: README covers every command, setting and table; CI runs it."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from graphsvc.cli import app
from graphsvc.config import Settings
from graphsvc.schema import default_schema_dir

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    group = typer.main.get_group(app)
    names: list[str] = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        names.extend(f"{name} {s}" for s in sub) if sub else names.append(name)
    return sorted(names)


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert re.findall(r"^make (\w+)", first_block, re.M) == ["run", "test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
    assert "make test" in README.split("```")[1]


def test_every_command_is_documented() -> None:
    commands = _commands()
    assert commands == [
        "callees", "callers", "cycles", "export callgraph", "findings", "hardware", "imported-by",
        "imports",
        "index", "queries", "query", "serve", "shell", "sql", "summary", "sync",
    ]  # fmt: skip
    for command in commands:
        assert f"### `graphsvc {command}" in README, command


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"GRAPHSVC_{name.upper()}" in README, name


def test_every_table_is_documented() -> None:
    sql = "\n".join(p.read_text() for p in sorted(default_schema_dir().glob("*.sql")))
    tables = re.findall(r'CREATE TABLE "?(\w+)"?', sql)
    assert len(tables) >= 8
    for table in [*tables, "schema_migrations"]:
        assert f"| `{table}` |" in README, table
