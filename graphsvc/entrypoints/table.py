"""The ``entry_rules`` table: the rules, the tree's packaging targets, its test files and the
dead-code mode, as the rows the dead-code queries join (pure: the caller writes them)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pathspec
import pyarrow as pa

from graphsvc.entrypoints.loader import EntryRules
from graphsvc.entrypoints.project import ProjectEntries

ENTRY_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("rule", pa.string()),
        ("framework", pa.string()),
        ("kind", pa.string()),
        ("pattern", pa.string()),
        ("entry", pa.bool_()),
        ("keep", pa.bool_()),
        ("tests", pa.bool_()),
        ("members", pa.list_(pa.string())),
        ("kinds", pa.list_(pa.string())),
        ("paths", pa.list_(pa.string())),
        ("description", pa.string()),
    ]
)
TABLE_VERSION = "2"


def entry_rows(
    rules: EntryRules,
    project: ProjectEntries,
    paths: Iterable[str],
    test_globs: Iterable[str],
    mode: str,
    config: Iterable[tuple[str, str]] = (),
) -> tuple[pa.Table, str]:
    """The rows of ``entry_rules`` and a fingerprint of everything they were made from.

    Args:
        rules: the loaded rule files.
        project: what the packaging files declare.
        paths: every indexed path of the tree (the test files among them become rows).
        test_globs: gitignore-style patterns of test files (GRAPHSVC_CHANNEL_TEST_GLOBS).
        mode: ``library``, ``application`` or ``auto`` (library when a distribution is declared).
        config: (dotted name, configuration file) for each value of a configuration file that
            names code (``handler: jobs.nightly:run``): rows of kind ``config``.
    """
    rows: list[dict[str, object]] = []

    def add(source: str, rule: str, kind: str, pattern: str, **extra: object) -> None:
        row: dict[str, object] = {
            "source": source,
            "rule": rule,
            "framework": "",
            "kind": kind,
            "pattern": pattern,
            "entry": False,
            "keep": False,
            "tests": False,
            "members": [],
            "kinds": [],
            "paths": [],
            "description": "",
        }
        row.update(extra)
        rows.append(row)

    for r in rules.rules:
        for pattern in r.match:
            add(
                r.source,
                r.id,
                r.kind,
                pattern,
                framework=r.framework,
                entry=r.entry,
                keep=r.keep,
                tests=r.tests,
                members=list(r.members),
                kinds=list(r.kinds),
                paths=list(r.paths),
                description=r.description,
            )
    for target, where in project.targets:
        add(where.split(" ")[0], where, "script", target, description="packaging entry point")
    named = sorted(set(config) - set(project.targets))
    for target, where in named:
        add(where, where, "config", target, description="named in a configuration file")
    spec = pathspec.GitIgnoreSpec.from_lines(list(test_globs))
    tests = sorted(p for p in paths if spec.match_file(p))
    for path in tests:
        add("settings", "GRAPHSVC_CHANNEL_TEST_GLOBS", "test_file", path)
    chosen = mode if mode != "auto" else ("library" if project.distribution else "application")
    add("settings", "GRAPHSVC_DEAD_CODE_MODE", "mode", chosen, description=f"configured: {mode}")
    table = pa.Table.from_pylist(rows, schema=ENTRY_SCHEMA)
    return table, _digest(TABLE_VERSION, *rules.digests, repr(project), repr(named), *tests, chosen)


def entry_precheck(
    rules: EntryRules,
    project: ProjectEntries,
    paths_digest: str,
    test_globs: Iterable[str],
    mode: str,
    config: Iterable[tuple[str, str]] = (),
) -> str:
    """A digest of what :func:`entry_rows` reads, with the tree's paths as a digest of the
    stored paths: equal digests give equal rows, so a batch that leaves it alone (an edit of
    a Python file) skips matching every path against the test globs."""
    return _digest(
        TABLE_VERSION,
        *rules.digests,
        repr(project),
        repr(sorted(config)),
        paths_digest,
        *test_globs,
        mode,
    )


def _digest(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]
