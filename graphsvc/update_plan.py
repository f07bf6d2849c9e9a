"""Compare a walk with the store's file states: what to read, skip and remove."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from graphsvc.docfacts import DOC_INDEXER_VERSION, DocFacts
from graphsvc.extract.docs import doc_format
from graphsvc.facts import INDEXER_VERSION, FileFacts
from graphsvc.indexer import TOO_LARGE, Task, skipped
from graphsvc.layout import Layout
from graphsvc.store import FileState
from graphsvc.walk import WalkResult


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
