"""Suppression: ``# graphsvc: ignore[kind]`` in the code, and GRAPHSVC_SUPPRESS in config.

A suppressed finding is still reported, with status ``suppressed`` and ``suppressed_by``
saying why. In code, the comment counts on a line a finding cites (one of its locations) or on
the ``def``/``class`` line of a location's scope; ``ignore[a, b]`` names several kinds,
``ignore[*]`` every kind. The comment is found in the file's text at refresh time (the
database keeps no source text): only files that findings cite are read, and what a file says
is cached by its stored sha256, so a refresh reads only files whose bytes changed.

A refresh that follows the last one (see :meth:`Suppressor.reasons`) decides again only the
findings that are new, cite other places than they did, or whose places (the files they
cite, the def lines of their symbols) a changed file moved or may comment: the others keep
their last answer, so a one-file edit looks at the few findings of that file.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from graphsvc.findings.model import Finding, Location
from graphsvc.store import Store

log = logging.getLogger(__name__)
IGNORE = re.compile(r"#\s*graphsvc:\s*ignore\[([^\]]*)\]")
_DEF_KINDS = ("class", "function", "method", "staticmethod", "classmethod", "property")


def ignore_comments(text: str) -> dict[int, frozenset[str]]:
    """``{line: kinds}`` of every ``# graphsvc: ignore[...]`` comment in ``text``."""
    found: dict[int, frozenset[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if "graphsvc" not in line:
            continue
        match = IGNORE.search(line)
        if match:
            found[number] = frozenset(k.strip() for k in match[1].split(",") if k.strip())
    return found


def config_match(finding: Finding, entries: Iterable[str]) -> str | None:
    """The first GRAPHSVC_SUPPRESS entry that matches ``finding``: its kind, or a glob of ids."""
    for entry in entries:
        if entry == finding.kind or fnmatch.fnmatchcase(finding.id, entry):
            return entry
    return None


class Suppressor:
    """Decides which findings are suppressed; keeps the ignore comments of files it read.

    Args:
        tree: the indexed tree (None: code comments are not looked at).
        config: GRAPHSVC_SUPPRESS entries (a kind, or a glob over finding ids).
    """

    def __init__(self, tree: Path | None, config: Sequence[str] = ()) -> None:
        self.tree = tree
        self.config = tuple(config)
        self._files: dict[str, tuple[str | None, dict[int, frozenset[str]]]] = {}
        self.reads = 0  # files read (for the benchmark and tests)
        # what the per-file facts of generation ``_generation`` say: the def lines of a
        # qualified name ([] for none), whether a path is an indexed file and its sha256
        self._generation: int | None = None
        self._defs: dict[str, list[tuple[str, int]]] = {}
        self._shas: dict[str, tuple[bool, str | None]] = {}
        # path -> the names in ``_defs`` with a def line there (a changed file's places are
        # found without going through every cached name)
        self._named_at: dict[str, set[str]] = {}
        # per finding id, its kind, locations and the ignore comment that suppresses it (None:
        # none) as decided with the caches above; and the ids decided with each path (cited,
        # or where a symbol is defined) and with each symbol's def lines: a changed file
        # drops the answers that read it
        self._decided: dict[str, tuple[str, tuple[Location, ...], str | None]] = {}
        self._by_path: dict[str, set[str]] = {}
        self._by_name: dict[str, set[str]] = {}
        self.decisions = 0  # findings decided afresh by calls with a generation (for tests)

    def reasons(
        self,
        store: Store,
        findings: Sequence[Finding],
        generation: int | None = None,
        changed: Collection[int] | None = None,
    ) -> dict[str, str]:
        """``{finding id: suppressed_by}`` for the suppressed ones among ``findings``.

        Args:
            generation: the per-file facts' generation (the same number: no Python file
                changed since the last call, so what that call read of them holds; a batch
                that changed only docs then reads no def lines and file hashes again).
                None: read them (and keep the cache for the calls with one).
            changed: with a ``generation`` one past the last call's, the ids of the files
                whose facts may differ from then (none removed): only what they say is read
                again. None: everything is read again.
        """
        reasons: dict[str, str] = {}
        for finding in findings:
            entry = config_match(finding, self.config)
            if entry is not None:
                reasons[finding.id] = f"config: {entry}"
        rest = [f for f in findings if f.id not in reasons and f.locations]
        if self.tree is None:
            rest = []
        defs_read: dict[str, list[tuple[str, int]]] = {}
        shas_read: dict[str, tuple[bool, str | None]] = {}
        if generation is not None:  # (a call without one neither uses nor drops the cache)
            if generation != self._generation:
                follows = self._generation is not None and generation == self._generation + 1
                if follows and changed is not None:
                    fresh = [f for f in rest if not self._known(f)]
                    self._follow(store, changed, {loc.symbol for f in fresh for loc in f.locations})
                else:
                    self._defs, self._shas, self._named_at = {}, {}, {}
                    self._decided, self._by_path, self._by_name = {}, {}, {}
                self._generation = generation
            defs_read, shas_read = self._defs, self._shas
            rest = self._reuse(rest, reasons)
        if not rest:
            return reasons
        symbols = {loc.symbol for f in rest for loc in f.locations}
        defs = self._def_lines(store, symbols, defs_read)
        paths = {loc.path for f in rest for loc in f.locations}
        paths |= {path for places in defs.values() for path, _ in places}
        comments = self._comments(store, paths, shas_read)
        for finding in rest:
            hit = self._hit(finding, defs, comments)
            if hit is not None:
                reasons[finding.id] = f"code: {hit}"
            if generation is not None:
                self._decide(finding, hit, defs)
        return reasons

    def _reuse(self, findings: list[Finding], reasons: dict[str, str]) -> list[Finding]:
        """Put the kept answers of ``findings`` in ``reasons``; returns the others."""
        todo = []
        for finding in findings:
            if self._known(finding):
                hit = self._decided[finding.id][2]
                if hit is not None:
                    reasons[finding.id] = f"code: {hit}"
            else:
                todo.append(finding)
        return todo

    def _known(self, finding: Finding) -> bool:
        """Whether ``finding``'s last answer holds (it cites the places it cited then)."""
        decided = self._decided.get(finding.id)
        return (
            decided is not None
            and decided[0] == finding.kind
            and (decided[1] is finding.locations or decided[1] == finding.locations)
        )

    def _decide(
        self, finding: Finding, hit: str | None, defs: dict[str, list[tuple[str, int]]]
    ) -> None:
        self._decided[finding.id] = (finding.kind, finding.locations, hit)
        self.decisions += 1
        for loc in finding.locations:
            self._by_path.setdefault(loc.path, set()).add(finding.id)
            if loc.symbol:
                self._by_name.setdefault(loc.symbol, set()).add(finding.id)
                for path, _ in defs.get(loc.symbol, ()):
                    self._by_path.setdefault(path, set()).add(finding.id)

    def _forget_decided(self, paths: Iterable[str], names: Iterable[str]) -> None:
        """Drop the answers read with ``paths`` or ``names``."""
        for path in paths:
            for fid in self._by_path.pop(path, ()):
                self._decided.pop(fid, None)
        for name in names:
            for fid in self._by_name.pop(name, ()):
                self._decided.pop(fid, None)

    @staticmethod
    def _hit(
        finding: Finding,
        defs: dict[str, list[tuple[str, int]]],
        comments: dict[str, dict[int, frozenset[str]]],
    ) -> str | None:
        for loc in finding.locations:
            places = [(loc.path, loc.line), *defs.get(loc.symbol or "", [])]
            for path, line in places:
                kinds = comments.get(path, {}).get(line)
                if kinds is not None and (finding.kind in kinds or "*" in kinds):
                    return f"{path}:{line}"
        return None

    def _follow(self, store: Store, changed: Collection[int], symbols: set[str | None]) -> None:
        """Bring the cached def lines and file hashes up to date with the files ``changed``
        (their ids; none removed): their places are dropped and what they define now read,
        with the def lines of the ``symbols`` not cached yet (one statement: each has a
        planning cost of its own)."""
        missing = sorted(s for s in symbols if s and s not in self._defs)
        if not changed and not missing:
            return
        # every changed file's path and hash, with each of its definitions (none: one row
        # without); then the places of the missing names (their path's hash not needed)
        rows = store.con.execute(
            "SELECT f.path, f.sha256, s.qualname, s.line, false FROM files AS f"
            " LEFT JOIN (SELECT file_id, qualname, line FROM symbols"
            " WHERE list_contains($ids, file_id) AND list_contains($kinds, kind)) AS s"
            " ON s.file_id = f.file_id WHERE list_contains($ids, f.file_id)"
            " UNION ALL SELECT f.path, NULL, s.qualname, s.line, true FROM symbols AS s"
            " JOIN files AS f USING (file_id)"
            " WHERE list_contains($names, s.qualname) AND list_contains($kinds, s.kind)",
            # (list_contains, not IN (SELECT unnest(...)): 0.35-0.45x of the statement's CPU)
            {"ids": sorted(changed), "names": missing, "kinds": list(_DEF_KINDS)},
        ).fetchall()
        followed = [row for row in rows if not row[4]]
        paths = {str(path) for path, _, _, _, _ in followed}
        self._shas.update((str(path), (True, sha)) for path, sha, _, _, _ in followed)
        # the answers that read these files (cited, or a def line there), or the def lines
        # of a name they define now
        self._forget_decided(paths, {str(q) for _, _, q, _, _ in followed if q is not None})
        for path in paths:
            for name in self._named_at.pop(path, ()):
                places = self._defs.get(name)
                if places:
                    self._defs[name] = [place for place in places if place[0] != path]
        for path, _, qualname, line, _ in followed:
            places = None if qualname is None else self._defs.get(str(qualname))
            if places is not None:
                places.append((str(path), int(line)))
                places.sort()
                self._named_at.setdefault(str(path), set()).add(str(qualname))
        self._add_defs(self._defs, missing, [(q, p, n) for p, _, q, n, new in rows if new])

    def _add_defs(
        self,
        known: dict[str, list[tuple[str, int]]],
        names: list[str],
        rows: list[tuple[Any, ...]],
    ) -> None:
        """Put the places ``rows`` ((qualname, path, line)) give for ``names`` in ``known``
        (the names without a row: none)."""
        for name in names:
            known[name] = []
        index = known is self._defs
        for qualname, path, line in sorted(rows):
            known[str(qualname)].append((str(path), int(line)))
            if index:
                self._named_at.setdefault(str(path), set()).add(str(qualname))

    def _def_lines(
        self, store: Store, symbols: set[str | None], known: dict[str, list[tuple[str, int]]]
    ) -> dict[str, list[tuple[str, int]]]:
        """The def lines of ``symbols``: those in ``known`` as they are there, the others
        read (and added to ``known``)."""
        names = sorted(s for s in symbols if s)
        missing = [name for name in names if name not in known]
        if missing:
            self._add_defs(known, missing, _def_rows(store, missing))
        return {name: known[name] for name in names if known[name]}

    def _comments(
        self, store: Store, paths: set[str], known: dict[str, tuple[bool, str | None]]
    ) -> dict[str, dict[int, frozenset[str]]]:
        """The ignore comments of ``paths`` by line; their hashes as in ``known``, the
        others' read (and added to ``known``)."""
        assert self.tree is not None
        missing = sorted(path for path in paths if path not in known)
        if missing:
            rows = store.con.execute(
                "SELECT path, sha256 FROM files WHERE list_contains($paths, path)",
                {"paths": missing},
            ).fetchall()
            known.update(dict.fromkeys(missing, (False, None)))
            known.update((str(path), (True, sha)) for path, sha in rows)
        result: dict[str, dict[int, frozenset[str]]] = {}
        for path in sorted(paths):
            indexed, sha = known[path]
            if not indexed:
                continue
            cached = self._files.get(path)
            if cached is None or cached[0] != sha or sha is None:
                try:
                    text = (self.tree / path).read_text(encoding="utf-8", errors="replace")
                except OSError as exc:  # gone since the batch: the next batch refreshes again
                    log.debug("cannot read %s for ignore comments: %s", path, exc)
                    text = ""
                self.reads += 1
                cached = (sha, ignore_comments(text))
                self._files[path] = cached
            result[path] = cached[1]
        return result


def _def_rows(store: Store, names: list[str]) -> list[tuple[Any, ...]]:
    """(qualname, path, line) of the definitions of the qualified ``names``."""
    return store.con.execute(
        "SELECT s.qualname, f.path, s.line FROM symbols AS s JOIN files AS f USING (file_id)"
        " WHERE list_contains($values, s.qualname) AND list_contains($kinds, s.kind)",
        {"values": names, "kinds": list(_DEF_KINDS)},
    ).fetchall()
