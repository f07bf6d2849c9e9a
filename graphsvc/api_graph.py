"""Graph navigation over HTTP: files, one file's facts, definitions, callers and callees,
channels with their producers and consumers.

Every route reads in one read-only transaction on a cursor of its own and answers with
``as_of``; unknown names are a 404 whose ``detail`` says what to try instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from graphsvc import browse, navigate, topology
from graphsvc.api_base import ErrorModel, graph_read
from graphsvc.errors import NotFoundError
from graphsvc.service import Service

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorModel, "description": "No such file or symbol"}
}
_Qualname = Annotated[
    str,
    Path(
        min_length=1,
        max_length=1000,
        description="Dotted qualified name",
        examples=["pkg.mod.Class.method"],
    ),
]

_Depth = Annotated[
    int, Query(ge=1, le=navigate.MAX_DEPTH, description="Steps to follow (1: direct)")
]
_Limit = Annotated[int, Query(ge=1, le=navigate.MAX_EDGES, description="Edge cap")]
_Ambiguous = Annotated[bool, Query(description="Include every candidate of ambiguous calls")]


class _Model(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FileModel(_Model):
    path: str = Field(description="Relative to the tree, with /", examples=["pkg/mod.py"])
    module: str | None = Field(description="Dotted module name", examples=["pkg.mod"])
    status: str = Field(description="ok | partial | failed | skipped", examples=["ok"])
    error_count: int = Field(description="Syntax and decoding problems", examples=[0])
    symbols: int = Field(description="Definitions in the file (the module not counted)")
    size: int = Field(description="Bytes")
    line_count: int
    skip_reason: str | None = Field(description="Why it was skipped or failed")


class FilesModel(BaseModel):
    """A page of files in path order."""

    as_of: int = Field(description="Last committed batch")
    total: int = Field(description="Files matching the filters (all pages)")
    next_cursor: str | None = Field(description="Pass as cursor= for the next page")
    files: list[FileModel]


class DefinitionModel(_Model):
    qualname: str = Field(examples=["pkg.mod.Class.method"])
    name: str = Field(examples=["method"])
    kind: str = Field(examples=["method"])
    parent: str | None = Field(description="qualname of the enclosing definition")
    path: str = Field(description="File, relative to the tree")
    line: int = Field(description="1-based line of the def/class keyword")
    end_line: int
    docstring: str | None = Field(description="First line of the docstring")
    decorators: list[str] = Field(description="As written, without @, outermost first")
    is_async: bool


class ImportModel(_Model):
    line: int
    col: int = Field(description="1-based byte column of the statement")
    scope: str = Field(description="Module or function holding the import")
    module: str = Field(description="As written (leading dots: relative)", examples=["..util"])
    name: str | None = Field(description="Imported name of a from-import ('*' for a star)")
    alias: str | None
    kind: str = Field(description="import | from | star | future", examples=["from"])
    status: str = Field(
        description="internal | stdlib | external | unresolved | ambiguous | unlinked (the "
        "linker has not seen it yet)",
        examples=["internal"],
    )
    strategy: str | None = Field(description="How it was resolved", examples=["import"])
    targets: list[str] = Field(description="What it binds (several when ambiguous)")
    reason: str | None = Field(description="Why unresolved or ambiguous")
    in_try: bool = Field(description="Inside a try that catches ImportError")
    type_checking: bool = Field(description="Under if TYPE_CHECKING:")
    in_function: bool


class ParseNoteModel(_Model):
    line: int
    col: int
    kind: str = Field(description="syntax | missing | encoding | nul | read")
    message: str


class FileDetailModel(BaseModel):
    """One file's facts: its definitions, its imports with their resolution, parse notes."""

    as_of: int = Field(description="Last committed batch")
    file: FileModel
    sha256: str | None
    encoding: str | None
    indexed_at: dt.datetime
    definitions: list[DefinitionModel]
    imports: list[ImportModel]
    notes: list[ParseNoteModel] = Field(description="Parse and decoding problems (first 50)")


class SymbolsModel(BaseModel):
    """Definitions with one qualified name (several when two files claim the same module)."""

    as_of: int = Field(description="Last committed batch")
    symbols: list[DefinitionModel]


class CallEdgeModel(_Model):
    caller: str = Field(description="qualname of the calling scope", examples=["pkg.a.main"])
    callee: str | None = Field(description="Target; null when unresolved", examples=["pkg.b.f"])
    named: str | None = Field(description="The class a constructor call names (callee: __init__)")
    kind: str = Field(description="call | decorator", examples=["call"])
    status: str = Field(
        description="resolved | ambiguous | unresolved | external | builtin", examples=["resolved"]
    )
    strategy: str = Field(description="How the target was found", examples=["import"])
    path: str = Field(description="File of the call site")
    line: int = Field(description="1-based line of the call site")
    col: int
    expression: str = Field(description="Callee as written", examples=["f"])
    reason: str | None = Field(description="Why unresolved or ambiguous")
    depth: int = Field(description="Steps from the symbol (1: direct)")


class CallsModel(BaseModel):
    """Call sites reached from a symbol, nearest first."""

    as_of: int = Field(description="Last committed batch")
    symbol: str
    direction: Literal["callers", "callees"]
    depth: int
    truncated: bool = Field(description="The edge limit stopped the walk")
    edges: list[CallEdgeModel]


class ChannelSiteModel(BaseModel):
    path: str = Field(description="File of the site")
    line: int
    symbol: str = Field(description="qualname of the scope holding the site")
    in_test: bool = Field(
        description="A test file (GRAPHSVC_CHANNEL_TEST_GLOBS): neither "
        "producer nor consumer for the findings"
    )
    catch_all: bool | None = Field(default=None, description="A subscription to everything "
                                   "(matched consumers only)")  # fmt: skip


class ChannelModel(BaseModel):
    transport: str = Field(examples=["redis"])
    channel: str | None = Field(description="Topic, queue or pattern as the sites name it",
                                examples=["events.user.created"])  # fmt: skip
    match_kind: str = Field(description="exact | prefix | glob | mqtt | nats | amqp | regex",
                            examples=["exact"])  # fmt: skip
    catch_all: bool = Field(description="The pattern matches every channel")
    producers: list[ChannelSiteModel]
    consumers: list[ChannelSiteModel] = Field(description="Sites that subscribe with this "
                                              "exact topic or pattern")  # fmt: skip
    declarations: list[ChannelSiteModel] = Field(description="Queue or exchange declarations")
    matched_consumers: list[ChannelSiteModel] = Field(
        default_factory=list,
        description="Consumers whose subscription matches what this channel's producers send, "
        "by the transport's semantics (prefix, globs, wildcards, regex)",
    )


class ChannelsModel(BaseModel):
    """Every channel some site names, with producers and consumers."""

    as_of: int = Field(description="Last committed batch")
    total: int = Field(description="Channels matching the filters")
    truncated: bool = Field(description="limit cut the list short")
    channels: list[ChannelModel]


class DynamicSiteModel(BaseModel):
    path: str
    line: int
    symbol: str
    role: str = Field(description="producer | consumer | declaration")
    transport: str
    expression: str = Field(description="The topic expression as written")
    rule: str = Field(description="The rule that matched the call")
    via: str | None = Field(description="The wrapper the site goes through, if any")


class DynamicSitesModel(BaseModel):
    """Channel sites whose topic stays unknown (never dropped: listed here)."""

    as_of: int = Field(description="Last committed batch")
    truncated: bool
    sites: list[DynamicSiteModel]


_Transport = Annotated[
    str | None,
    Query(max_length=100, pattern=r"^[a-z0-9_.-]+$", description="Keep one transport",
          examples=["redis"]),
]  # fmt: skip


def graph_router(service: Service) -> APIRouter:
    """The navigation routes over ``service``'s graph."""
    router = APIRouter(tags=["graph"])

    @router.get("/files")
    def files(
        prefix: Annotated[
            str | None,
            Query(max_length=1000, description="Path prefix (pkg/ for a folder)"),
        ] = None,
        status: Annotated[
            str | None,
            Query(pattern="^(ok|partial|failed|skipped)$", description="Parse status"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=browse.MAX_PAGE)] = 100,
        cursor: Annotated[str | None, Query(max_length=4000, description="next_cursor")] = None,
    ) -> FilesModel:
        """The tree's files in path order with module, parse status, error and symbol counts;
        page with ``cursor``."""
        with graph_read(service) as (reader, as_of):
            page = browse.list_files(
                reader, prefix=prefix, status=status, limit=limit, cursor=cursor
            )
        return FilesModel(
            as_of=as_of,
            total=page.total,
            next_cursor=page.next_cursor,
            files=[FileModel.model_validate(f) for f in page.files],
        )

    @router.get("/files/{path:path}", responses=_NOT_FOUND)
    def file(
        path: Annotated[str, Path(max_length=4000, examples=["pkg/mod.py"])],
    ) -> FileDetailModel:
        """One file's facts: definitions, imports with their resolution status and strategy,
        and what could not be parsed."""
        with graph_read(service) as (reader, as_of):
            try:
                detail = browse.file_detail(reader, path)
            except NotFoundError as exc:
                raise HTTPException(status_code=404, detail=str(exc)) from exc
        return FileDetailModel(
            as_of=as_of,
            file=FileModel.model_validate(detail.file),
            sha256=detail.sha256,
            encoding=detail.encoding,
            indexed_at=detail.indexed_at,
            definitions=[DefinitionModel.model_validate(d) for d in detail.definitions],
            imports=[ImportModel.model_validate(i) for i in detail.imports],
            notes=[ParseNoteModel.model_validate(n) for n in detail.notes],
        )

    @router.get("/symbols/{qualname}", responses=_NOT_FOUND)
    def symbol(qualname: _Qualname) -> SymbolsModel:
        """The definitions named ``qualname`` (dotted: ``pkg.mod.Class.method``)."""
        with graph_read(service) as (reader, as_of):
            try:
                found = browse.definitions(reader, qualname)
            except NotFoundError as exc:
                raise HTTPException(status_code=404, detail=str(exc)) from exc
        return SymbolsModel(as_of=as_of, symbols=[DefinitionModel.model_validate(d) for d in found])

    def walk(
        qualname: str, direction: Literal["callers", "callees"], depth: int, limit: int, amb: bool
    ) -> CallsModel:
        with graph_read(service) as (reader, as_of):
            try:
                found = navigate.call_walk(
                    reader, qualname, direction, depth=depth, ambiguous=amb, limit=limit
                )
            except NotFoundError as exc:
                raise HTTPException(status_code=404, detail=str(exc)) from exc
        return CallsModel(
            as_of=as_of,
            symbol=found.symbol,
            direction=found.direction,
            depth=found.depth,
            truncated=found.truncated,
            edges=[CallEdgeModel.model_validate(e) for e in found.edges],
        )

    @router.get("/symbols/{qualname}/callers", responses=_NOT_FOUND)
    def callers(
        qualname: _Qualname, depth: _Depth = 1, limit: _Limit = 500, ambiguous: _Ambiguous = True
    ) -> CallsModel:
        """Call sites (and decorator applications) that call ``qualname`` (for a class: that
        instantiate it), then their callers up to ``depth``, with edge status, strategy and
        line."""
        return walk(qualname, "callers", depth, limit, ambiguous)

    @router.get("/symbols/{qualname}/callees", responses=_NOT_FOUND)
    def callees(
        qualname: _Qualname, depth: _Depth = 1, limit: _Limit = 500, ambiguous: _Ambiguous = True
    ) -> CallsModel:
        """What ``qualname`` calls, unresolved call sites included (callee null, with a
        reason), then what those call up to ``depth`` (resolved and ambiguous targets are
        followed)."""
        return walk(qualname, "callees", depth, limit, ambiguous)

    @router.get("/channels")
    def channels(
        transport: _Transport = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="Channel cap")] = 1000,
    ) -> ChannelsModel:
        """Queues, topics and in-process channels: each with its producers, the consumers
        that name it, and the consumers whose subscription matches it by the transport's
        semantics. Dynamic topics are at ``/channels/dynamic``."""
        with graph_read(service) as (reader, as_of):
            found = topology.channel_topology(reader, transport)
        return ChannelsModel(
            as_of=as_of,
            total=len(found),
            truncated=len(found) > limit,
            channels=[ChannelModel.model_validate(c) for c in found[:limit]],
        )

    @router.get("/channels/dynamic")
    def dynamic_channels(
        transport: _Transport = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="Site cap")] = 1000,
    ) -> DynamicSitesModel:
        """Channel sites whose topic could not be worked out, with the expression."""
        with graph_read(service) as (reader, as_of):
            result = topology.dynamic_sites(reader, transport)
        sites = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        return DynamicSitesModel(
            as_of=as_of,
            truncated=result.truncated or len(sites) > limit,
            sites=[DynamicSiteModel.model_validate(s) for s in sites[:limit]],
        )

    return router
