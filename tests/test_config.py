"""Settings precedence: CLI flag > GRAPHSVC_* environment > [tool.graphsvc] > default."""

from __future__ import annotations

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
