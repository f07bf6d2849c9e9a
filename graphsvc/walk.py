"""Walk a tree for Python files (and documentation files), honouring .gitignore files and the
default excludes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from graphsvc.config import DEFAULT_EXCLUDES

PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")


@dataclass(frozen=True, slots=True)
class Entry:
    """A Python file found by the walk."""

    path: str  # relative POSIX path
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """A Python file the walk found but that cannot be read as one."""

    path: str
    reason: str


@dataclass(slots=True)
class WalkResult:
    """Everything the walk saw."""

    files: list[Entry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    project_dirs: set[str] = field(default_factory=set)  # dirs holding pyproject.toml etc.
    other_files: int = 0  # files that are neither Python nor documentation (not indexed)
    docs: list[Entry] = field(default_factory=list)  # documentation files (see DocGlobs)
    doc_skipped: list[Skipped] = field(default_factory=list)


class DocGlobs:
    """Which files are documentation: gitignore-style patterns over relative paths
    (``*.md`` matches in every folder). Python files are never documentation."""

    def __init__(self, globs: Iterable[str]) -> None:
        self.globs = tuple(globs)
        self._spec = pathspec.GitIgnoreSpec.from_lines(self.globs) if self.globs else None

    def __bool__(self) -> bool:
        return self._spec is not None

    def matches(self, rel: str) -> bool:
        """Whether the file at the relative path ``rel`` is a documentation file."""
        if self._spec is None or is_python(rel.rpartition("/")[2]):
            return False
        return self._spec.match_file(rel)


@dataclass(frozen=True, slots=True)
class _Ignore:
    base: str  # relative dir the .gitignore lives in ("" for the root)
    spec: pathspec.GitIgnoreSpec


def _read_spec(path: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(rel: str, is_dir: bool, ignores: Iterable[_Ignore]) -> bool:
    """Git's rule: the deepest .gitignore with a matching pattern decides, so a nested
    ``!pattern`` re-includes what a parent ignored."""
    verdict: bool | None = None
    for ignore in ignores:  # outermost first
        sub = rel[len(ignore.base) + 1 :] if ignore.base else rel
        found = ignore.spec.check_file(sub + "/" if is_dir else sub).include
        if found is not None:
            verdict = found
    return verdict is True


def is_python(name: str) -> bool:
    """Whether a file name is one graphsvc indexes."""
    return name.endswith(".py")


def _base_ignores(root: Path, exclude: Iterable[str]) -> list[_Ignore]:
    """The ignores that hold everywhere: configured excludes and .git/info/exclude."""
    base: list[_Ignore] = []
    extra = list(exclude)
    if extra:
        base.append(_Ignore("", pathspec.GitIgnoreSpec.from_lines(extra)))
    info_exclude = _read_spec(root / ".git" / "info" / "exclude")
    if info_exclude is not None:
        base.append(_Ignore("", info_exclude))
    return base


def walk(root: Path, *, exclude: Iterable[str] = (), docs: DocGlobs | None = None) -> WalkResult:
    """Every Python file under ``root`` that is not ignored, with its size and mtime (and in
    ``docs`` every documentation file ``docs`` matches).

    Directory symlinks are not followed (so symlink loops cannot trap the walk); symlinked
    files are read through. Nothing raises for a vanished or unreadable entry.
    """
    result = WalkResult()
    _walk_from(root, [("", _base_ignores(root, exclude))], result, docs)
    result.files.sort(key=lambda e: e.path)
    result.docs.sort(key=lambda e: e.path)
    return result


def walk_paths(
    root: Path, paths: Iterable[str], *, exclude: Iterable[str] = (), docs: DocGlobs | None = None
) -> WalkResult:
    """What :func:`walk` would find at or below each of ``paths`` (relative POSIX paths of
    files or directories, existing or not), honouring the excludes and every .gitignore on
    the way down from ``root``. A path that no longer exists finds nothing.

    ``project_dirs`` only lists markers found below directories walked here; the layout of
    the tree comes from the last full walk.
    """
    result = WalkResult()
    base = _base_ignores(root, exclude)
    top = _read_spec(root / ".gitignore")
    chains: dict[str, list[_Ignore] | None] = {
        "": base if top is None else [*base, _Ignore("", top)]
    }
    for rel in sorted(set(paths)):
        if not rel or rel == ".":
            _walk_from(root, [("", base)], result, docs)
            continue
        parent, _, name = rel.rpartition("/")
        ignores = _ignores_of(root, parent, chains)
        if ignores is None:
            continue  # an ancestor is excluded or ignored
        try:
            with os.scandir(root / parent) as entries:
                entry = next((e for e in entries if e.name == name), None)
        except OSError:
            entry = None
        if entry is None:
            continue
        stack: list[tuple[str, list[_Ignore]]] = []
        _visit(entry, rel, ignores, stack, result, docs)
        _walk_from(root, stack, result, docs)
    unique = {e.path: e for e in result.files}
    result.files = sorted(unique.values(), key=lambda e: e.path)
    result.skipped = list({s.path: s for s in result.skipped}.values())
    result.docs = sorted({e.path: e for e in result.docs}.values(), key=lambda e: e.path)
    result.doc_skipped = list({s.path: s for s in result.doc_skipped}.values())
    return result


def _ignores_of(
    root: Path, rel_dir: str, chains: dict[str, list[_Ignore] | None]
) -> list[_Ignore] | None:
    """The ignores in force inside ``rel_dir`` (its own .gitignore included), or None when
    the directory itself is excluded or ignored."""
    if rel_dir in chains:
        return chains[rel_dir]
    parent, _, name = rel_dir.rpartition("/")
    above = _ignores_of(root, parent, chains)
    found: list[_Ignore] | None = None
    if above is not None and name not in DEFAULT_EXCLUDES and not _ignored(rel_dir, True, above):
        local = _read_spec(root / rel_dir / ".gitignore")
        found = above if local is None else [*above, _Ignore(rel_dir, local)]
    chains[rel_dir] = found
    return found


def _walk_from(
    root: Path,
    stack: list[tuple[str, list[_Ignore]]],
    result: WalkResult,
    docs: DocGlobs | None = None,
) -> None:
    """Walk every directory on ``stack`` (relative dir, the ignores above it) and below."""
    while stack:
        rel_dir, ignores = stack.pop()
        abs_dir = root / rel_dir if rel_dir else root
        local = _read_spec(abs_dir / ".gitignore")
        if local is not None:
            ignores = [*ignores, _Ignore(rel_dir, local)]
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            _visit(entry, rel, ignores, stack, result, docs)


def _visit(
    entry: os.DirEntry[str],
    rel: str,
    ignores: list[_Ignore],
    stack: list[tuple[str, list[_Ignore]]],
    result: WalkResult,
    docs: DocGlobs | None = None,
) -> None:
    try:
        is_dir = entry.is_dir(follow_symlinks=False)
    except OSError:
        return
    if is_dir:
        if entry.name in DEFAULT_EXCLUDES or _ignored(rel, True, ignores):
            return
        stack.append((rel, ignores))
        return
    if entry.name in PROJECT_MARKERS:
        result.project_dirs.add(rel.rpartition("/")[0])
    if is_python(entry.name):
        if not _ignored(rel, False, ignores):
            _visit_file(entry, rel, result)
    elif docs and docs.matches(rel) and not _ignored(rel, False, ignores):
        _visit_file(entry, rel, result, doc=True)
    else:
        result.other_files += 1


def _visit_file(entry: os.DirEntry[str], rel: str, result: WalkResult, doc: bool = False) -> None:
    files, skips = (result.docs, result.doc_skipped) if doc else (result.files, result.skipped)
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode kept the raw bytes as surrogates
        shown = rel.encode("utf-8", errors="backslashreplace").decode("utf-8")
        skips.append(Skipped(shown, "file name is not valid UTF-8"))
        return
    try:
        st = entry.stat(follow_symlinks=True)
    except FileNotFoundError:
        if entry.is_symlink():
            skips.append(Skipped(rel, "broken symlink"))
        return  # vanished between listing and stat
    except OSError as exc:
        skips.append(Skipped(rel, f"cannot stat: {exc.strerror or exc}"))
        return
    if stat.S_ISDIR(st.st_mode):
        return  # a symlink to a directory: not followed
    if not stat.S_ISREG(st.st_mode):
        skips.append(Skipped(rel, "not a regular file"))
        return
    files.append(Entry(rel, st.st_size, st.st_mtime_ns))
