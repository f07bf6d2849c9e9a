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

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pathspec

from graphsvc.link.channel_collections import collection_sites
from graphsvc.link.channel_facts import Call, ChannelFacts, Wrapper
from graphsvc.link.channel_tables import channels_table, sites_table, wrappers_table
from graphsvc.link.handles import HandleSites
from graphsvc.link.objects import Objects
from graphsvc.link.topics import (
    MATCH_COLUMN,
    UNKNOWN,
    Evaluator,
    Expr,
    Topic,
    alternatives,
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
PASS_VERSION = "3"  # bump when the pass computes something else from the same inputs


@dataclass(slots=True)
class ChannelSummary:
    sites: int = 0
    wrappers: int = 0
    seconds: float = 0.0
    skipped: bool = False  # the inputs were those of the last run


class ChannelPass:
    """One run of the channel pass over a store."""

    def __init__(self, rules: RuleSet, test_globs: Iterable[str] = ()) -> None:
        self.rules = rules
        self.by_callee = rules.by_callee()
        self.test_globs = tuple(test_globs)
        self.tests = pathspec.GitIgnoreSpec.from_lines(list(self.test_globs))
        self._rule_cache: dict[tuple[str, ...], list[Rule]] = {}
        self.typed_calls: set[tuple[int, int, int]] = set()

    def run(self, store: Store, memory_limit: str | None = None) -> ChannelSummary:
        """Recompute every channel site and wrapper, unless the inputs are the same as at the
        last run (most batches change no file that has channel facts). ``memory_limit`` (a
        DuckDB size): the recomputation reads every channel fact, more than the writer's page
        cache cap holds, so it runs with this limit (see :meth:`Store.roomy`)."""
        started = time.perf_counter()
        inputs, stored = store.channel_inputs_and_state()
        fingerprint = "|".join((PASS_VERSION, inputs, *self.rules.digests, *self.test_globs))
        if stored == fingerprint:
            # checked before the limit is raised: a skipped pass costs one statement, not four
            return ChannelSummary(skipped=True, seconds=time.perf_counter() - started)
        with store.roomy(memory_limit):
            return self._recompute(store, fingerprint, started)

    def _recompute(self, store: Store, fingerprint: str, started: float) -> ChannelSummary:
        facts = ChannelFacts(store)
        self.facts = facts
        self.evaluator = Evaluator(facts.constant, facts.attribute)
        self.objects = self._objects(facts)
        self._uses_at: dict[tuple[int, int], list[str]] = {}
        for file_id, _, line, _, _, name, _ in facts.uses:
            self._uses_at.setdefault((file_id, line), []).append(name)
        handles = HandleSites(self.rules, facts, self.evaluator)
        self.typed_calls = handles.typed_calls
        wrappers = self._derive(facts)
        sites = self._sites(facts, wrappers)
        sites.extend(handles.sites(self._object_row))
        sites.extend(collection_sites(self.rules, facts, self._object_row))
        sites.extend(self.objects.declarations(self._object_row))
        store.write_channels(
            sites_table(sites), channels_table(sites), wrappers_table(wrappers), fingerprint
        )
        seconds = time.perf_counter() - started
        log.info("channels: %d sites, %d wrappers in %.3fs", len(sites), len(wrappers), seconds)
        return ChannelSummary(len(sites), len(wrappers), seconds)

    # ------------------------------------------------------------------ objects

    def _objects(self, facts: ChannelFacts) -> Objects:
        objects = Objects(self.rules, self.evaluator, facts.resolve)
        for name, (path, line, scope, file_id, col, ctor) in sorted(facts.decls.items()):
            where = (file_id, path, line, col, scope)
            objects.declare(name, ctor, facts.decl_args.get(name, []), where, decorated=False)
        for deco in facts.decos:
            where = (deco.file_id, deco.path, deco.line, deco.col, deco.scope)
            objects.declare(deco.scope, deco.key, deco.args, where, decorated=True)
        return objects

    def _object_row(
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
    ) -> tuple[Any, ...]:
        return self._row(file_id, path, line, col, scope, rule, written, topic, rule_id, None, 1.0)

    def _object_site(self, call: Call) -> tuple[Any, ...] | None:
        """A call of a channel object's method (``saved.send()``, ``resize.delay()``), also
        through an attribute that holds one (``self.changed.send()``, ``model.changed.connect``
        with ``model: Model``)."""
        keys = [call.key, *sorted(call.targets)] if call.key else sorted(call.targets)
        held = self._held_object(call)
        if held is not None:
            keys.insert(0, held)
        for key in keys:
            found = self.objects.method_site(key)
            if found is not None:
                rule, topic, receiver = found
                return self._object_row(
                    call.file_id,
                    call.path,
                    call.line,
                    call.col,
                    call.scope,
                    rule,
                    receiver.rsplit(".", 1)[-1],
                    topic,
                    rule.id,
                )
        return None

    def _held_object(self, call: Call) -> str | None:
        """``Class.attr.method`` when the call's receiver is an attribute that holds a channel
        object declared in the tree (``self.changed = Signal()``): the extractor notes a use of
        ``Class.attr`` on the call's line (it types ``self`` and annotated variables)."""
        receiver, _, method = call.written.rpartition(".")
        if not receiver or "." not in receiver:
            return None
        attribute = receiver.rpartition(".")[2]
        for name in self._uses_at.get((call.file_id, call.line), ()):
            if name.rpartition(".")[2] == attribute and name in self.objects.found:
                return f"{name}.{method}"
        return None

    # ------------------------------------------------------------------ matching

    def _matches(self, call: Call, wrappers: dict[str, list[Wrapper]]) -> list[Rule | Wrapper]:
        found: list[Rule | Wrapper] = []
        for target in sorted(call.targets):
            found.extend(wrappers.get(target, []))
        if found:
            return found
        cache_key = (call.key, *sorted(call.targets))
        rules = self._rule_cache.get(cache_key)
        if rules is None:
            keys = {self.rules.normalise(t) for t in call.targets}
            if call.key:
                keys.add(self.rules.normalise(self._through_variable(call.key)))
            rules = [r for k in sorted(keys) for r in self.by_callee.get(k, [])]
            self._rule_cache[cache_key] = rules
        found.extend(r for r in rules if r.when_arg is None or self._condition(call, r))
        return found

    def _through_variable(self, key: str) -> str:
        """``pkg.tasks.app.send_task`` where ``pkg.tasks.app = Celery(...)``:
        ``celery.Celery().send_task``."""
        receiver, _, method = key.rpartition(".")
        if not receiver:
            return key
        found = self.facts.decls.get(self.facts.resolve(receiver))
        if found is None or receiver in self.facts.attribute_decls:
            return key
        return f"{found[5]}().{method}"

    def _condition(self, call: Call, rule: Rule) -> bool:
        expr = _argument(call.args, rule.when_arg, None)
        if expr is None or expr[0] != "n":
            return False
        return self.rules.normalise(expr[1]) in rule.when

    def _topic_exprs(self, call: Call, match: Rule | Wrapper) -> list[Expr]:
        """The expressions that carry the topic at ``call`` (several for ``topic = "*"``)."""
        if isinstance(match, Wrapper):
            expr = _argument(call.args, match.position, match.param)
            if expr is None:
                expr = self.facts.default(match.wrapper, match.param)
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

    def _derive(self, facts: ChannelFacts) -> list[Wrapper]:
        wrappers: dict[str, list[Wrapper]] = {}
        seen: set[tuple[str, str]] = set()
        for depth in range(1, _MAX_WRAPPER_DEPTH + 1):
            new: list[Wrapper] = []
            for call in facts.calls:
                if (call.file_id, call.line, call.col) in self.typed_calls:
                    continue
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
        self, call: Call, match: Rule | Wrapper, expr: Expr, depth: int, seen: set[tuple[str, str]]
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

    def _sites(self, facts: ChannelFacts, wrappers: list[Wrapper]) -> list[tuple[Any, ...]]:
        called = {t for c in facts.calls for t in c.targets}
        self.called = called
        wrapper_scopes = {(w.wrapper, w.param) for w in wrappers if w.wrapper in called}
        by_name: dict[str, list[Wrapper]] = {}
        for wrapper in wrappers:
            by_name.setdefault(wrapper.wrapper, []).append(wrapper)
        rows: list[tuple[Any, ...]] = []
        for call in [*facts.calls, *facts.decos]:
            if (call.file_id, call.line, call.col) in self.typed_calls:
                continue  # a PUSH/PULL, REQ/REP or PAIR socket's call: a handle site
            done: set[str] = set()
            on_object = self._object_site(call)
            if on_object is not None:
                rows.append(on_object)
                continue
            for match in self._matches(call, by_name):
                rule = match.rule if isinstance(match, Wrapper) else match
                exprs = self._topic_exprs(call, match) or [["d", call.written]]
                for expr in [a for e in exprs for a in alternatives(e)]:
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

    def _site(self, call: Call, match: Rule | Wrapper, rule: Rule, expr: Expr) -> tuple[Any, ...]:
        topic = self.evaluator.topic(expr, call.scope) if expr[0] != "d" else UNKNOWN
        if rule.object:
            topic = self.objects.named(expr) or UNKNOWN
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
