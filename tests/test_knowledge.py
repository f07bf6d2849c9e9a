"""Knowledge: documentation files indexed beside the code, stale_knowledge and
unindexed_knowledge on a fixture tree with hand-written expectations, bad docs, incremental
re-indexing, the live watcher path (edit the code -> the doc is stale; edit the doc -> fixed)
and the external knowledge index."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_same_as_cold, graph_facts

from graphsvc.config import load_settings
from graphsvc.docstore import HISTORY_KEEP
from graphsvc.extract.docs import extract_doc
from graphsvc.findings import Finding, KnowledgeSource, Refresher, events_since, get_finding
from graphsvc.queries import load_queries
from graphsvc.service import Service
from graphsvc.store import Store
from graphsvc.update import IndexSummary, index_tree
from tests.conftest import WriteTree

FIXTURE = Path(__file__).parent / "fixtures" / "knowledge"
CATALOG = load_queries()
KINDS = ("stale_knowledge", "unindexed_knowledge")


class Graph:
    """A tree, its database and one Refresher kept across updates (as the service keeps it)."""

    def __init__(self, tree: Path, db: Path, **overrides: Any) -> None:
        self.tree = tree
        self.db = db
        self.settings = load_settings(tree, jobs=1, **overrides)
        self.refresher = Refresher(CATALOG, tree, self.settings.suppress)
        self.summary = IndexSummary()

    def update(self) -> dict[str, Finding]:
        """Index, refresh the findings; the knowledge findings by id."""
        s = self.settings
        with Store.open(self.db) as store:
            self.summary = index_tree(self.tree, store, s)
            self.refresher.run(store, self.summary.batch_id, self.summary)
            source = KnowledgeSource(
                self.tree, s.knowledge_index, s.knowledge_index_sql, bool(s.doc_globs)
            )
            source.refresh(self.refresher, store, self.summary)
            rows = store.query(
                "SELECT id FROM findings WHERE status = 'open' AND kind IN (?, ?)", list(KINDS)
            ).rows
            return {r[0]: f for r in rows if (f := get_finding(store, r[0])) is not None}

    def sql(self, sql: str) -> list[tuple[Any, ...]]:
        with Store.open(self.db) as store:
            return store.query(sql).rows


def _shape(finding: Finding, tree: Path) -> dict[str, Any]:
    root = str(tree.resolve())
    return {
        "hypothesis": finding.hypothesis,
        "evidence": [line.replace(root, "<tree>") for line in finding.evidence],
        "locations": [[loc.path, loc.line, loc.symbol] for loc in finding.locations],
    }


# ---------------------------------------------------------------------- extraction


def test_markdown_mentions_headings_and_precision() -> None:
    text = (
        "# Title\n\n"
        "Use `pkg.mod.func()` and `Class.method`, not `true`.\n"
        "See [the setup](../setup.md#install), [web](https://x.org/a.md) and src/app/x.py.\n\n"
        "## Shell\n\n"
        "```console\n$ graphsvc index .\n$ python -m pkg.tool --fast\noutput line\n```\n\n"
        "```python\nfrom pkg.mod import a, b as c\nx = pkg.other.f(1)\n```\n"
    )
    found = extract_doc("docs/guide.md", text, "markdown")
    assert [(h.level, h.text, h.line) for h in found.headings] == [
        (1, "Title", 1),
        (2, "Shell", 6),
    ]
    assert found.title == "Title"
    got = {(m.line, m.kind, m.target, m.bare) for m in found.mentions}
    assert got == {
        (3, "name", "pkg.mod.func", False),
        (3, "name", "Class.method", False),
        (3, "name", "true", True),
        (4, "link", "setup.md", False),
        (4, "path", "src/app/x.py", False),
        (9, "command", "graphsvc index", False),
        (10, "command", "python", False),
        (10, "name", "pkg.tool", False),
        (15, "name", "pkg.mod", False),
        (15, "name", "pkg.mod.a", False),
        (15, "name", "pkg.mod.b", False),
        (16, "name", "pkg.other.f", False),
    }
    section = {m.target: m.heading for m in found.mentions}
    assert section["pkg.mod.func"] == "Title" and section["pkg.tool"] == "Shell"
    # "output line" is not a command: the block has prompts, only prompted lines count
    assert not any(m.text.startswith("output") for m in found.mentions)


def test_rst_and_text_reader() -> None:
    text = (
        "=====\nTitle\n=====\n\nPart\n----\n\n.. automodule:: pkg.mod\n\n"
        ":func:`~pkg.mod.f` and :class:`Label <pkg.mod.C>`, ``pkg.x``, `y.z`.\n"
        "`Link <other.rst>`_\n\n"
        ".. code-block:: python\n   :linenos:\n\n   import pkg.q\n\n"
        "Example::\n\n    >>> pkg.mod.g()\n"
    )
    found = extract_doc("docs/api.rst", text, "rst")
    assert [(h.level, h.text, h.line) for h in found.headings] == [
        (1, "Title", 2),
        (2, "Part", 5),
    ]
    got = {(m.line, m.kind, m.context, m.target) for m in found.mentions}
    assert got == {
        (8, "name", "directive", "pkg.mod"),
        (10, "name", "role", "pkg.mod.f"),
        (10, "name", "role", "pkg.mod.C"),
        (10, "name", "code_span", "pkg.x"),
        (10, "name", "code_span", "y.z"),
        (11, "link", "link", "docs/other.rst"),
        (16, "name", "code_block", "pkg.q"),
        (20, "name", "code_block", "pkg.mod.g"),
    }


# ---------------------------------------------------------------------- fixture findings


def test_fixture_findings_match_the_hand_written_expectations(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE / "tree", tree)
    found = Graph(tree, tmp_path / "g.duckdb").update()
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    assert {fid: _shape(f, tree) for fid, f in sorted(found.items())} == expected
    for finding in found.values():
        assert finding.kind in KINDS and finding.id.startswith(finding.kind + "_")
        assert finding.hypothesis.startswith(finding.kind.upper() + "_")


def test_fixture_docs_and_bad_input_rows(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE / "tree", tree)
    graph = Graph(tree, tmp_path / "g.duckdb")
    graph.update()
    docs = graph.sql("SELECT path, format, status, skip_reason, error_count FROM doc_files")
    assert sorted(docs) == [
        ("README.md", "markdown", "ok", None, 0),
        ("docs/api.rst", "rst", "ok", None, 0),
        ("docs/blob.txt", "text", "skipped", "binary file: NUL byte on line 1", 0),
        ("docs/guide.md", "markdown", "ok", None, 0),
        ("docs/latin1.md", "markdown", "partial", None, 1),
        ("docs/setup.md", "markdown", "ok", None, 0),
        ("notes.txt", "text", "ok", None, 0),
    ]
    problems = graph.sql(
        "SELECT d.path, p.line, p.kind FROM doc_problems p JOIN doc_files d USING (doc_id)"
    )
    assert problems == [("docs/latin1.md", 3, "encoding")]
    # the rest of the undecodable doc is still read
    latin = graph.sql(
        "SELECT m.target FROM doc_mentions m JOIN doc_files d USING (doc_id)"
        " WHERE d.path = 'docs/latin1.md'"
    )
    assert latin == [("pkg.orders.Order",)]
    # Python files are not docs, docs are not Python files
    assert graph.sql("SELECT count(*) FROM files WHERE path LIKE '%.md'") == [(0,)]
    history = graph.sql("SELECT kind, count(*) FROM file_history GROUP BY kind ORDER BY kind")
    assert history == [("doc", 7), ("python", 7)]  # the binary doc was read: it has a hash


# ---------------------------------------------------------------------- bad input, incremental


def test_huge_vanished_and_special_docs(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "a.py": "x = 1\n",
            "big.md": "# Big\n" + "`pkg.x`\n" * 200,
            "gone.md": "# Gone\n",
            "bom.md": "\ufeff# Bom\n`a.x`\n",
            "utf16.txt": "`a.x` text\n".encode("utf-16"),
        }
    )
    os.mkfifo(tree / "pipe.md")
    graph = Graph(tree, tmp_path / "g.duckdb", max_file_bytes=500)
    graph.update()
    rows = {
        p: (s, r, e)
        for p, s, r, e in graph.sql("SELECT path, status, skip_reason, encoding FROM doc_files")
    }
    assert rows["big.md"][0] == "skipped" and rows["big.md"][1].startswith("file too large")
    assert rows["pipe.md"] == ("skipped", "not a regular file", None)
    assert rows["bom.md"] == ("ok", None, "utf-8-sig")
    assert rows["utf16.txt"] == ("ok", None, "utf-16")
    assert graph.sql(
        "SELECT d.path, m.target FROM doc_mentions m JOIN doc_files d USING (doc_id) ORDER BY 1"
    ) == [("bom.md", "a.x"), ("utf16.txt", "a.x")]
    (tree / "gone.md").unlink()
    graph.update()
    assert graph.summary.docs_removed == 1
    paths = [r[0] for r in graph.sql("SELECT path FROM doc_files ORDER BY path")]
    assert "gone.md" not in paths and "big.md" in paths
    assert graph.sql("SELECT count(*) FROM file_history WHERE path = 'gone.md'") == [(0,)]


def test_incremental_reindex_reads_only_changed_docs(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "pkg/__init__.py": '"""P."""\n',
            "pkg/m.py": '"""M."""\n\ndef f():\n    return 1\n',
            "a.md": "# A\n`pkg.m.f`\n",
            "b.md": "# B\n`pkg.m`\n",
        }
    )
    graph = Graph(tree, tmp_path / "g.duckdb")
    graph.update()
    assert (graph.summary.docs_seen, graph.summary.docs_parsed) == (2, 2)
    ids = dict(graph.sql("SELECT path, doc_id FROM doc_files"))
    graph.update()
    assert graph.summary.docs_parsed == 0  # nothing changed: nothing read
    (tree / "a.md").write_text("# A again\n`pkg.m.f` and `pkg.m`\n", encoding="utf-8")
    os.utime(tree / "b.md")  # touched, same bytes
    graph.update()
    assert graph.summary.docs_parsed == 1 and graph.summary.docs_touched == 1
    assert dict(graph.sql("SELECT path, doc_id FROM doc_files")) == ids  # same owners
    assert graph.sql(
        "SELECT h.text FROM doc_headings h JOIN doc_files d USING (doc_id) WHERE d.path = 'a.md'"
    ) == [("A again",)]
    versions = graph.sql("SELECT path, count(*) FROM file_history GROUP BY path ORDER BY path")
    assert versions == [("a.md", 2), ("b.md", 1), ("pkg/__init__.py", 1), ("pkg/m.py", 1)]
    with Store.open(graph.db) as store:
        warm = graph_facts(store)
    assert_same_as_cold(warm, tree, tmp_path / "cold.duckdb")


def test_a_new_doc_beside_a_re_read_doc_with_the_highest_id(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """The re-read doc keeps its id (the highest); the new doc of the same batch gets the next
    one, not the same (a duplicate key rolled the whole batch back)."""
    tree = write_tree({"a.py": "x = 1\n", "a.md": "# A\n", "b.md": "# B\n"})
    graph = Graph(tree, tmp_path / "g.duckdb")
    graph.update()
    before = dict(graph.sql("SELECT path, doc_id FROM doc_files"))
    (tree / "b.md").write_text("# B, edited\n", encoding="utf-8")
    (tree / "c.md").write_text("# C\n", encoding="utf-8")
    graph.update()
    after = dict(graph.sql("SELECT path, doc_id FROM doc_files"))
    assert after["a.md"] == before["a.md"] and after["b.md"] == before["b.md"]
    assert after["c.md"] == max(before.values()) + 1
    assert graph.sql("SELECT title FROM doc_files WHERE path = 'b.md'") == [("B, edited",)]


def test_doc_globs_configure_and_switch_off(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree({"a.py": "x = 1\n", "a.md": "# A\n", "b.adoc": "= B\n", "req.txt": "x\n"})
    db = tmp_path / "g.duckdb"
    Graph(tree, db, doc_globs=["*.md", "*.adoc"]).update()
    assert Graph(tree, db).sql("SELECT path FROM doc_files ORDER BY 1") == [
        ("a.md",),
        ("b.adoc",),
    ]
    off = Graph(tree, db, doc_globs=[])
    off.update()
    assert off.sql("SELECT count(*) FROM doc_files") == [(0,)]
    assert off.summary.docs_removed == 2
    assert off.sql("SELECT count(*) FROM doc_mentions") == [(0,)]


# ---------------------------------------------------------------------- configuration files


def test_config_values_that_name_code() -> None:
    pyproject = (
        "[project.scripts]\n"
        'tool = "pkg.cli:main"  # the console script\n'
        "[tool.importlinter]\n"
        'root_package = "pkg"\n'
        "layers = [\n"
        '    "pkg.api",\n'
        '    "pkg.core | pkg.util",\n'
        "]\n"
        'readme = "README.md"\n'
        'homepage = "https://example.org/pkg.py"\n'
        "version = 1.2\n"
    )
    found = extract_doc("pyproject.toml", pyproject, "toml")
    assert [(m.line, m.kind, m.context, m.target, m.heading) for m in found.mentions] == [
        (2, "name", "config_value", "pkg.cli.main", "project.scripts"),
        (6, "name", "config_value", "pkg.api", "tool.importlinter"),
        (9, "path", "config_value", "README.md", "tool.importlinter"),
    ]
    assert [(h.level, h.text, h.line) for h in found.headings] == [
        (1, "project.scripts", 1),
        (1, "tool.importlinter", 3),
    ]
    assert found.title is None and found.problems == []
    setup_cfg = "[options.entry_points]\nconsole_scripts =\n    tool = pkg.cli:main [extra]\n"
    [entry] = extract_doc("setup.cfg", setup_cfg, "ini").mentions
    assert (entry.line, entry.target, entry.heading) == (3, "pkg.cli.main", "options.entry_points")
    workflow = (
        "jobs:\n"
        "  nightly:\n"
        "    handler: pkg.jobs.nightly:run\n"
        "    script: scripts/run.py   # relative to the root\n"
        "    steps:\n"
        "      - pkg.steps.one\n"
        '      - "notes.txt"\n'
        "    image: python:3.11\n"
        "    name: Nightly run\n"
    )
    found = extract_doc("ci/jobs.yaml", workflow, "yaml")
    assert [(m.line, m.kind, m.target, m.alt_target) for m in found.mentions] == [
        (3, "name", "pkg.jobs.nightly.run", None),
        (4, "path", "scripts/run.py", "ci/scripts/run.py"),
        (6, "name", "pkg.steps.one", None),
    ]  # a bare file name in YAML is more often data than a path


def test_config_that_would_not_load_is_a_syntax_problem() -> None:
    cases = {
        ("a.toml", "toml"): ("x = [1,\ny =\n", 2, "invalid TOML"),
        ("a.json", "json"): ('{"a": 1,}', 1, "invalid JSON: Expecting property name"),
        ("setup.cfg", "ini"): ("[a]\nx = 1\n[broken\n", 3, "invalid INI: not a section"),
        ("tox.ini", "ini"): ("x = 1\n", 1, "invalid INI: a key before the first [section]"),
    }
    for (path, fmt), (text, line, message) in cases.items():
        [problem] = extract_doc(path, text, fmt).problems  # type: ignore[arg-type]
        assert (problem.line, problem.kind) == (line, "syntax"), path
        assert problem.message.startswith(message), problem.message
    assert extract_doc("x.yaml", "a: [unclosed\n", "yaml").problems == []  # not checked


def test_config_files_go_stale_and_count_as_knowledge(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {
            "pkg/__init__.py": '"""P."""\n',
            "pkg/cli.py": '"""CLI."""\n\n\ndef main():\n    return 0\n',
            "README.md": "# P\n\nSee `pkg`.\n",
            "pyproject.toml": '[project.scripts]\ntool = "pkg.cli:main"\n',
            "deploy/jobs.yml": "handler: pkg.cli:main\n",
            "broken.toml": "x = [\n",
            "data.json": '{"module": "pkg.gone"}\n',  # JSON is not read by default
        }
    )
    graph = Graph(tree, tmp_path / "g.duckdb")
    assert graph.update() == {}
    assert graph.sql("SELECT path, format, status, error_count FROM doc_files ORDER BY 1") == [
        ("README.md", "markdown", "ok", 0),
        ("broken.toml", "toml", "partial", 1),
        ("deploy/jobs.yml", "yaml", "ok", 0),
        ("pyproject.toml", "toml", "ok", 0),
    ]
    (tree / "pkg/cli.py").write_text('"""CLI."""\n\n\ndef run():\n    return 0\n')
    found = graph.update()
    assert sorted(found) == ["stale_knowledge_deploy_jobs.yml", "stale_knowledge_pyproject.toml"]
    assert found["stale_knowledge_pyproject.toml"].evidence[1] == (
        "stale: line 2: missing: pkg.cli.main: module pkg.cli defines no main"
    )
    index = tmp_path / "index.json"
    index.write_text(json.dumps(["README.md", "pkg/__init__.py", "pkg/cli.py"]), "utf-8")
    graph.settings = load_settings(tree, jobs=1, knowledge_index=index)
    unindexed = {k: v for k, v in graph.update().items() if k.startswith("unindexed")}
    assert sorted(unindexed) == [
        "unindexed_knowledge_broken.toml",
        "unindexed_knowledge_deploy_jobs.yml",
        "unindexed_knowledge_pyproject.toml",
    ]
    assert unindexed["unindexed_knowledge_deploy_jobs.yml"].evidence[1] == "file_type: config_yaml"


# ---------------------------------------------------------------------- stale by baseline


def test_code_changed_after_the_doc_and_doc_edited_after(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """Renamed function (bare mention), changed method, then the doc is edited: fixed."""
    tree = write_tree(
        {
            "pkg/__init__.py": '"""P."""\n',
            "pkg/orders.py": (
                '"""Orders."""\n\n\nclass Order:\n    def total(self):\n        return 1\n\n\n'
                "def process_order(o):\n    return o.total()\n"
            ),
            "docs/guide.md": "# Guide\n\nCall `process_order()`; `pkg.orders.Order.total` sums.\n",
        }
    )
    graph = Graph(tree, tmp_path / "g.duckdb")
    assert graph.update() == {}
    code = (tree / "pkg/orders.py").read_text(encoding="utf-8")
    (tree / "pkg/orders.py").write_text(
        code.replace("process_order", "handle_order").replace(
            "        return 1\n", "        return sum([1, len('x')])\n"
        ),
        encoding="utf-8",
    )
    found = graph.update()
    stale = found["stale_knowledge_docs_guide.md"]
    assert stale.evidence == (
        "file_path: docs/guide.md",
        "stale: line 3: changed: pkg.orders.Order.total: method pkg.orders.Order.total"
        " (pkg/orders.py) changed after the doc was last edited",
        "stale: line 3: missing: process_order: function pkg.orders.process_order"
        " (pkg/orders.py) existed when the doc was written, and is gone",
    )
    assert stale.metadata["changed_files"] == ["pkg/orders.py"]
    # an edit of the code elsewhere in the file that leaves both alone changes nothing
    text = (tree / "pkg/orders.py").read_text(encoding="utf-8")
    (tree / "pkg/orders.py").write_text("# a comment\n" + text, encoding="utf-8")
    assert graph.update()["stale_knowledge_docs_guide.md"].evidence == stale.evidence
    (tree / "docs/guide.md").write_text(
        "# Guide\n\nCall `handle_order()`; `pkg.orders.Order.total` sums.\n", encoding="utf-8"
    )
    assert graph.update() == {}


# ---------------------------------------------------------------------- external index


def test_external_index_json_jsonl_sql_and_unreadable(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {"pkg/__init__.py": '"""P."""\n', "pkg/a.py": '"""A."""\n', "docs/x.md": "# X\n"}
    )
    now = (tree / "docs/x.md").stat().st_mtime
    index = tmp_path / "index.json"
    index.write_text(
        json.dumps(
            [
                {"path": str(tree / "pkg/__init__.py"), "mtime": now + 10},
                {"path": "pkg/a.py", "mtime": now - 100},  # older than the file: stale
                {"path": "/elsewhere/y.md", "mtime": 1},  # outside the tree: ignored
            ]
        ),
        encoding="utf-8",
    )
    graph = Graph(tree, tmp_path / "g.duckdb", knowledge_index=index)
    found = graph.update()
    assert sorted(found) == ["unindexed_knowledge_docs_x.md", "unindexed_knowledge_pkg_a.py"]
    x = found["unindexed_knowledge_docs_x.md"]
    assert x.evidence == (
        f"file_path: {tree.resolve() / 'docs/x.md'}",
        "file_type: doc_markdown",
        "size: 4",
        f"reason: not in the knowledge index ({index})",
    )
    assert found["unindexed_knowledge_pkg_a.py"].evidence[3].startswith("reason: modified after")
    index.with_suffix(".jsonl").write_text(
        "\n".join(
            json.dumps({"path": p, "mtime": "2999-01-01T00:00:00"})
            for p in ("pkg/__init__.py", "pkg/a.py", "docs/x.md")
        ),
        encoding="utf-8",
    )
    graph.settings = load_settings(tree, jobs=1, knowledge_index=index.with_suffix(".jsonl"))
    assert graph.update() == {}  # every file covered: all fixed
    index.write_text("{not json", encoding="utf-8")
    graph.settings = load_settings(tree, jobs=1, knowledge_index=index)
    broken = graph.update()
    assert list(broken) == ["unindexed_knowledge_index"]
    assert broken["unindexed_knowledge_index"].evidence[1].startswith("reason: not JSON")
    graph.settings = load_settings(tree, jobs=1, knowledge_index_sql="SELECT path FROM doc_files")
    assert sorted(graph.update()) == [
        "unindexed_knowledge_pkg___init__.py",
        "unindexed_knowledge_pkg_a.py",
    ]
    graph.settings = load_settings(tree, jobs=1, knowledge_index_sql="DELETE FROM files")
    assert list(graph.update()) == ["unindexed_knowledge_index"]
    assert graph.sql("SELECT count(*) FROM files") == [(2,)]


# ---------------------------------------------------------------------- the live watcher path


@pytest.fixture
def live_tree(tmp_path: Path) -> Iterator[tuple[Path, Store, Service]]:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg/__init__.py").write_text('"""P."""\n', encoding="utf-8")
    (tree / "pkg/orders.py").write_text(
        '"""Orders."""\n\n\ndef process_order(o):\n    return o\n', encoding="utf-8"
    )
    (tree / "guide.md").write_text("# Guide\n\n`pkg.orders.process_order`\n", encoding="utf-8")
    with Store.open(tmp_path / "live.duckdb") as store:
        service = Service(tree, store, load_settings(tree, jobs=1))
        service.start()
        try:
            service.sync(timeout=60)
            yield tree, store, service
        finally:
            service.stop()


def _stale(store: Store) -> list[tuple[Any, ...]]:
    with store.reader() as reader:
        return reader.query(
            "SELECT id, status, evidence FROM findings WHERE kind = 'stale_knowledge'"
        ).rows


def test_watcher_edit_code_then_doc(live_tree: tuple[Path, Store, Service], tmp_path: Path) -> None:
    tree, store, service = live_tree
    assert _stale(store) == []
    (tree / "pkg/orders.py").write_text(
        '"""Orders."""\n\n\ndef handle_order(o):\n    return o\n', encoding="utf-8"
    )
    service.sync(timeout=60)
    rows = _stale(store)
    assert [(r[0], r[1]) for r in rows] == [("stale_knowledge_guide.md", "open")]
    assert "stale: line 3: missing: pkg.orders.process_order" in rows[0][2][1]
    (tree / "guide.md").write_text("# Guide\n\n`pkg.orders.handle_order`\n", encoding="utf-8")
    service.sync(timeout=60)
    assert [(r[0], r[1]) for r in _stale(store)] == [("stale_knowledge_guide.md", "fixed")]
    with store.reader() as reader:
        events = [
            (e.finding_id, e.event)
            for e in events_since(reader, 0)
            if e.finding_id.startswith("stale_knowledge")
        ]
        facts = graph_facts(reader)
    assert events == [("stale_knowledge_guide.md", "new"), ("stale_knowledge_guide.md", "fixed")]
    (tree / "guide.md").rename(tree / "moved.md")
    service.sync(timeout=60)
    with store.reader() as reader:
        assert reader.query("SELECT path FROM doc_files").rows == [("moved.md",)]
        facts = graph_facts(reader)
    assert_same_as_cold(facts, tree, tmp_path / "cold.duckdb")


def test_file_history_keeps_the_last_versions_of_each_path(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """A new version of a file is appended once (the same bytes again add nothing), and a
    path keeps its last HISTORY_KEEP versions: the oldest go, the newest stays latest."""
    tree = write_tree({"m.py": "x = 0\n", "a.md": "# A\n"})
    settings = load_settings(tree, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, settings)
        shas = []
        for n in range(1, HISTORY_KEEP + 3):
            (tree / "m.py").write_text(f"x = {n}\n")
            os.utime(tree / "a.md")  # touched only: no new version
            index_tree(tree, store, settings)
            shas.append(store.query("SELECT sha256 FROM files WHERE path = 'm.py'").rows[0][0])
        index_tree(tree, store, settings)  # nothing changed
        rows = store.query("SELECT path, sha256 FROM file_history ORDER BY path, first_seen").rows
    kept = [sha for path, sha in rows if path == "m.py"]
    assert kept == shas[-HISTORY_KEEP:]
    assert [path for path, _ in rows].count("a.md") == 1
