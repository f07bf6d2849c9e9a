"""What a tree's packaging files say about its entry points: console and GUI scripts, plugin
entry points, and whether the tree is a distributable library.

Read from the tree's root ``pyproject.toml`` (``[project.scripts]``, ``[project.gui-scripts]``,
``[project.entry-points.*]``, ``[tool.poetry.scripts]``, ``[tool.poetry.plugins.*]``),
``setup.cfg`` (``[options.entry_points]``) and ``setup.py`` (strings of the form
``"name = pkg.mod:func"``). A file that cannot be read or parsed is logged and skipped: it
costs entry points (fewer findings are certain), never data.
"""

from __future__ import annotations

import configparser
import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
# "name = pkg.mod:obj.attr [extra]" in an entry point specification
_SPEC = re.compile(r"^\s*[\w.\-\[\] ]+?\s*=\s*([A-Za-z_][\w.]*(?::[A-Za-z_][\w.]*)?)")
_SETUP_PY_SPEC = re.compile(r"""["']\s*[\w.\-]+\s*=\s*([A-Za-z_][\w.]*(?::[A-Za-z_][\w.]*)?)""")


@dataclass(frozen=True, slots=True)
class ProjectEntries:
    """Entry points named by the packaging files and whether they declare a distribution."""

    targets: tuple[tuple[str, str], ...]  # (dotted target: pkg.mod.func, where it is declared)
    distribution: bool  # a [project], [tool.poetry], setup.py or setup.cfg exists


def project_entries(tree: Path) -> ProjectEntries:
    """The entry points of ``tree``'s packaging files (see the module docstring)."""
    targets: list[tuple[str, str]] = []
    distribution = False
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        distribution, targets = _pyproject(_toml(pyproject))
    setup_cfg = tree / "setup.cfg"
    if setup_cfg.is_file():
        distribution = True
        targets += _setup_cfg(setup_cfg)
    setup_py = tree / "setup.py"
    if setup_py.is_file():
        distribution = True
        try:
            text = setup_py.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            log.warning("entry points: cannot read %s: %s", setup_py, exc)
        else:
            targets += [(_dotted(m[1]), "setup.py") for m in _SETUP_PY_SPEC.finditer(text)]
    return ProjectEntries(tuple(sorted(set(targets))), distribution)


def _pyproject(data: dict[str, Any]) -> tuple[bool, list[tuple[str, str]]]:
    targets: list[tuple[str, str]] = []
    project = data.get("project")
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if isinstance(project, dict):
        for key in ("scripts", "gui-scripts"):
            targets += _values(project.get(key), f"pyproject.toml [project.{key}]")
        targets += _groups(project.get("entry-points"), "pyproject.toml [project.entry-points")
    if isinstance(poetry, dict):
        targets += _values(poetry.get("scripts"), "pyproject.toml [tool.poetry.scripts]")
        targets += _groups(poetry.get("plugins"), "pyproject.toml [tool.poetry.plugins")
    return isinstance(project, dict) or isinstance(poetry, dict), targets


def _groups(groups: object, where: str) -> list[tuple[str, str]]:
    if not isinstance(groups, dict):
        return []
    found: list[tuple[str, str]] = []
    for group, table in sorted(groups.items()):
        found += _values(table, f"{where}.{group}]")
    return found


def _toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("entry points: cannot read %s: %s", path, exc)
        return {}


def _values(table: object, where: str) -> list[tuple[str, str]]:
    if not isinstance(table, dict):
        return []
    found = []
    for value in table.values():
        spec = value.get("reference") if isinstance(value, dict) else value
        if isinstance(spec, str) and spec.strip():
            found.append((_dotted(spec.split("[")[0].strip()), where))
    return found


def _setup_cfg(path: Path) -> list[tuple[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error) as exc:
        log.warning("entry points: cannot read %s: %s", path, exc)
        return []
    if not parser.has_section("options.entry_points"):
        return []
    found = []
    for group, value in parser.items("options.entry_points"):
        for line in value.splitlines():
            m = _SPEC.match(line)
            if m:
                found.append((_dotted(m[1]), f"setup.cfg [options.entry_points] {group}"))
    return found


def _dotted(spec: str) -> str:
    """``pkg.mod:obj.attr`` -> ``pkg.mod.obj.attr`` (a qualname of the tree's symbols)."""
    return spec.strip().replace(":", ".")
