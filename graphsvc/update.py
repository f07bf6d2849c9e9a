"""Bring the store up to date with the tree: walk, compare, read what changed, write batches."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from graphsvc.columns import Columns
from graphsvc.config import Settings
from graphsvc.docfacts import DocFacts
from graphsvc.entrypoints import EntryRules, load_entry_rules, project_entries
from graphsvc.entrypoints.table import entry_precheck, entry_rows
from graphsvc.errors import TreeError
from graphsvc.facts import FileFacts
from graphsvc.indexer import Chunk, Unchanged, Vanished
from graphsvc.layout import Layout, detect_layout
from graphsvc.link import Linker
from graphsvc.link.channels import ChannelPass
from graphsvc.rules import load_rules
from graphsvc.store import Batch, BatchRecord, Store, Touch
from graphsvc.update_plan import Plan, plan, plan_docs
from graphsvc.update_pool import chunks
from graphsvc.walk import DocGlobs, walk, walk_paths

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (done, total)


@dataclass(slots=True)
class IndexSummary:
    """What one ``index`` run did."""

    seen: int = 0
    parsed: int = 0
    unchanged: int = 0
    touched: int = 0
    removed: int = 0
    vanished: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0
    other_files: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    batch_id: int = 0  # the batches row this run committed (its as_of)
    relinked: frozenset[int] | None = None  # file ids the linker re-linked; None: all or unknown
    # the per-file tables whose rows the run changed (Store.take_changed); None: unknown
    tables: frozenset[str] | None = None
    # of ``relinked``: the files whose links rows, and whose import sites' links rows, the
    # linker wrote other than they were (LinkSummary); None: unknown
    links_changed: frozenset[int] | None = None
    import_links_changed: frozenset[int] | None = None
    docs_seen: int = 0  # documentation files (not counted in the numbers above)
    docs_parsed: int = 0
    docs_removed: int = 0
    docs_touched: int = 0
    docs_unchanged: int = 0

    def line(self) -> str:
        """The one-line summary printed after every run."""
        docs = (
            f" docs seen={self.docs_seen} parsed={self.docs_parsed} removed={self.docs_removed}"
            if self.docs_seen or self.docs_removed
            else ""
        )
        return (
            f"files seen={self.seen} parsed={self.parsed} unchanged={self.unchanged + self.touched}"
            f" removed={self.removed + self.vanished} partial={self.partial}"
            f" failed={self.failed} skipped={self.skipped}{docs} in {self.seconds:.2f}s"
        )


def merge_summaries(summaries: Sequence[IndexSummary]) -> IndexSummary:
    """One summary for several committed batches (oldest first), as a findings refresh after
    all of them needs it: counts and times add up, lists join, the re-linked file ids are the
    union (unknown when any batch's is), ``batch_id`` is the last one's."""
    if len(summaries) == 1:
        return summaries[0]
    merged = IndexSummary()
    for summary in summaries:
        for spec in fields(IndexSummary):
            if spec.name in _SETS or spec.name == "batch_id":
                continue
            mine, theirs = getattr(merged, spec.name), getattr(summary, spec.name)
            if isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(merged, spec.name, mine + theirs)
    merged.batch_id = max(summary.batch_id for summary in summaries)
    for name in _SETS:
        sets = [getattr(summary, name) for summary in summaries]
        if all(values is not None for values in sets):
            setattr(merged, name, frozenset().union(*sets))
    return merged


# IndexSummary's sets: a merged one is their union, unknown (None) when any batch's is
_SETS = ("relinked", "tables", "links_changed", "import_links_changed")


def index_tree(
    tree: Path,
    store: Store,
    settings: Settings,
    progress: Progress | None = None,
    linker: Linker | None = None,
) -> IndexSummary:
    """Index ``tree`` into ``store``, reading only files whose size, mtime or hash changed,
    then re-link what the changes can affect (``linker`` keeps its name index between calls).

    Raises:
        TreeError: ``tree`` is not a directory.
        DatabaseError: a batch could not be written (earlier batches stay committed).
    """
    return reconcile(tree, store, settings, progress, linker)[0]


def reconcile(
    tree: Path,
    store: Store,
    settings: Settings,
    progress: Progress | None = None,
    linker: Linker | None = None,
    reason: str | None = None,
    recheck: Collection[str] = (),
) -> tuple[IndexSummary, Layout]:
    """:func:`index_tree`, also returning the layout the walk found (package roots), which
    :func:`refresh` needs for later partial updates. With a ``reason`` the run is recorded
    as a ``reconcile`` batch, otherwise as an ``index`` batch. Files at or below ``recheck``
    (paths a watcher saw change) are hashed even when their size and mtime look unchanged.

    Raises:
        TreeError: ``tree`` is not a directory.
        DatabaseError: a batch could not be written (earlier batches stay committed).
    """
    started = _Clock()
    if not tree.is_dir():
        raise TreeError(str(tree), "not a directory")
    # The database is never a *.py file, so a --db inside the tree needs no special case;
    # the default .graphsvc folder is among the default excludes.
    found = walk(tree, exclude=settings.exclude, docs=DocGlobs(settings.doc_globs))
    layout = detect_layout(tree, found.project_dirs, settings.package_roots)
    states = store.file_states()
    work = plan(tree, found, layout, states, settings.max_file_bytes, recheck=recheck)
    plan_docs(tree, found, store.doc_states(), settings.max_file_bytes, work, recheck=recheck)
    summary = IndexSummary(
        seen=len(found.files) + len(found.skipped),
        other_files=found.other_files,
        docs_seen=len(found.docs) + len(found.doc_skipped),
    )
    _carry_out(work, store, settings, summary, progress, linker, tree, walked=True)
    kind = "index" if reason is None else "reconcile"
    started.record(store, summary, kind, reason, summary.seen)
    log.info("%s %s", kind, summary.line())
    return summary, layout


def refresh(
    tree: Path,
    store: Store,
    settings: Settings,
    layout: Layout,
    paths: Collection[str],
    linker: Linker | None = None,
) -> IndexSummary:
    """Bring just ``paths`` (relative files or directories the watcher saw change, existing
    or not) up to date: files at or below them are read and hashed, stored files at or below
    them that are gone are removed. ``layout`` is the one of the last full walk: a change of
    package markers or of ignore rules needs :func:`reconcile` instead.

    Raises:
        TreeError: ``tree`` is not a directory.
        DatabaseError: a batch could not be written (earlier batches stay committed).
    """
    started = _Clock()
    if not tree.is_dir():
        raise TreeError(str(tree), "not a directory")
    found = walk_paths(tree, paths, exclude=settings.exclude, docs=DocGlobs(settings.doc_globs))
    states, doc_states = store.states_under(paths)
    work = plan(tree, found, layout, states, settings.max_file_bytes, trust_stat=False)
    plan_docs(tree, found, doc_states, settings.max_file_bytes, work, trust_stat=False)
    summary = IndexSummary(
        seen=len(found.files) + len(found.skipped),
        other_files=found.other_files,
        docs_seen=len(found.docs) + len(found.doc_skipped),
    )
    small = len(work.tasks) + len(work.skipped) + len(work.removed) <= settings.batch_files
    # A watcher's batch is one transaction: its facts, links, channel sites, entry rules and
    # batch row become visible together, for one WAL sync instead of one per step. A large
    # one (a checkout) commits in parts, as a full walk does, to bound its memory.
    try:
        with store.atomic() if small else contextlib.nullcontext():
            _carry_out(work, store, settings, summary, None, linker, tree, walked=False)
            started.record(store, summary, "watch", None, len(paths))
    except BaseException:
        if small and linker is not None:
            linker.forget()  # its name index read facts that were rolled back
        raise
    return summary


def _carry_out(
    work: Plan,
    store: Store,
    settings: Settings,
    summary: IndexSummary,
    progress: Progress | None,
    linker: Linker | None,
    tree: Path,
    walked: bool,
) -> None:
    """Read, parse and write what ``work`` lists, remove what it removes, then re-link and
    recompute the channel sites. ``walked``: the whole tree was walked (not just the paths a
    watcher saw), so every doc's baseline is checked, not only those of changed docs."""
    # the user's channel rules are checked first: a broken file stops the run before it writes
    user_rules = [p if p.is_absolute() else tree / p for p in settings.channel_rules]
    channels = ChannelPass(load_rules(user_rules), settings.channel_test_globs)
    entry_files = [p if p.is_absolute() else tree / p for p in settings.entrypoint_rules]
    entry_rules = load_entry_rules(entry_files)
    summary.unchanged += work.unchanged
    summary.docs_unchanged += work.doc_unchanged
    summary.removed += len(work.removed)
    summary.docs_removed += len(work.doc_removed)
    store.take_changed()  # what earlier runs left in the record is theirs
    jobs = settings.jobs or os.cpu_count() or 1
    writer = _Writer(store, summary, settings.batch_files)
    writer.add(Chunk(list(work.skipped), Columns.of(work.skipped)))
    writer.add(Chunk(list(work.doc_skipped), Columns.of([])))
    done = 0
    for chunk in chunks(work.tasks, jobs, settings.parser_nice):
        writer.add(chunk)
        done += len(chunk.outcomes)
        if progress is not None:
            progress(done, len(work.tasks))
    writer.flush(removed=work.removed, doc_removed=work.doc_removed)
    summary.tables = store.take_changed()
    linked = (linker or Linker(settings.python)).run(store)
    summary.relinked = None if linked.relink_all else linked.affected
    summary.links_changed = linked.links_changed
    summary.import_links_changed = linked.import_links_changed
    channels.run(store, settings.sql_memory_limit)
    _entry_rules(store, settings, tree, entry_rules)
    if walked or writer.doc_changes:
        store.record_doc_baselines(settings.sql_memory_limit)


def _entry_rules(store: Store, settings: Settings, tree: Path, rules: EntryRules) -> None:
    """Rewrite ``entry_rules`` (dead-code reachability's starting points) when the rules, the
    packaging files' targets, the test files or the mode changed. The rows are rebuilt only
    when a cheap digest of those inputs moved (a file added or removed, a configuration or
    packaging file edited, a setting changed): an edit of a Python file is neither."""
    project = project_entries(tree)
    config = store.config_names()
    test_globs = settings.channel_test_globs
    mode = settings.dead_code_mode
    precheck = entry_precheck(rules, project, store.paths_digest(), test_globs, mode, config)
    if store.entry_state("precheck") == precheck:
        return
    rows, fingerprint = entry_rows(rules, project, store.paths(), test_globs, mode, config)
    same = store.entry_state() == fingerprint
    store.write_entry_rules(None if same else rows, fingerprint, precheck)


class _Clock:
    """When a run started, on both clocks; writes the run's ``batches`` row at its end."""

    def __init__(self) -> None:
        self.perf = time.perf_counter()
        self.wall = dt.datetime.now(dt.UTC)

    def record(
        self, store: Store, summary: IndexSummary, kind: str, reason: str | None, paths: int
    ) -> None:
        summary.seconds = time.perf_counter() - self.perf
        record = BatchRecord(
            kind=kind,
            reason=reason,
            started=self.wall,
            finished=dt.datetime.now(dt.UTC),
            ms=summary.seconds * 1000,
            paths=paths,
            parsed=summary.parsed,
            unchanged=summary.unchanged + summary.touched,
            removed=summary.removed + summary.vanished,
            failed=summary.failed,
        )
        summary.batch_id = store.record_batch(record)


class _Writer:
    """Groups chunks into store batches of about ``batch_files`` files and counts outcomes."""

    def __init__(self, store: Store, summary: IndexSummary, batch_files: int) -> None:
        self.store = store
        self.summary = summary
        self.batch_files = batch_files
        self.upserts: list[FileFacts] = []
        self.parts: list[Columns] = []
        self.touched: list[Touch] = []
        self.vanished: list[str] = []
        self.docs: list[DocFacts] = []
        self.doc_touched: list[Touch] = []
        self.doc_vanished: list[str] = []
        self.doc_changes = 0  # docs written or removed (new versions to take baselines of)

    def add(self, chunk: Chunk) -> None:
        for outcome in chunk.outcomes:
            if isinstance(outcome, Unchanged):
                touched = self.doc_touched if outcome.doc else self.touched
                touched.append(Touch(outcome.path, outcome.size, outcome.mtime_ns))
            elif isinstance(outcome, Vanished):
                if outcome.doc:
                    self.doc_vanished.append(outcome.path)
                    self.summary.docs_removed += 1
                else:
                    self.vanished.append(outcome.path)
                    self.summary.vanished += 1
            elif isinstance(outcome, DocFacts):
                self.docs.append(outcome)
                if outcome.record.status != "skipped":
                    self.summary.docs_parsed += 1
            else:
                self.upserts.append(outcome)
                self._count(outcome)
        self.parts.append(chunk.columns)
        pending = len(self.upserts) + len(self.touched) + len(self.docs) + len(self.doc_touched)
        if pending >= self.batch_files:
            self.flush()

    def flush(self, removed: Sequence[str] = (), doc_removed: Sequence[str] = ()) -> None:
        self.doc_changes += len(self.docs) + len(self.doc_vanished) + len(doc_removed)
        self.summary.touched += len(self.touched)
        self.summary.docs_touched += len(self.doc_touched)
        columns = Columns.concat(self.parts)
        self.store.apply(
            Batch(
                self.upserts,
                self.touched,
                [*removed, *self.vanished],
                columns=columns,
                docs=self.docs,
                doc_touched=self.doc_touched,
                doc_removed=[*doc_removed, *self.doc_vanished],
            )
        )
        self.upserts, self.parts, self.touched, self.vanished = [], [], [], []
        self.docs, self.doc_touched, self.doc_vanished = [], [], []

    def _count(self, facts: FileFacts) -> None:
        summary = self.summary
        status = facts.record.status
        if status == "skipped":
            summary.skipped += 1
            return
        summary.parsed += 1
        if status == "partial":
            summary.partial += 1
        elif status == "failed":
            summary.failed += 1
            summary.failures.append(f"{facts.record.path}: {facts.record.skip_reason}")
