"""The command line, run as a user runs it: a real process, a real database, the duckdb shell."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import WriteTree

from graphsvc.cli import SUGGESTED_QUERIES
from graphsvc.store import Store

APP = {
    "pyproject.toml": "[project]\nname = 'app'\n",
    "src/app/__init__.py": "from .core import run\n",
    "src/app/core.py": (
        "import os\n\n\ndef helper():\n    return os.getcwd()\n\n\n"
        "def run():\n    return helper()\n"
    ),
    "src/app/broken.py": "def ok():\n    pass\n\ndef bad(:\n    pass\n",
}


def graphsvc(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graphsvc", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def indexed(write_tree: WriteTree) -> Path:
    tree = write_tree(APP)
    result = graphsvc("index", tree)
    assert result.returncode == 0, result.stderr
    return tree


def test_index_prints_a_summary_and_reindex_parses_nothing(write_tree: WriteTree) -> None:
    tree = write_tree(APP)
    first = graphsvc("index", tree)
    assert first.returncode == 0
    assert "files seen=3 parsed=3" in first.stderr and "partial=1" in first.stderr
    assert (tree / ".graphsvc" / "graph.duckdb").is_file()
    second = graphsvc("index", tree)
    assert "parsed=0 unchanged=3" in second.stderr
    (tree / "src/app/core.py").unlink()
    third = graphsvc("index", tree)
    assert "parsed=0" in third.stderr and "removed=1" in third.stderr


def test_sql_formats(indexed: Path) -> None:
    query = "SELECT qualname, kind FROM symbols WHERE qualname LIKE 'app.core%' ORDER BY 1"
    as_json = graphsvc("sql", query, "--path", indexed, "--format", "json")
    assert json.loads(as_json.stdout) == [
        {"qualname": "app.core", "kind": "module"},
        {"qualname": "app.core.helper", "kind": "function"},
        {"qualname": "app.core.run", "kind": "function"},
    ]
    as_csv = graphsvc("sql", query, "--path", indexed, "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.stdout)))[:2] == [
        ["qualname", "kind"],
        ["app.core", "module"],
    ]
    as_table = graphsvc("sql", query, "--path", indexed)
    assert "app.core.helper" in as_table.stdout and "function" in as_table.stdout


def test_sql_is_read_only_and_errors_exit_2(indexed: Path) -> None:
    write = graphsvc("sql", "DELETE FROM files", "--path", indexed)
    assert write.returncode == 2
    assert "graphsvc: error: query refused: DELETE statements are not allowed" in write.stderr
    assert "Traceback" not in write.stderr
    missing = graphsvc("sql", "SELECT 1", "--db", indexed / "nope.duckdb")
    assert missing.returncode == 2 and "run `graphsvc index` first" in missing.stderr
    count = graphsvc("sql", "SELECT count(*) AS n FROM files", "--path", indexed, "-f", "json")
    assert json.loads(count.stdout) == [{"n": 3}]


def test_sql_row_limit(indexed: Path) -> None:
    query = "SELECT * FROM range(50)"
    result = graphsvc("sql", query, "--path", indexed, "-f", "json", "--max-rows", "5")
    assert len(json.loads(result.stdout)) == 5
    assert "stopped at 5 rows" in result.stderr


def test_export_callgraph(indexed: Path, tmp_path: Path) -> None:
    out = tmp_path / "cg.json"
    result = graphsvc("export", "callgraph", "--path", indexed, "-o", out)
    assert result.returncode == 0, result.stderr
    graph = json.loads(out.read_text())
    assert graph["app.core.run"] == ["app.core.helper"]
    assert graph["app.core.helper"] == ["os.getcwd"]
    assert graph["app"] == []  # every module is a key, even without calls
    assert "app.broken.ok" in graph and "app.broken.bad" in graph


def test_summary_suggests_queries(indexed: Path) -> None:
    result = graphsvc("summary", "--path", indexed)
    assert result.returncode == 0
    assert "files_ok" in result.stdout and "files_partial" in result.stdout
    # Each suggestion is printed as this process was started, and each one runs.
    assert result.stdout.count("-m graphsvc sql --db") == len(SUGGESTED_QUERIES)
    assert "links_calls_resolved" in result.stdout
    for _, query in SUGGESTED_QUERIES:
        assert graphsvc("sql", query, "--path", indexed).returncode == 0, query


def test_configuration_precedence(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "pyproject.toml": "[tool.graphsvc]\nmax_file_bytes = 10\n",
            "small.py": "x = 1\n",
            "big.py": "x = 1  # longer than ten bytes\n",
        }
    )
    db = tmp_path / "g.duckdb"
    query = "SELECT path, status FROM files ORDER BY path"

    def statuses() -> list[dict[str, str]]:
        return json.loads(graphsvc("sql", query, "--db", db, "-f", "json").stdout)

    graphsvc("index", tree, "--db", db)
    assert statuses() == [
        {"path": "big.py", "status": "skipped"},
        {"path": "small.py", "status": "ok"},
    ]
    graphsvc("index", tree, "--db", db, env={"GRAPHSVC_MAX_FILE_BYTES": "1000"})
    assert statuses()[0] == {"path": "big.py", "status": "ok"}
    env = {"GRAPHSVC_MAX_FILE_BYTES": "1000"}
    graphsvc("index", tree, "--db", db, "--max-file-bytes", "5", env=env)
    assert {s["status"] for s in statuses()} == {"skipped"}


def test_every_command_has_help() -> None:
    for command in (["index"], ["sql"], ["summary"], ["export", "callgraph"]):
        result = graphsvc(*command, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout


SHELL_SQL = (
    "SELECT s.qualname, f.path FROM symbols s JOIN files f USING (file_id)"
    " WHERE s.name = 'helper'; "
    "SELECT comment FROM duckdb_tables() WHERE table_name = 'calls';"
)


def _duckdb_cli() -> str:
    found = shutil.which("duckdb") or str(Path(sys.executable).parent / "duckdb")
    assert Path(found).exists(), "the duckdb CLI (pip package duckdb-cli) is a test dependency"
    return found


def test_duckdb_shell_reads_the_database(indexed: Path) -> None:
    db = indexed / ".graphsvc" / "graph.duckdb"
    result = subprocess.run(
        [
            _duckdb_cli(),
            "-readonly",
            "-json",
            str(db),
            "-c",
            "SELECT s.qualname, f.path FROM symbols s JOIN files f USING (file_id)"
            " WHERE s.name = 'helper'; "
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'calls';",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert '"qualname":"app.core.helper"' in result.stdout.replace(" ", "")
    assert "Call expressions" in result.stdout


def test_locked_database_is_a_clear_error(indexed: Path) -> None:
    with Store.open(indexed / ".graphsvc" / "graph.duckdb"):  # this process holds the lock
        result = graphsvc("sql", "SELECT 1", "--path", indexed)
    assert result.returncode == 2
    assert "in use by another graphsvc process" in result.stderr


def test_usage_and_tree_errors_exit_2_without_side_effects(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = graphsvc("index", missing)
    assert result.returncode == 2 and "no such directory" in result.stderr
    assert not missing.exists()  # no database folder conjured up
    a_file = tmp_path / "notes.py"
    a_file.write_text("x = 1\n")
    result = graphsvc("index", a_file)
    assert result.returncode == 2 and "not a directory" in result.stderr
    result = graphsvc("sql", "SELECT 1", "--format", "xml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "xml" in result.stderr


def test_bad_configuration_and_output_paths_exit_2(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree({"a.py": "x = 1\n", "pyproject.toml": "[tool.graphsvc]\njobs = 'many'\n"})
    result = graphsvc("index", tree)
    assert result.returncode == 2 and "invalid configuration: jobs" in result.stderr
    (tree / "pyproject.toml").write_text("[tool.graphsvc\n")
    result = graphsvc("index", tree)
    assert result.returncode == 2 and "pyproject.toml" in result.stderr
    (tree / "pyproject.toml").unlink()
    assert graphsvc("index", tree).returncode == 0
    result = graphsvc("export", "callgraph", "--path", tree, "-o", tmp_path / "no" / "cg.json")
    assert result.returncode == 2 and "No such file or directory" in result.stderr


def test_json_renders_any_duckdb_value(indexed: Path) -> None:
    query = "SELECT 1.5 AS v, INTERVAL 1 DAY AS v, uuid() IS NOT NULL AS u, [1.5] AS l"
    as_json = json.loads(graphsvc("sql", query, "--path", indexed, "-f", "json").stdout)
    assert as_json == [{"v": "1.5", "v_2": "1 day, 0:00:00", "u": True, "l": ["1.5"]}]
    as_csv = graphsvc("sql", query, "--path", indexed, "-f", "csv")
    assert as_csv.returncode == 0 and as_csv.stdout.splitlines()[0] == "v,v,u,l"


def test_navigation_commands(indexed: Path) -> None:
    def rows(*args: str) -> list[dict[str, object]]:
        result = graphsvc(*args, "--path", indexed, "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    callers = rows("callers", "app.core.helper")
    assert [(r["caller"], r["status"], r["path"], r["line"]) for r in callers] == [
        ("app.core.run", "resolved", "src/app/core.py", 9)
    ]
    callees = rows("callees", "app.core.helper")
    assert [(r["callee"], r["status"]) for r in callees] == [("os.getcwd", "external")]
    imports = rows("imports", "app")
    assert [(r["imported"], r["status"]) for r in imports] == [("app.core.run", "internal")]
    imported_by = rows("imported-by", "app.core")
    assert [r["importer"] for r in imported_by] == ["app"]

    unknown = graphsvc("callers", "helper", "--path", indexed)
    assert unknown.returncode == 2
    assert "no symbol named helper in the graph; did you mean app.core.helper?" in unknown.stderr
    assert graphsvc("imports", "app.nope", "--path", indexed).returncode == 2


def test_sql_sandbox_refuses_files_and_interrupts_runaways(indexed: Path) -> None:
    escape = graphsvc("sql", "SELECT * FROM read_text('/etc/passwd')", "--path", indexed)
    assert escape.returncode == 2
    assert "query refused: function read_text() reads files" in escape.stderr
    runaway = graphsvc(
        "sql",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        "--path",
        indexed,
        "--timeout",
        "0.2",
    )
    assert runaway.returncode == 2 and "time limit" in runaway.stderr
    assert "Traceback" not in runaway.stderr
