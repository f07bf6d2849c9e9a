"""The channel pass: channel facts + linked callees + rules -> channel sites, derived wrappers.

Runs after the linker, over the whole tree's channel facts (a small subset of its calls): the
rules are matched against each call's callee as the linker resolved it (and, for receivers the
linker cannot name, as the file inferred it: ``zmq.Context.socket().send`` through the rules'
factories), never against a method name alone. Wrappers are derived by iterating to a fixed
point: a call matched by a rule (shipped, user or derived) whose topic comes from a parameter
of its function (or from a ``self`` attribute set from a constructor parameter) makes that
function a wrapper, and calls that resolve to it are sites in turn.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pathspec
import pyarrow as pa

from graphsvc.link.topics import (
    MATCH_COLUMN,
    UNKNOWN,
    Evaluator,
    Expr,
    Topic,
    attributes_of,
    catch_all,
    kafka_match,
    params_of,
    render,
    substitute,
    wildcard_regex,
)
from graphsvc.rules import Rule, RuleSet
from graphsvc.store import Store

log = logging.getLogger(__name__)
_MAX_WRAPPER_DEPTH = 8


@dataclass(slots=True)
class _Call:
    file_id: int
    path: str
    line: int
    col: int
    scope: str
    key: str
    written: str
    args: list[list[Any]]
    targets: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Wrapper:
    """A derived rule: calls of ``wrapper`` carry a topic in ``param``."""

    wrapper: str
    file_id: int
    param: str
    position: int | None
    template: Expr
    rule: Rule
    depth: int
    evidence: tuple[str, ...]
    scope: str  # where template's names are evaluated (the wrapper itself)


@dataclass(slots=True)
class ChannelSummary:
    sites: int = 0
    wrappers: int = 0
    seconds: float = 0.0


class _Facts:
    """Every file's channel facts, indexed the ways the pass reads them."""

    def __init__(self, store: Store) -> None:
        con = store.con
        self.calls: list[_Call] = []
        self.consts: dict[str, tuple[Expr, str]] = {}
        self.attrs: dict[str, list[tuple[Expr, str, str, int]]] = {}  # Class.attr -> values
        self.params: dict[str, dict[str, tuple[int | None, bool, Expr | None]]] = {}
        self.decls: dict[str, tuple[str, int, str, int, int, str]] = {}
        self.uses: list[tuple[int, str, int, int, str, str, str]] = []
        self.paths: dict[int, str] = {}
        self.file_of_scope: dict[str, int] = {}
        rows = con.execute(
            "SELECT c.file_id, f.path, c.kind, c.line, c.col, c.scope, c.name, c.detail, c.data"
            " FROM channel_facts AS c JOIN files AS f USING (file_id)"
            " ORDER BY f.path, c.line, c.col, c.kind, c.name"
        ).fetchall()
        for file_id, path, kind, line, col, scope, name, detail, data in rows:
            self.paths[file_id] = path
            self.file_of_scope.setdefault(scope, file_id)
            value = json.loads(data)
            if kind == "call":
                self.calls.append(_Call(file_id, path, line, col, scope, name, detail, value))
            elif kind == "const":
                self.consts.setdefault(name, (value, scope))
            elif kind == "attr":
                self.attrs.setdefault(name, []).append((value, scope, path, line))
            elif kind == "param":
                position, _, bound = detail.split(":")
                index = int(position) - int(bound) if position else None
                self.params.setdefault(scope, {})[name] = (index, bound == "1", value)
            elif kind == "decl":
                self.decls.setdefault(name, (path, line, scope, file_id, col, detail))
            elif kind == "use":
                self.uses.append((file_id, path, line, col, scope, name, detail))
        by_site = {(c.file_id, c.line, c.col): c for c in self.calls}
        for file_id, line, col, target in con.execute(
            "SELECT l.file_id, l.line, l.col, l.target FROM links AS l"
            " JOIN channel_facts AS c ON c.file_id = l.file_id AND c.line = l.line"
            " AND c.col = l.col AND c.kind = 'call'"
            " WHERE l.site = 'call' AND l.target IS NOT NULL"
        ).fetchall():
            call = by_site.get((file_id, line, col))
            if call is not None:
                call.targets.add(target)
        self.reexports: dict[str, str] = dict(
            con.execute(
                "SELECT m.name || '.' || coalesce(i.alias, i.name), l.target"
                " FROM imports AS i JOIN modules AS m USING (file_id)"
                " JOIN links AS l ON l.file_id = i.file_id AND l.line = i.line"
                " AND l.col = i.col AND l.site = 'import'"
                " WHERE i.kind = 'from' AND l.target IS NOT NULL"
            ).fetchall()
        )

    def constant(self, name: str) -> tuple[Expr, str] | None:
        for _ in range(8):
            found = self.consts.get(name)
            if found is not None:
                return found
            following = self.reexports.get(name)
            if following is None or following == name:
                return None
            name = following
        return None

    def attribute(self, scope: str, name: str) -> tuple[Expr, str] | None:
        """``self.name`` in method ``scope``: the class constant, else the one value set."""
        cls = scope.rsplit(".", 1)[0]
        while cls:
            found = self.consts.get(f"{cls}.{name}")
            if found is not None:
                return found
            values = self.attrs.get(f"{cls}.{name}")
            if values is not None:
                if len({json.dumps(v[0]) for v in values}) == 1:
                    return values[0][0], values[0][1]
                return None
            cls = cls.rsplit(".", 1)[0] if "." in cls else ""
        return None


class ChannelPass:
    """One run of the channel pass over a store."""

    def __init__(self, rules: RuleSet, test_globs: Iterable[str] = ()) -> None:
        self.rules = rules
        self.by_callee = rules.by_callee()
        self.tests = pathspec.GitIgnoreSpec.from_lines(list(test_globs))

    def run(self, store: Store) -> ChannelSummary:
        started = time.perf_counter()
        facts = _Facts(store)
        self.facts = facts
        self.evaluator = Evaluator(facts.constant, facts.attribute)
        wrappers = self._derive(facts)
        sites = self._sites(facts, wrappers)
        sites.extend(self._collections(facts))
        store.write_channels(_sites_table(sites), _channels_table(sites), _wrappers_table(wrappers))
        seconds = time.perf_counter() - started
        log.info("channels: %d sites, %d wrappers in %.3fs", len(sites), len(wrappers), seconds)
        return ChannelSummary(len(sites), len(wrappers), seconds)

    # ------------------------------------------------------------------ matching

    def _matches(self, call: _Call, wrappers: dict[str, list[Wrapper]]) -> list[Rule | Wrapper]:
        found: list[Rule | Wrapper] = []
        for target in sorted(call.targets):
            found.extend(wrappers.get(target, []))
        if found:
            return found
        keys = {self.rules.normalise(t) for t in call.targets}
        if call.key:
            keys.add(self.rules.normalise(call.key))
        for key in sorted(keys):
            for rule in self.by_callee.get(key, []):
                if rule.when_arg is None or self._condition(call, rule):
                    found.append(rule)
        return found

    def _condition(self, call: _Call, rule: Rule) -> bool:
        expr = _argument(call.args, rule.when_arg, None)
        if expr is None or expr[0] != "n":
            return False
        return self.rules.normalise(expr[1]) in rule.when

    def _topic_exprs(self, call: _Call, match: Rule | Wrapper) -> list[Expr]:
        """The expressions that carry the topic at ``call`` (several for ``topic = "*"``)."""
        if isinstance(match, Wrapper):
            expr = _argument(call.args, match.position, match.param)
            if expr is None:
                default = self.facts.params.get(match.wrapper, {}).get(match.param)
                expr = default[2] if default is not None and default[2] is not None else None
            if expr is None:
                return []
            return [substitute(match.template, "p", match.param, expr)]
        rule = match
        if rule.topic == "*":
            exprs = [a[1] for a in call.args if a[0].isdigit()]
            if rule.keyword is not None:
                exprs += [a[1] for a in call.args if a[0] == f"={rule.keyword}"]
            flat: list[Expr] = []
            for expr in exprs:
                flat.extend(expr[1] if expr[0] == "l" else [expr])
            return flat
        expr = _argument(call.args, rule.topic, rule.keyword)
        if expr is None:
            return []
        if expr[0] == "l" and not rule.frame:
            return list(expr[1])
        if rule.exchange is not None or rule.exchange_keyword is not None:
            exchange = _argument(call.args, rule.exchange, rule.exchange_keyword)
            if exchange is not None and exchange != ["s", ""]:
                return [["c", [exchange, ["s", "/"], expr]]]
        return [expr]

    # ------------------------------------------------------------------ wrappers

    def _derive(self, facts: _Facts) -> list[Wrapper]:
        wrappers: dict[str, list[Wrapper]] = {}
        seen: set[tuple[str, str]] = set()
        for depth in range(1, _MAX_WRAPPER_DEPTH + 1):
            new: list[Wrapper] = []
            for call in facts.calls:
                for match in self._matches(call, wrappers):
                    for expr in self._topic_exprs(call, match):
                        new.extend(self._wrappers_from(call, match, expr, depth, seen))
            if not new:
                break
            for wrapper in new:
                wrappers.setdefault(wrapper.wrapper, []).append(wrapper)
        self.wrappers = wrappers
        return [w for ws in wrappers.values() for w in ws]

    def _wrappers_from(
        self, call: _Call, match: Rule | Wrapper, expr: Expr, depth: int, seen: set[tuple[str, str]]
    ) -> list[Wrapper]:
        rule = match.rule if isinstance(match, Wrapper) else match
        step = f"{call.path}:{call.line}: {call.scope} passes {render(expr)} to {call.written}"
        earlier = match.evidence if isinstance(match, Wrapper) else (f"rule {rule.id}",)
        found: list[Wrapper] = []
        params = self.facts.params.get(call.scope, {})
        for name in sorted(params_of(expr)):
            if name not in params or (call.scope, name) in seen:
                continue
            seen.add((call.scope, name))
            position = params[name][0]
            found.append(
                Wrapper(
                    call.scope,
                    call.file_id,
                    name,
                    position,
                    expr,
                    rule,
                    depth,
                    (step, *earlier),
                    call.scope,
                )
            )
        cls = call.scope.rsplit(".", 1)[0]
        for attr in sorted(attributes_of(expr)):
            for value, scope, path, line in self.facts.attrs.get(f"{cls}.{attr}", []):
                inner = substitute(expr, "a", attr, value)
                params = self.facts.params.get(scope, {})
                for name in sorted(params_of(value)):
                    if name not in params or (scope, name) in seen:
                        continue
                    seen.add((scope, name))
                    stored = f"{path}:{line}: {scope} stores {name} in self.{attr}"
                    found.append(
                        Wrapper(
                            scope,
                            self.facts.file_of_scope.get(scope, call.file_id),
                            name,
                            params[name][0],
                            inner,
                            rule,
                            depth,
                            (stored, step, *earlier),
                            scope,
                        )
                    )
        return found

    # ------------------------------------------------------------------ sites

    def _sites(self, facts: _Facts, wrappers: list[Wrapper]) -> list[tuple[Any, ...]]:
        called = {t for c in facts.calls for t in c.targets}
        self.called = called
        wrapper_scopes = {(w.wrapper, w.param) for w in wrappers if w.wrapper in called}
        by_name: dict[str, list[Wrapper]] = {}
        for wrapper in wrappers:
            by_name.setdefault(wrapper.wrapper, []).append(wrapper)
        rows: list[tuple[Any, ...]] = []
        for call in facts.calls:
            done: set[str] = set()
            for match in self._matches(call, by_name):
                rule = match.rule if isinstance(match, Wrapper) else match
                for expr in self._topic_exprs(call, match) or [["d", call.written]]:
                    if any((call.scope, p) in wrapper_scopes for p in params_of(expr)):
                        continue  # the wrapper's callers are the sites
                    if any(self._is_wrapped_attr(call.scope, a) for a in attributes_of(expr)):
                        continue
                    row = self._site(call, match, rule, expr)
                    key = f"{row[5]}|{row[4]}|{row[7]}"
                    if key not in done:
                        done.add(key)
                        rows.append(row)
        return rows

    def _is_wrapped_attr(self, scope: str, attr: str) -> bool:
        cls = scope.rsplit(".", 1)[0]
        for value, set_in, _, _ in self.facts.attrs.get(f"{cls}.{attr}", []):
            wrappers = self.wrappers.get(set_in, [])
            if any(w.param in params_of(value) and w.wrapper in self.called for w in wrappers):
                return True
        return False

    def _site(self, call: _Call, match: Rule | Wrapper, rule: Rule, expr: Expr) -> tuple[Any, ...]:
        topic = self.evaluator.topic(expr, call.scope) if expr[0] != "d" else UNKNOWN
        if rule.split is not None:
            topic = topic.cut(rule.split)
        via = None
        confidence = 1.0
        written = render(expr)
        if isinstance(match, Wrapper):
            via = _chain(match)
            confidence = 0.9
            argument = _argument(call.args, match.position, match.param)
            written = render(argument) if argument is not None else f"default of {match.param}"
        return self._row(
            call.file_id,
            call.path,
            call.line,
            call.col,
            call.scope,
            rule,
            written,
            topic,
            rule.id if not isinstance(match, Wrapper) else f"derived:{match.wrapper}",
            via,
            confidence,
        )

    def _row(
        self,
        file_id: int,
        path: str,
        line: int,
        col: int,
        scope: str,
        rule: Rule,
        written: str,
        topic: Topic,
        rule_id: str,
        via: str | None,
        confidence: float,
    ) -> tuple[Any, ...]:
        text = topic.text()
        match = rule.match if rule.role == "consumer" else "exact"
        if match == "kafka" and text is not None:
            match = kafka_match(text)
        regex = sample = None
        strategy = "+".join(topic.strategy)
        if text is None:
            kind, confidence = "dynamic", 0.0
        elif not topic.exact:
            kind, regex, sample, confidence = "pattern", topic.regex(), topic.sample(), 0.6
        else:
            kind = MATCH_COLUMN.get(match, "exact")
            regex = wildcard_regex(match, text) if kind in ("wildcard", "regex") else None
            if kind in ("wildcard", "regex") and regex is None:
                kind, confidence = "dynamic", 0.0  # a regex DuckDB's RE2 cannot read
        everything = rule.role == "consumer" and text is not None and catch_all(match, text)
        in_test = bool(self.tests.match_file(path))
        return (
            file_id,
            line,
            col,
            scope,
            rule.role,
            rule.transport,
            written,
            text,
            kind,
            regex,
            sample,
            strategy,
            confidence,
            rule_id,
            via,
            everything,
            in_test,
        )

    def _collections(self, facts: _Facts) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        transports: dict[str, str] = {}
        for name, (path, line, scope, file_id, col, ctor) in sorted(facts.decls.items()):
            transport = self.rules.collection_of(ctor)
            if transport is None:
                continue
            transports[name] = transport
            rule = _collection_rule(transport, "declaration")
            topic = Topic((name,), ("receiver",))
            rows.append(
                self._row(
                    file_id,
                    path,
                    line,
                    col,
                    scope,
                    rule,
                    f"self.{name.rsplit('.', 1)[-1]}",
                    topic,
                    f"collection:{transport}",
                    None,
                    1.0,
                )
            )
        for file_id, path, line, col, scope, name, op in facts.uses:
            transport = transports.get(name)
            if transport is None:
                continue
            # passed on: the callee may read it or write it, so the use is both
            roles = ["producer"] if op.startswith("write:") else ["consumer"]
            if op == "read:passed":
                roles = ["producer", "consumer"]
            topic = Topic((name,), ("receiver",))
            written = f"self.{name.rsplit('.', 1)[-1]} ({op.split(':', 1)[1]})"
            for role in roles:
                rule = _collection_rule(transport, role)
                rows.append(
                    self._row(
                        file_id,
                        path,
                        line,
                        col,
                        scope,
                        rule,
                        written,
                        topic,
                        f"collection:{transport}",
                        None,
                        1.0,
                    )
                )
        return rows


def _collection_rule(transport: str, role: str) -> Rule:
    return Rule(f"collection:{transport}", transport, (), role, None, "receiver", "exact")  # type: ignore[arg-type]


def _chain(wrapper: Wrapper) -> str:
    """The wrappers from ``wrapper`` down to the transport call, from its evidence."""
    steps = [line.split(": ", 1)[1].split(" ", 1)[0] for line in wrapper.evidence if ": " in line]
    return " > ".join(dict.fromkeys(steps))


def _argument(args: list[list[Any]], position: int | None, keyword: str | None) -> Expr | None:
    for key, expr in args:
        if keyword is not None and key == f"={keyword}":
            return expr
    if position is None:
        return None
    for key, expr in args:
        if key == str(position):
            return expr
    return None


_SITE_COLUMNS: dict[str, pa.DataType] = {
    "file_id": pa.int32(),
    "line": pa.int32(),
    "col": pa.int32(),
    "symbol": pa.string(),
    "role": pa.string(),
    "transport": pa.string(),
    "expression": pa.string(),
    "topic": pa.string(),
    "match_kind": pa.string(),
    "regex": pa.string(),
    "sample": pa.string(),
    "strategy": pa.string(),
    "confidence": pa.float64(),
    "rule": pa.string(),
    "via": pa.string(),
    "catch_all": pa.bool_(),
    "in_test": pa.bool_(),
}


def _sites_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) or [() for _ in _SITE_COLUMNS]
    return pa.table(
        {k: pa.array(v, t) for (k, t), v in zip(_SITE_COLUMNS.items(), columns, strict=True)}
    )


def _channels_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    distinct = sorted({(r[0], r[5], r[7], r[8]) for r in rows}, key=repr)
    return pa.table(
        {
            "file_id": pa.array([r[0] for r in distinct], pa.int32()),
            "transport": pa.array([r[1] for r in distinct], pa.string()),
            "name": pa.array([r[2] for r in distinct], pa.string()),
            "match_kind": pa.array([r[3] for r in distinct], pa.string()),
        }
    )


def _wrappers_table(wrappers: list[Wrapper]) -> pa.Table:
    return pa.table(
        {
            "file_id": pa.array([w.file_id for w in wrappers], pa.int32()),
            "wrapper": pa.array([w.wrapper for w in wrappers], pa.string()),
            "param": pa.array([w.param for w in wrappers], pa.string()),
            "position": pa.array([w.position for w in wrappers], pa.int32()),
            "role": pa.array([w.rule.role for w in wrappers], pa.string()),
            "transport": pa.array([w.rule.transport for w in wrappers], pa.string()),
            "template": pa.array([json.dumps(w.template) for w in wrappers], pa.string()),
            "base_rule": pa.array([w.rule.id for w in wrappers], pa.string()),
            "depth": pa.array([w.depth for w in wrappers], pa.int32()),
            "evidence": pa.array([list(w.evidence) for w in wrappers], pa.list_(pa.string())),
        }
    )
