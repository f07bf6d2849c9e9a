"""The bodies the HTTP API answers with and accepts (pydantic models): they are its OpenAPI
schema, so each field says what it means."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Health(BaseModel):
    """The process is up and its database is open."""

    status: str = Field(examples=["ok"])
    as_of: int = Field(description="Last committed batch", examples=[42])


class BatchModel(BaseModel):
    batch_id: int = Field(description="The batch's number (its as_of)")
    kind: str = Field(description="watch | reconcile", examples=["watch"])
    reason: str | None = Field(description="Why a reconcile ran", examples=[None])
    paths: int = Field(description="Paths the batch looked at")
    parsed: int = Field(description="Files read and parsed")
    removed: int = Field(description="Files whose rows were removed")
    ms: float = Field(description="Wall time in milliseconds")
    at: float = Field(description="When it committed (epoch seconds)")


class WatcherModel(BaseModel):
    mode: str = Field(description="native | polling | stopped", examples=["native"])
    observer: str = Field(description="watchdog observer class", examples=["InotifyObserver"])
    fallback_reason: str | None = Field(description="Why native watching is not used")
    overflows: int = Field(description="Event-queue overflows seen (each caused a reconcile)")
    restarts: int = Field(description="Times a dead observer was replaced")
    pauses: int = Field(description="Process pauses (suspend, SIGSTOP) that caused a reconcile")


class SnapshotModel(BaseModel):
    path: str = Field(description="Read-only copy for `duckdb -readonly PATH`")
    published_ms: float | None = Field(description="How long the last publish took")
    bytes: int | None = Field(description="Size of the last snapshot")
    pending: bool = Field(description="Commits not yet in the snapshot (published within ~1 s)")


class StatusModel(BaseModel):
    """How fresh the graph is and what the service is doing."""

    as_of: int = Field(description="Last committed batch")
    tree: str = Field(description="The watched directory")
    db: str = Field(description="The database file")
    files: int = Field(description="File rows in the graph")
    pending_paths: int = Field(description="Dirty paths waiting for the next batch")
    pending_reconcile: list[str] = Field(description="Reasons of a reconcile waiting to run")
    indexing: bool = Field(description="A batch is being written now")
    indexing_since: float | None = Field(description="Since when (epoch seconds)")
    batches: int = Field(description="Batches committed since start")
    failed_batches: int = Field(description="Batches that failed (retried as reconciles)")
    last_error: str | None = Field(description="The last failure, until a batch succeeds")
    last_batch: BatchModel | None
    last_reconcile: BatchModel | None
    recent_reconciles: list[BatchModel] = Field(description="Up to the last 20")
    watcher: WatcherModel
    snapshot: SnapshotModel
    findings_failures: int = Field(
        description="Findings refreshes that failed since start (each followed by a refresh "
        "of every query once the back-off has passed)"
    )
    findings_error: str | None = Field(
        description="The last findings failure, until a refresh succeeds"
    )
    rss_bytes: int = Field(description="Resident memory of the service process")
    started_at: float = Field(description="Process start (epoch seconds)")
    pid: int


class SyncModel(BaseModel):
    """Every change made before the request is queryable as of ``as_of``."""

    as_of: int = Field(description="Last committed batch; it covers every earlier change")
    method: str = Field(
        description="cookie (the watcher saw a cookie file written after the request began) "
        "| reconcile (no cookie could be written or seen: the whole tree was compared)",
        examples=["cookie"],
    )
    waited_ms: float = Field(description="How long the request waited")


class ParamModel(BaseModel):
    name: str
    type: str = Field(examples=["text"])
    default: str | int | float | bool | None
    required: bool
    description: str


class QueryModel(BaseModel):
    name: str = Field(examples=["missing_wiring"])
    title: str
    description: str
    kind: str | None = Field(description="Finding kind it reports (None: a plain query)")
    source: str = Field(description="builtin (shipped with graphsvc) | user")
    params: list[ParamModel]
    columns: list[str]


class QueriesModel(BaseModel):
    as_of: int
    queries: list[QueryModel]
    errors: list[str] = Field(description="Query files that did not load: path:line: reason")


class RowsModel(BaseModel):
    as_of: int
    columns: list[str]
    rows: list[list[Any]]


class FindingsModel(BaseModel):
    """A page of findings in the contract's shape (see the README's *Saved queries and
    findings*)."""

    as_of: int = Field(description="The batch the findings were last refreshed after")
    last_seq: int = Field(description="The feed's position: pass it as since= next time")
    next_cursor: str | None = Field(description="Pass as cursor= for the next page")
    findings: list[dict[str, Any]]


class FindingModel(BaseModel):
    as_of: int = Field(description="The batch the findings were last refreshed after")
    finding: dict[str, Any]


class SqlRequest(BaseModel):
    """One read-only SELECT (WITH, DESCRIBE, SHOW, SUMMARIZE, VALUES too) over the graph."""

    sql: str = Field(
        min_length=1,
        max_length=100_000,
        examples=["SELECT callee, count(*) AS n FROM call_edges GROUP BY callee ORDER BY n DESC"],
    )
    max_rows: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Row cap (default GRAPHSVC_SQL_MAX_ROWS)"
    )
    timeout_s: float | None = Field(
        default=None, gt=0, le=300, description="Time limit (default GRAPHSVC_SQL_TIMEOUT_S)"
    )


class SqlResponse(BaseModel):
    as_of: int = Field(description="Last committed batch when the query started")
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(description="More rows than max_rows existed")
