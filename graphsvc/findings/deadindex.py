"""Indexes of the incremental ``dead_code``'s graph (deadgraph.py) whose keys have one value
most of the time: the value itself while there is one, a list from the second on (a list per
key was megabytes of the state on the standard library, #5). The values are ints (file codes,
file ids) or qualnames."""

from __future__ import annotations

from typing import TypeVar

V = TypeVar("V", int, str)


def put(index: dict[int, V | list[V]], key: int, value: V) -> None:
    """Add ``value`` to ``key``'s values (the value itself while there is one)."""
    held = index.get(key)
    if held is None:
        index[key] = value
    elif isinstance(held, list):
        held.append(value)
    else:
        index[key] = [held, value]


def take(index: dict[int, V | list[V]], key: int, value: V) -> None:
    """Take ``value`` from ``key``'s values (the key goes with its last one)."""
    held = index[key]
    if not isinstance(held, list):
        del index[key]
        return
    held.remove(value)
    if len(held) == 1:
        index[key] = held[0]


def codes(index: dict[int, int | list[int]], key: int) -> list[int]:
    held = index.get(key)
    return [] if held is None else held if isinstance(held, list) else [held]
