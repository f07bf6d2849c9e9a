"""Copying a corpus for a benchmark: its Python files and the files that shape its layout.

No graphsvc import: ``compare_facts.py`` copies trees for two different graphsvc sources.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

KEEP_FILES = (".gitignore", "pyproject.toml", "setup.py", "setup.cfg")


def copy_sources(source: Path, dest: Path) -> Path:
    """Copy ``source`` to ``dest``: every folder, the ``.py`` files and ``KEEP_FILES``."""

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [
            n
            for n in names
            if n == "__pycache__"
            or (
                not n.endswith(".py")
                and n not in KEEP_FILES
                and not os.path.isdir(os.path.join(folder, n))
            )
        ]

    shutil.copytree(source, dest, symlinks=False, ignore=ignore, ignore_dangling_symlinks=True)
    return dest
