"""The target environment: which top-level modules are standard library, installed, or neither.

Imports that leave the tree are classified against the interpreter the code will run with
(``--python``), which need not be the one running graphsvc. The probe runs in that interpreter
in isolated mode (``-I``), so the current directory, and with it the indexed tree, is not on
its path.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from graphsvc.errors import ConfigError

# Runs in the target interpreter; prints JSON. Kept to what every Python >= 3.10 has.
_PROBE = """
import importlib.metadata, json, pkgutil, sys
names = {m.name for m in pkgutil.iter_modules() if m.name.isidentifier()}
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "stdlib": sorted(set(sys.stdlib_module_names) | set(sys.builtin_module_names) | {"__main__"}),
    "installed": sorted(names),
    "distributions": {
        k: sorted(set(v)) for k, v in importlib.metadata.packages_distributions().items()
    },
    "paths": [p for p in sys.path if p],
}))
"""
_PROBE_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class Environment:
    """What one interpreter can import, by top-level name."""

    executable: str
    version: str
    stdlib: frozenset[str]
    installed: frozenset[str]
    distributions: dict[str, tuple[str, ...]]
    paths: tuple[str, ...] = ()  # the interpreter's sys.path: installing a package touches one

    def stamp(self) -> str:
        """Cheap change detector: the mtimes of the import path folders (no interpreter run)."""
        return stamp(self.paths)

    def origin(self, top: str) -> str | None:
        """``stdlib``, ``external`` or None (not importable) for a top-level module name."""
        if top in self.stdlib:
            return "stdlib"
        if top in self.installed or top in self.distributions:
            return "external"
        return None

    def distribution(self, top: str) -> str | None:
        """The distribution(s) that install ``top``, comma-separated."""
        found = self.distributions.get(top)
        return ", ".join(found) if found else None

    def fingerprint(self) -> str:
        """Changes whenever a classification could change: links are then recomputed."""
        blob = json.dumps(
            [self.executable, sorted(self.stdlib), sorted(self.installed), self.distributions],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def stamp(paths: tuple[str, ...] | list[str]) -> str:
    """A string that changes when an entry is added to or removed from any of ``paths``."""
    parts = []
    for path in paths:
        try:
            parts.append(f"{path}={os.stat(path).st_mtime_ns}")
        except OSError:
            parts.append(f"{path}=missing")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# executable -> (stamp of its import path when probed, answer): one probe per environment state
_probed: dict[str, tuple[str, Environment]] = {}


def probe(python: Path | None = None) -> Environment:
    """Ask ``python`` (default: the running interpreter) what it can import.

    The answer is reused while the interpreter's import path folders are unchanged.

    Raises:
        ConfigError: ``python`` cannot be run or does not answer like a Python interpreter.
    """
    executable = str(python) if python is not None else sys.executable
    known = _probed.get(executable)
    if known is not None and known[1].stamp() == known[0]:
        return known[1]
    env = _run_probe(executable)
    _probed[executable] = (env.stamp(), env)
    return env


def _run_probe(executable: str) -> Environment:
    try:
        done = subprocess.run(
            [executable, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"--python {executable}: cannot run it: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"--python {executable}: not a usable Python 3.10+ ({detail})")
    try:
        data = json.loads(done.stdout)
        return Environment(
            executable=str(data["executable"]),
            version=str(data["version"]),
            stdlib=frozenset(data["stdlib"]),
            installed=frozenset(data["installed"]),
            distributions={k: tuple(v) for k, v in data["distributions"].items()},
            paths=tuple(data["paths"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"--python {executable}: unexpected probe output ({exc})") from exc
