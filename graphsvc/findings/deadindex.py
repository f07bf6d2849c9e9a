"""Indexes of the incremental ``dead_code``'s graph (deadgraph.py) whose keys have one value
most of the time: the value itself while there is one, a list from the second on (a list per
key was megabytes of the state on the standard library, #5)."""

from __future__ import annotations


def put(index: dict[int, int | list[int]], key: int, value: int) -> None:
    """Add ``value`` to ``key``'s values (an int while there is one: most keys have one)."""
    held = index.get(key)
    if held is None:
        index[key] = value
    elif isinstance(held, int):
        index[key] = [held, value]
    else:
        held.append(value)


def take(index: dict[int, int | list[int]], key: int, value: int) -> None:
    held = index[key]
    if isinstance(held, int):
        del index[key]
        return
    held.remove(value)
    if len(held) == 1:
        index[key] = held[0]


def codes(index: dict[int, int | list[int]], key: int) -> list[int]:
    held = index.get(key)
    return [] if held is None else [held] if isinstance(held, int) else held


def put_name(index: dict[int, str | list[str]], key: int, name: str) -> None:
    held = index.get(key)
    if held is None:
        index[key] = name
    elif isinstance(held, str):
        index[key] = [held, name]
    else:
        held.append(name)


def take_name(index: dict[int, str | list[str]], key: int, name: str) -> None:
    held = index[key]
    if isinstance(held, str):
        del index[key]
        return
    held.remove(name)
    if len(held) == 1:
        index[key] = held[0]
