"""Missing wiring and uninitialised components: the fixture tree's findings, and how edits
that add the missing piece fix them in the feed (incrementally, equal to a cold index)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from graphsvc.config import load_settings
from graphsvc.findings import Finding, Refresher, events_since, list_findings
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree
from tests.conftest import WriteTree

FIXTURE = Path(__file__).parent / "fixtures" / "wiring"
CATALOG = load_queries()
KINDS = ("missing_wiring", "uninitialized_component")


class Graph:
    """A tree, its database and one Refresher kept across updates, as the service keeps them."""

    def __init__(self, tree: Path, db: Path) -> None:
        self.tree = tree
        self.db = db
        self.settings = load_settings(tree, jobs=1)
        self.refresher = Refresher(CATALOG, tree, self.settings.suppress)

    def update(self) -> dict[str, Finding]:
        """Index what changed, refresh, and return the open wiring findings by id."""
        with Store.open(self.db) as store:
            summary = index_tree(self.tree, store, self.settings)
            self.refresher.run(store, summary.batch_id, summary)
            found = list_findings(store, limit=10_000).findings
        return {f.id: f for f in found if f.status == "open" and f.kind in KINDS}

    def events(self) -> list[tuple[str, str]]:
        with Store.open(self.db, read_only=True) as store:
            return [(e.finding_id, e.event) for e in events_since(store, 0, 10_000)]


def _shape(finding: Finding) -> dict[str, object]:
    return {
        "query": finding.query,
        "evidence": list(finding.evidence),
        "locations": [f"{loc.path}:{loc.line} {loc.symbol}" for loc in finding.locations],
    }


@pytest.fixture
def graph(tmp_path: Path) -> Graph:
    tree = shutil.copytree(FIXTURE / "tree", tmp_path / "tree")
    return Graph(tree, tmp_path / "g.duckdb")


def test_fixture_findings_are_the_hand_written_ones(graph: Graph) -> None:
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    expected.pop("_comment")
    found = graph.update()
    assert sorted(found) == sorted(expected)
    for fid, want in expected.items():
        assert _shape(found[fid]) == want, fid
    # the finding contract: prefixes, kinds, confidence per case
    cache = found["missing_wiring_self.cache_app.services.Child"]
    missing = found["missing_wiring_self.missing_app.services.Child"]
    poller = found["uninitialized_component_app.components.Poller"]
    assert cache.hypothesis == "MISSING_WIRING_SELF_CACHE_IN_APP_SERVICES_CHILD"
    assert (cache.severity, cache.confidence) == ("low", 0.3)
    assert (missing.severity, missing.confidence) == ("high", 0.8)
    assert missing.question.startswith("Where should self.missing of app.services.Child be")
    assert poller.kind == "uninitialized_component"
    assert poller.hypothesis == "UNINITIALIZED_COMPONENT_APP_COMPONENTS_POLLER"
    assert poller.metadata["entry_methods"] == ["poll", "start"]


def test_near_misses_need_their_guard(graph: Graph) -> None:
    """Each near miss is silent because of the thing the fixture gives it: take that away and
    the finding appears (so the silence is the rule at work, not a blind spot)."""
    graph.update()
    services = graph.tree / "app" / "services.py"
    text = services.read_text(encoding="utf-8")
    services.write_text(
        text.replace('        if hasattr(self, "plugin"):\n', "        if True:\n")
        .replace("    def __getattr__(self, name):\n", "    def getattr_(self, name):\n")
        .replace('setattr(self, "gamma", make_session())', "make_session()"),
        encoding="utf-8",
    )
    main = graph.tree / "app" / "main.py"
    main.write_text(
        main.read_text(encoding="utf-8").replace("    holder.backend = make_session()\n", ""),
        encoding="utf-8",
    )
    found = graph.update()
    for fid in (
        "missing_wiring_self.plugin_app.services.Guarded",
        "missing_wiring_self.anything_app.services.Lazy",
        "missing_wiring_self.gamma_app.services.Literal",
        "missing_wiring_self.backend_app.services.Holder",
    ):
        assert fid in found, fid


def test_adding_the_missing_piece_fixes_each_finding_in_the_feed(
    graph: Graph, tmp_path: Path
) -> None:
    first = graph.update()
    assert len(first) == 8
    app = graph.tree / "app"

    # a subclass in another module gives the None-only attribute a real value
    (app / "extended.py").write_text(
        "from app.services import Child, make_session\n\n\n"
        "class Grand(Child):\n    def setup(self):\n        self.cache = make_session()\n\n\n"
        "Grand().setup()\n",
        encoding="utf-8",
    )
    found = graph.update()
    assert "missing_wiring_self.cache_app.services.Child" not in found
    assert ("missing_wiring_self.cache_app.services.Child", "fixed") in graph.events()
    # the other findings of Child list the new receiver: same id, changed evidence
    assert (
        "app.extended.Grand" in found["missing_wiring_self.missing_app.services.Child"].evidence[-1]
    )

    # the renamed function comes back; the component gets started; the attribute gets set
    util = app / "util.py"
    util.write_text(util.read_text(encoding="utf-8") + "\n\ndef renamed():\n    return 3\n")
    main = app / "main.py"
    main.write_text(
        main.read_text(encoding="utf-8").replace(
            "    Worker().run()\n",
            "    Worker().run()\n    from app.components import Poller\n    Poller().start()\n",
        ),
        encoding="utf-8",
    )
    services = app / "services.py"
    services.write_text(
        services.read_text(encoding="utf-8").replace(
            "        self.session = make_session()\n",
            "        self.session = make_session()\n        self.missing = make_session()\n",
        ),
        encoding="utf-8",
    )
    found = graph.update()
    fixed = {fid for fid, event in graph.events() if event == "fixed"}
    for fid in (
        "missing_wiring_renamed_app.util",
        "uninitialized_component_app.components.Poller",
        "missing_wiring_self.missing_app.services.Child",
    ):
        assert fid not in found and fid in fixed, fid
    assert sorted(found) == [
        "missing_wiring_gone_callback_app.util",
        "missing_wiring_old_name_app.util",
        "missing_wiring_self.reload_app.services.Child",
        "uninitialized_component_app.jobs.Drainer",
    ]

    # a cold index of the edited tree agrees with the incremental one
    cold = Graph(graph.tree, tmp_path / "cold.duckdb").update()
    assert {i: _shape(f) for i, f in cold.items()} == {i: _shape(f) for i, f in found.items()}


def test_a_base_class_edit_in_another_module_reaches_the_subclass_finding(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "class Base:\n    def __init__(self):\n        self.conn = None\n",
            "pkg/child.py": (
                "from pkg.base import Base\n\n\nclass Child(Base):\n"
                "    def go(self):\n        self.conn.send()\n\n\nChild().go()\n"
            ),
        }
    )
    graph = Graph(tree, tmp_path / "g.duckdb")
    fid = "missing_wiring_self.conn_pkg.child.Child"
    assert fid in graph.update()
    (tree / "pkg" / "base.py").write_text(
        "class Base:\n    def __init__(self):\n        self.conn = open('x')\n", encoding="utf-8"
    )
    assert fid not in graph.update()
    (tree / "pkg" / "base.py").write_text("class Base:\n    pass\n", encoding="utf-8")
    found = graph.update()
    assert found[fid].evidence[2] == "what: assigned nowhere"
    assert [e for f, e in graph.events() if f == fid] == ["new", "fixed", "reopened"]


def test_a_component_named_by_a_configuration_file_is_initialised_elsewhere(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {
            "app/__init__.py": "",
            "app/workers.py": "class Worker:\n    def run(self):\n        return 1\n",
            "app/other.py": "class Poller:\n    def poll(self):\n        return 2\n",
            "gunicorn.conf.toml": '[server]\nworker_class = "app.workers:Worker"\n',
        }
    )
    graph = Graph(tree, tmp_path / "g.duckdb")
    found = graph.update()
    assert "uninitialized_component_app.workers.Worker" not in found
    assert "uninitialized_component_app.other.Poller" in found
    (tree / "gunicorn.conf.toml").write_text("[server]\nworkers = 4\n", "utf-8")
    assert "uninitialized_component_app.workers.Worker" in graph.update()
