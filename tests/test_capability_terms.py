"""capability_terms: names imported from the project's tools/skills/plugins packages
that no module of the tree implements (issue #9, capability terms)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from graphsvc.config import load_settings
from graphsvc.findings import Refresher, get_finding
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree
from tests.conftest import WriteTree


def _id(category: str, key: str) -> str:
    return f"capability.{category}.{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def test_capability_terms(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "pkg/__init__.py": "",
            "pkg/tools/__init__.py": "def search(q):\n    return q\n",
            "pkg/other.py": "def exporter():\n    return 1\n",
            "pkg/plugins/__init__.py": "",
            "pkg/agent.py": (
                "from pkg.tools import search, translate\n"
                "from pkg.skills.writing import summarize\n"
                "from pkg.plugins import exporter\n"  # defined elsewhere: not missing
                "from pkg.other import nothing_here\n"  # not a tools package
                "from json import loads\n"
                "try:\n    from pkg.tools import fancy\nexcept ImportError:\n    pass\n"
            ),
            "pkg/worker.py": "from pkg.tools import translate\n",
        }
    )
    settings = load_settings(tree, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        summary = index_tree(tree, store, settings)
        Refresher(load_queries(), tree).run(store, summary.batch_id, summary)
        rows = store.query(
            "SELECT id FROM findings WHERE query = 'capability_terms' ORDER BY id"
        ).rows
        found = {r[0]: get_finding(store, r[0]) for r in rows}
    assert sorted(found) == sorted(
        [_id("tool", "pkg.tools.translate"), _id("skill", "pkg.skills.writing.summarize")]
    )
    translate = found[_id("tool", "pkg.tools.translate")]
    assert translate is not None
    assert translate.hypothesis == "MISSING_CAPABILITY_TOOL_TRANSLATE"
    assert translate.action_class == "find_substitute"
    assert translate.evidence == (
        "type: capability_term",
        "category: tool",
        "term: translate",
        "module: pkg.tools",
        "imported_in: pkg/agent.py",
        "imported_in: pkg/worker.py",
        "reason: imported from pkg.tools but no module of the tree defines translate",
    )
    assert [(loc.path, loc.line) for loc in translate.locations] == [
        ("pkg/agent.py", 1),
        ("pkg/worker.py", 1),
    ]
