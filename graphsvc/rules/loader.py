"""Channel rules as data: the shipped ``graphsvc/rules/*.toml`` and the user's own files.

A rule file describes one or more transports::

    transport = "redis"                       # default transport of the file's rules

    [aliases]                                 # other spellings of the same class
    "redis.StrictRedis" = "redis.Redis"

    [factories]                               # calling the key returns an instance of the value
    "redis.Redis.pubsub" = "redis.client.PubSub"

    [[rule]]
    callee = ["redis.Redis.publish"]          # resolved callees (dotted, after aliases)
    role = "producer"                         # producer | consumer | declaration
    topic = 0                                 # positional index of the topic, or "*" (each one)
    keyword = "channel"                       # ... or its keyword
    match = "exact"                           # exact|prefix|glob|mqtt|nats|amqp|kafka|subtree

    [[collection]]                            # an in-process collection or queue type
    transport = "queue"
    constructor = ["queue.Queue"]

Optional rule keys: ``transport`` (overrides the file's), ``frame = true`` (the topic is the
first element of a list or tuple argument: ZeroMQ ``send_multipart``), ``split = " "`` (the
topic is the part of the string before the first separator), ``when_arg`` + ``when`` (another
argument must name one of these constants: ``setsockopt(zmq.SUBSCRIBE, ...)``),
``exchange`` / ``exchange_keyword`` (AMQP: the exchange, joined to the routing key with ``/``),
``object = true`` (the topic argument names a channel object, such as a Django signal).

Channels that are objects (signals, tasks) are ``[[object]]`` tables: ``constructor`` and/or
``decorator`` (what declares one: ``post_saved = Signal()``, ``@app.task def f``), ``name_arg``
/ ``name_keyword`` (the channel's name when given: ``signal("user-created")``,
``@app.task(name="x")``; otherwise the variable's or function's qualname), ``producers`` and
``consumers`` (method names: ``send``, ``delay``; ``connect``) and ``external`` (dotted prefixes
of objects a library declares and produces, such as ``django.db.models.signals``).

Channels carried by objects that code hands around (pipe ends, typed sockets, aio-pika
exchanges and queues) are ``[[handle]]`` tables: see :mod:`graphsvc.rules.handles`.
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from graphsvc.rules.handles import HandleKind, fail, parse_handle, strings, table_head

Role = Literal["producer", "consumer", "declaration"]
ROLES: tuple[Role, ...] = ("producer", "consumer", "declaration")
MATCH_KINDS = ("exact", "prefix", "glob", "mqtt", "nats", "amqp", "kafka", "regex", "subtree")
RULES_DIR = Path(__file__).parent
_RULE_KEYS = frozenset(
    {
        "callee",
        "role",
        "topic",
        "keyword",
        "match",
        "transport",
        "frame",
        "split",
        "when_arg",
        "when",
        "exchange",
        "exchange_keyword",
        "object",
        "description",
    }
)
_FILE_KEYS = frozenset(
    {"transport", "description", "aliases", "factories", "rule", "collection", "object", "handle"}
)
_OBJECT_KEYS = frozenset(
    {
        "transport",
        "constructor",
        "decorator",
        "name_arg",
        "name_keyword",
        "producers",
        "consumers",
        "external",
        "description",
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One way a call produces, consumes or declares a channel."""

    id: str  # "<file stem>:<n>", the rule's place in its file
    transport: str
    callee: tuple[str, ...]
    role: Role
    topic: int | Literal["*"] | None
    keyword: str | None
    match: str
    frame: bool = False
    split: str | None = None
    when_arg: int | None = None
    when: tuple[str, ...] = ()
    exchange: int | None = None
    exchange_keyword: str | None = None
    object: bool = False  # the topic argument names a channel object (a signal): its channel


@dataclass(frozen=True, slots=True)
class ObjectKind:
    """Channels that are objects: a signal or a task, named by the variable (or function) that
    holds it, or by a name given to its constructor or decorator."""

    transport: str
    constructor: tuple[str, ...]  # X = constructor(...) declares the channel object X
    decorator: tuple[str, ...]  # @decorator def f: f is the channel object (and its consumer)
    name_arg: int | None  # the channel's name is this argument of the constructor/decorator
    name_keyword: str | None
    producers: tuple[str, ...]  # methods of the object that produce (send, delay, ...)
    consumers: tuple[str, ...]  # methods that consume (connect, ...)
    external: tuple[str, ...]  # dotted prefixes of objects a library declares and produces


@dataclass(frozen=True, slots=True)
class Collection:
    """An in-process collection or queue type, recognised by its constructor."""

    transport: str
    constructor: tuple[str, ...]


@dataclass(slots=True)
class RuleSet:
    """Every rule, alias, factory and collection type, with an index by callee."""

    rules: list[Rule] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    factories: dict[str, str] = field(default_factory=dict)
    collections: list[Collection] = field(default_factory=list)
    objects: list[ObjectKind] = field(default_factory=list)
    handles: list[HandleKind] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # sha256 of each file's text, in order
    _memo: dict[str, str] = field(default_factory=dict, repr=False)

    def by_callee(self) -> dict[str, list[Rule]]:
        found: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for callee in rule.callee:
                found.setdefault(callee, []).append(rule)
        return found

    def collection_of(self, constructor: str) -> str | None:
        """The transport of an in-process collection built by ``constructor``."""
        name = self.normalise(constructor)
        for entry in self.collections:
            if name in entry.constructor or constructor in entry.constructor:
                return entry.transport
        return None

    def object_kind(self, callee: str, decorator: bool) -> ObjectKind | None:
        """The object kind that ``callee`` (a constructor, or a decorator) declares."""
        name = self.normalise(callee)
        for kind in self.objects:
            if name in (kind.decorator if decorator else kind.constructor):
                return kind
        return None

    def handle_kinds(self, factory: str) -> list[HandleKind]:
        """The handle kinds ``factory`` (a callee as extraction inferred it) makes;
        ``?.socket`` (a receiver of unknown type) may be any kind with socket ``types``."""
        if factory.startswith("?."):
            method = factory[2:]
            return [
                h
                for h in self.handles
                if h.types and any(f.endswith("." + method) for f in h.factory)
            ]
        name = self.normalise(factory)
        return [h for h in self.handles if name in h.factory or factory in h.factory]

    def external_object(self, dotted: str) -> ObjectKind | None:
        """The object kind whose library declares ``dotted`` (django.db.models.signals.x)."""
        for kind in self.objects:
            if any(dotted == p or dotted.startswith(p + ".") for p in kind.external):
                return kind
        return None

    def normalise(self, key: str) -> str:
        """A callee as rules name it: ``F()`` prefixes replaced by what factory ``F`` returns
        (a class ``C()`` is an instance of ``C``), then aliases applied to the longest prefix."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._normalise(key)
        return found

    def _normalise(self, key: str) -> str:
        while "()" in key:
            head, _, rest = key.partition("()")
            head = self._alias(head)
            made = self.factories.get(head)
            if made is None:
                made = head if head.rsplit(".", 1)[-1][:1].isupper() else head + "<result>"
            key = made + rest
        return self._alias(key)

    def _alias(self, key: str) -> str:
        parts = key.split(".")
        for end in range(len(parts), 0, -1):
            target = self.aliases.get(".".join(parts[:end]))
            if target is not None:
                return ".".join([target, *parts[end:]])
        return key


def _rule(raw: Any, path: Path, n: int, transport: str | None) -> Rule:
    where = f"rule {n + 1}"
    rule_transport = table_head(raw, path, where, "rule", _RULE_KEYS, transport)
    role = raw.get("role")
    if role not in ROLES:
        raise fail(path, where, f"role must be one of {', '.join(ROLES)}, not {role!r}")
    topic = raw.get("topic")
    keyword = raw.get("keyword")
    if topic is not None and not (
        (isinstance(topic, int) and not isinstance(topic, bool) and topic >= 0) or topic == "*"
    ):
        raise fail(path, where, f"topic must be a positional index (0, 1, ...) or '*': {topic!r}")
    if keyword is not None and not isinstance(keyword, str):
        raise fail(path, where, "keyword must be a string")
    if topic is None and keyword is None:
        raise fail(path, where, "say where the topic is: topic = <index> and/or keyword = <name>")
    match = raw.get("match", "exact")
    if match not in MATCH_KINDS:
        raise fail(path, where, f"match must be one of {', '.join(MATCH_KINDS)}, not {match!r}")
    when_arg = raw.get("when_arg")
    when = strings(raw["when"], path, where, "when") if "when" in raw else ()
    if (when_arg is None) != (not when):
        raise fail(path, where, "when_arg and when go together")
    _check_optional(raw, path, where)
    return Rule(
        id=f"{path.stem}:{n + 1}",
        transport=rule_transport,
        callee=strings(raw.get("callee"), path, where, "callee"),
        role=role,
        topic=topic,
        keyword=keyword,
        match=match,
        frame=bool(raw.get("frame", False)),
        split=raw.get("split"),
        when_arg=when_arg,
        when=when,
        exchange=raw.get("exchange"),
        exchange_keyword=raw.get("exchange_keyword"),
        object=bool(raw.get("object", False)),
    )


def _check_optional(raw: dict[str, Any], path: Path, where: str) -> None:
    for key in ("when_arg", "exchange"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise fail(path, where, f"{key} must be a positional index")
    for key in ("split", "exchange_keyword"):
        if key in raw and not isinstance(raw[key], str):
            raise fail(path, where, f"{key} must be a string")
    for key in ("frame", "object"):
        if key in raw and not isinstance(raw[key], bool):
            raise fail(path, where, f"{key} must be true or false")


def _object(raw: Any, path: Path, n: int, transport: str | None) -> ObjectKind:
    where = f"object {n + 1}"
    kind_transport = table_head(raw, path, where, "object", _OBJECT_KEYS, transport)
    if "constructor" not in raw and "decorator" not in raw:
        raise fail(path, where, "an object is declared by a constructor or a decorator")

    def names(key: str) -> tuple[str, ...]:
        return strings(raw[key], path, where, key) if key in raw else ()

    name_arg = raw.get("name_arg")
    if name_arg is not None and (not isinstance(name_arg, int) or isinstance(name_arg, bool)):
        raise fail(path, where, "name_arg must be a positional index")
    name_keyword = raw.get("name_keyword")
    if name_keyword is not None and not isinstance(name_keyword, str):
        raise fail(path, where, "name_keyword must be a string")
    return ObjectKind(
        transport=kind_transport,
        constructor=names("constructor"),
        decorator=names("decorator"),
        name_arg=name_arg,
        name_keyword=name_keyword,
        producers=names("producers"),
        consumers=names("consumers"),
        external=names("external"),
    )


def _mapping(raw: Any, path: Path, key: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise fail(path, f"[{key}]", "must map dotted names to dotted names (strings)")
    return dict(raw)


def load_file(path: Path, into: RuleSet) -> None:
    """Add the rules of one TOML file to ``into``.

    Raises:
        RuleError: the file cannot be read or parsed, or a rule is malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise fail(path, "file", f"cannot read it: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise fail(path, "file", f"not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise fail(path, "file", f"unknown top-level keys {unknown}; known: {sorted(_FILE_KEYS)}")
    transport = data.get("transport")
    if transport is not None and not isinstance(transport, str):
        raise fail(path, "file", "transport must be a string")
    rules = data.get("rule", [])
    collections = data.get("collection", [])
    objects = data.get("object", [])
    handles = data.get("handle", [])
    if not all(isinstance(x, list) for x in (rules, collections, objects, handles)):
        raise fail(path, "file", "rule, collection, object and handle must be arrays of tables")
    into.aliases.update(_mapping(data.get("aliases"), path, "aliases"))
    into.factories.update(_mapping(data.get("factories"), path, "factories"))
    into.rules.extend(_rule(raw, path, n, transport) for n, raw in enumerate(rules))
    into.objects.extend(_object(raw, path, n, transport) for n, raw in enumerate(objects))
    into.handles.extend(parse_handle(raw, path, n, transport) for n, raw in enumerate(handles))
    for n, raw in enumerate(collections):
        where = f"collection {n + 1}"
        if not isinstance(raw, dict) or not isinstance(raw.get("transport"), str):
            raise fail(path, where, "a [[collection]] needs a transport (string)")
        constructor = strings(raw.get("constructor"), path, where, "constructor")
        into.collections.append(Collection(raw["transport"], constructor))
    into.sources.append(str(path))
    into.digests.append(hashlib.sha256(text.encode()).hexdigest())


def shipped_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.toml"))


@functools.cache
def _shipped() -> RuleSet:
    found = RuleSet()
    for path in shipped_files():
        load_file(path, found)
    return found


def load_rules(user_files: list[Path] | tuple[Path, ...] = ()) -> RuleSet:
    """The shipped rules (read once per process), then the user's files (read every time:
    theirs add rules, aliases and factories).

    Raises:
        RuleError: a file is missing or malformed.
    """
    shipped = _shipped()
    found = RuleSet(
        list(shipped.rules),
        dict(shipped.aliases),
        dict(shipped.factories),
        list(shipped.collections),
        list(shipped.objects),
        list(shipped.handles),
        list(shipped.sources),
        list(shipped.digests),
    )
    for path in user_files:
        if not path.is_file():
            raise fail(path, "file", "no such rule file (GRAPHSVC_CHANNEL_RULES)")
        load_file(path, found)
    return found
