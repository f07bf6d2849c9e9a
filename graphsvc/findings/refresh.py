"""The findings refresh: run the finding queries, diff against ``findings``, feed the events.

After every committed batch (and at the end of ``graphsvc index``) the service calls
:meth:`Refresher.run` on the indexer thread, which owns the writer. Each finding query's rows
become findings keyed by their deterministic id; the set is diffed against the ``findings``
table and every difference is one ``finding_events`` row:

- ``new``: an id never seen before;
- ``changed``: a known, unfixed id whose ``evidence_hash`` or status (open/suppressed) changed;
  other fields (locations' line numbers, severity, ...) are updated in place without an event;
- ``fixed``: a known, unfixed id no query reports any more;
- ``reopened``: a fixed id reported again.

A query that fails (or whose file failed to load) leaves its findings untouched: a broken
query must not read as "everything fixed". Rows and events are written in one transaction;
``seq`` continues from the table's maximum, so it increases across restarts.

Incremental: a query whose header says ``depends_on: imports`` reads only import links, import
facts, module names and paths (``internal_imports``: only the import edges that resolve inside
the tree, with their in_function/type_checking flags, module names and paths). The Refresher
keeps a digest of those inputs per file; after a batch it recomputes the digests of just the
files the linker re-linked (every changed file is among them, and so is every file whose links
a change can affect) and, when none differs and no file was removed, reuses the query's rows
from the previous refresh instead of running it. A one-file edit that does not touch imports
(most edits) then costs three small grouped scans instead of the queries; one that adds an
unresolved import re-runs missing_wiring but not import_cycles. Suppression is still decided
afresh every time.

Every finding query, whatever its ``depends_on``, is also reused when none of the tables it
reads changed since it last ran (graphsvc/findings/inputs.py: per-file fact tables by the
batch's summary, links by the re-linked files, the other, small tables by a digest of their
content): a documentation edit or a batch that changed no Python file re-runs only the queries
that read what it changed.

Findings that do not come from SQL (the hardware findings) go through the same diff and feed
with :meth:`Refresher.run_source`: the source hands over its complete current set, and only
that source's stored findings can become fixed. A query refresh never touches them, and a
saved query cannot take a source's name.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from graphsvc.errors import GraphsvcError, QueryError
from graphsvc.findings.answers import Answers
from graphsvc.findings.deadcode import DeadCode
from graphsvc.findings.deadspec import follows, min_confidence
from graphsvc.findings.feed import EVENT_SCHEMA, FINDING_SCHEMA, diff
from graphsvc.findings.importinputs import ImportInputs
from graphsvc.findings.inputs import QueryInputs
from graphsvc.findings.model import Finding, Renders
from graphsvc.findings.partition import Partitions
from graphsvc.findings.read import all_findings
from graphsvc.findings.result import RefreshResult
from graphsvc.findings.suppress import Suppressor
from graphsvc.queries import Catalog, SavedQuery, run_rows
from graphsvc.queries.finders import FINDERS
from graphsvc.store import Store
from graphsvc.update import IndexSummary

log = logging.getLogger(__name__)
# A finding query stopped this many times in a row by interrupt() is not stopped again.
MAX_STOPS = 2
# Finding sources that are not saved queries (their findings' ``query``); only
# Refresher.run_source changes their findings.
SOURCES = frozenset(
    {"hardware", "dependencies", "capabilities", "contracts", "unindexed_knowledge"}
)


class Refresher:
    """Keeps the catalog and the suppression cache between refreshes (the service holds one).

    Args:
        catalog: the loaded saved queries; those with a ``kind`` run.
        tree: the indexed tree, for ``# graphsvc: ignore[...]`` comments (None: not read).
        suppress: GRAPHSVC_SUPPRESS entries.
    """

    def __init__(
        self,
        catalog: Catalog,
        tree: Path | None = None,
        suppress: Sequence[str] = (),
        *,
        defer_ms: float = 0.0,
        defer_s: float = 30.0,
        pause: Callable[[], None] | None = None,
    ):
        self.catalog = catalog
        # Called before each finding query: the service waits there while a batch is being
        # indexed, so the queries of the last batch do not slow the facts of the next one.
        self.pause = pause
        # A query whose last run took longer than defer_ms runs at most every defer_s in the
        # refreshes that allow deferring (the service's, while batches keep coming); 0: never.
        self.defer_ms = defer_ms
        self.defer_s = defer_s
        self._last_run: dict[str, tuple[float, float]] = {}  # query -> (ended, ms), monotonic
        self.deferred: set[str] = set()  # queries whose findings are older than the last batch
        self.deferrals = 0  # queries not run by a refresh, in all
        self.suppressor = Suppressor(tree, suppress)
        # the import inputs of every file, and whether the last batch changed any links
        self.imports = ImportInputs()
        self._rendered: dict[str, list[Finding]] = {}  # query -> findings of its last run
        self.inputs = QueryInputs()  # whether a query's tables changed since it last ran
        self.dead_code = DeadCode()  # the incremental dead_code (graphsvc/findings/deadcode.py)
        # partitioned queries and those with file inputs (graphsvc/findings/partition.py)
        self.partitions = Partitions(catalog.finding_queries(), self.inputs)
        self.renders = Renders()  # each query's findings by row
        self.answers = Answers()  # the queries' rows, for GET /queries/{name}
        self._as_of = 0  # the batch the running refresh follows
        # The depends_on values whose inputs the last run found unchanged (other sources can
        # skip work that reads only those inputs).
        self.last_unchanged: frozenset[str] = frozenset()
        # The query that interrupt() may stop now (a cursor of the refresh's connection), and
        # how many times in a row each query was stopped.
        self._guard = threading.Lock()
        self._running: duckdb.DuckDBPyConnection | None = None
        self.running_query: str | None = None  # the name of that query
        self._stop_asked = False
        self._stops: dict[str, int] = {}
        self.interruptions = 0  # queries stopped by interrupt(), in all
        # The findings table as last written: the Refresher is its only writer in a process.
        self._stored: dict[str, Finding] | None = None
        # The findings the last write was diffed from: the stored row of each holds it (the
        # same object found again, as a reused query or a kept render gives it, is unchanged)
        self._known: dict[str, Finding] = {}
        self.last_seq = 0  # the feed's position after this Refresher's last write (0: none yet)

    def run(
        self,
        store: Store,
        as_of: int | None = None,
        summary: IndexSummary | None = None,
        *,
        defer: bool = False,
    ) -> RefreshResult:
        """Refresh the findings of ``store`` (opened for writing) as of batch ``as_of``
        (default: the newest batch).

        Args:
            store: the database, opened for writing.
            as_of: the batch the refresh follows.
            summary: what that batch did (which files the linker re-linked); without it every
                query runs.
            defer: slow queries (see ``defer_ms``) may keep their last findings this time;
                :attr:`deferred` names them until a refresh runs them.

        Raises:
            DatabaseError: writing the findings failed (rolled back; the next refresh redoes it).
        """
        started = time.perf_counter()
        result = RefreshResult(as_of=store.as_of() if as_of is None else as_of)
        self._as_of = result.as_of
        unchanged = self._unchanged(store, summary)
        self.dead_code.note(summary)
        self.partitions.note(summary)
        self.last_unchanged = frozenset(unchanged)
        self.inputs.observe(
            store, summary, self.catalog.finding_queries(), links_changed=self.imports.links_changed
        )
        found = self._found(store, result, unchanged, defer and summary is not None)
        changed = (
            None
            if summary is None or summary.relinked is None or summary.removed + summary.vanished
            else summary.relinked
        )
        reasons = self.suppressor.reasons(
            store, list(found.values()), self.inputs.file_gen, changed
        )
        for fid, reason in reasons.items():
            found[fid] = dataclasses.replace(found[fid], status="suppressed", suppressed_by=reason)
        kept = set(result.failed) | set(result.interrupted) | self.catalog.broken_names()
        self._write(store, found, kept | SOURCES, result)
        # the counts cover the findings those queries left as they were, too (a query stopped
        # for a batch does not make its open findings disappear from /status)
        for finding in (self._stored or {}).values() if kept else ():
            if finding.query in kept and finding.status in ("open", "suppressed"):
                result.open += finding.status == "open"
                result.suppressed += finding.status == "suppressed"
        result.ms = (time.perf_counter() - started) * 1000
        log.info("%s", result.line())
        return result

    def run_source(
        self, store: Store, source: str, findings: Sequence[Finding], as_of: int | None = None
    ) -> RefreshResult:
        """Diff the complete current findings of the non-SQL ``source`` (one of ``SOURCES``)
        into the findings table and the feed; only that source's findings can become fixed.

        Raises:
            GraphsvcError: ``source`` is not a known source, a finding's ``query`` is not
                ``source``, an id is reported twice or belongs to another query's finding.
            DatabaseError: writing failed (rolled back; the source's next call redoes it).
        """
        started = time.perf_counter()
        if source not in SOURCES:
            raise GraphsvcError(f"unknown finding source {source!r}; known: {sorted(SOURCES)}")
        result = RefreshResult(as_of=store.as_of() if as_of is None else as_of)
        stored = self._stored if self._stored is not None else all_findings(store)
        found: dict[str, Finding] = {}
        for finding in findings:
            owner = stored.get(finding.id)
            if finding.query != source or finding.id in found:
                raise GraphsvcError(f"source {source}: finding {finding.id!r} is not its own")
            if owner is not None and owner.query != source:
                raise GraphsvcError(
                    f"source {source}: id {finding.id!r} belongs to query {owner.query}"
                )
            found[finding.id] = finding
        reasons = self.suppressor.reasons(store, list(found.values()))
        for fid, reason in reasons.items():
            found[fid] = dataclasses.replace(found[fid], status="suppressed", suppressed_by=reason)
        others = {f.query for f in stored.values()} - {source}
        self._write(store, found, others, result, stored)
        result.ms = (time.perf_counter() - started) * 1000
        if result.events:
            log.info("%s: %s", source, result.line())
        return result

    def _write(
        self,
        store: Store,
        found: dict[str, Finding],
        untouched: set[str],
        result: RefreshResult,
        stored: dict[str, Finding] | None = None,
    ) -> None:
        """Diff ``found`` against the stored findings (those of ``untouched`` queries are not
        fixed for being absent), write rows and events, fill in ``result``."""
        # the feed's position as this Refresher's last write left it (the only writer of the
        # findings and their events: see _stored), read from the table before that
        last = self.last_seq if self._stored is not None else store.last_event_seq()
        if stored is None:
            stored = self._stored if self._stored is not None else all_findings(store)
        self._stored = None  # until the write below commits
        known, self._known = self._known, {}
        rows, events, written = diff(stored, found, untouched, last, result.as_of, known)
        store.write_findings(
            pa.Table.from_pylist(rows, schema=FINDING_SCHEMA),
            pa.Table.from_pylist(events, schema=EVENT_SCHEMA),
            [str(row["id"]) for row in rows if row["id"] in stored],  # the others are new
        )
        self._stored = stored | {f.id: f for f in written}
        # the rows this write left alone still hold what they held (the findings of the
        # untouched queries and sources, such as the saved queries' after a source's write)
        self._known = {
            fid: f for fid, f in known.items() if f.query in untouched and fid not in found
        } | found
        for event in events:
            name = str(event["event"])
            result.events[name] = result.events.get(name, 0) + 1
        result.open = sum(1 for f in found.values() if f.status == "open")
        result.suppressed = len(found) - result.open
        result.rewritten = len(rows)
        result.last_seq = last + len(events)
        self.last_seq = result.last_seq

    def _unchanged(self, store: Store, summary: IndexSummary | None) -> set[str]:
        """The ``depends_on`` values whose inputs are as at the last refresh."""
        return self.imports.observe(store, summary)

    def interrupt(self) -> bool:
        """Stop the finding query running now, if any and if it may be stopped (called from
        another thread: the indexer, when a batch starts, so the batch does not share the
        cores with it). The query's findings stay as they were and the next refresh runs it
        again; one stopped ``MAX_STOPS`` times in a row runs to its end the next time, so a
        stream of saves delays a query, it never starves it. The incremental ``dead_code``
        is not stopped (its state would be left midway). Returns whether one was asked to stop.

        DuckDB drops an interrupt that arrives before the statement has started, so a query
        may run on after one; asking again sends it again (the indexer asks at every batch)."""
        with self._guard:
            if self._running is None:
                return False
            self._stop_asked = True
            self._running.interrupt()
            return True

    def _watch(self, name: str) -> Callable[[duckdb.DuckDBPyConnection | None], None]:
        def watch(cursor: duckdb.DuckDBPyConnection | None) -> None:
            with self._guard:
                stoppable = cursor is not None and self._stops.get(name, 0) < MAX_STOPS
                self._running = cursor if stoppable else None
                self.running_query = name if stoppable else None
                if cursor is not None:
                    self._stop_asked = False

        return watch

    def _due(self, name: str) -> bool:
        """Whether a deferrable refresh must run ``name`` (it is fast, or was not run for
        ``defer_s``)."""
        last = self._last_run.get(name)
        if not self.defer_ms or last is None or name not in self._rendered:
            return True
        ended, ms = last
        return ms <= self.defer_ms or time.monotonic() - ended >= self.defer_s

    def _rows(
        self, store: Store, query: SavedQuery, unchanged: set[str], defer: bool
    ) -> tuple[list[Finding], str | None]:
        if query.name in self._rendered and (
            query.depends_on in unchanged or self.inputs.unchanged(store, query)
        ):
            self.answers.still(query, self._as_of)
            return self._rendered[query.name], "reused"
        # a query with file inputs is reused while the changed files' inputs are the same, a
        # partitioned one recomputes just some partitions, while no table outside the
        # per-file facts and links changed since its last run (graphsvc/findings/partition.py)
        others_same = query.name in self._rendered and self.inputs.others_unchanged(store, query)
        if others_same and self.partitions.inputs_same(store, query, others_same=others_same):
            self.inputs.ran(store, query)
            self.answers.still(query, self._as_of)
            return self._rendered[query.name], "reused"
        if query.depends_on == "docs" and not _has_doc_mentions(store):
            self._rendered[query.name] = []  # no docs: nothing to be stale (and no planning)
            self.inputs.forget(query.name)
            self.partitions.forget(query.name)
            return [], None
        if defer and not self._due(query.name):
            self.deferred.add(query.name)
            self.deferrals += 1
            return self._rendered[query.name], "deferred"
        previous = self._rendered.pop(query.name, None)
        self.inputs.forget(query.name)
        started = time.perf_counter()
        try:
            rows = self._query_rows(store, query, others_same, keep=previous is not None)
        except QueryError as exc:
            with self._guard:
                stopped, self._stop_asked = self._stop_asked, False
            if not (stopped and isinstance(exc.__cause__, duckdb.InterruptException)):
                raise
            self.partitions.forget(query.name)
            self._stops[query.name] = self._stops.get(query.name, 0) + 1
            self.interruptions += 1
            return [], "interrupted"
        self._stops.pop(query.name, None)
        self.inputs.ran(store, query)
        self.partitions.computed(store, query, others_same=others_same)
        if rows is not None:
            self.answers.keep(query, self._as_of, rows)
        else:
            self.answers.still(query, self._as_of)
        if rows is None and previous is not None:  # no partition changed: the same findings
            self._rendered[query.name] = previous
            return previous, "reused"
        # most rows are as before (a partitioned query's, the incremental dead_code's, a query
        # rerun whole after a small edit): they keep their findings
        rendered = self.renders.render(query, rows or ())
        ms = (time.perf_counter() - started) * 1000
        if (follows(query) and self.dead_code.was_engaged and self.dead_code.last.full) or (
            query.partition is not None and self.partitions.last[query.name].whole
        ):
            # the engine's first run reads every file (and so does a partitioned query's;
            # _query_rows asked the engine whether it is engaged just now);
            # their next ones are incremental, so the time of this one does not make the
            # query one to defer
            ms = min(ms, self.defer_ms)
        self._last_run[query.name] = (time.monotonic(), ms)
        self._rendered[query.name] = rendered
        self.deferred.discard(query.name)
        return rendered, None

    def _query_rows(
        self, store: Store, query: SavedQuery, others_same: bool, *, keep: bool = False
    ) -> list[dict[str, Any]] | None:
        """``query``'s rows with its default parameters: ``dead_code`` from the incremental
        engine, which follows every batch (its first run, and any it cannot follow, computes
        the saved query's parts from every file), a partitioned query for the partitions the
        batch touched (graphsvc/findings/partition.py; None when none of them gave other
        rows and ``keep``: its last findings hold), the others by running their SQL."""
        if query.partition is not None:
            rows = self.partitions.rows(
                store, query, others_same=others_same, watch=self._watch(query.name)
            )
            run = self.partitions.last[query.name]
            if keep and not run.whole and run.same:  # no partition gave other rows
                return None
            return rows if query.finder is None else FINDERS[query.finder].run(rows)
        if not follows(query):
            return run_rows(store, query, watch=self._watch(query.name))
        try:
            if not self.dead_code.engaged(store):
                return run_rows(store, query)
            return self.dead_code.rows(store, min_confidence(query))
        except duckdb.Error as exc:
            text = str(exc).strip()
            raise QueryError(
                query.sql, f"{query.name}: {text.splitlines()[0] if text else exc}"
            ) from exc
        except Exception:  # a bug in the engine: the saved query still gives the findings
            log.exception(
                "incremental %s failed; running the saved query (the engine starts over)",
                query.name,
            )
            return run_rows(store, query)

    def _found(
        self, store: Store, result: RefreshResult, unchanged: set[str], defer: bool
    ) -> dict[str, Finding]:
        found: dict[str, Finding] = {}
        for query in self.catalog.finding_queries():
            if self.pause is not None:
                self.pause()
            started = time.perf_counter()
            try:
                if query.name in SOURCES:
                    raise GraphsvcError(
                        f"query {query.name}: the name is taken by a finding source"
                    )
                rendered, how = self._rows(store, query, unchanged, defer)
                if how == "reused":
                    result.reused.append(query.name)
                elif how == "deferred":
                    result.deferred.append(query.name)
                elif how == "interrupted":
                    result.interrupted.append(query.name)
                    continue
                seen: set[str] = set()
                for finding in rendered:
                    if finding.id in found or finding.id in seen:
                        raise GraphsvcError(
                            f"query {query.name}: id {finding.id!r} is reported twice"
                        )
                    seen.add(finding.id)
            except GraphsvcError as exc:
                log.error(
                    "finding query %s failed; its findings stay as they were: %s", query.name, exc
                )
                result.failed[query.name] = str(exc)
                continue
            finally:
                result.query_ms[query.name] = (time.perf_counter() - started) * 1000
            found.update((f.id, f) for f in rendered)
        return found


def _has_doc_mentions(store: Store) -> bool:
    rows = store.con.execute("SELECT EXISTS (SELECT 1 FROM doc_mentions)").fetchall()
    return bool(rows[0][0])


def refresh(
    store: Store,
    catalog: Catalog,
    *,
    tree: Path | None = None,
    suppress: Sequence[str] = (),
    as_of: int | None = None,
) -> RefreshResult:
    """One refresh with a fresh :class:`Refresher` (see there; a service keeps one instead)."""
    return Refresher(catalog, tree, suppress).run(store, as_of)
