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
    from graphsvc.config import load_settings
    from graphsvc.findings import FileSource, Refresher, all_findings
    from graphsvc.queries import load_queries
    from graphsvc.store import Store
    from graphsvc.update import index_tree

    tree = write_tree(FILES)
    with Store.open(tmp_path / "g.duckdb") as store:
        refresher = Refresher(load_queries(None, []), tree)
        source = FileSource(tree)
        settings = load_settings(tree, jobs=1)

        def batch() -> dict[str, tuple[str, ...]]:
            summary = index_tree(tree, store, settings)
            refresher.run(store, summary.batch_id, summary)
            source.refresh(refresher, store, summary)
            return {
                f.hypothesis: f.evidence
                for f in all_findings(store).values()
                if f.query == "files" and f.status == "open"
            }

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
