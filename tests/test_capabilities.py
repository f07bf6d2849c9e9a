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

from graphsvc.config import load_settings
from graphsvc.findings import CapabilitySource, Finding, Refresher, all_findings, events_since
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree

FIXTURE = Path(__file__).parent / "fixtures" / "repos" / "missing_capability" / "tree"


class Checked:
    """A tree indexed into a database with a resident Refresher and CapabilitySource, as the
    service keeps them; ``update`` is one batch."""

    def __init__(self, tree: Path, db: Path) -> None:
        self.tree = tree
        self.store = Store.open(db)
        self.settings = load_settings(tree, jobs=1)
        self.refresher = Refresher(load_queries(None, []), tree)
        self.source = CapabilitySource(tree)

    def update(self) -> dict[str, Finding]:
        summary = index_tree(self.tree, self.store, self.settings)
        self.refresher.run(self.store, summary.batch_id, summary)
        self.source.refresh(self.refresher, self.store, summary)
        return {
            f.id: f
            for f in all_findings(self.store).values()
            if f.query == "capabilities" and f.status == "open"
        }

    def events(self) -> list[tuple[str, str]]:
        return [(e.finding_id, e.event) for e in events_since(self.store, 0, 10_000)]


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
    checked = Checked(tree, tmp_path / "g.duckdb")
    found = checked.update()
    [program] = by_prefix(found, PROGRAM)
    [env] = by_prefix(found, ENV)
    assert found[program].hypothesis == "MISSING_CAPABILITY_PROGRAM_CAPABILITY_TEST_TOOL"
    assert found[env].severity == "low" and found[env].action_class == "find_substitute"
    packages = _open(Graph(tree, tmp_path / "sql.duckdb").update(), "missing_capability")
    [package] = by_prefix(packages, PACKAGE)  # the saved query's part
    assert packages[package].hypothesis == "MISSING_CAPABILITY_PACKAGE_CAPABILITY_TEST_ABSENT_PKG"
    # The tool appears on PATH and the variable gets set: the next batch fixes both.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "capability-test-tool"
    tool.write_text("#!/bin/sh\necho 1\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("CAPABILITY_TEST_TOKEN", "x")
    (tree / "app" / "other.py").write_text("x = 1\n")  # any batch refreshes the findings
    assert checked.update() == {}
    fixed = {fid for fid, event in checked.events() if event == "fixed"}
    assert fixed == {program, env}
    checked.store.close()


def test_fixture_programs_variables_and_near_misses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shutil

    monkeypatch.delenv("CAPABILITY_FIXTURE_TOKEN", raising=False)
    tree = shutil.copytree(FIXTURE, tmp_path / "tree")
    checked = Checked(tree, tmp_path / "g.duckdb")
    found = sorted(checked.update().values(), key=lambda f: f.hypothesis)
    checked.store.close()
    got = [(f.hypothesis, f.evidence, [f"{x.path}:{x.line}" for x in f.locations]) for f in found]
    assert got == [
        (
            "MISSING_CAPABILITY_ENV_CAPABILITY_FIXTURE_KEY",
            ("type: environment_variable", "category: env", "variable: CAPABILITY_FIXTURE_KEY",
             "read_in: app/main.py", "reason: not set (os.environ[...] raises KeyError)"),
            ["app/main.py:37"],
        ),
        (
            "MISSING_CAPABILITY_ENV_CAPABILITY_FIXTURE_TOKEN",
            ("type: environment_variable", "category: env", "variable: CAPABILITY_FIXTURE_TOKEN",
             "read_in: app/main.py", "read_in: tools/build.py", "reason: not set"),
            ["app/main.py:21", "tools/build.py:8"],
        ),
        (
            "MISSING_CAPABILITY_PROGRAM_FIXTURE_LISTED_TOOL",
            ("type: executable", "category: program", "program: fixture-listed-tool",
             "run_in: app/main.py", "reason: fixture-listed-tool is not on PATH"),
            ["app/main.py:32"],
        ),
        (
            "MISSING_CAPABILITY_PROGRAM_FIXTURE_MISSING_CLI",
            ("type: executable", "category: program", "program: fixture_missing_cli",
             "run_in: app/main.py", "reason: fixture_missing_cli is not on PATH"),
            ["app/main.py:29"],
        ),
        (
            "MISSING_CAPABILITY_PROGRAM_FIXTURE_MISSING_TOOL",
            ("type: executable", "category: program", "program: fixture-missing-tool",
             "run_in: app/main.py", "run_in: tools/build.py",
             "reason: fixture-missing-tool is not on PATH"),
            ["app/main.py:28", "tools/build.py:9"],
        ),
    ]  # fmt: skip
    ids = {f.hypothesis: f.id for f in found}
    assert ids["MISSING_CAPABILITY_PROGRAM_FIXTURE_MISSING_TOOL"].startswith("capability.program.")
    assert ids["MISSING_CAPABILITY_ENV_CAPABILITY_FIXTURE_TOKEN"].startswith("capability.env.")
    severity = {f.hypothesis: f.severity for f in found}
    assert severity["MISSING_CAPABILITY_ENV_CAPABILITY_FIXTURE_KEY"] == "medium"
    assert severity["MISSING_CAPABILITY_ENV_CAPABILITY_FIXTURE_TOKEN"] == "low"


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
    assert made.returncode == 0, f"cannot make a venv: {made.stderr!r}"
    tree = write_tree({"m.py": "import psutil\n"})
    here = _open(Graph(tree, tmp_path / "a.duckdb").update(), "missing_capability")
    assert by_prefix(here, PACKAGE) == []
    there = Graph(tree, tmp_path / "b.duckdb", python=bare / "bin" / "python").update()
    [finding] = list(_open(there, "missing_capability").values())
    assert finding.hypothesis == "MISSING_CAPABILITY_PACKAGE_PSUTIL"


def test_absolute_programs_and_shell_builtins(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "m.py": (
                "import os\n"
                "os.system('cd /tmp && ls')\n"  # a builtin
                "os.system('sh -c true')\n"  # on PATH
                "os.system('/nonexistent/bin/tool --x')\n"  # a path that is not there
                "os.execv('/bin/sh', ['sh'])\n"  # a path that is there
            )
        }
    )
    checked = Checked(tree, tmp_path / "g.duckdb")
    found = list(checked.update().values())
    checked.store.close()
    assert [(f.hypothesis, f.evidence[-1]) for f in found] == [
        (
            "MISSING_CAPABILITY_PROGRAM_NONEXISTENT_BIN_TOOL",
            "reason: /nonexistent/bin/tool is not an executable file",
        )
    ]


FILES = {
    "pkg/__init__.py": "",
    "pkg/load.py": (
        "import numpy as np\n"
        "import torch\n"
        "\n"
        "CONFIG = open('config/app.yaml')\n"  # missing
        "PRESENT = open('data/present.csv')\n"  # near miss: exists under the root
        "BESIDE = np.load('beside.npy')\n"  # near miss: exists beside the reading file
        "OUT = open('out.txt', 'w')\n"  # near miss: a mode (may create it)
        "REMOTE = open('https://example.invalid/x')\n"  # near miss: not a path
        "HOME = open('~/notes.txt')\n"  # near miss: a home path, not checked
        "WEIGHTS = torch.load('models/w.pt')\n"  # missing model (torch is not installed)
    ),
    "data/present.csv": "a,b\n",
    "pkg/beside.npy": "",
}


def test_files_and_models_opened_by_literal_path(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(FILES)
    checked = Checked(tree, tmp_path / "g.duckdb")

    def batch() -> dict[str, tuple[str, ...]]:
        return {f.hypothesis: f.evidence for f in checked.update().values()}

    found = batch()
    assert sorted(found) == [
        "MISSING_CAPABILITY_FILE_CONFIG_APP_YAML",
        "MISSING_CAPABILITY_FILE_MODELS_W_PT",
    ]
    assert found["MISSING_CAPABILITY_FILE_MODELS_W_PT"][:3] == (
        "type: model", "category: file", "path: models/w.pt"
    )  # fmt: skip
    assert "opened_by: open" in found["MISSING_CAPABILITY_FILE_CONFIG_APP_YAML"]
    # The file appears (no event for a data file): the next batch fixes its finding.
    (tree / "config").mkdir()
    (tree / "config" / "app.yaml").write_text("a: 1\n")
    (tree / "pkg" / "other.py").write_text("LOG = open('logs/missing.log')\n")
    assert sorted(batch()) == [
        "MISSING_CAPABILITY_FILE_LOGS_MISSING_LOG",
        "MISSING_CAPABILITY_FILE_MODELS_W_PT",
    ]
    (tree / "pkg" / "other.py").unlink()  # a removed file takes its reads along
    assert sorted(batch()) == ["MISSING_CAPABILITY_FILE_MODELS_W_PT"]
    checked.store.close()
