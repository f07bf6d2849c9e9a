"""Bring the store up to date with the tree: walk, compare, read what changed, write batches."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields
from pathlib import Path

from graphsvc.columns import Columns
from graphsvc.config import Settings
from graphsvc.docfacts import DOC_INDEXER_VERSION, DocFacts
from graphsvc.entrypoints import EntryRules, load_entry_rules, project_entries
from graphsvc.entrypoints.table import entry_precheck, entry_rows
from graphsvc.errors import TreeError
from graphsvc.extract.docs import doc_format
from graphsvc.facts import INDEXER_VERSION, FileFacts, ParseError
from graphsvc.indexer import TOO_LARGE, Chunk, Task, Unchanged, Vanished, index_files, skipped
from graphsvc.layout import Layout, detect_layout
from graphsvc.link import Linker
from graphsvc.link.channels import ChannelPass
from graphsvc.rules import load_rules
from graphsvc.store import Batch, BatchRecord, FileState, Store, Touch
from graphsvc.walk import DocGlobs, WalkResult, walk, walk_paths

log = logging.getLogger(__name__)
POOL_MIN_FILES = 48  # below this, starting worker processes costs more than it saves
IN_FLIGHT_PER_WORKER = 3  # chunks submitted ahead per worker: bounds memory, keeps workers busy
DISCARD_JOIN_S = 5.0  # how long a killed worker may take to be reaped
CHUNK_FILES = 32  # files a worker indexes and converts to columns in one go
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
            if spec.name in ("batch_id", "relinked", "tables"):
                continue
            mine, theirs = getattr(merged, spec.name), getattr(summary, spec.name)
            if isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(merged, spec.name, mine + theirs)
    merged.batch_id = max(summary.batch_id for summary in summaries)
    relinked = [summary.relinked for summary in summaries]
    if all(ids is not None for ids in relinked):
        merged.relinked = frozenset().union(*(ids for ids in relinked if ids is not None))
    else:
        merged.relinked = None
    tables = [summary.tables for summary in summaries]
    if all(names is not None for names in tables):
        merged.tables = frozenset().union(*(names for names in tables if names is not None))
    return merged


@dataclass(slots=True)
class Plan:
    """What has to happen to bring the store to the tree's state."""

    tasks: list[Task] = field(default_factory=list)
    skipped: list[FileFacts] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    doc_skipped: list[DocFacts] = field(default_factory=list)
    doc_removed: list[str] = field(default_factory=list)
    doc_unchanged: int = 0


def _reusable(state: FileState, module: str, too_large: bool) -> bool:
    """Stored facts still stand (given equal bytes): same extractor, same module name, not a
    failure (those are retried), and the size cap puts the file on the same side as before (a
    changed max_file_bytes re-evaluates size skips)."""
    if state.indexer_version != INDEXER_VERSION or state.module != module:
        return False
    if state.status not in ("ok", "partial", "skipped"):
        return False
    was_too_large = state.status == "skipped" and (state.skip_reason or "").startswith(TOO_LARGE)
    return was_too_large == too_large


def plan(
    tree: Path,
    found: WalkResult,
    layout: Layout,
    states: dict[str, FileState],
    max_bytes: int,
    *,
    trust_stat: bool = True,
    recheck: Collection[str] = (),
) -> Plan:
    """Compare the walk with the store and decide what to read.

    With ``trust_stat`` a file whose (size, mtime_ns) equal the stored ones is not read, unless
    it lies at or below one of the ``recheck`` paths; otherwise (the watcher said these files
    changed) it is read and hashed, because two saves of the same size within one tick of the
    file system's clock leave the same mtime.
    """
    result = Plan()
    recheck = set(recheck)
    for entry in found.files:
        trust = trust_stat and not (recheck and _below(entry.path, recheck))
        module = layout.module_for(entry.path)
        state = states.get(entry.path)
        too_large = entry.size > max_bytes
        reusable = state is not None and _reusable(state, module.name, too_large)
        if (
            trust
            and state is not None
            and reusable
            and (state.size, state.mtime_ns) == (entry.size, entry.mtime_ns)
        ):
            result.unchanged += 1
            continue
        known = state.sha256 if state is not None and reusable else None
        result.tasks.append(Task(entry.path, str(tree / entry.path), module, known, max_bytes))
    for skip in found.skipped:
        state = states.get(skip.path)
        module = layout.module_for(skip.path)
        if state is not None and (state.status, state.skip_reason, state.module) == (
            "skipped",
            skip.reason,
            module.name,
        ):
            result.unchanged += 1
            continue
        result.skipped.append(skipped(skip.path, module, skip.reason))
    seen = {e.path for e in found.files} | {s.path for s in found.skipped}
    result.removed = sorted(set(states) - seen)
    return result


def plan_docs(
    tree: Path,
    found: WalkResult,
    states: dict[str, FileState],
    max_bytes: int,
    into: Plan,
    *,
    trust_stat: bool = True,
    recheck: Collection[str] = (),
) -> None:
    """:func:`plan` for the documentation files of ``found``, added to ``into``."""
    recheck = set(recheck)
    for entry in found.docs:
        trust = trust_stat and not (recheck and _below(entry.path, recheck))
        state = states.get(entry.path)
        too_large = entry.size > max_bytes
        reusable = (
            state is not None
            and state.indexer_version == DOC_INDEXER_VERSION
            and state.status in ("ok", "partial", "skipped")
            and (state.status == "skipped" and (state.skip_reason or "").startswith(TOO_LARGE))
            == too_large
        )
        stat = (entry.size, entry.mtime_ns)
        same_stat = state is not None and (state.size, state.mtime_ns) == stat
        if trust and reusable and same_stat:
            into.doc_unchanged += 1
            continue
        known = state.sha256 if state is not None and reusable else None
        into.tasks.append(
            Task(entry.path, str(tree / entry.path), None, known, max_bytes, doc=True)
        )
    for skip in found.doc_skipped:
        state = states.get(skip.path)
        if state is not None and (state.status, state.skip_reason) == ("skipped", skip.reason):
            into.doc_unchanged += 1
            continue
        record = skipped(skip.path, None, skip.reason).record
        into.doc_skipped.append(DocFacts(record, doc_format(skip.path)))
    seen = {e.path for e in found.docs} | {s.path for s in found.doc_skipped}
    into.doc_removed = sorted(set(states) - seen)


def _below(path: str, roots: set[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or lies below one of them."""
    while path:
        if path in roots:
            return True
        path = path.rpartition("/")[0]
    return "" in roots


def _chunks(tasks: Sequence[Task], jobs: int, nice: int = 0) -> Iterator[Chunk]:
    """Chunks of outcomes in task order; a cold index fans out to worker processes.

    At most a few chunks per worker are in flight, so when writing is slower than parsing the
    finished facts wait in the workers, not in this process's memory. A worker that dies (a
    crash in the C parser) costs a new pool: the chunk at the front is redone one file per
    process, so only the file that kills its process is lost, as a ``failed`` row.
    """
    pooled = jobs > 1 and len(tasks) >= POOL_MIN_FILES
    size = max(1, min(CHUNK_FILES, len(tasks) // (jobs * 4))) if pooled else CHUNK_FILES
    chunks = deque(tasks[i : i + size] for i in range(0, len(tasks), size))
    if not pooled:
        yield from map(index_files, chunks)
        return
    while chunks:
        try:
            yield from _pooled(chunks, jobs, nice)
        except BrokenProcessPool:
            suspects = chunks.popleft()
            log.warning("a parser process died; redoing %d files one by one", len(suspects))
            parts = [_isolated(task, nice) for task in suspects]
            outcomes = [outcome for part in parts for outcome in part.outcomes]
            yield Chunk(outcomes, Columns.concat([part.columns for part in parts]))


def _pool(jobs: int, nice: int = 0) -> ProcessPoolExecutor:
    # forkserver: never fork a process whose DuckDB threads may hold locks.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["graphsvc.indexer"])  # workers start with it imported
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=os.nice, initargs=(nice,)
    )


def _pooled(chunks: deque[Sequence[Task]], jobs: int, nice: int) -> Iterator[Chunk]:
    """Results of ``chunks`` in order; each chunk leaves the deque once its result is out."""
    with _owned_pool(jobs, nice) as pool:
        pending: deque[Future[Chunk]] = deque()
        while chunks:
            while len(pending) < min(len(chunks), jobs * IN_FLIGHT_PER_WORKER):
                pending.append(pool.submit(index_files, chunks[len(pending)]))
            result = pending.popleft().result()
            chunks.popleft()
            yield result


@contextlib.contextmanager
def _owned_pool(jobs: int, nice: int = 0) -> Iterator[ProcessPoolExecutor]:
    """A pool that is shut down cleanly when its work ends, and torn down hard when it broke.

    After a worker dies, CPython 3.11's executor terminates the other workers with SIGTERM and
    then joins them with no time limit; a worker that does not die of that (seen once here: a
    run hung in that join) would hang the whole index. So on a broken pool every worker is
    killed first, the shutdown does not wait, and each join is bounded.
    """
    pool = _pool(jobs, nice)
    try:
        yield pool
    except BaseException:
        _discard(pool)
        raise
    pool.shutdown(wait=True)


def _discard(pool: ProcessPoolExecutor) -> None:
    """Kill ``pool``'s workers and release it without waiting for anything unbounded."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    for worker in workers:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            worker.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        with contextlib.suppress(OSError, ValueError, AssertionError, AttributeError):
            worker.join(timeout=DISCARD_JOIN_S)
            if worker.is_alive():
                log.error("parser process %s did not exit after SIGKILL", worker.pid)


def _isolated(task: Task, nice: int = 0) -> Chunk:
    """One file in a process of its own; if that process dies too, the file is ``failed``."""
    try:
        with _owned_pool(1, nice) as pool:
            return pool.submit(index_files, [task]).result()
    except BrokenProcessPool:
        reason = "the parser process died on this file (crash in tree-sitter?)"
        log.error("%s: %s", task.path, reason)
        error = ParseError(1, 1, "read", reason)
        facts = skipped(task.path, task.module, reason, status="failed", errors=(error,))
        if task.doc:
            doc = DocFacts(facts.record, doc_format(task.path), problems=(error,))
            return Chunk([doc], Columns.of([]))
        return Chunk([facts], Columns.of([facts]))


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
    for chunk in _chunks(work.tasks, jobs, settings.parser_nice):
        writer.add(chunk)
        done += len(chunk.outcomes)
        if progress is not None:
            progress(done, len(work.tasks))
    writer.flush(removed=work.removed, doc_removed=work.doc_removed)
    summary.tables = store.take_changed()
    linked = (linker or Linker(settings.python)).run(store)
    summary.relinked = None if linked.relink_all else linked.affected
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
