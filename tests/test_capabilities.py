"""Capability findings (missing packages, programs, environment variables) follow the machine:
installing a program or setting a variable fixes the finding at the next refresh, through the
same feed. Real files, a real DuckDB file, the real PATH lookup of this process."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import WriteTree
from test_findings import Graph, _open

from graphsvc.queries import FINDERS

APP = {
    "app/__init__.py": "",
    "app/main.py": (
        "import os\n"
        "import subprocess\n"
        "import capability_test_absent_pkg\n"
        "\n"
        "TOKEN = os.getenv('CAPABILITY_TEST_TOKEN')\n"
        "\n"
        "def run():\n"
        "    return subprocess.check_output('capability-test-tool --version')\n"
    ),
}
PROGRAM = "capability.program"
ENV = "capability.env"
PACKAGE = "capability.package"


def by_prefix(found: dict[str, object], prefix: str) -> list[str]:
    return sorted(i for i in found if i.startswith(prefix))


def test_installing_a_program_and_setting_a_variable_fix_their_findings(
    monkeypatch: pytest.MonkeyPatch, write_tree: WriteTree, tmp_path: Path
) -> None:
    monkeypatch.delenv("CAPABILITY_TEST_TOKEN", raising=False)
    tree = write_tree(APP)
    graph = Graph(tree, tmp_path / "g.duckdb")
    found = _open(graph.update(), "missing_capability")
    assert len(by_prefix(found, PROGRAM)) == len(by_prefix(found, ENV)) == 1
    [package] = by_prefix(found, PACKAGE)
    assert found[package].hypothesis == "MISSING_CAPABILITY_PACKAGE_CAPABILITY_TEST_ABSENT_PKG"
    assert found[package].action_class == "find_substitute"
    # The tool appears on PATH and the variable gets set: the next refresh fixes both.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "capability-test-tool"
    tool.write_text("#!/bin/sh\necho 1\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("CAPABILITY_TEST_TOKEN", "x")
    (tree / "app" / "other.py").write_text("x = 1\n")  # any batch refreshes the findings
    now = _open(graph.update(), "missing_capability")
    assert by_prefix(now, PROGRAM) == by_prefix(now, ENV) == [] and package in now
    fixed = {(fid, event) for fid, event, _ in graph.events() if event == "fixed"}
    assert fixed == {(by_prefix(found, PROGRAM)[0], "fixed"), (by_prefix(found, ENV)[0], "fixed")}


def test_the_target_interpreter_decides_what_is_installed(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """psutil is installed where graphsvc runs; an interpreter without it (a bare venv) makes
    it a missing package."""
    import subprocess
    import sys

    bare = tmp_path / "bare"
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(bare)], capture_output=True, check=False
    )
    if made.returncode != 0:  # pragma: no cover - a Python built without venv
        pytest.skip(f"cannot make a venv: {made.stderr!r}")
    tree = write_tree({"m.py": "import psutil\n"})
    here = _open(Graph(tree, tmp_path / "a.duckdb").update(), "missing_capability")
    assert by_prefix(here, PACKAGE) == []
    there = Graph(tree, tmp_path / "b.duckdb", python=bare / "bin" / "python").update()
    [finding] = list(_open(there, "missing_capability").values())
    assert finding.hypothesis == "MISSING_CAPABILITY_PACKAGE_PSUTIL"


def test_finders_keep_only_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPABILITY_SET", "1")
    monkeypatch.delenv("CAPABILITY_UNSET", raising=False)
    rows = [
        {"variable": name, "read_in": ["a.py"], "locations": []}
        for name in ("CAPABILITY_SET", "CAPABILITY_UNSET")
    ]
    assert [r["variable"] for r in FINDERS["unset_env"].run(rows)] == ["CAPABILITY_UNSET"]
    programs = [
        {"program": name, "run_in": ["a.py"], "locations": []}
        for name in ("sh", "cd", "/nonexistent/bin/tool", "capability-nowhere")
    ]
    kept = FINDERS["not_on_path"].run(programs)
    assert [(r["program"], r["reason"]) for r in kept] == [
        ("/nonexistent/bin/tool", "/nonexistent/bin/tool is not an executable file"),
        ("capability-nowhere", "capability-nowhere is not on PATH"),
    ]
    assert {(r["type"], r["category"]) for r in kept} == {("executable", "program")}
