"""Index tasks in chunks, in worker processes on a cold index; a crashing parser costs one file."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from graphsvc.columns import Columns
from graphsvc.docfacts import DocFacts
from graphsvc.extract import clone_memo
from graphsvc.extract.docs import doc_format
from graphsvc.facts import ParseError
from graphsvc.indexer import Chunk, Task, index_files, skipped

log = logging.getLogger(__name__)
POOL_MIN_FILES = 48  # below this, starting worker processes costs more than it saves
IN_FLIGHT_PER_WORKER = 3  # chunks submitted ahead per worker: bounds memory, keeps workers busy
DISCARD_JOIN_S = 5.0  # how long a killed worker may take to be reaped
CHUNK_FILES = 32  # files a worker indexes and converts to columns in one go


def chunks(tasks: Sequence[Task], jobs: int, nice: int = 0) -> Iterator[Chunk]:
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
        max_workers=jobs, mp_context=context, initializer=_worker_started, initargs=(nice,)
    )


def _worker_started(nice: int) -> None:
    """A worker's setup: its niceness, and no clone memo (a cold index sees each file once, so
    the memo would only fill the worker's memory: see graphsvc.extract.clone_memo)."""
    os.nice(nice)
    clone_memo.limit(0)


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
