"""Settings: CLI flag > environment (GRAPHSVC_*) > [tool.graphsvc] in pyproject.toml > default."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from graphsvc.errors import ConfigError

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    "build",
    "dist",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".eggs",
    ".graphsvc",
)

DB_DIRNAME = ".graphsvc"


class Settings(BaseSettings):
    """Everything a user can configure. Built once in the CLI and passed down."""

    model_config = SettingsConfigDict(env_prefix="GRAPHSVC_", extra="ignore")
    pyproject_path: ClassVar[Path | None] = None  # set by load_settings when the tree has one

    db: Path | None = Field(
        default=None, description="Database file; default <tree>/.graphsvc/graph.duckdb"
    )
    max_file_bytes: int = Field(
        default=4_000_000,
        description="Files larger than this are recorded as skipped and never parsed",
    )
    jobs: int = Field(default=0, description="Parser processes for a cold index; 0 = CPU count")
    parser_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="Niceness added to the parser processes, so that indexing a big change "
        "yields the CPU to the API's requests and the rest of the machine (0: none)",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Extra gitignore-style patterns to leave out, added to the defaults",
    )
    package_roots: list[str] = Field(
        default_factory=list,
        description="Directories (relative to the tree) that module names start from; "
        "empty = detect (tree root, src/, folders with pyproject.toml/setup.py/setup.cfg)",
    )
    python: Path | None = Field(
        default=None,
        description="Interpreter of the target environment: imports outside the tree are "
        "classified as stdlib, external (installed there) or unresolved; default the running one",
    )
    batch_files: int = Field(default=256, description="Files per store transaction")
    db_memory_mb: int = Field(
        default=64,
        ge=0,
        description="DuckDB memory limit of a writing connection in MiB (its buffer cache; "
        "past it DuckDB evicts or spills to disk); 0 = DuckDB's default (80% of RAM)",
    )
    batch_quiet_ms: float = Field(
        default=10.0,
        ge=0,
        description="serve: a batch starts once no file event arrived for this long",
    )
    batch_max_delay_ms: float = Field(
        default=500.0,
        gt=0,
        description="serve: a batch starts at the latest this long after its first event, "
        "even while events keep coming",
    )
    poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="serve: scan interval of the polling watcher (used only when native "
        "watches cannot be added)",
    )
    pause_threshold_s: float = Field(
        default=10.0,
        gt=1,
        description="serve: a gap this long in the once-a-second supervisor tick (suspend, "
        "SIGSTOP) triggers a reconcile",
    )
    watch_audit_s: float = Field(
        default=30.0,
        gt=0,
        description="serve: how often the native watches are counted against the tree's "
        "directories; a shortfall in two audits in a row switches to polling",
    )
    token: SecretStr | None = Field(
        default=None,
        description="serve: bearer token required for every endpoint but /health; serving on "
        "an address other than loopback refuses to start without one",
    )
    max_body_bytes: int = Field(
        default=1_048_576, gt=0, description="serve: largest request body accepted (413 above)"
    )
    max_query_bytes: int = Field(
        default=8192, gt=0, description="serve: longest query string accepted (414 above)"
    )
    sync_timeout_s: float = Field(
        default=60.0, gt=0, description="serve: default deadline of `graphsvc sync` / POST /sync"
    )
    cookie_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="serve: how long a sync waits for the watcher to report its cookie file "
        "before it reconciles instead",
    )
    sql_max_rows: int = Field(default=10_000, ge=0, description="Row limit of ad-hoc SQL output")
    sql_timeout_s: float = Field(
        default=5.0, gt=0, description="Time limit of one ad-hoc SQL query; it is interrupted"
    )
    sql_memory_limit: str = Field(
        default="2GB",
        description="DuckDB memory_limit of the database instance that runs ad-hoc SQL "
        "(in the service: the whole instance, writer included)",
    )

    query_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders of the user's own saved queries (*.sql), relative to the tree or "
        "absolute, loaded after the shipped ones",
    )
    suppress: list[str] = Field(
        default_factory=list,
        description="Findings reported as suppressed: a finding kind, or a glob over finding "
        "ids (missing_wiring_*_vendor.*)",
    )

    hardware_interval_s: float = Field(
        default=5.0,
        ge=0,
        description="serve: seconds between hardware samples (GET /hardware, hardware "
        "findings); 0 turns the sampler off",
    )
    hardware_window_s: float = Field(
        default=300.0,
        gt=0,
        description="serve: a GPU below GRAPHSVC_HARDWARE_GPU_UTIL_MIN_PERCENT for this long is "
        "reported as underused (gpu_underutilization_gpu<i>)",
    )
    hardware_gpu_util_min_percent: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="serve: GPU utilisation below this counts as idle (underutilisation; a "
        "lower PCIe generation counts as a bottleneck only at or above it)",
    )
    hardware_ram_available_min_percent: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="serve: available RAM below this share of the total raises "
        "memory_pressure_investigation",
    )
    hardware_vram_used_max_percent: float = Field(
        default=90.0,
        ge=0,
        le=100,
        description="serve: a GPU with at least this share of its memory used raises "
        "vram_optimization_strategy",
    )

    refresh_defer_ms: float = Field(
        default=250.0,
        ge=0,
        description="serve: a finding query whose last run took longer than this runs at most "
        "every GRAPHSVC_REFRESH_DEFER_S while batches keep coming (its findings stay as they "
        "were in between, listed as deferred); it catches up once the service is idle for a "
        "second, and a sync's batch runs every query; 0 never defers",
    )
    refresh_defer_s: float = Field(
        default=30.0, gt=0, description="serve: see GRAPHSVC_REFRESH_DEFER_MS"
    )
    contracts: Path | None = Field(
        default=None,
        description="import-linter configuration whose contracts are checked against the "
        "graph (contract_violation findings), relative to the tree or absolute; default: the "
        "tree's .importlinter, setup.cfg [importlinter] or pyproject.toml [tool.importlinter]",
    )

    channel_rules: list[Path] = Field(
        default_factory=list,
        description="The user's channel rule files (TOML, the format of graphsvc/rules/*.toml), "
        "relative to the tree or absolute, loaded after the shipped rules",
    )
    channel_test_globs: list[str] = Field(
        default_factory=lambda: ["test_*.py", "*_test.py", "tests/", "test/", "conftest.py"],
        description="gitignore-style patterns of test files: their channel sites count as "
        "neither producer nor consumer in the channel findings (they are listed in evidence)",
    )
    entrypoint_rules: list[Path] = Field(
        default_factory=list,
        description="The user's dead-code entry-point rule files (TOML, the format of "
        "graphsvc/entrypoints/*.toml), relative to the tree or absolute, loaded after the "
        "shipped rules",
    )
    dead_code_mode: Literal["auto", "library", "application"] = Field(
        default="auto",
        description="Dead-code analysis: library (the public API is an entry point: __all__, "
        "else public names of public modules), application (only what runs: scripts, tests, "
        "frameworks), or auto (library when the tree has pyproject.toml [project] or "
        "[tool.poetry], setup.py or setup.cfg)",
    )

    doc_globs: list[str] = Field(
        default_factory=lambda: [
            "*.md",
            "*.rst",
            "*.txt",
            "!requirements*.txt",
            "!constraints*.txt",
            "*.toml",
            "*.cfg",
            "*.ini",
            "*.yaml",
            "*.yml",
        ],
        description="gitignore-style patterns of documentation and configuration files indexed "
        "beside the Python files (headings and the code they mention; a ! pattern leaves files "
        "out); [] turns doc indexing off",
    )
    knowledge_index: Path | None = Field(
        default=None,
        description="An external knowledge index to compare the tree with: a JSON list or JSONL "
        "file of {path, mtime} (relative to the tree or absolute); files it lacks or holds "
        "older than the file are unindexed_knowledge findings",
    )
    knowledge_index_sql: str | None = Field(
        default=None,
        description="Instead of knowledge_index: a read-only SELECT over the graph returning "
        "path (and optionally mtime, seconds since the epoch) of what the index covers",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.pyproject_path is not None and cls.pyproject_path.is_file():
            sources.append(PyprojectTomlConfigSettingsSource(settings_cls, cls.pyproject_path))
        return tuple(sources)


def load_settings(tree: Path, **overrides: object) -> Settings:
    """Build settings for indexing ``tree``; ``overrides`` are CLI flags (None = not given).

    Raises:
        ConfigError: a value is invalid or the tree's pyproject.toml cannot be read.
    """
    try:
        return _load(tree, overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(problems) from exc
    except (tomllib.TOMLDecodeError, SettingsError, OSError) as exc:
        raise ConfigError(f"{tree / 'pyproject.toml'}: {exc}") from exc


def _load(tree: Path, overrides: dict[str, object]) -> Settings:
    given = {k: v for k, v in overrides.items() if v is not None}
    pyproject = tree / "pyproject.toml"
    if not pyproject.is_file():
        return Settings(**given)  # type: ignore[arg-type]

    class _TreeSettings(Settings):
        model_config = SettingsConfigDict(
            env_prefix="GRAPHSVC_", extra="ignore", pyproject_toml_table_header=("tool", "graphsvc")
        )
        pyproject_path: ClassVar[Path | None] = pyproject

    return _TreeSettings(**given)  # type: ignore[arg-type]


def db_path(tree: Path, settings: Settings) -> Path:
    """The database file for ``tree``: the configured one or ``<tree>/.graphsvc/graph.duckdb``."""
    if settings.db is not None:
        return settings.db
    return tree / DB_DIRNAME / "graph.duckdb"
