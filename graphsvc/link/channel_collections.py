"""Collection channels: a ``self.x = deque()`` (or ``Queue()``, ...) the class writes and reads.

Split from graphsvc/link/channels.py: the channel pass hands in its row builder, this module
decides which declarations and uses of an attribute that holds a collection are sites.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphsvc.link.channel_facts import ChannelFacts
from graphsvc.link.topics import Topic
from graphsvc.rules import Rule, RuleSet

# ChannelPass._row: (file_id, path, line, col, scope, rule, written, topic, rule_id, via,
# confidence) -> a channel_sites row
RowBuilder = Callable[..., tuple[Any, ...]]


def collection_sites(rules: RuleSet, facts: ChannelFacts, row: RowBuilder) -> list[tuple[Any, ...]]:
    """The declaration of every attribute that holds a collection, and each use of it."""
    rows: list[tuple[Any, ...]] = []
    transports: dict[str, str] = {}
    for name, (path, line, scope, file_id, col, ctor) in sorted(facts.decls.items()):
        transport = rules.collection_of(ctor)
        if transport is None or name not in facts.attribute_decls:
            continue
        transports[name] = transport
        rule = _collection_rule(transport, "declaration")
        topic = Topic((name,), ("receiver",))
        written = f"self.{name.rsplit('.', 1)[-1]}"
        rows.append(
            row(file_id, path, line, col, scope, rule, written, topic, f"collection:{transport}")
        )
    for file_id, path, line, col, scope, name, op in facts.uses:
        transport = transports.get(name)
        if transport is None:
            continue
        # passed on, returned, used by another object: that code may read it or write
        # it, so the use is both
        roles = ["producer"] if op.startswith("write:") else ["consumer"]
        if op in ("read:passed", "read:elsewhere", "read:returned"):
            roles = ["producer", "consumer"]
        topic = Topic((name,), ("receiver",))
        attr = name.rsplit(".", 1)[-1]
        what = op.split(":", 1)[1]
        written = f"{attr} (another object)" if what == "elsewhere" else f"self.{attr} ({what})"
        for role in roles:
            rule = _collection_rule(transport, role)
            rows.append(
                row(
                    file_id, path, line, col, scope, rule, written, topic, f"collection:{transport}"
                )
            )
    return rows


def _collection_rule(transport: str, role: str) -> Rule:
    return Rule(f"collection:{transport}", transport, (), role, None, "receiver", "exact")  # type: ignore[arg-type]
