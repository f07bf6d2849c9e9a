"""Entry points of dead-code analysis as data: the shipped rule files (``*.toml`` here), their
loader, and what a tree's packaging files declare."""

from __future__ import annotations

from graphsvc.entrypoints.loader import (
    RULE_KINDS,
    EntryRule,
    EntryRules,
    load_entry_rules,
    load_file,
    shipped_files,
)
from graphsvc.entrypoints.project import ProjectEntries, project_entries

__all__ = [
    "RULE_KINDS",
    "EntryRule",
    "EntryRules",
    "ProjectEntries",
    "load_entry_rules",
    "load_file",
    "project_entries",
    "shipped_files",
]
