"""The linker says which re-linked files' links rows (and import links rows) it wrote other than
they were, so the findings refresh can skip reading their digests back (graphsvc/link/kept.py).

A real tree on disk, a real DuckDB file, the resident linker the service keeps; every answer is
checked against the links rows as stored before and after the batch.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from graphsvc.config import load_settings
from graphsvc.findings import Refresher
from graphsvc.link import Linker
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree

FILES = {
    "pkg/__init__.py": "",
    "pkg/a.py": "from pkg.b import f\n\n\ndef g():\n    return f()\n",
    "pkg/b.py": "def f():\n    pass\n",
}


def _rows(store: Store) -> dict[str, tuple[list[Any], list[Any]]]:
    """Per path: its links rows and its import sites' links rows, sorted."""
    rows = store.con.execute(
        "SELECT f.path, l.* EXCLUDE (file_id) FROM links AS l JOIN files AS f USING (file_id)"
    ).fetchall()
    out: dict[str, tuple[list[Any], list[Any]]] = {}
    for row in rows:
        every, imports = out.setdefault(row[0], ([], []))
        every.append(repr(row[1:]))
        if row[1] == "import":
            imports.append(repr(row[1:]))
    return {path: (sorted(a), sorted(b)) for path, (a, b) in out.items()}


def test_the_linker_reports_the_files_whose_links_it_changed(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for name, text in FILES.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    settings, linker = load_settings(tree, jobs=1), Linker()
    edits = [
        {"pkg/a.py": FILES["pkg/a.py"] + "\n\ndef h():\n    return 1\n"},  # no new link
        {"pkg/a.py": FILES["pkg/a.py"].replace("f()", "f() + f()")},  # a call site more
        {"pkg/a.py": FILES["pkg/a.py"] + "import os\n"},  # an import more
        {"pkg/b.py": "def f2():\n    pass\n"},  # a.py's import and call now lead nowhere
        {"pkg/b.py": FILES["pkg/b.py"]},
    ]
    seen: list[tuple[frozenset[str], frozenset[str]]] = []
    with Store.open(tmp_path / "g.duckdb") as store:
        first = index_tree(tree, store, settings, linker=linker)
        # a cold index re-links everything: nothing to tell
        assert first.links_changed is None and first.import_links_changed is None
        paths = {
            int(i): str(p)
            for i, p in store.con.execute("SELECT file_id, path FROM files").fetchall()
        }
        before = _rows(store)
        for edit in edits:
            for name, text in edit.items():
                (tree / name).write_text(text)
            summary = index_tree(tree, store, settings, linker=linker)
            after = _rows(store)
            assert summary.relinked is not None
            assert summary.links_changed is not None
            assert summary.import_links_changed is not None
            changed = frozenset(paths[i] for i in summary.links_changed)
            imports = frozenset(paths[i] for i in summary.import_links_changed)
            for file_id in summary.relinked:
                path = paths[file_id]
                old, new = before.get(path, ([], [])), after.get(path, ([], []))
                if file_id not in (first.relinked or ()):  # (written by this linker before)
                    assert (path in changed) == (old[0] != new[0]), path
                    assert (path in imports) == (old[1] != new[1]), path
            seen.append((changed, imports))
            before = after
        # a linker that did not write the re-linked files' rows cannot tell (the refresh reads
        # their digests back)
        (tree / "pkg/a.py").write_text(FILES["pkg/a.py"])
        other = index_tree(tree, store, settings, linker=Linker())
        assert other.relinked and other.links_changed is None
        assert other.import_links_changed is None
    # the first edit re-links a.py, which the cold index wrote (the linker kept its rows then)
    assert seen[0] == (frozenset(), frozenset())
    assert seen[1] == (frozenset({"pkg/a.py"}), frozenset())
    assert seen[2] == (frozenset({"pkg/a.py"}), frozenset({"pkg/a.py"}))
    assert "pkg/a.py" in seen[3][1] and "pkg/a.py" in seen[4][1]


def test_a_refresh_that_skips_the_import_digests_agrees_with_one_that_reads_them(
    tmp_path: Path,
) -> None:
    # the same batches on two copies of a tree, one refresher told what the linker changed,
    # one not (it reads the digests back): the same reuse decisions and the same findings
    sides = []
    for side in ("told", "untold"):
        tree = tmp_path / side
        for name, text in FILES.items():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_text(text)
        store = Store.open(tmp_path / f"{side}.duckdb")
        sides.append((tree, store, Linker(), Refresher(load_queries(), tree)))
    edits = [
        {"pkg/a.py": FILES["pkg/a.py"].replace("f()", "f() + f()")},
        {"pkg/a.py": FILES["pkg/a.py"]},  # back: its links are as two batches ago
        {"pkg/a.py": FILES["pkg/a.py"] + "from pkg.b import gone\n"},
        {"pkg/b.py": "def f2():\n    pass\n"},
        {"pkg/a.py": FILES["pkg/a.py"].replace("f()", "f() + 1")},
        {"pkg/b.py": FILES["pkg/b.py"], "pkg/a.py": FILES["pkg/a.py"]},
    ]
    skipped = 0
    try:
        for step in range(len(edits) + 1):
            results = []
            for tree, store, linker, refresher in sides:
                for name, text in (edits[step - 1] if step else {}).items():
                    (tree / name).write_text(text)
                summary = index_tree(tree, store, load_settings(tree, jobs=1), linker=linker)
                if refresher is sides[1][3] or step == 3:
                    # (the told side once too: after refreshes that did not read a.py's links
                    # digest, one that must compare it)
                    summary = replace(summary, links_changed=None, import_links_changed=None)
                elif step:
                    assert summary.import_links_changed is not None and summary.tables is not None
                    skipped += not summary.import_links_changed and not summary.tables & {
                        "files",
                        "modules",
                        "imports",
                    }
                result = refresher.run(store, summary.batch_id, summary)
                found = store.con.execute(
                    "SELECT id, status, evidence_hash FROM findings ORDER BY id"
                ).fetchall()
                results.append(
                    (refresher.last_unchanged, sorted(result.reused), result.events, found)
                )
            assert results[0] == results[1], step
        assert skipped >= 2  # the comparison covered refreshes that read no digest
        assert ("missing_wiring_gone_pkg.b", "fixed") in [r[:2] for r in results[0][3]]
    finally:
        for _, store, _, _ in sides:
            store.close()
