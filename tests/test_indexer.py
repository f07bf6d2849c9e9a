"""indexer: the collector's state around index_bytes' extraction."""

from __future__ import annotations

import gc

import pytest

import graphsvc.indexer
from graphsvc.extract import Extraction
from graphsvc.facts import ModuleInfo
from graphsvc.indexer import index_bytes

SOURCE = b"".join(
    b"class C%d:\n    def m(self, x):\n        return [y for y in x if y]\n\n" % n
    for n in range(40)
)


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the collector was on, each time index_bytes extracted (the real extraction
    runs)."""
    states: list[bool] = []
    real = graphsvc.indexer.extract

    def extract(*args: object, **kwargs: object) -> Extraction:
        states.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(graphsvc.indexer, "extract", extract)
    return states


def test_index_bytes_extracts_with_the_collector_paused_and_restores_it(
    seen: list[bool],
) -> None:
    assert gc.isenabled()
    facts = index_bytes("a.py", SOURCE, ModuleInfo("a", False, ""), 1)
    assert seen == [False]
    assert gc.isenabled()
    assert len(facts.symbols) == 1 + 80  # the module, 40 classes and their methods


def test_index_bytes_leaves_a_paused_collector_paused(seen: list[bool]) -> None:
    gc.disable()
    try:
        index_bytes("a.py", SOURCE, ModuleInfo("a", False, ""), 1)
        assert seen == [False]
        assert not gc.isenabled()
    finally:
        gc.enable()
