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
import hashlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from graphsvc.extract.resolve import BUILTIN_NAMES
from graphsvc.link.environment import Environment, probe, stamp
from graphsvc.link.flow import FlowSolver
from graphsvc.link.index import (
    BASE_PREFIX,
    DOTTED,
    SITE_ROWS_FILES,
    SUBCLASSES,
    ImportRow,
    Key,
    ModuleData,
    NameIndex,
    SiteRows,
    signatures,
)
from graphsvc.link.names import CALLABLE_SYMBOLS, Lookup, Value, missing
from graphsvc.link.seen import SeenKeys
from graphsvc.link.wiring import self_attribute_reason
from graphsvc.store import LinkBatch, Store, one_of

log = logging.getLogger(__name__)
LINKER_VERSION = "4"  # bump when link rows change meaning: every file is re-linked

# Strategy name of each local candidate kind.
_STRATEGY = {
    "local": "lexical",
    "import": "import",
    "builtin": "builtin",
    "self": "self",
    "cls": "cls",
    "super": "super",
    "instance": "instance",
    "self_attr": "self_attr",
    "annotation": "annotation",
}
_UNRESOLVED_REASON = {
    "variable": "the callee is a parameter or local value and value flow found no value for it"
    " (arguments passed from other files are not followed)",
    "ambiguous": "the name is bound to different things in this file",
}
_EXPLICIT_SUPER = re.compile(r"^super\(\s*([A-Za-z_][\w.]*)\s*,")
# Decorators that return the function itself or something that calls it unchanged: a call of
# the decorated name still runs the definition.
TRANSPARENT_DECORATORS = frozenset(
    {
        "<builtin>.staticmethod",
        "<builtin>.classmethod",
        "<builtin>.property",
        "abc.abstractmethod",
        "abc.abstractproperty",
        "abc.abstractclassmethod",
        "abc.abstractstaticmethod",
        "atexit.register",
        "contextlib.contextmanager",
        "contextlib.asynccontextmanager",
        "dataclasses.dataclass",
        "enum.unique",
        "functools.cache",
        "functools.cached_property",
        "functools.lru_cache",
        "functools.singledispatch",
        "functools.singledispatchmethod",
        "functools.total_ordering",
        "functools.wraps",
        "typing.final",
        "typing.no_type_check",
        "typing.overload",
        "typing.override",
        "typing.runtime_checkable",
        "typing_extensions.final",
        "typing_extensions.override",
    }
)
_CHUNK_FILES = 64  # files whose sites and flows are read (and held) at once
# Changed modules up to which the files that consulted them are found with a query per module
# (a filter the scan applies); past it with one join.
_DEPENDENT_QUERIES = 2
# Memoised name-layer answers kept between chunks; past it they are dropped (each holds the
# names it consulted: ~40k of them were ~60 MB of a cold link of the stdlib).
_MAX_MEMO = 10_000
_COLUMNS: dict[str, pa.DataType] = {
    "file_id": pa.int32(),
    "site": pa.string(),
    "line": pa.int32(),
    "col": pa.int32(),
    "scope": pa.string(),
    "expression": pa.string(),
    "kind": pa.string(),
    "target": pa.string(),
    "target_kind": pa.string(),
    "target_module": pa.string(),
    "named": pa.string(),
    "status": pa.string(),
    "strategy": pa.string(),
    "reason": pa.string(),
    "origin": pa.string(),
    "distribution": pa.string(),
}


@dataclass(slots=True)
class LinkSummary:
    """What one linker run did."""

    files: int = 0
    links: int = 0
    affected: frozenset[int] = frozenset()  # file ids re-linked
    relink_all: bool = False
    seconds: float = 0.0


@dataclass(slots=True)
class _Rows:
    """Link rows, appended as tuples in ``_COLUMNS`` order and turned into Arrow at the end."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    deps: list[tuple[int, str, str]] = field(default_factory=list)  # (file_id, module, name)
    inputs: list[tuple[int, int, int]] = field(default_factory=list)  # channel_inputs rows

    def add(
        self,
        site: tuple[Any, ...],
        value: Value | None,
        status: str,
        strategy: str,
        reason: str | None = None,
    ) -> None:
        if value is None or value.kind == "missing":
            target: tuple[Any, ...] = (None, None, None, None)
            outside: tuple[Any, ...] = (None, None)
        else:
            target = (value.name, value.symbol_kind or value.kind, value.module, value.named)
            outside = (value.origin, value.distribution)
        self.rows.append((*site, *target, status, strategy, reason, *outside))

    def tables(self) -> tuple[pa.Table, pa.Table, pa.Table]:
        columns = list(zip(*self.rows, strict=True)) or [() for _ in _COLUMNS]
        links = pa.table(
            {k: pa.array(v, t) for (k, t), v in zip(_COLUMNS.items(), columns, strict=True)}
        )
        deps = pa.table(
            {
                "file_id": pa.array([d[0] for d in self.deps], pa.int32()),
                "module": pa.array([d[1] for d in self.deps], pa.string()),
                "name": pa.array([d[2] for d in self.deps], pa.string()),
            }
        )
        inputs = pa.table(
            {
                "file_id": pa.array([i[0] for i in self.inputs], pa.int32()),
                "digest": pa.array([i[1] for i in self.inputs], pa.int64()),
                "facts": pa.array([i[2] for i in self.inputs], pa.int64()),
            }
        )
        return links, deps, inputs


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

    def run(self, store: Store) -> LinkSummary:
        """Re-link whatever the committed batches since the last run can have changed."""
        started = time.perf_counter()
        con = store.con
        self._belongs_to(store)
        pending, state = _pending(con)
        upto = max((seq for seq, _, _ in pending), default=0)
        modules = {m for _, m, _ in pending if m is not None}
        files = {f for _, _, f in pending if f is not None}
        relink_all = self._environment_changed(state)
        summary = LinkSummary(relink_all=relink_all)
        if not relink_all and not upto:
            return summary
        # a few files' re-link is a few small statements: on one DuckDB thread (see
        # Store.one_thread); a re-link of everything keeps them all
        with store.one_thread(None if relink_all else len(files)):
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
            index = self.index
            changed = modules | {d.name for f in files if (d := index.by_file.get(f)) is not None}
            if relink_all:
                changed = set(index.by_module)
            now = {
                m: signatures(index.by_module[m]) if m in index.by_module else {} for m in changed
            }
            if relink_all:
                affected = set(index.by_file)
                stale_names, names = frozenset[Key](), _name_rows(now, {})
            else:
                changed_keys = self._changed_keys(con, now)
                affected = files | self._dependents(con, changed_keys)
                # link_names gets only what differs from the stored rows (known: _changed_keys read
                # them): an edit inside a function changes no signature and writes nothing here
                stale_names = frozenset(
                    k for k in changed_keys if k[1] in self._names.get(k[0], ())
                )
                names = _name_rows(now, self._names)
            batch = LinkBatch(
                frozenset(affected),
                int(upto),
                relink_all=relink_all,
                cleared=frozenset(files),
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
            with store.linking(batch) as write:
                for rows in link_chunks(con, index, env, affected, sites):
                    if self._seen is not None:
                        self._seen.add((module, name) for _, module, name in rows.deps)
                    links, deps, inputs = rows.tables()
                    write(links, deps, inputs)
                    written += links.num_rows
            self._names.update(now)  # what link_names holds for these modules now
            if relink_all:
                # now, not in the first one-file run after it (~20 ms on a 1,400-file tree)
                self._seen = _seen_keys(con)
            seconds = time.perf_counter() - started
            summary.files, summary.links, summary.seconds = len(affected), written, seconds
            summary.affected = frozenset(affected)
            log.info("linked %d files (%d links) in %.3fs", len(affected), written, seconds)
            return summary

    def _state(self, env: Environment, stored: dict[str, str]) -> dict[str, str]:
        """The link_state entries that differ from ``stored``."""
        state = {
            "environment": env.fingerprint(),
            "environment_paths": json.dumps(list(env.paths)),
            "environment_stamp": env.stamp(),
            "environment_python": self._python(),
            "linker_version": LINKER_VERSION,
        }
        return {k: v for k, v in state.items() if stored.get(k) != v}

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
            return self.env.fingerprint() != state["environment"]
        paths = json.loads(state.get("environment_paths", "[]"))
        same_stamp = stamp(paths) == state.get("environment_stamp")
        if same_stamp and (self.env is None or self.env.fingerprint() == state["environment"]):
            return False
        self.env = probe(self.python)
        return self.env.fingerprint() != state["environment"]

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


def link_chunks(
    con: Any,
    index: NameIndex,
    env: Environment,
    file_ids: Iterable[int],
    sites: SiteRows | None = None,
) -> Iterator[_Rows]:
    """Link rows and dependency rows for every site of ``file_ids``, a chunk of files at a
    time (so memory holds one chunk's rows, however many files are re-linked). ``sites``
    may already hold the sites of some of them (read for the name index's refresh)."""
    ids = sorted(file_ids)
    lookup = Lookup(index, env)
    solver = FlowSolver(con, lookup)
    for start in range(0, len(ids), _CHUNK_FILES):
        rows = _Rows()
        chunk = ids[start : start + _CHUNK_FILES]
        if sites is None or not sites.covers(chunk):
            sites = SiteRows.read(con, chunk)
        _link_chunk(con, index, lookup, solver, rows, chunk, sites)
        if lookup.memoised() > _MAX_MEMO:
            lookup.forget()
        yield rows


def _link_chunk(
    con: Any,
    index: NameIndex,
    lookup: Lookup,
    solver: FlowSolver,
    rows: _Rows,
    ids: list[int],
    sites: SiteRows,
) -> None:
    """Link a chunk of files from their sites (and flow rows, read in one query)."""
    solver.prefetch(ids, sites.imports, sites.flows)
    channel = sites.channel_facts(con, ids)
    for file_id in ids:
        data = index.by_file.get(file_id)
        lookup.deps = {(data.name, "")} if data is not None else set()
        first = len(rows.rows)
        imported: list[tuple[ImportRow, int, int]] = []  # from-imports and their link rows
        for row in sites.imports[file_id]:
            before = len(rows.rows)
            _link_import(lookup, rows, row[:8])
            if row[4] == "from":
                imported.append((row, before, len(rows.rows)))
        for row in sites.calls[file_id]:
            _link_use(lookup, solver, rows, "call", row, data)
        for row in sites.references[file_id]:
            _link_use(lookup, solver, rows, "reference", row, data)
        solver.release(file_id)
        for module, name in sorted(lookup.deps):
            rows.deps.append((file_id, module, name))
        digest = _channel_digest(data, channel.get(file_id, []), rows.rows, first, imported)
        if digest is not None:
            rows.inputs.append((file_id, *digest))


def _row_hash(*values: object) -> int:
    """A 56-bit hash of ``values`` that is the same in every process (``hash`` is not)."""
    text = repr(values).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=7).digest(), "little")


def _channel_digest(
    data: ModuleData | None,
    facts: list[tuple[Any, ...]],
    rows: list[tuple[Any, ...]],
    first: int,
    imported: list[tuple[ImportRow, int, int]],
) -> tuple[int, int] | None:
    """The file's ``channel_inputs`` row (digest, facts), None when it has no part in the
    channel pass: a hash of each channel fact (with the file's path), of each linked callee of
    a call that has a channel fact, and of each from-import with its link target (what the
    module re-exports), summed. Computed from rows in hand: what the pass would read back."""
    parts: list[int] = []
    path = data.path if data is not None else ""
    calls: set[tuple[int, int]] = set()
    for _, kind, line, col, scope, name, detail, payload in facts:
        parts.append(_row_hash("fact", path, kind, line, col, scope, name, detail, payload))
        if kind == "call":
            calls.add((line, col))
    for row in rows[first:]:
        if row[1] == "call" and row[7] is not None and (row[2], row[3]) in calls:
            parts.append(_row_hash("call", row[2], row[3], row[7]))
    if data is not None:
        for site, start, end in imported:
            name, alias = site[6], site[8]
            for row in rows[start:end]:
                if row[7] is not None:
                    parts.append(_row_hash("import", data.name, alias, name, row[7]))
    if not parts:
        return None
    return sum(parts) % (1 << 63), len(facts)


# ---------------------------------------------------------------------- imports


def _link_import(lookup: Lookup, rows: _Rows, row: tuple[Any, ...]) -> None:
    file_id, line, col, scope, kind, target, name, written = row
    expression = f"{written}:{name}" if kind in ("from", "star", "future") else written
    site = (file_id, "import", line, col, scope, expression, kind)
    if kind == "future":
        value = Value("external", "__future__", None, "__future__", "stdlib")
        rows.add(site, value, status="stdlib", strategy="import")
        return
    if target is None:
        reason = "relative import climbs above the top-level package"
        rows.add(site, None, status="unresolved", strategy="import", reason=reason)
        return
    if kind == "from" and lookup.is_module(target):
        values = lookup.module_member(target, name) or [missing(f"{target} defines no {name}")]
        _import_rows(lookup, rows, site, values, target)
        return
    if lookup.is_module(target):
        value = Value("module", target, "module", target)
        _import_rows(lookup, rows, site, [value], target)
        return
    top = target.split(".", 1)[0]
    if lookup.is_module(top):
        reason = f"no module {target} in the tree (package {top} is)"
        rows.add(site, None, status="unresolved", strategy="import", reason=reason)
        return
    dotted = f"{target}.{name}" if kind == "from" else target
    value = lookup.outside(dotted)
    _import_rows(lookup, rows, site, [value], target)


def _import_rows(
    lookup: Lookup, rows: _Rows, site: tuple[Any, ...], values: list[Value], module: str
) -> None:
    found = [v for v in values if v.kind != "missing"]
    if not found:
        reason = "; ".join(v.name for v in values)
        rows.add(site, None, status="unresolved", strategy="import", reason=reason)
        return
    owners = lookup.modules(module)
    reason = None
    if len(owners) > 1:
        reason = f"{len(owners)} files define module {module}: " + ", ".join(d.path for d in owners)
    elif len(found) > 1:
        reason = f"{len(found)} possible targets"
    elif owners and module.split(".", 1)[0] in lookup.env.stdlib:
        reason = f"shadows the standard library module {module.split('.', 1)[0]}"
    ambiguous = len(found) > 1 or len(owners) > 1
    for value in found:
        if ambiguous:
            status = "ambiguous"
        elif value.kind == "external":
            status = value.origin or "external"
        else:
            status = "internal"
        strategy = "+".join(("import", *value.steps))
        rows.add(site, value, status=status, strategy=strategy, reason=reason)


# ---------------------------------------------------------------------- calls and references


def _link_use(
    lookup: Lookup,
    solver: FlowSolver,
    rows: _Rows,
    site_kind: str,
    row: tuple[Any, ...],
    data: ModuleData | None,
) -> None:
    file_id, line, col, scope, expression = row[:5]
    kind = row[7] if site_kind == "reference" else "call"
    site = (file_id, site_kind, line, col, scope, expression, kind)
    module = data.name if data is not None else ""
    values, strategy, union = _candidates(lookup, row, module, data)
    uncertain = None
    several = False
    if site_kind == "call":
        values, uncertain = lookup.remember(("call", tuple(values)), lambda: _call(lookup, values))
        if uncertain or not any(v.kind != "missing" for v in values) or _not_callable(values):
            flowed, certain = solver.callees(file_id, (line, col, expression), scope)
            if flowed:
                values = [_called(lookup, v) for v in flowed]
                strategy, uncertain, several = "flow", None, certain
        values = _self_attribute(lookup, row, module, values)
    if union is not None and uncertain is None and strategy == "annotation":
        uncertain = union
    _use_rows(rows, site, values, strategy or "super", site_kind, uncertain, several)
    if kind == "decorator":  # @factory(...) then calls what the factory returned
        for value in solver.results(file_id, (line, col, expression)):
            rows.add(site, value, status="resolved", strategy="flow+decorator")


def _candidates(
    lookup: Lookup, row: tuple[Any, ...], module: str, data: ModuleData | None
) -> tuple[list[Value], str | None, str | None]:
    """What a site's local candidate names: (values, strategy, why the values are a union's
    alternatives, for an annotation such as ``A | B`` whose classes both define the name)."""
    _, line, _, scope, expression, candidate, candidate_kind = row[:7]
    strategy = _STRATEGY.get(candidate_kind)
    if candidate_kind == "super":
        return _super(lookup, scope, module, expression, data), strategy, None
    if candidate_kind == "unknown" and DOTTED.match(expression) and module:
        return _unbound(lookup, module, expression), "lexical", None
    if strategy is None or candidate is None:
        reason = _UNRESOLVED_REASON.get(candidate_kind) or (
            f"{expression} is defined nowhere"
            if expression.isidentifier()
            else "the callee is not a name chain (a call result, subscript or literal)"
        )
        return [missing(reason)], "none", None
    if candidate_kind in ("self", "cls"):
        return _self_call(lookup, candidate), strategy, None
    if candidate_kind == "annotation":
        values = _annotated(lookup, candidate)
        union = None
        if len({v.name for v in values if v.kind != "missing"}) > 1 and "|" in candidate:
            union = f"annotated with a union of classes: {candidate.replace('|', ', ')}"
        return values, strategy, union
    values = lookup.resolve(candidate)
    if candidate_kind == "local" and data is not None and data.star_lines:
        shadowed = _star_shadowed(lookup, data, candidate, line, scope)
        if shadowed is not None:
            return shadowed, "lexical", None
    return values, strategy, None


def _self_attribute(
    lookup: Lookup, row: tuple[Any, ...], module: str, values: list[Value]
) -> list[Value]:
    """An unresolved call through ``self.a``: say so when ``a`` is assigned nowhere (or only
    ever None) in every class ``self`` can be (graphsvc/link/wiring.py)."""
    _, _, _, scope, expression, candidate, candidate_kind = row[:7]
    if candidate_kind not in ("self", "self_attr") or any(v.kind != "missing" for v in values):
        return values
    why = self_attribute_reason(lookup, scope, module, expression, candidate_kind, candidate)
    return [missing(why)] if why is not None else values


def _not_callable(values: list[Value]) -> bool:
    """A variable or module named as a callee: its value is what runs."""
    return any(v.kind == "module" or v.symbol_kind == "variable" for v in values)


def _call(lookup: Lookup, values: list[Value]) -> tuple[list[Value], str | None]:
    """What calling ``values`` runs, and why that may be something else (a decorator)."""
    uncertain = next(filter(None, (_decorated(lookup, v) for v in values)), None)
    return [_called(lookup, v) for v in values], uncertain


def _star_shadowed(
    lookup: Lookup, data: ModuleData, candidate: str, line: int, scope: str
) -> list[Value] | None:
    """A module-level definition rebound by a later ``from x import *`` means x's name."""
    head, _, rest = candidate.removeprefix(data.name + ".").partition(".")
    if not candidate.startswith(data.name + "."):
        return None
    values = lookup.star_shadow(data, head, line if scope == data.name else None)
    if values is not None and rest:
        for part in rest.split("."):
            values = lookup.members(values, part)
    return values


def _decorated(lookup: Lookup, value: Value) -> str | None:
    """Why calling ``value`` may run something else: a decorator that can replace it."""
    for written, decorator in lookup.decorators(value):
        names = {d.name for d in decorator}
        last = written.split("(", 1)[0].rsplit(".", 1)[-1]
        if last in ("setter", "getter", "deleter") or (names and names <= TRANSPARENT_DECORATORS):
            continue
        return (
            f"{value.name} is decorated by @{written}; the call runs what the decorator"
            " returns, and value flow could not tell what that is"
        )
    return None


def _unbound(lookup: Lookup, module: str, expression: str) -> list[Value]:
    """A name bound nowhere in its file: a star import may bind it, else it is a builtin."""
    head, *rest = expression.split(".")
    values = [v for v in lookup.module_member(module, head) if v.kind != "missing"]
    if not values and head in BUILTIN_NAMES:
        values = [Value("builtin", f"<builtin>.{head}", None, None, "builtin")]
    if not values:
        return [missing(f"{head} is defined nowhere (not even by the star imports of {module})")]
    for part in rest:
        values = lookup.members(values, part)
    return values


def _self_call(lookup: Lookup, candidate: str) -> list[Value]:
    """``self.m`` / ``cls.m`` in class C (candidate ``C.m``): C's m or a subclass's."""
    owner, _, name = candidate.rpartition(".")
    classes = [v for v in lookup.resolve(owner) if v.symbol_kind == "class"]
    if len(classes) != 1:
        return lookup.resolve(candidate)
    return lookup.dispatch(classes[0].name, name)


def _annotated(lookup: Lookup, candidate: str) -> list[Value]:
    """``x.m`` where ``x`` is annotated with class C (candidate ``C.m``; ``A.m|B.m`` for a
    union): C's m, or a subclass's override (the value may be an instance of a subclass),
    as for ``self``; for a union, what each class gives."""
    found: list[Value] = []
    for one in candidate.split("|"):
        owner = one.rsplit(".", 1)[0]
        if "." in one and not any(
            v.symbol_kind == "class" or v.kind in ("external", "builtin")
            for v in lookup.resolve(owner)
        ):
            # a type alias (ParseFloat = Callable[...]) or a class attribute: not an instance
            found.append(
                missing(
                    f"{owner} is not a class (a type alias, or an attribute of a class in"
                    " another file, whose type is not followed)"
                )
            )
            continue
        for value in _self_call(lookup, one):
            if value not in found:
                found.append(value)
    return [v for v in found if v.kind != "missing"] or found


def _super(
    lookup: Lookup, scope: str, module: str, expression: str, data: ModuleData | None
) -> list[Value]:
    """``super().name`` inside a method of class C: ``name`` after C in C's MRO.

    ``super(B, self).name`` starts after B in the MRO of the enclosing class.
    """
    cls = lookup.enclosing_class(scope, module)
    name = expression.rsplit(".", 1)[-1]
    if cls is None:
        return [missing("super() outside a method of a class")]
    after = cls
    explicit = _EXPLICIT_SUPER.match(expression)
    if explicit is not None and data is not None:
        named = [v for v in lookup.evaluate(data, scope, explicit.group(1)) if v.kind == "symbol"]
        if not named:
            return [missing(f"super({explicit.group(1)}, ...): the class is not defined")]
        after = named[0].name
    return lookup.dispatch(cls, name, after=after)


def _called(lookup: Lookup, value: Value) -> Value:
    """What calling ``value`` runs: a class runs its ``__init__`` (found along the MRO)."""
    if value.kind != "symbol" or value.symbol_kind != "class":
        return value
    for init in lookup.class_member(value.name, "__init__"):
        if init.kind == "symbol":
            steps = (*value.steps, *init.steps, "constructor")
            return Value(
                "symbol", init.name, init.symbol_kind, init.module, steps=steps, named=value.name
            )
    return Value(
        "symbol", value.name, "class", value.module, None, None, (*value.steps, "constructor")
    )


def _use_rows(
    rows: _Rows,
    site: tuple[Any, ...],
    values: list[Value],
    strategy: str,
    site_kind: str,
    uncertain: str | None = None,
    several: bool = False,
) -> None:
    """Rows for a site's values: one is resolved; several are ambiguous unless ``several``
    (value flow proved each of them reaches the site)."""
    found = [v for v in values if v.kind != "missing"]
    if not found:
        reason = "; ".join(v.name for v in values) or "defined nowhere (import cycle)"
        rows.add(site, None, status="unresolved", strategy=strategy, reason=reason)
        return
    if (len(found) > 1 and not several) or uncertain:
        names = ", ".join(v.name for v in found)
        reason = uncertain or f"{len(found)} possible targets: {names}"
        for value in found:
            step = _strategy(strategy, value)
            rows.add(site, value, status="ambiguous", strategy=step, reason=reason)
        return
    if len(found) > 1:
        for value in found:
            status, reason = _status(value, site_kind)
            target = value if status != "unresolved" else None
            rows.add(
                site, target, status=status, strategy=_strategy(strategy, value), reason=reason
            )
        return
    value = found[0]
    status, reason = _status(value, site_kind)
    if status == "unresolved":
        rows.add(site, None, status=status, strategy=_strategy(strategy, value), reason=reason)
        return
    rows.add(site, value, status=status, strategy=_strategy(strategy, value), reason=reason)


def _status(value: Value, site_kind: str) -> tuple[str, str | None]:
    if value.kind == "builtin":
        return "builtin", None
    if value.kind == "external":
        return "external", None
    if site_kind == "call" and value.kind == "module":
        return "unresolved", f"calls module {value.name}, which is not callable"
    if (
        site_kind == "call"
        and value.symbol_kind not in CALLABLE_SYMBOLS
        and value.symbol_kind != "class"
    ):
        return "unresolved", (
            f"calls {value.symbol_kind} {value.name}, and value flow found no value for it"
        )
    return "resolved", None


def _strategy(base: str, value: Value) -> str:
    return "+".join((base, *value.steps))
