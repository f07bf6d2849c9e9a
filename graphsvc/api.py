"""The HTTP API of ``graphsvc serve`` (FastAPI). Every answer carries ``as_of``: the number of
the last committed batch, so a client knows how fresh it is."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from graphsvc import __version__
from graphsvc.api_base import ErrorModel
from graphsvc.api_docs import add_docs
from graphsvc.api_graph import graph_router
from graphsvc.api_hardware import hardware_router
from graphsvc.api_models import (
    FindingModel,
    FindingsModel,
    Health,
    ParamModel,
    QueriesModel,
    QueryModel,
    RowsModel,
    SqlRequest,
    SqlResponse,
    StatusModel,
    SyncModel,
)
from graphsvc.errors import ParamError, QueryError, QueryFileError, QueryNotFound, QueryTimeout
from graphsvc.findings import (
    FindingEvent,
    FindingPage,
    events_since,
    get_finding,
    last_seq,
    list_findings,
)
from graphsvc.queries import SavedQuery, bind_params, query_result, run_query
from graphsvc.service import Service, SyncTimeout

HEARTBEAT_S = 15.0  # a comment line keeps proxies from closing an idle stream
STREAM_POLL_S = 0.1  # how often a stream looks at the refresher's position (memory, no query)
STREAM_PAGE = 500
SWITCH_INTERVAL_S = 0.001
SHUTDOWN_GRACE_S = 3  # seconds uvicorn waits for open requests (event streams) on shutdown
ANSWERED_BY = "X-Graphsvc-Answered-By"  # GET /queries/{name}: "refresh" or "sql"


def create_app(service: Service) -> FastAPI:
    """The FastAPI application over a running :class:`~graphsvc.service.Service`.

    With ``GRAPHSVC_TOKEN`` set, every path but ``/health`` needs ``Authorization: Bearer
    <token>``; request bodies and query strings have size limits; CORS stays off (no
    cross-origin browser access).
    """
    app = FastAPI(
        title="graphsvc",
        version=__version__,
        description="Incremental code graph of a Python tree: status, sync, findings, SQL.",
        responses=_GUARD_RESPONSES,
        docs_url=None,  # add_docs serves /docs and /redoc from installed assets, not a CDN
        redoc_url=None,
    )
    settings = service.settings
    token = settings.token.get_secret_value() if settings.token is not None else None
    app.add_middleware(
        _Guard,
        token=token,
        max_body=settings.max_body_bytes,
        max_query=settings.max_query_bytes,
    )

    @app.get("/health", tags=["service"])
    def health() -> Health:
        """Liveness: 200 while the process runs with its database open."""
        return Health(status="ok", as_of=service.as_of)

    @app.get("/status", tags=["service"])
    def status() -> StatusModel:
        """Freshness (as_of, pending paths), the last batch and reconcile, watcher mode, RSS."""
        found: dict[str, Any] = service.status()
        return StatusModel.model_validate(found)

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus text format: batches by kind, batch latency histogram, files parsed and
        removed, freshness, pending paths, RSS, watcher state, findings by kind and status."""
        return PlainTextResponse(
            generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    @app.post(
        "/sync",
        tags=["service"],
        responses={504: {"model": ErrorModel, "description": "Not in sync before the deadline"}},
    )
    def sync(
        timeout: Annotated[
            float | None, Query(gt=0, le=3600, description="Deadline in seconds")
        ] = None,
    ) -> SyncModel:
        """Return once every change made to the tree before this request is queryable."""
        try:
            result = service.sync(timeout)
        except SyncTimeout as exc:
            raise HTTPException(status_code=504, detail=str(exc)) from exc
        return SyncModel(as_of=result.as_of, method=result.method, waited_ms=result.waited_ms)

    add_docs(app)
    _graph_routes(app, service)
    _stream_routes(app, service)  # before /findings/{finding_id}, which would match "stream"
    _findings_routes(app, service)
    app.include_router(hardware_router(service))
    return app


def _graph_routes(app: FastAPI, service: Service) -> None:
    """Graph navigation (files, symbols, callers, callees) and ad-hoc SQL."""
    app.include_router(graph_router(service))

    @app.post(
        "/sql",
        tags=["graph"],
        responses={
            400: {"model": ErrorModel, "description": "Invalid, refused or failed SQL"},
            408: {"model": ErrorModel, "description": "Interrupted at the time limit"},
        },
    )
    def sql(request: SqlRequest) -> SqlResponse:
        """Ad-hoc read-only SQL in the sandbox: no files, network, extensions, writes or
        setting changes; a row cap, a time limit and a memory limit (see the README's
        *Security*)."""
        as_of = service.as_of
        try:
            result = service.sandbox.run(
                request.sql, max_rows=request.max_rows, timeout_s=request.timeout_s
            )
        except QueryTimeout as exc:
            raise HTTPException(status_code=408, detail=str(exc)) from exc
        except QueryError as exc:  # refused, invalid or failed
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        rows = jsonable_encoder([list(row) for row in result.rows])
        return SqlResponse(
            as_of=as_of, columns=result.columns, rows=rows, truncated=result.truncated
        )


def _findings_routes(app: FastAPI, service: Service) -> None:
    """Saved queries and findings."""

    @app.get("/queries", tags=["findings"])
    def queries() -> QueriesModel:
        """Every saved query: shipped and from the configured folders, with load errors."""
        catalog = service.findings.catalog
        return QueriesModel(
            as_of=service.as_of,
            queries=[_query_model(q) for q in sorted(catalog.queries.values(), key=_name)],
            errors=[f"{e.path}:{e.line}: {e.reason}" for e in catalog.errors],
        )

    @app.get(
        "/queries/{name}",
        tags=["findings"],
        responses={
            404: {"model": ErrorModel, "description": "No such saved query"},
            422: {"model": ErrorModel, "description": "A parameter is unknown or of a wrong type"},
        },
    )
    def query(name: str, request: Request, response: Response) -> RowsModel:
        """Run a saved query; its parameters come from the query string (``?k=v``). A finding
        query with its default parameters is answered from the rows the findings refresh
        computed after the current batch, when it has them (header ``X-Graphsvc-Answered-By:
        refresh``; otherwise ``sql``)."""
        try:
            saved = service.findings.catalog.get(name)
            params = bind_params(saved, dict(request.query_params))
        except QueryNotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        except (ParamError, QueryFileError) as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        as_of = service.as_of
        computed = service.findings.answers.get(saved, params, as_of)
        if computed is not None:
            result = query_result(saved, computed)
            response.headers[ANSWERED_BY] = "refresh"
        else:
            with service.store.reader() as reader:
                try:
                    result = run_query(reader, saved, params)
                except QueryError as exc:
                    raise HTTPException(status_code=400, detail=str(exc)) from exc
            response.headers[ANSWERED_BY] = "sql"
        rows = jsonable_encoder([list(row) for row in result.rows])
        return RowsModel(as_of=as_of, columns=result.columns, rows=rows)

    @app.get("/findings", tags=["findings"])
    async def findings(
        since: Annotated[
            int | None, Query(ge=0, description="Only findings changed after this event seq")
        ] = None,
        kind: Annotated[str | None, Query(max_length=200)] = None,
        status: Annotated[str | None, Query(pattern="^(open|fixed|suppressed)$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=1000, description="next_cursor")] = None,
    ) -> FindingsModel:
        """Findings, newest change last; page with ``cursor``; poll with ``since`` = the
        ``last_seq`` of the previous answer to get only what changed."""
        as_of = service.findings_as_of
        position = service.feed_position
        if since is not None and cursor is None and position is not None and since >= position:
            # A poller that has seen everything (the usual poll) is answered from memory:
            # nothing changed after the refresher's last position, so there is nothing to read.
            return FindingsModel(as_of=as_of, last_seq=position, next_cursor=None, findings=[])
        page = await run_in_threadpool(_findings_page, service, since, kind, status, limit, cursor)
        return FindingsModel(
            as_of=as_of,
            last_seq=page.last_seq,
            next_cursor=page.next_cursor,
            findings=[f.to_dict() for f in page.findings],
        )

    @app.get(
        "/findings/{finding_id}",
        tags=["findings"],
        responses={404: {"model": ErrorModel, "description": "No finding with this id"}},
    )
    def finding(finding_id: str) -> FindingModel:
        """One finding, whatever its status."""
        as_of = service.findings_as_of
        with service.store.reader() as reader:
            found = get_finding(reader, finding_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no finding {finding_id!r}")
        return FindingModel(as_of=as_of, finding=found.to_dict())


def _stream_routes(app: FastAPI, service: Service) -> None:
    """The findings feed as server-sent events."""

    @app.get(
        "/findings/stream",
        response_class=EventSourceResponse,
        tags=["findings"],
        responses={422: {"model": ErrorModel, "description": "since or Last-Event-ID invalid"}},
    )
    async def stream(
        request: Request,
        since: Annotated[
            int | None, Query(ge=0, description="Start after this event seq (default: now)")
        ] = None,
        last_event_id: Annotated[
            str | None, Header(pattern="^[0-9]+$", description="Resume after this seq")
        ] = None,
        heartbeat: Annotated[
            float, Query(ge=0.05, le=300, description="Seconds between heartbeat comments")
        ] = HEARTBEAT_S,
    ) -> AsyncIterator[ServerSentEvent]:
        """Server-sent events of the findings feed: one ``finding`` event per feed entry
        (``id`` = its seq, ``data`` = the event as JSON), heartbeat comments in between.
        Reconnecting clients resume with ``Last-Event-ID``. Each client reads the feed on its
        own, so a slow one never holds up indexing or other clients."""
        if last_event_id is not None:
            cursor = int(last_event_id)
        elif since is not None:
            cursor = since
        else:
            cursor = await run_in_threadpool(_feed_position, service)
        beat = time.monotonic()
        seen = -1  # the refresher's position at the last read
        while not await request.is_disconnected():
            position = service.findings_seq
            if position != seen:
                seen = position
                events = await run_in_threadpool(_feed_after, service, cursor)
                for event in events:
                    cursor = event.seq
                    yield ServerSentEvent(data=event.to_dict(), event="finding", id=str(event.seq))
                if len(events) == STREAM_PAGE:
                    seen = -1  # more to read
                    continue
            if time.monotonic() - beat >= heartbeat:
                beat = time.monotonic()
                yield ServerSentEvent(comment="heartbeat")
            await asyncio.sleep(STREAM_POLL_S)


def _findings_page(
    service: Service,
    since: int | None,
    kind: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> FindingPage:
    with service.store.reader() as reader:
        return list_findings(
            reader, since=since, kind=kind, status=status, limit=limit, cursor=cursor
        )


def _feed_position(service: Service) -> int:
    with service.store.reader() as reader:
        return last_seq(reader)


def _feed_after(service: Service, cursor: int) -> list[FindingEvent]:
    with service.store.reader() as reader:
        return events_since(reader, cursor, STREAM_PAGE)


def _name(query: SavedQuery) -> str:
    return query.name


def _query_model(query: SavedQuery) -> QueryModel:
    return QueryModel(
        name=query.name,
        title=query.title,
        description=query.description,
        kind=query.kind,
        source=str(query.source),
        params=[
            ParamModel(
                name=p.name,
                type=str(p.type),
                default=p.default,
                required=p.required,
                description=p.description,
            )
            for p in query.params
        ],
        columns=list(query.columns),
    )


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM once it has shut down, which would kill the process
    before the service commits its batch and closes the database: catch them and return."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


_GUARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorModel, "description": "Bearer token missing or wrong (GRAPHSVC_TOKEN)"},
    411: {"model": ErrorModel, "description": "A chunked body without Content-Length"},
    413: {"model": ErrorModel, "description": "Request body over GRAPHSVC_MAX_BODY_BYTES"},
    414: {"model": ErrorModel, "description": "Query string over GRAPHSVC_MAX_QUERY_BYTES"},
}


class _Guard:
    """ASGI middleware: bearer token, body and query-string limits (before any route runs)."""

    def __init__(self, app: ASGIApp, token: str | None, max_body: int, max_query: int) -> None:
        self.app = app
        self.token = f"Bearer {token}".encode() if token else None
        self.max_body = max_body
        self.max_query = max_query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail = refusal
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        await JSONResponse({"detail": detail}, status_code=status, headers=headers)(
            scope, receive, send
        )

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        if len(scope.get("query_string", b"")) > self.max_query:
            return 414, f"query string longer than {self.max_query} bytes"
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, f"request body larger than {self.max_body} bytes"
        if length is None and b"chunked" in headers.get(b"transfer-encoding", b""):
            return 411, "send a Content-Length (chunked request bodies are not accepted)"
        if self.token is not None and scope["path"] != "/health":
            given = headers.get(b"authorization", b"")
            if not secrets.compare_digest(given, self.token):
                return 401, "missing or wrong bearer token (Authorization: Bearer $GRAPHSVC_TOKEN)"
        return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(service: Service, host: str, port: int, *, access_log: bool = False) -> None:
    """Serve the API of ``service`` until SIGINT or SIGTERM (then return normally).

    Raises:
        SystemExit: the address cannot be bound (uvicorn logs why).
    """
    # The indexer thread computes (linking, Arrow) while requests wait for the GIL; a 1 ms
    # switch interval (default 5) lets them have it sooner (bench_api: feed p95 during storms).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    config = uvicorn.Config(
        create_app(service),
        host=host,
        port=port,
        log_config=None,
        access_log=access_log,
        lifespan="off",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,  # open event streams must not hold it up
    )
    _Server(config).run()
