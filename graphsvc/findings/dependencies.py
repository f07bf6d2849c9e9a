"""Dependency findings: declared dependencies (pyproject.toml, requirements*.txt at the tree's
root) against the imports of the tree and what the target environment has installed.

- ``capability.dependency.<hash12>`` with type ``undeclared_import``: an installed outside
  package the code imports, whose distribution no declaration names (it works here by chance);
- type ``declared_not_installed``: a declared distribution the target environment lacks.

A tree without any declaration file gets no dependency findings: there is nothing to compare.
The declarations are read from the files at refresh time (they are not Python facts); the
installed distributions come from the linker's probe of the target interpreter. This is a
non-SQL finding source (``query`` is ``dependencies``), diffed in by
:meth:`Refresher.run_source`.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphsvc.errors import GraphsvcError
from graphsvc.findings.model import Finding, Location
from graphsvc.findings.refresh import Refresher, RefreshResult
from graphsvc.link.environment import Environment, probe
from graphsvc.queries import apply_filter
from graphsvc.store import Store

log = logging.getLogger(__name__)
SOURCE = "dependencies"
_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(slots=True)
class Declared:
    """Declared distributions (normalized name -> the file declaring it) and what could not be
    read (file: reason)."""

    names: dict[str, str] = field(default_factory=dict[str, str])
    files: list[str] = field(default_factory=list[str])
    project: str | None = None
    problems: list[str] = field(default_factory=list[str])


def _requirement(text: str) -> str | None:
    text = text.split("#", 1)[0].strip()
    if not text or text.startswith(("-", "git+", "http:", "https:", "file:", ".", "/")):
        return None  # options (-r, -e, --index-url), URLs and paths name no distribution here
    match = _NAME.match(text)
    return normalize(match[1]) if match else None


def _pyproject(path: Path, found: Declared) -> None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        found.problems.append(f"{path.name}: {exc}")
        return
    project: dict[str, Any] = data.get("project") or {}
    if isinstance(project.get("name"), str):
        found.project = normalize(project["name"])
    specs: list[Any] = list(project.get("dependencies") or [])
    for group in (project.get("optional-dependencies") or {}).values():
        specs.extend(group or [])
    for group in (data.get("dependency-groups") or {}).values():
        specs.extend(s for s in group or [] if isinstance(s, str))
    poetry = (data.get("tool") or {}).get("poetry") or {}
    specs.extend(name for name in poetry.get("dependencies") or {} if name != "python")
    for spec in specs:
        name = _requirement(str(spec))
        if name is not None:
            found.names.setdefault(name, path.name)


def declared(tree: Path) -> Declared:
    """What the tree's root ``pyproject.toml`` and ``requirements*.txt`` declare."""
    found = Declared()
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        found.files.append(pyproject.name)
        _pyproject(pyproject, found)
    for req in sorted(tree.glob("requirements*.txt")):
        found.files.append(req.name)
        try:
            lines = req.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            found.problems.append(f"{req.name}: {exc}")
            continue
        for line in lines:
            name = _requirement(line)
            if name is not None:
                found.names.setdefault(name, req.name)
    for problem in found.problems:
        log.warning("dependency declarations: cannot read %s", problem)
    return found


def _finding(kind: str, name: str, question: str, evidence: list[str], **more: Any) -> Finding:
    return Finding.of(
        id=f"capability.dependency.{apply_filter(f'{kind}:{name}', 'hash12')}",
        kind="missing_capability",
        query=SOURCE,
        hypothesis=f"MISSING_CAPABILITY_DEPENDENCY_{kind}_{name}",
        question=question,
        evidence=("type: " + kind, "category: dependency", *evidence),
        locations=more.get("locations", ()),
        severity=more.get("severity", "medium"),
        confidence=0.8,
        action="find_substitute",
        autonomy=2,
        value=0.4,
        cost=0.2,
        capability=f"capability.dependency.{name}",
    )


def dependency_findings(store: Store, tree: Path, env: Environment) -> list[Finding]:
    """The dependency findings of ``tree`` (indexed in ``store``) in environment ``env``."""
    found = declared(tree)
    if not found.files:
        return []
    rows = store.con.execute(
        "SELECT split_part(l.target_module, '.', 1) AS top, l.distribution, f.path, l.line,"
        " l.scope FROM links AS l JOIN files AS f USING (file_id)"
        " WHERE l.site = 'import' AND l.status = 'external' AND l.target_module IS NOT NULL"
        " ORDER BY top, f.path, l.line"
    ).fetchall()
    imported: dict[str, tuple[set[str], list[Location]]] = {}
    for top, dists, path, line, scope in rows:
        names = {normalize(d) for d in str(dists or "").split(", ") if d}
        entry = imported.setdefault(str(top), (set(), []))
        entry[0].update(names)
        entry[1].append(Location(str(path), int(line), str(scope)))
    declared_names = set(found.names) | ({found.project} if found.project else set())
    out: list[Finding] = []
    for top, (dists, locations) in sorted(imported.items()):
        if (dists or {normalize(top)}) & declared_names:
            continue
        paths = sorted({loc.path for loc in locations})
        which = ", ".join(sorted(dists)) or top
        out.append(
            _finding(
                "undeclared_import",
                top,
                f"The code imports {top} (distribution {which}, in {', '.join(paths)}) but "
                f"{', '.join(found.files)} does not declare it: declare it, or drop the import?",
                [
                    f"package: {top}",
                    f"distribution: {which}",
                    *(f"imported_in: {p}" for p in paths),
                    f"reason: installed here but not declared in {', '.join(found.files)}",
                ],
                locations=tuple(locations),
            )
        )
    installed = {normalize(d) for dists in env.distributions.values() for d in dists}
    for name, source in sorted(found.names.items()):
        if name in installed or name == found.project:
            continue
        out.append(
            _finding(
                "declared_not_installed",
                name,
                f"{source} declares {name} but the target environment ({env.executable}) does "
                "not have it installed: install it, or remove the declaration?",
                [
                    f"distribution: {name}",
                    f"declared_in: {source}",
                    "reason: declared but not installed in the target environment",
                ],
                severity="high",
            )
        )
    return out


def _declaration_stat(tree: Path) -> tuple[tuple[str, int, int], ...]:
    paths = [tree / "pyproject.toml", *sorted(tree.glob("requirements*.txt"))]
    found: list[tuple[str, int, int]] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        found.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(found)


class DependencySource:
    """Refreshes the dependency findings after each query refresh, and skips the work when
    nothing it reads changed: the import inputs (the Refresher's digests), the declaration
    files (name, mtime, size) and the target environment (its fingerprint).

    Args:
        tree: the indexed tree (its root holds the declarations).
        python: the target interpreter (None: the running one).
    """

    def __init__(self, tree: Path, python: Path | None) -> None:
        self.tree = tree
        self.python = python
        self._key: tuple[object, ...] | None = None
        self.skipped = 0

    def refresh(
        self, refresher: Refresher, store: Store, as_of: int | None = None
    ) -> RefreshResult | None:
        """Diff the dependency findings into the feed (on the writer's thread). None when
        skipped, or when it failed: the failure (the target interpreter cannot be probed, the
        write fails) is logged and the stored dependency findings stay as they were."""
        try:
            env = probe(self.python)
            key = (_declaration_stat(self.tree), env.fingerprint())
            if key == self._key and "imports" in refresher.last_unchanged:
                self.skipped += 1
                return None
            found = dependency_findings(store, self.tree, env)
            result = refresher.run_source(store, SOURCE, found, as_of)
        except Exception as exc:  # a source must never fail the batch that ran it
            log.error(
                "dependency findings not refreshed: %s",
                exc,
                exc_info=not isinstance(exc, GraphsvcError),
            )
            self._key = None
            return None
        self._key = key
        return result
