"""Settings precedence: CLI flag > GRAPHSVC_* environment > [tool.graphsvc] > default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphsvc.config import db_path, load_settings


def test_defaults_without_pyproject(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)  # warnings are errors: no "unused config key" warning
    assert settings.max_file_bytes == 4_000_000
    assert db_path(tmp_path, settings) == tmp_path / ".graphsvc" / "graph.duckdb"


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.graphsvc]\nmax_file_bytes = 10\njobs = 3\nexclude = ["vendor/"]\n'
    )
    assert load_settings(tmp_path).max_file_bytes == 10
    assert load_settings(tmp_path).exclude == ["vendor/"]
    monkeypatch.setenv("GRAPHSVC_MAX_FILE_BYTES", "20")
    settings = load_settings(tmp_path)
    assert (settings.max_file_bytes, settings.jobs) == (20, 3)
    assert load_settings(tmp_path, max_file_bytes=30, jobs=None).max_file_bytes == 30
    assert load_settings(tmp_path, db=tmp_path / "x.duckdb").db == tmp_path / "x.duckdb"


def test_db_memory_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(tmp_path).db_memory_mb == 64
    monkeypatch.setenv("GRAPHSVC_DB_MEMORY_MB", "0")
    assert load_settings(tmp_path).db_memory_mb == 0


def _allocator_env(env: dict[str, str]) -> str:
    code = "import graphsvc, os; print(os.environ.get('DUCKDB_JE_MALLOC_CONF'))"
    clean = {k: v for k, v in os.environ.items() if k != "DUCKDB_JE_MALLOC_CONF"}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_duckdb_allocator_is_tuned_unless_the_user_chose() -> None:
    from graphsvc import DUCKDB_JEMALLOC_CONF

    assert _allocator_env({}) == DUCKDB_JEMALLOC_CONF
    assert _allocator_env({"DUCKDB_JE_MALLOC_CONF": "narenas:4"}) == "narenas:4"
