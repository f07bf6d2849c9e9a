"""The linker: turns each file's sites (calls, references, imports) into cross-file links.

It runs after the store commits facts, reading ``link_pending`` (written in the same transaction
as those facts) to learn which modules changed. The files to re-link are the changed files plus
every file whose previous links consulted a (module, top-level name) whose definitions changed
(``link_deps``, diffed against the fingerprints in ``link_names``), so a change
re-links exactly what it can affect, and a crash between the two transactions leaves the work
pending instead of lost.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from graphsvc.link.chunks import link_chunks
from graphsvc.link.environment import Environment, probe, stamp
from graphsvc.link.index import BASE_PREFIX, SUBCLASSES, Key, NameIndex, signatures
from graphsvc.link.kept import KeptRows
from graphsvc.link.seen import SeenKeys
from graphsvc.link.site_rows import SITE_ROWS_FILES, SiteRows
from graphsvc.store import LinkBatch, Store, one_of

log = logging.getLogger(__name__)
LINKER_VERSION = "4"  # bump when link rows change meaning: every file is re-linked

# Changed modules up to which the files that consulted them are found with a query per module
# (a filter the scan applies); past it with one join.
_DEPENDENT_QUERIES = 2


@dataclass(slots=True)
class LinkSummary:
    """What one linker run did."""

    files: int = 0
    links: int = 0
    affected: frozenset[int] = frozenset()  # file ids re-linked
    relink_all: bool = False
    seconds: float = 0.0
    # of ``affected``: the files whose links rows, and whose import sites' links rows, are not
    # the rows this linker last wrote for them; None when it cannot tell (everything was
    # re-linked, or it had not written some file's rows)
    links_changed: frozenset[int] | None = None
    import_links_changed: frozenset[int] | None = None


class Linker:
    """Keeps links current. One per process; the name index stays resident between runs."""

    def __init__(self, python: Path | None = None) -> None:
        self.python = python
        self.env: Environment | None = None
        self.index: NameIndex | None = None
        # link_names as stored by this linker's runs (module -> name -> signature), so a run
        # reads only the modules it has not seen; with the store it belongs to
        self._names: dict[str, dict[str, str]] = {}
        self._names_of: Path | None = None
        self._seen: SeenKeys | None = None  # keys of link_deps (None: read them when needed)
        self._kept = KeptRows()  # digests of the link_deps and channel_inputs rows it wrote
        # the fingerprint of ``env`` when it was probed (a JSON dump and a hash of ~700 names:
        # ~0.3 ms, asked twice a run)
        self._fingerprint: tuple[Environment, str] | None = None

    def warm(self, store: Store) -> None:
        """Load the resident name index and probe the environment now, so that the first
        re-link after a start does not pay for them."""
        self._belongs_to(store)
        if self.index is None:
            self.index = NameIndex.load(store.con)
            self._seen = _seen_keys(store.con)
            _settle()
        self._environment()

    def _belongs_to(self, store: Store) -> None:
        """Forget what it knew of another database's ``link_names`` and ``link_deps``."""
        if self._names_of != store.path:
            self._names, self._seen, self._names_of = {}, None, store.path

    def forget(self) -> None:
        """Drop the resident name index: it was refreshed inside a transaction that rolled
        back, so it may hold facts the database does not. The next run loads it again."""
        self.index = None
        self._names = {}
        self._seen = None
        self._kept.clear()

    def run(self, store: Store) -> LinkSummary:
        """Re-link whatever the committed batches since the last run can have changed."""
        started = time.perf_counter()
        con = store.con
        self._belongs_to(store)
        self._kept.belongs_to(store)
        pending, state = _pending(con)
        upto = max((seq for seq, _, _ in pending), default=0)
        modules = {m for _, m, _ in pending if m is not None}
        files = {f for _, _, f in pending if f is not None}
        relink_all = self._environment_changed(state)
        summary = LinkSummary(relink_all=relink_all)
        if not relink_all and not upto:
            return summary
        # DuckDB keeps its threads: a one-file re-link on one thread (SET threads = 1 and back
        # around it, session 11) took ~6% more CPU than with the background thread by session
        # 17 (two statements that stop and restart the thread; BENCHMARKS.md, relink17)
        env = self._environment()
        sites: SiteRows | None = None
        if relink_all or self.index is None:
            store.take_written(None)
            self.index = NameIndex.load(con)
            # after a re-link of everything the keys are read once it is written (below)
            self._seen = None if relink_all else _seen_keys(con)
            _settle()
        else:
            stale = {d.file_id for m in modules for d in self.index.by_module.get(m, [])}
            if len(files | stale) <= SITE_ROWS_FILES:
                # read once: the refresh and the re-link of these files both use them (taken
                # from what the store just wrote when it wrote them all)
                written = store.take_written(files | stale)
                if written is not None:
                    sites = SiteRows.of(written, files | stale)
                else:
                    sites = SiteRows.read(con, files | stale)
            else:
                store.take_written(None)
            self.index.refresh(con, files | stale, sites)
            self._kept.drop(stale - self.index.by_file.keys())  # removed files
        index = self.index
        changed = modules | {d.name for f in files if (d := index.by_file.get(f)) is not None}
        if relink_all:
            changed = set(index.by_module)
        now = {m: signatures(index.by_module[m]) if m in index.by_module else {} for m in changed}
        if relink_all:
            affected = set(index.by_file)
            stale_names, names = frozenset[Key](), _name_rows(now, {})
        else:
            changed_keys = self._changed_keys(con, now)
            affected = files | self._dependents(con, changed_keys)
            # link_names gets only what differs from the stored rows (known: _changed_keys read
            # them): an edit inside a function changes no signature and writes nothing here
            stale_names = frozenset(k for k in changed_keys if k[1] in self._names.get(k[0], ()))
            names = _name_rows(now, self._names)
        batch = LinkBatch(
            frozenset(affected),
            int(upto),
            relink_all=relink_all,
            # the store deletes no rows of these files up front: the apply deleted the links of
            # the edited ones (``files``), and each part deletes the rows that changed
            cleared=frozenset(affected),
            stale_names=stale_names,
            names=pa.table(
                {
                    "module": pa.array([m for m, _, _ in names], pa.string()),
                    "name": pa.array([n for _, n, _ in names], pa.string()),
                    "signature": pa.array([g for _, _, g in names], pa.string()),
                }
            ),
            state=self._state(env, {} if relink_all else state),
        )
        written = 0
        self._names = {} if relink_all else self._names
        if relink_all:
            self._kept.clear()
        self._kept.take_changed()  # what an earlier run that failed left there
        cleared = frozenset[int]() if relink_all else batch.cleared
        stored = cleared - files  # re-linked for a name they consulted: their links are stored
        try:
            with store.linking(batch) as write:
                for rows in link_chunks(con, index, env, affected, sites):
                    if self._seen is not None:
                        self._seen.add((module, name) for _, module, name in rows.deps)
                    links, deps, inputs, replaced = self._kept.split(rows, cleared, stored)
                    write(links, deps, inputs, replaced)
                    written += len(rows.rows)
        except BaseException:
            self._kept.clear()  # rolled back: the rows it remembers may not be stored
            raise
        self._names.update(now)  # what link_names holds for these modules now
        if relink_all:
            # now, not in the first one-file run after it (~20 ms on a 1,400-file tree)
            self._seen = _seen_keys(con)
        seconds = time.perf_counter() - started
        summary.files, summary.links, summary.seconds = len(affected), written, seconds
        summary.affected = frozenset(affected)
        self._tell_changed(summary)
        log.info("linked %d files (%d links) in %.3fs", len(affected), written, seconds)
        return summary

    def _tell_changed(self, summary: LinkSummary) -> None:
        """Put in ``summary`` the files whose links the run wrote other than they were (not
        told after a re-link of everything)."""
        changed = self._kept.take_changed()
        if changed is not None and not summary.relink_all:
            summary.links_changed, summary.import_links_changed = changed

    def _state(self, env: Environment, stored: dict[str, str]) -> dict[str, str]:
        """The link_state entries that differ from ``stored``."""
        state = {
            "environment": self._fingerprint_of(env),
            "environment_paths": json.dumps(list(env.paths)),
            "environment_stamp": env.stamp(),
            "environment_python": self._python(),
            "linker_version": LINKER_VERSION,
        }
        return {k: v for k, v in state.items() if stored.get(k) != v}

    def _fingerprint_of(self, env: Environment) -> str:
        """``env.fingerprint()``, computed once per probed environment."""
        if self._fingerprint is None or self._fingerprint[0] is not env:
            self._fingerprint = (env, env.fingerprint())
        return self._fingerprint[1]

    def _python(self) -> str:
        return str(self.python) if self.python is not None else sys.executable

    def _environment(self) -> Environment:
        if self.env is None:
            self.env = probe(self.python)
        return self.env

    def _environment_changed(self, state: dict[str, str]) -> bool:
        """Whether links must be recomputed because the target environment (or linker) moved.

        The stored stamp (mtimes of the interpreter's import path folders) is compared first,
        so an unchanged environment costs a few stat calls, not an interpreter start.
        """
        if state.get("linker_version") != LINKER_VERSION or "environment" not in state:
            return True
        if state.get("environment_python") != self._python():
            self.env = probe(self.python)
            return self._fingerprint_of(self.env) != state["environment"]
        paths = json.loads(state.get("environment_paths", "[]"))
        same_stamp = stamp(paths) == state.get("environment_stamp")
        if same_stamp and (
            self.env is None or self._fingerprint_of(self.env) == state["environment"]
        ):
            return False
        self.env = probe(self.python)
        return self._fingerprint_of(self.env) != state["environment"]

    def _dependents(self, con: Any, keys: set[Key]) -> set[int]:
        """Files whose last links consulted any of ``keys``; keys no file consulted (most of
        those of a new name) are ruled out from memory first."""
        if self._seen is None or self._seen.full:
            self._seen = _seen_keys(con)
        return _dependents(con, {key for key in keys if self._seen.may_hold(key)})

    def _changed_keys(self, con: Any, now: dict[str, dict[str, str]]) -> set[Key]:
        """(module, name) pairs whose signature differs from the one stored at the last link
        (the stored ones of modules this linker wrote or read before are known)."""
        unknown = sorted(m for m in now if m not in self._names)
        if unknown:
            read: dict[str, dict[str, str]] = {m: {} for m in unknown}
            for m, n, sig in con.execute(
                "SELECT module, name, signature FROM link_names WHERE "
                + one_of("module", len(unknown), "m"),
                {"m": unknown},
            ).fetchall():
                read[m][n] = sig
            self._names.update(read)
        stored = {(m, n): sig for m in now for n, sig in self._names[m].items()}
        return _changed(stored, now)


def _settle() -> None:
    """Move every object alive now (the freshly loaded name index above all: ~18 MB of Python
    objects on a 1,400-file tree) out of the garbage collector's sight. A full collection
    walks every tracked object, and with the index resident one took ~50 ms in the middle of
    a one-file batch; frozen objects are still freed when nothing refers to them. Cyclic
    garbage that is frozen never is: a collection first, so each load freezes none (a
    service reloads the index after every reconcile)."""
    gc.collect()
    gc.freeze()


def _pending(con: Any) -> tuple[list[tuple[int, str | None, int | None]], dict[str, str]]:
    """The rows of ``link_pending`` and the stored ``link_state``, in one statement (each
    statement costs ~0.5 ms of a one-file re-link)."""
    pending: list[tuple[int, str | None, int | None]] = []
    state: dict[str, str] = {}
    for seq, module, file_id, key, value in con.execute(
        "SELECT seq, module, file_id, NULL, NULL FROM link_pending"
        " UNION ALL SELECT NULL, NULL, NULL, key, value FROM link_state"
    ).fetchall():
        if key is None:
            pending.append((seq, module, file_id))
        else:
            state[key] = value
    return pending, state


def _name_rows(
    now: dict[str, dict[str, str]], stored: dict[str, dict[str, str]]
) -> list[tuple[str, str, str]]:
    """(module, name, signature) rows of ``now`` that ``stored`` does not hold as they are."""
    return [
        (m, n, sig)
        for m, sigs in sorted(now.items())
        for n, sig in sorted(sigs.items())
        if stored.get(m, {}).get(n) != sig
    ]


def _seen_keys(con: Any) -> SeenKeys:
    """The keys of ``link_deps`` in a filter with room for as many more."""
    rows = con.execute("SELECT DISTINCT module, name FROM link_deps").fetchall()
    return SeenKeys.of(((str(m), str(n)) for m, n in rows), len(rows))


def _changed(stored: dict[Key, str], now: dict[str, dict[str, str]]) -> set[Key]:
    """The keys whose signature differs between ``stored`` and ``now``."""
    fresh = {(m, n): sig for m, sigs in now.items() for n, sig in sigs.items()}
    changed = {key for key in stored.keys() | fresh.keys() if stored.get(key) != fresh.get(key)}
    return changed | {
        (SUBCLASSES, n.removeprefix(BASE_PREFIX)) for _, n in changed if n.startswith(BASE_PREFIX)
    }


def _dependents(con: Any, keys: set[Key]) -> set[int]:
    """Files whose last links consulted any of ``keys``."""
    by_module: dict[str, list[str]] = {}
    for module, name in sorted(keys):
        by_module.setdefault(module, []).append(name)
    if len(by_module) > _DEPENDENT_QUERIES:
        ordered = sorted(keys)
        rows = con.execute(
            "SELECT DISTINCT d.file_id FROM link_deps AS d"
            " JOIN (SELECT unnest($modules) AS module, unnest($names) AS name) AS k"
            " ON d.module = k.module AND d.name = k.name",
            {"modules": [m for m, _ in ordered], "names": [n for _, n in ordered]},
        ).fetchall()
        return {f for (f,) in rows}
    found: set[int] = set()
    for module, names in by_module.items():
        # a constant module filter is pushed into the scan: half the time of the join
        rows = con.execute(
            "SELECT DISTINCT file_id FROM link_deps"
            " WHERE module = $module AND list_contains($names, name)",
            {"module": module, "names": names},
        ).fetchall()
        found.update(f for (f,) in rows)
    return found
