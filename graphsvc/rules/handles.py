"""``[[handle]]`` tables of the rule files: channels carried by objects code hands around.

Channels carried by objects that code hands around (a ``multiprocessing.Pipe``'s two ends, a
ZeroMQ socket of a given type) are ``[[handle]]`` tables: ``factory`` (the call that makes it),
``ends`` (how many objects it returns: 2 for a pipe, whose ends each reach the other),
``producers`` / ``consumers`` (methods called on an end or socket), ``duplex_arg`` /
``duplex_keyword`` (a false value there makes a one-way pipe: end 0 receives, end 1 sends),
``type_arg`` / ``type_keyword`` + ``types`` (the socket types this table covers, e.g.
``zmq.PUSH``), ``producer_types`` / ``consumer_types`` (whose sends produce, whose receives
consume), ``address`` (methods naming the channel, such as ``bind`` and ``connect``);
a *named* handle (an aio-pika exchange or queue) has ``name_arg`` / ``name_keyword`` (its name
in the factory call; a factory without them, such as ``default_exchange``, is named ``""``),
``routing_arg`` / ``routing_keyword`` (a producer's routing key: the channel is
``name/key``, or the key alone for the name ``""``), ``binds`` (methods that subscribe a queue
to ``exchange/key`` with AMQP topic matching: ``queue.bind(exchange, routing_key=...)``) and
``declare = true`` (the factory call is a declaration site of the name). ``neutral``: methods
that use a handle without producing or consuming (``poll``): code calling them is followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphsvc.errors import RuleError

HANDLE_KEYS = frozenset(
    {
        "transport",
        "factory",
        "ends",
        "producers",
        "consumers",
        "duplex_arg",
        "duplex_keyword",
        "type_arg",
        "type_keyword",
        "types",
        "producer_types",
        "consumer_types",
        "address",
        "name_arg",
        "name_keyword",
        "routing_arg",
        "routing_keyword",
        "binds",
        "declare",
        "neutral",
        "description",
    }
)


@dataclass(frozen=True, slots=True)
class HandleKind:
    """A channel carried by objects made by a factory call and handed around: the two ends
    of a pipe, or a socket whose type says whether its sends produce and its receives
    consume, and whose ``address`` calls (bind, connect) name the channel."""

    transport: str
    factory: tuple[str, ...]
    ends: int
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    duplex_arg: int | None = None
    duplex_keyword: str | None = None
    type_arg: int | None = None
    type_keyword: str | None = None
    types: tuple[str, ...] = ()
    producer_types: tuple[str, ...] = ()
    consumer_types: tuple[str, ...] = ()
    address: tuple[str, ...] = ()
    name_arg: int | None = None
    name_keyword: str | None = None
    routing_arg: int | None = None
    routing_keyword: str | None = None
    binds: tuple[str, ...] = ()
    declare: bool = False
    neutral: tuple[str, ...] = ()  # methods that use it without producing or consuming (poll)

    @property
    def named(self) -> bool:
        """An exchange or queue: its channel is a name, not a direction or an address."""
        return bool(
            {self.name_arg, self.name_keyword, self.routing_arg, self.routing_keyword} - {None}
            or self.binds
        )


def fail(path: Path, where: str, reason: str) -> RuleError:
    """The error of a rule file's table (``where``) that says what is wrong with it."""
    return RuleError(str(path), where, reason)


def table_head(
    raw: Any, path: Path, where: str, table: str, known: frozenset[str], transport: str | None
) -> str:
    """Check what every ``[[table]]`` of a rule file starts with (a ``rule``, an ``object``, a
    ``handle``): it is a table, it has no unknown key, and it has a transport of its own or
    the file's. Returns that transport.

    Raises:
        RuleError: one of them is not so.
    """
    article = "an" if table[0] in "aeiou" else "a"
    if not isinstance(raw, dict):
        raise fail(path, where, f"{article} [[{table}]] must be a table")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise fail(path, where, f"unknown keys {unknown}; known: {sorted(known)}")
    chosen = raw.get("transport", transport)
    if not isinstance(chosen, str) or not chosen:
        raise fail(path, where, f"no transport: set transport in the {table} or at the file's top")
    return chosen


def strings(value: Any, path: Path, where: str, key: str) -> tuple[str, ...]:
    """A string or a non-empty list of strings, as a tuple."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise fail(path, where, f"{key} must be a string or a non-empty list of strings")
    return tuple(value)


def parse_handle(raw: Any, path: Path, n: int, transport: str | None) -> HandleKind:
    """One ``[[handle]]`` table of a rule file.

    Raises:
        RuleError: a key is unknown or malformed.
    """
    where = f"handle {n + 1}"
    kind_transport = table_head(raw, path, where, "handle", HANDLE_KEYS, transport)
    ends = raw.get("ends", 1)
    if ends not in (1, 2) or isinstance(ends, bool):
        raise fail(path, where, "ends must be 1 (a socket) or 2 (a pipe)")
    for key in ("duplex_arg", "type_arg", "name_arg", "routing_arg"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise fail(path, where, f"{key} must be a positional index")
    for key in ("duplex_keyword", "type_keyword", "name_keyword", "routing_keyword"):
        if key in raw and not isinstance(raw[key], str):
            raise fail(path, where, f"{key} must be a string")
    if not isinstance(raw.get("declare", False), bool):
        raise fail(path, where, "declare must be true or false")

    def names(key: str) -> tuple[str, ...]:
        return strings(raw[key], path, where, key) if key in raw else ()

    if not names("producers") and not names("consumers") and not names("binds"):
        raise fail(path, where, "a handle needs producers, consumers or binds (method names)")
    return HandleKind(
        transport=kind_transport,
        factory=strings(raw.get("factory"), path, where, "factory"),
        ends=ends,
        producers=names("producers"),
        consumers=names("consumers"),
        duplex_arg=raw.get("duplex_arg"),
        duplex_keyword=raw.get("duplex_keyword"),
        type_arg=raw.get("type_arg"),
        type_keyword=raw.get("type_keyword"),
        types=names("types"),
        producer_types=names("producer_types"),
        consumer_types=names("consumer_types"),
        address=names("address"),
        name_arg=raw.get("name_arg"),
        name_keyword=raw.get("name_keyword"),
        routing_arg=raw.get("routing_arg"),
        routing_keyword=raw.get("routing_keyword"),
        binds=names("binds"),
        declare=bool(raw.get("declare", False)),
        neutral=names("neutral"),
    )
