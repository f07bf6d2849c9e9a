"""What the routers of the HTTP API share: the error body and a consistent read of the graph."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pydantic import BaseModel, Field

from graphsvc.browse import read_only
from graphsvc.service import Service
from graphsvc.store import Store


class ErrorModel(BaseModel):
    """Why a request failed."""

    detail: str = Field(examples=["no definition named 'pkg.mod.nope'"])


@contextlib.contextmanager
def graph_read(service: Service) -> Iterator[tuple[Store, int]]:
    """A cursor of its own (reading never waits for the writer) in a read-only transaction (the
    queries of one answer see one state), with ``as_of`` read first: the answer is at least as
    fresh as that batch."""
    as_of = service.as_of
    with service.store.reader() as reader, read_only(reader):
        yield reader, as_of
