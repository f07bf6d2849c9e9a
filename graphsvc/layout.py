"""Module names from the package layout: package roots, src/ layouts, namespace packages.

A file's module name is its path below the deepest package root that contains it, with ``/``
turned into ``.``, ``.py`` dropped and ``__init__`` naming the package. Roots are, unless
configured: the tree root, ``src/``, and every folder holding a ``pyproject.toml``,
``setup.py`` or ``setup.cfg`` (plus its ``src/``). Folders need no ``__init__.py`` (namespace
packages). A folder whose name is not an identifier (``my-tools``, ``foo.py``) cannot be part of
an import path, so names start below it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from graphsvc.facts import ModuleInfo


@dataclass(frozen=True, slots=True)
class Layout:
    """Package roots of a tree, deepest first."""

    roots: tuple[str, ...]
    top_package: str | None = None  # the tree root is itself a package (has __init__.py)

    def module_for(self, path: str) -> ModuleInfo:
        """The module defined by the Python file at relative POSIX ``path``."""
        root = next((r for r in self.roots if not r or path.startswith(r + "/")), "")
        rest = path[len(root) + 1 :] if root else path
        parts = rest.split("/")
        stem = parts[-1].rsplit(".", 1)[0]
        dirs = parts[:-1]
        for i in range(len(dirs) - 1, -1, -1):
            if not dirs[i].isidentifier():
                skipped = "/".join(dirs[: i + 1])
                root = f"{root}/{skipped}" if root else skipped
                dirs = dirs[i + 1 :]
                break
        if not root and self.top_package:
            dirs = [self.top_package, *dirs]
        is_package = stem == "__init__"
        names = dirs if is_package else [*dirs, stem]
        name = ".".join(names) or (stem if not is_package else "__init__")
        return ModuleInfo(name, is_package, root)


def detect_layout(
    tree: Path, project_dirs: Iterable[str], configured: Iterable[str] = ()
) -> Layout:
    """The layout of ``tree``: configured roots, or detected ones (see module docstring)."""
    roots = {r.strip("/") for r in configured if r.strip("/") not in (".", "")}
    if not roots:
        for project in {"", *project_dirs}:
            if project:
                roots.add(project)
            src = f"{project}/src" if project else "src"
            if (tree / src).is_dir():
                roots.add(src)
    top = None
    if (tree / "__init__.py").is_file() and tree.resolve().name.isidentifier():
        top = tree.resolve().name
    ordered = sorted(roots, key=lambda r: (-r.count("/"), -len(r), r))
    return Layout((*ordered, ""), top)
