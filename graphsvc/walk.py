"""Walk a tree for Python files, honouring .gitignore files and the default excludes."""

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
    other_files: int = 0  # files that are not Python (not indexed)


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


def walk(root: Path, *, exclude: Iterable[str] = ()) -> WalkResult:
    """Every Python file under ``root`` that is not ignored, with its size and mtime.

    Directory symlinks are not followed (so symlink loops cannot trap the walk); symlinked
    files are read through. Nothing raises for a vanished or unreadable entry.
    """
    result = WalkResult()
    base_ignores: list[_Ignore] = []
    extra = list(exclude)
    if extra:
        base_ignores.append(_Ignore("", pathspec.GitIgnoreSpec.from_lines(extra)))
    info_exclude = _read_spec(root / ".git" / "info" / "exclude")
    if info_exclude is not None:
        base_ignores.append(_Ignore("", info_exclude))
    stack: list[tuple[str, list[_Ignore]]] = [("", base_ignores)]
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
            _visit(entry, rel, ignores, stack, result)
    result.files.sort(key=lambda e: e.path)
    return result


def _visit(
    entry: os.DirEntry[str],
    rel: str,
    ignores: list[_Ignore],
    stack: list[tuple[str, list[_Ignore]]],
    result: WalkResult,
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
    if not is_python(entry.name):
        result.other_files += 1
    elif not _ignored(rel, False, ignores):
        _visit_file(entry, rel, result)


def _visit_file(entry: os.DirEntry[str], rel: str, result: WalkResult) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode kept the raw bytes as surrogates
        shown = rel.encode("utf-8", errors="backslashreplace").decode("utf-8")
        result.skipped.append(Skipped(shown, "file name is not valid UTF-8"))
        return
    try:
        st = entry.stat(follow_symlinks=True)
    except FileNotFoundError:
        if entry.is_symlink():
            result.skipped.append(Skipped(rel, "broken symlink"))
        return  # vanished between listing and stat
    except OSError as exc:
        result.skipped.append(Skipped(rel, f"cannot stat: {exc.strerror or exc}"))
        return
    if stat.S_ISDIR(st.st_mode):
        return  # a symlink to a directory: not followed
    if not stat.S_ISREG(st.st_mode):
        result.skipped.append(Skipped(rel, "not a regular file"))
        return
    result.files.append(Entry(rel, st.st_size, st.st_mtime_ns))
