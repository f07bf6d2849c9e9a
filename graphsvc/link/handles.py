"""Channels carried by handles: a ``multiprocessing.Pipe``'s ends, ZeroMQ PUSH/PULL, REQ/REP
and PAIR sockets (``[[handle]]`` in the rules).

Each file's ``hmake``/``huse``/``hcopy``/``harg``/``hparam`` rows (graphsvc/extract/handles.py)
say where a handle is made, which places it is copied or passed to, and which methods are
called on which places. Here the handles are followed across files to a fixed point (an end
passed to ``worker(conn)`` in another module reaches its parameter), then each use becomes a
site: a pipe's channel is the pipe (named by the function that makes it) and a direction
(``pkg.mod.start:parent->child``: what ``parent`` sends, ``child`` receives); a socket's
channel is each address given to ``bind``/``connect`` on it (tcp by port: the host is
written ``*``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphsvc.link.channel_facts import ChannelFacts, HandleRow
from graphsvc.link.topics import UNKNOWN, Evaluator, Expr, Topic
from graphsvc.rules import HandleKind, Rule, RuleSet

Row = tuple[Any, ...]
# (file_id, path, line, col, scope, rule, written, topic, rule_id) -> a channel_sites row
MakeRow = Callable[[int, str, int, int, str, Rule, str, Topic, str], Row]
_MAX_ROUNDS = 32
_FALSE = (["d", "False"], ["d", "0"])
_TCP = re.compile(r"^tcp://[^/]*:")


@dataclass(slots=True)
class Handle:
    """One factory call: a pipe or a typed socket."""

    name: str  # the channel's base name: the scope that makes it (+@line when not unique)
    kind: HandleKind
    socket_type: str | None
    duplex: bool
    labels: list[str]  # the ends as written at the factory call
    addresses: list[Topic] = field(default_factory=list)
    named: Topic | None = None  # an exchange's or queue's name ("" for the default exchange)
    made: HandleRow | None = None


def handle_rule(kind: HandleKind, role: str, match: str = "exact") -> Rule:
    return Rule(f"handle:{kind.transport}", kind.transport, (), role, None, "receiver", match)  # type: ignore[arg-type]


def _joined(exchange: Topic, key: Topic) -> Topic:
    """``exchange/key``; the key alone for the default exchange ``""`` (as pika's rule)."""
    strategy = tuple(sorted({*exchange.strategy, *key.strategy, "handle"} - {"dynamic"}))
    if exchange.text() == "":
        return Topic(key.pieces, strategy or ("dynamic",))
    if exchange.dynamic and key.dynamic:
        return UNKNOWN
    pieces: list[str | None] = []
    for piece in (*exchange.pieces, "/", *key.pieces):
        if pieces and piece is not None and pieces[-1] is not None:
            pieces[-1] = f"{pieces[-1]}{piece}"
        elif not (pieces and piece is None and pieces[-1] is None):
            pieces.append(piece)
    return Topic(tuple(pieces), strategy)


def _label(key: str) -> str:
    place = json.loads(key)
    if place is None:
        return "?"
    if place[0] == "t":  # channel.default_exchange.publish(): made where it is used
        return "(made here)"
    return place[2] if place[0] == "v" else "self." + place[1].rsplit(".", 1)[-1]


def _argument(args: list[list[Any]], position: int | None, keyword: str | None) -> Expr | None:
    for key, expr in args:
        if keyword is not None and key == f"={keyword}":
            return expr
    for key, expr in args:
        if position is not None and key == str(position):
            return expr
    return None


def address_topic(topic: Topic) -> Topic:
    """A tcp endpoint by its port: ``tcp://*:5557`` for ``tcp://127.0.0.1:5557``, also when
    the host is unknown (``f"tcp://{host}:5557"``); ipc and inproc as written."""
    first = topic.pieces[0] if topic.pieces else None
    if first is None or not first.startswith("tcp://"):
        return topic
    joined = "".join(p if p is not None else "\0" for p in topic.pieces)
    match = _TCP.match(joined)
    if match is None:
        return topic
    rest = joined[match.end() :]
    pieces: list[str | None] = ["tcp://*:"]
    for i, part in enumerate(rest.split("\0")):
        if i:
            pieces.append(None)
        if part:
            pieces.append(part)
    merged: list[str | None] = []
    for piece in pieces:
        if merged and piece is not None and merged[-1] is not None:
            merged[-1] = f"{merged[-1]}{piece}"
        else:
            merged.append(piece)
    return Topic(tuple(merged), tuple(sorted({*topic.strategy, "address"})))


class HandleSites:
    """Follows every handle of the tree and turns the methods called on it into sites."""

    def __init__(self, rules: RuleSet, facts: ChannelFacts, evaluator: Evaluator) -> None:
        self.rules = rules
        self.facts = facts
        self.evaluator = evaluator
        self.handles: list[Handle] = []
        self.holds: dict[str, set[tuple[int, int]]] = {}  # place -> (handle, end)
        # calls on a socket of a type a [[handle]] covers: never PUB/SUB sites
        self.typed_calls: set[tuple[int, int, int]] = set()
        self.escapes: list[HandleRow] = []  # harg rows whose place reaches no known parameter
        self._follow()

    def _make(self, row: HandleRow) -> Handle | None:
        kinds = self.rules.handle_kinds(row.name)
        if not kinds:
            return None
        args = row.args
        socket_type = None
        chosen = kinds[0]
        if chosen.types:
            expr = _argument(args, chosen.type_arg, chosen.type_keyword)
            if expr is None or expr[0] != "n":
                return None
            socket_type = self.rules.normalise(expr[1])
            found = [k for k in kinds if socket_type in k.types]
            if not found:
                return None  # a PUB or SUB socket: the [[rule]]s see its calls
            chosen = found[0]
        duplex = True
        if chosen.ends == 2:
            expr = _argument(args, chosen.duplex_arg, chosen.duplex_keyword)
            duplex = expr not in _FALSE
        places: list[str | None] = [
            json.dumps(p, separators=(",", ":")) if p is not None else None
            for p in json.loads(row.detail)
        ]
        name = row.scope  # made twice in one scope with ends named alike: +@line, see _follow
        labels = [_label(p) if p is not None else f"end{i}" for i, p in enumerate(places)]
        handle = Handle(name, chosen, socket_type, duplex, labels, made=row)
        if chosen.named:
            expr = _argument(args, chosen.name_arg, chosen.name_keyword)
            nameless = chosen.name_arg is None and chosen.name_keyword is None
            handle.named = (
                self.evaluator.topic(expr, row.scope)
                if expr is not None
                else Topic(("",), ("literal",))
                if nameless
                else UNKNOWN
            )
        index = len(self.handles)
        self.handles.append(handle)
        for end, place in enumerate(places[: chosen.ends]):
            if place is not None:
                self.holds.setdefault(place, set()).add((index, end))
        return handle

    def _disambiguate(self) -> None:
        """A pipe is named by the function that makes it and its ends (``pkg.mod.start:a->b``),
        so edits elsewhere in the file keep its channel (and its findings' ids); a function
        making two pipes whose ends are named alike gets the line too (``start@12:a->b``)."""
        seen: dict[tuple[str, tuple[str, ...]], int] = {}
        for handle in self.handles:
            key = (handle.name, tuple(handle.labels))
            seen[key] = seen.get(key, 0) + 1
        for handle in self.handles:
            if seen[(handle.name, tuple(handle.labels))] > 1 and handle.made is not None:
                handle.name = f"{handle.name}@{handle.made.line}"

    def _edges(self) -> list[tuple[str, str]]:
        """(src, dst) places: copies, and arguments into the parameters of the callee. An
        argument that reaches no parameter known to use it (a callee the file cannot name, a
        function outside the tree, a parameter only passed on) *escapes*: code not followed
        may send or receive on it, so it counts as both (as in-process collections do)."""
        edges: list[tuple[str, str]] = []
        params = self.facts.handle_params
        for row in self.facts.handle_rows:
            if row.kind == "hcopy":
                edges.append((row.detail, row.name))
            elif row.kind == "harg" and not self._argument_edges(row, params, edges):
                self.escapes.append(row)
        return edges

    def _argument_edges(
        self,
        row: HandleRow,
        params: dict[str, dict[str, tuple[int, bool]]],
        edges: list[tuple[str, str]],
    ) -> bool:
        """Edges from the place a ``harg`` row passes to the parameter it reaches."""
        if row.name == "?":
            return False
        function = self.facts.resolve(row.name)
        position, _, through = row.detail.rpartition(":")
        bound = through == "1"
        if function not in params:  # a class: its __init__, self passed implicitly
            function, bound = f"{function}.__init__", True
        found = False
        for name, (index, implicit) in params.get(function, {}).items():
            if position.startswith("="):
                if name != position[1:]:
                    continue
            elif index != int(position) + int(bound and implicit):
                continue
            place = json.dumps(["v", function, name], separators=(",", ":"))
            edges.append((row.data, place))
            found = True
        return found

    def _follow(self) -> None:
        for row in self.facts.handle_rows:
            if row.kind == "hmake":
                self._make(row)
        self._disambiguate()
        edges = self._edges()
        for _ in range(_MAX_ROUNDS):
            changed = False
            for src, dst in edges:
                held = self.holds.get(src)
                if held and not held <= self.holds.get(dst, set()):
                    self.holds.setdefault(dst, set()).update(held)
                    changed = True
            if not changed:
                break
        for row in self.facts.handle_rows:
            if row.kind != "huse":
                continue
            for index, _ in sorted(self.holds.get(row.name, ())):
                handle = self.handles[index]
                if row.detail in handle.kind.address:
                    expr = _argument(row.args, 0, "addr")
                    topic = self.evaluator.topic(expr, row.scope) if expr else UNKNOWN
                    handle.addresses.append(address_topic(topic))
                if handle.socket_type is not None:
                    self.typed_calls.add((row.file_id, row.line, row.col))

    def sites(self, make: MakeRow) -> list[Row]:
        rows: list[Row] = []
        for handle in self.handles:  # declare_queue("q"): a declaration of q
            made = handle.made
            if handle.kind.declare and made is not None and handle.named is not None:
                rule = handle_rule(handle.kind, "declaration")
                written = made.name.rsplit(".", 1)[-1]
                args = (made.file_id, made.path, made.line, made.col, made.scope, rule, written)
                rows.append(make(*args, handle.named, rule.id))
        for row in self.escapes:
            for index, end in sorted(self.holds.get(row.data, ())):
                handle = self.handles[index]
                if handle.named is not None:
                    continue  # an exchange or queue handed on: its uses there are not seen
                for role, topic, match in self._escaped(handle, end):
                    rule = handle_rule(handle.kind, role, match)
                    written = f"{_label(row.data)} (passed on)"
                    args = (row.file_id, row.path, row.line, row.col, row.scope, rule, written)
                    rows.append(make(*args, topic, rule.id))
        for row in self.facts.handle_rows:
            if row.kind != "huse":
                continue
            for index, end in sorted(self.holds.get(row.name, ())):
                handle = self.handles[index]
                uses = self._named(handle, row) if handle.named is not None else None
                for role, topic, match in uses or self._uses(handle, end, row.detail):
                    written = f"{_label(row.name)}.{row.detail}"
                    rule = handle_rule(handle.kind, role, match)
                    rows.append(
                        make(
                            row.file_id,
                            row.path,
                            row.line,
                            row.col,
                            row.scope,
                            rule,
                            written,
                            topic,
                            rule.id,
                        )
                    )
        return rows

    def _escaped(self, handle: Handle, end: int) -> list[tuple[str, Topic, str]]:
        """An end or socket handed to code that is not followed: it may send and receive."""
        kind = handle.kind
        sends = self._uses(handle, end, kind.producers[0]) if kind.producers else []
        receives = self._uses(handle, end, kind.consumers[0]) if kind.consumers else []
        return [*sends, *receives]

    def _named(self, handle: Handle, row: HandleRow) -> list[tuple[str, Topic, str]]:
        """A use of an exchange or queue: ``publish`` (``name/routing key``), ``consume``
        (the queue), ``bind`` (``exchange/key``, an AMQP topic pattern)."""
        kind, method = handle.kind, row.detail
        assert handle.named is not None
        if method in kind.consumers:
            return [("consumer", handle.named, "exact")]
        key_expr = _argument(row.args, kind.routing_arg, kind.routing_keyword)
        key = self.evaluator.topic(key_expr, row.scope) if key_expr is not None else UNKNOWN
        if method in kind.producers:
            return [("producer", _joined(handle.named, key), "exact")]
        if method not in kind.binds:
            return []
        exchanges: list[Topic] = []
        held = next((e for k, e in row.args if k in ("@0", "@=exchange")), "")
        for index, _ in sorted(self.holds.get(str(held), ())):
            found = self.handles[index].named
            if found is not None:
                exchanges.append(found)
        if not exchanges:
            expr = _argument(row.args, 0, "exchange")
            exchanges.append(self.evaluator.topic(expr, row.scope) if expr else UNKNOWN)
        # the binding consumes the exchange's matching keys and feeds the queue
        fed = [("producer", handle.named, "exact")]
        return [*(("consumer", _joined(e, key), "amqp") for e in exchanges), *fed]

    def _uses(self, handle: Handle, end: int, method: str) -> list[tuple[str, Topic, str]]:
        kind = handle.kind
        role = None
        if method in kind.producers and (
            handle.socket_type is None or handle.socket_type in kind.producer_types
        ):
            role = "producer"
        elif method in kind.consumers and (
            handle.socket_type is None or handle.socket_type in kind.consumer_types
        ):
            role = "consumer"
        if role is None:
            return []
        if kind.ends == 2 and not handle.duplex and end != (1 if role == "producer" else 0):
            return []  # Pipe(duplex=False): end 0 only receives, end 1 only sends
        if kind.ends == 2:  # a pipe: what one end sends, the other receives
            source, target = (end, 1 - end) if role == "producer" else (1 - end, end)
            labels = handle.labels
            channel = f"{handle.name}:{labels[source]}->{labels[target]}"
            return [(role, Topic((channel,), ("handle",)), "exact")]
        if not handle.addresses:
            return [(role, UNKNOWN, "exact")]
        unique = {t.pieces: t for t in handle.addresses}
        return [(role, unique[p], "exact") for p in sorted(unique, key=str)]
