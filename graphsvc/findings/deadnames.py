"""The candidates' evidence of the incremental ``dead_code``, from per-file rows.

The saved query's evidence of a candidate (its ``facts`` CTE but ``callers`` and
``outside_base``) reads, for the candidate's key (its name, a module's last name): the files
that read ``.key`` where the linker resolved fewer such sites than the file mentions
(``attr_uses``), a read of the key in the candidate's own file no link explains
(``own_reads``), the files with a string ending in the key (``string_uses``), computed names
whose head the key starts with (``prefix_uses``, ``short_prefix_uses``), the decorators of the
candidate that match no rule (``registering``), module-level calls of a module
(``module_code``) and ``globals()``/``vars()`` in its file (``reads_globals``). Each of these is
a sum over files of what one file's own rows give (deadsql.PARTS_SQL's evidence parts), so
:class:`Evidence` keeps every file's part and the indexes over them, and a batch replaces only
its files' parts: a candidate's evidence is then a few dictionary look-ups instead of a
statement that scans the mentions and links of the whole tree for its name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graphsvc.findings.deadgraph import DeadRow, candidate_key

SHORT = 3  # computed-name heads shorter than this count in their own file only
# a name's value per file: (file id, value) while one file has one, else file id -> value
PerFile = tuple[int, int] | dict[int, int]


@dataclass(slots=True)
class FileEvidence:
    """What one file contributes to the candidates' evidence (deadsql.PARTS_SQL)."""

    path: str = ""
    # attribute names it reads, each with whether a read is left that no link explains
    attrs: dict[str, bool] = field(default_factory=dict[str, bool])
    strings: list[str] = field(default_factory=list[str])  # last identifiers of its strings
    # reads of names it defines: the reads no link explains (may be 0 or less)
    names: dict[str, int] = field(default_factory=dict[str, int])
    prefixes: list[str] = field(default_factory=list[str])  # heads of its computed names
    reads_globals: bool = False  # it calls globals() or vars()
    module_code: list[str] = field(default_factory=list[str])  # modules with module-level calls
    # its decorators: (decorated qualname, decorator as written, whether it matches a rule)
    decos: list[tuple[str, str, bool]] = field(default_factory=list[tuple[str, str, bool]])


class Evidence:
    """Every file's :class:`FileEvidence` and the indexes over them."""

    def __init__(self) -> None:
        self.files: dict[int, FileEvidence] = {}
        # name -> files reading .name -> loose; identifier -> files -> strings naming it. Most
        # names are in one file: (file, value) instead of a dict then (see _put; a dict each
        # was 3 MB of the state on the standard library, #5)
        self._attrs: dict[str, PerFile] = {}
        self._strings: dict[str, PerFile] = {}
        self._prefixes: dict[str, int] = {}  # head (3+ characters) -> files
        self._module_code: dict[str, int] = {}  # module -> files
        # decorated qualname -> decorator as written -> [decorators matching no rule, matching]
        self._decos: dict[str, dict[str, list[int]]] = {}

    def add(self, file_id: int, f: FileEvidence) -> None:
        """Add what ``file_id`` contributes (after :meth:`drop` of what it did before)."""
        self.files[file_id] = f
        for name, loose in f.attrs.items():
            _put(self._attrs, name, file_id, loose)
        for name in f.strings:
            _put(self._strings, name, file_id, _value(self._strings, name, file_id) + 1)
        for head in f.prefixes:
            if len(head) >= SHORT:
                self._prefixes[head] = self._prefixes.get(head, 0) + 1
        for module in f.module_code:
            self._module_code[module] = self._module_code.get(module, 0) + 1
        for decorated, written, matched in f.decos:
            counts = self._decos.setdefault(decorated, {}).setdefault(written, [0, 0])
            counts[matched] += 1

    def drop(self, file_id: int) -> None:
        """Take away what ``file_id`` contributed (nothing when it is not known)."""
        f = self.files.pop(file_id, None)
        if f is None:
            return
        for name in f.attrs:
            _take(self._attrs, name, file_id)
        for name in f.strings:
            left = _value(self._strings, name, file_id) - 1
            if left:
                _put(self._strings, name, file_id, left)
            else:
                _take(self._strings, name, file_id)
        for head in f.prefixes:
            if len(head) >= SHORT:
                _decrement(self._prefixes, head)
        for module in f.module_code:
            _decrement(self._module_code, module)
        self._drop_decos(f)

    def _drop_decos(self, f: FileEvidence) -> None:
        for decorated, written, matched in f.decos:
            by_written = self._decos[decorated]
            counts = by_written[written]
            counts[matched] -= 1
            if not any(counts):
                del by_written[written]
                if not by_written:
                    del self._decos[decorated]

    def facts(self, dead: DeadRow) -> dict[str, Any]:
        """The saved query's evidence columns of the candidate whose dead row is ``dead``
        (the finder's inputs but ``callers``, ``outside_base`` and the parameters)."""
        qualname, _, kind, parent, path, line, _, file_id, rebound = dead
        key = candidate_key(qualname, dead)
        own = self.files.get(file_id)
        attrs = _files(self._attrs, key)
        attr_paths: list[str] | None = None
        if attrs is not None:
            chosen = attrs if rebound else [f for f, loose in attrs.items() if loose]
            attr_paths = self._paths(chosen)
        extra = own.names.get(key) if own is not None else None
        own_read = extra is not None if rebound else (extra or 0) > 0
        strings = _files(self._strings, key)
        return {
            "qualname": qualname,
            "kind": kind,
            "path": path,
            "line": line,
            "key": key,
            "parent": parent,
            "attr_paths": attr_paths,
            "own_read": own_read,
            "string_paths": self._paths(strings) if strings else None,
            "prefix": self._prefix(key, own),
            "registering_decorator": self._registering(qualname),
            "module_code": kind == "module" and qualname in self._module_code,
            "reads_globals": kind != "module" and own is not None and own.reads_globals,
        }

    def _paths(self, files: Iterable[int]) -> list[str] | None:
        paths = sorted({self.files[f].path for f in files})
        return paths or None

    def _prefix(self, key: str, own: FileEvidence | None) -> str | None:
        """The query's ``coalesce(prefix_uses, short_prefix_uses)``: the least computed-name
        head of 3+ characters anywhere that is a proper head of ``key``, else the least short
        one in the candidate's own file."""
        heads = [key[:n] for n in range(SHORT, len(key)) if key[:n] in self._prefixes]
        if heads:
            return min(heads)
        if own is None:
            return None
        short = [p for p in own.prefixes if len(p) < SHORT and key.startswith(p) and key != p]
        return min(short) if short else None

    def _registering(self, qualname: str) -> str | None:
        """The least decorator of ``qualname`` as written that matches no rule (a pair of
        decorated name and decorator matches when any of its sites does, as in the query)."""
        by_written = self._decos.get(qualname)
        if not by_written:
            return None
        loose = [w for w, (unmatched, matched) in by_written.items() if unmatched and not matched]
        return min(loose) if loose else None


def _put(index: dict[str, PerFile], key: str, file_id: int, value: int) -> None:
    """Set ``key``'s value for ``file_id`` (a pair while one file has one)."""
    held = index.get(key)
    if held is None or (isinstance(held, tuple) and held[0] == file_id):
        index[key] = (file_id, value)
    elif isinstance(held, tuple):
        index[key] = {held[0]: held[1], file_id: value}
    else:
        held[file_id] = value


def _take(index: dict[str, PerFile], key: str, file_id: int) -> None:
    """Remove ``key``'s value for ``file_id``."""
    held = index[key]
    if isinstance(held, tuple):
        if held[0] != file_id:
            raise KeyError(file_id)
        del index[key]
        return
    del held[file_id]
    if len(held) == 1:
        index[key] = next(iter(held.items()))


def _value(index: dict[str, PerFile], key: str, file_id: int) -> int:
    """``key``'s value for ``file_id`` (0: none)."""
    held = index.get(key)
    if held is None:
        return 0
    if isinstance(held, tuple):
        return held[1] if held[0] == file_id else 0
    return held.get(file_id, 0)


def _files(index: dict[str, PerFile], key: str) -> dict[int, int] | None:
    """``key``'s values by file (None: no file has one)."""
    held = index.get(key)
    if held is None:
        return None
    return {held[0]: held[1]} if isinstance(held, tuple) else held


def _decrement(counts: dict[str, int], key: str) -> None:
    after = counts[key] - 1
    if after:
        counts[key] = after
    else:
        del counts[key]


def file_evidence(rows: list[tuple[Any, ...]]) -> FileEvidence:
    """One file's :class:`FileEvidence` from its PARTS_SQL evidence rows (part, name, value:
    see deadsql.PARTS_SQL's ``evidence``)."""
    f = FileEvidence()
    strings: set[str] = set()
    prefixes: set[str] = set()
    modules: set[str] = set()
    for part, name, written, value in rows:
        if part == "F":
            f.path = sys.intern(name)
        elif part == "A":
            f.attrs[sys.intern(name)] = f.attrs.get(name, False) or value > 0
        elif part == "N":
            held = f.names.get(name)
            f.names[sys.intern(name)] = value if held is None else max(held, value)
        elif part == "S":
            strings.add(name)
        elif part == "P":
            prefixes.add(name)
        elif part == "G":
            f.reads_globals = True
        elif part == "C":
            modules.add(name)
        elif part == "R":
            f.decos.append((name, written, bool(value)))
    # the statement repeats these (a DISTINCT per part cost more than the sets)
    f.strings = [sys.intern(name) for name in strings]
    f.prefixes = list(prefixes)
    f.module_code = list(modules)
    return f
