"""Declared dependencies against imports and the target environment (a real index of a fixture
tree, the real environment probe of this interpreter, a real DuckDB file)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import WriteTree

from graphsvc.config import load_settings
from graphsvc.findings import DependencySource, Refresher, all_findings
from graphsvc.findings.dependencies import declared, dependency_findings, normalize
from graphsvc.link.environment import probe
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree

FIXTURE = Path(__file__).parent / "fixtures" / "dependencies" / "tree"


def index(tree: Path, db: Path) -> list[tuple[str, str, list[str]]]:
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        found = dependency_findings(store, tree, probe())
    return [(f.hypothesis, f.evidence[0], [str(loc.line) for loc in f.locations]) for f in found]


def test_declarations_are_read_from_pyproject_and_requirements() -> None:
    found = declared(FIXTURE)
    assert found.files == ["pyproject.toml", "requirements.txt"]
    assert found.project == "fixture-app"
    assert found.names == {
        "psutil": "pyproject.toml",
        "pydantic": "pyproject.toml",
        "fixture-declared-missing": "pyproject.toml",
        "pytest": "pyproject.toml",
        "rich": "requirements.txt",
    }
    assert found.problems == []
    assert normalize("Foo_Bar.baz") == "foo-bar-baz"


def test_undeclared_imports_and_declared_but_missing(tmp_path: Path) -> None:
    tree = shutil.copytree(FIXTURE, tmp_path / "tree")
    assert index(tree, tmp_path / "g.duckdb") == [
        ("MISSING_CAPABILITY_DEPENDENCY_UNDECLARED_IMPORT_DUCKDB", "type: undeclared_import",
         ["3"]),
        ("MISSING_CAPABILITY_DEPENDENCY_UNDECLARED_IMPORT_TYPER", "type: undeclared_import",
         ["7"]),
        ("MISSING_CAPABILITY_DEPENDENCY_DECLARED_NOT_INSTALLED_FIXTURE_DECLARED_MISSING",
         "type: declared_not_installed", []),
    ]  # fmt: skip


def test_no_declaration_files_means_no_findings(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree({"m.py": "import duckdb\n"})
    assert index(tree, tmp_path / "g.duckdb") == []


def test_a_broken_pyproject_is_a_note_and_the_rest_is_read(
    write_tree: WriteTree, caplog: pytest.LogCaptureFixture
) -> None:
    tree = write_tree(
        {
            "pyproject.toml": "[project\n",
            "requirements-dev.txt": "duckdb\n",
            "m.py": "import duckdb\n",
        }
    )
    found = declared(tree)
    assert found.names == {"duckdb": "requirements-dev.txt"}
    assert found.problems and found.problems[0].startswith("pyproject.toml: ")
    assert "cannot read pyproject.toml" in caplog.text


def test_findings_go_through_the_feed_and_a_declaration_fixes_them(tmp_path: Path) -> None:
    tree = shutil.copytree(FIXTURE, tmp_path / "tree")
    settings = load_settings(tree, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        refresher = Refresher(load_queries(None, []), tree)
        source = DependencySource(tree, None)

        def batch() -> dict[str, int] | None:
            summary = index_tree(tree, store, settings)
            refresher.run(store, summary.batch_id, summary)
            result = source.refresh(refresher, store, summary.batch_id)
            return None if result is None else result.events

        assert batch() == {"new": 3}
        with (tree / "app" / "main.py").open("a") as out:  # an edit that changes no import
            out.write("\n\ndef g():\n    return 1\n")
        assert batch() is None and source.skipped == 1  # no import, declaration or env change
        requirements = tree / "requirements.txt"
        requirements.write_text(requirements.read_text() + "duckdb>=2\n")
        assert batch() == {"fixed": 1}
        fixed = [f for f in all_findings(store).values() if f.status == "fixed"]
        assert [f.hypothesis for f in fixed] == [
            "MISSING_CAPABILITY_DEPENDENCY_UNDECLARED_IMPORT_DUCKDB"
        ]
        (tree / "app" / "more.py").write_text("import duckdb\nimport typer\n")
        assert batch() == {"changed": 1}  # typer: a second importer
        assert source.skipped == 1


def test_cli_index_reports_dependency_findings(tmp_path: Path) -> None:
    tree = shutil.copytree(FIXTURE, tmp_path / "tree")
    done = subprocess.run(
        [sys.executable, "-m", "graphsvc", "index", str(tree)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "graphsvc", "findings", "--path", str(tree), "--kind",
         "missing_capability", "-f", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    found = {f["hypothesis"]: f for f in json.loads(listed.stdout)}
    assert "MISSING_CAPABILITY_DEPENDENCY_UNDECLARED_IMPORT_TYPER" in found
    assert found["MISSING_CAPABILITY_DEPENDENCY_UNDECLARED_IMPORT_TYPER"]["query"] == "dependencies"
    assert "MISSING_CAPABILITY_PACKAGE_FIXTURE_NOT_INSTALLED_ANYWHERE" in found
