"""What one linker run works out once and reuses (the star-import tables, the memoised
answers' names replayed once per dependency set, dispatch and class members memoised, a
file's flow solution asked at each call site): after edits that change what was reused, the
links and their dependency rows equal a cold index's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import WriteTree

from graphsvc.config import load_settings
from graphsvc.link import Linker
from graphsvc.link.chunks import link_chunks
from graphsvc.store import Store
from graphsvc.update import index_tree


def _rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "links": store.query(
            "SELECT f.path, l.line, l.col, l.expression, l.target, l.status, l.strategy,"
            " l.reason FROM links l JOIN files f USING (file_id) ORDER BY ALL"
        ).rows,
        "link_deps": store.query(
            "SELECT f.path, d.module, d.name FROM link_deps d JOIN files f USING (file_id)"
            " ORDER BY ALL"
        ).rows,
    }


def _edits_equal_cold(
    tree: Path, tmp_path: Path, edits: list[tuple[str, str | None]]
) -> list[dict[str, list[tuple[Any, ...]]]]:
    """Apply ``edits`` one at a time with one resident linker; after each, the links and
    link_deps equal a cold index's. Returns the rows after each edit."""
    linker = Linker()
    settings = load_settings(tree, jobs=1)
    seen = []
    with Store.open(tmp_path / "warm.duckdb") as store:
        index_tree(tree, store, settings, linker=linker)
        for n, (path, text) in enumerate(edits):
            if text is None:
                (tree / path).unlink()
            else:
                (tree / path).write_text(text, encoding="utf-8")
            index_tree(tree, store, settings, linker=linker)
            warm = _rows(store)
            with Store.open(tmp_path / f"cold{n}.duckdb") as cold:
                index_tree(tree, cold, settings)
                assert warm == _rows(cold), (path, text)
            seen.append(warm)
    return seen


def _targets(rows: dict[str, list[tuple[Any, ...]]], path: str, expression: str) -> set[Any]:
    found = {r[4] for r in rows["links"] if r[0] == path and r[3] == expression}
    assert found, (path, expression)
    return found


def test_star_import_chains_after_edits_equal_a_cold_index(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """A package re-exporting its modules through two levels of star imports (a static
    ``__all__``, none, a dynamic one, an outside module): names leave and join ``__all__``,
    a star import is removed and added back."""
    tree = write_tree(
        {
            "pkg/__init__.py": "from pkg.algos import *\n",
            "pkg/algos/__init__.py": "from pkg.algos.a import *\nfrom pkg.algos.b import *\n"
            "from pkg.algos.c import *\nfrom json import *\n",
            "pkg/algos/a.py": "__all__ = ['f', 'shared']\n\ndef f():\n    pass\n\n"
            "def shared():\n    pass\n",
            "pkg/algos/b.py": "def g():\n    pass\n\ndef _h():\n    pass\n\ndef shared():\n"
            "    pass\n",
            "pkg/algos/c.py": "__all__ = ['k'] + [n for n in dir()]\n\ndef k():\n    pass\n",
            "app.py": "import pkg\n\npkg.f()\npkg.g()\npkg.shared()\npkg.k()\npkg.dumps()\n"
            "\n\ndef use():\n    call = pkg.f\n    call()\n    other = pkg.g\n    other()\n",
        }
    )
    seen = _edits_equal_cold(
        tree,
        tmp_path,
        [
            (
                "pkg/algos/a.py",
                "__all__ = ['shared']\n\ndef f():\n    pass\n\ndef shared():\n    pass\n",
            ),
            (
                "pkg/algos/b.py",
                "def g():\n    pass\n\ndef f():\n    pass\n\ndef shared():\n    pass\n",
            ),
            ("pkg/algos/__init__.py", "from pkg.algos.a import *\nfrom pkg.algos.c import *\n"),
            (
                "pkg/algos/c.py",
                "__all__ = ['k', 'g']\n\ndef k():\n    pass\n\ndef g():\n    pass\n",
            ),
            (
                "pkg/algos/__init__.py",
                "from pkg.algos.b import *\nfrom pkg.algos.a import *\nfrom pkg.algos.c import *\n",
            ),
        ],
    )
    # the edits moved the names between the star-imported modules
    assert _targets(seen[0], "app.py", "call") == {"json.f"}  # only the outside module may
    assert _targets(seen[1], "app.py", "call") == {"pkg.algos.b.f"}
    assert _targets(seen[2], "app.py", "pkg.g") == {None}  # b's star import removed
    assert _targets(seen[3], "app.py", "other") == {"pkg.algos.c.g"}
    assert _targets(seen[4], "app.py", "other") == {"pkg.algos.b.g", "pkg.algos.c.g"}


def test_self_calls_after_subclass_edits_equal_a_cold_index(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """``self.m()`` asked many times in one class (one memoised dispatch): an override is
    added in another file, moved, and removed; a base gains the method."""
    base = (
        "class Base:\n    def m(self):\n        pass\n\n    def run(self):\n        self.m()\n"
        "        self.m()\n        self.n()\n\n    def again(self):\n        self.m()\n"
    )
    tree = write_tree(
        {
            "base.py": base,
            "sub.py": "from base import Base\n\nclass Sub(Base):\n    pass\n",
            "user.py": "from sub import Sub\n\nSub().run()\nSub().m()\n",
        }
    )
    seen = _edits_equal_cold(
        tree,
        tmp_path,
        [
            (
                "sub.py",
                "from base import Base\n\nclass Sub(Base):\n    def m(self):\n        pass\n",
            ),
            (
                "more.py",
                "from sub import Sub\n\nclass Deeper(Sub):\n    def m(self):\n"
                "        pass\n\n    def n(self):\n        pass\n",
            ),
            ("sub.py", "from base import Base\n\nclass Sub(Base):\n    pass\n"),
            ("base.py", base + "\n    def n(self):\n        pass\n"),
            ("more.py", None),
        ],
    )
    assert _targets(seen[1], "base.py", "self.m") == {"base.Base.m", "sub.Sub.m", "more.Deeper.m"}
    assert _targets(seen[4], "base.py", "self.m") == {"base.Base.m"}


def test_flow_calls_after_edits_in_another_file_equal_a_cold_index(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """Calls resolved by the value-flow solve of their file, through names of another file
    (the solution's names replayed once at each of its call sites): the imported function is
    renamed, comes back, and becomes a class."""
    lib = "def handler():\n    pass\n\ndef other():\n    pass\n"
    tree = write_tree(
        {
            "lib.py": lib,
            "app.py": "from lib import handler, other\n\nTABLE = {'a': handler, 'b': other}\n\n"
            "def pick(key):\n    return TABLE[key]\n\ndef run():\n    cb = handler\n    cb()\n"
            "    cb()\n    pick('a')()\n    fn = TABLE['b']\n    fn()\n",
        }
    )
    seen = _edits_equal_cold(
        tree,
        tmp_path,
        [
            ("lib.py", "def renamed():\n    pass\n\ndef other():\n    pass\n"),
            ("lib.py", lib),
            ("lib.py", "class handler:\n    pass\n\ndef other():\n    pass\n"),
        ],
    )
    assert {r[4] for r in seen[1]["links"] if r[0] == "app.py" and r[3] == "cb"} == {"lib.handler"}


def test_a_files_links_and_dependencies_do_not_depend_on_its_chunk(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """Every file linked in one run (shared memoised answers, star tables and replays) gets
    the same rows and link_deps as each file linked alone."""
    tree = write_tree(
        {
            "pkg/__init__.py": "from pkg.algos import *\n",
            "pkg/algos/__init__.py": "".join(f"from pkg.algos.m{i} import *\n" for i in range(6)),
            **{
                f"pkg/algos/m{i}.py": f"__all__ = ['f{i}']\n\ndef f{i}():\n    pass\n\n"
                f"class C{i}:\n    def m(self):\n        pass\n\n    def run(self):\n"
                "        self.m()\n        self.m()\n"
                for i in range(6)
            },
            **{
                f"use{j}.py": "import pkg\nfrom pkg.algos.m0 import C0\n\n"
                "class Sub(C0):\n    def m(self):\n        pass\n\n"
                "def run():\n    f = pkg.f1\n    f()\n    f()\n    pkg.f2()\n    pkg.f5()\n"
                "    Sub().run()\n    C0().m()\n"
                for j in range(3)
            },
        }
    )
    linker = Linker()
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, load_settings(tree, jobs=1), linker=linker)
        assert linker.index is not None and linker.env is not None
        ids = sorted(linker.index.by_file)
        together = list(link_chunks(store.con, linker.index, linker.env, ids))
        assert len(together) == 1
        for file_id in ids:
            (alone,) = link_chunks(store.con, linker.index, linker.env, [file_id])
            assert alone.deps == [d for d in together[0].deps if d[0] == file_id]
            assert alone.rows == [r for r in together[0].rows if r[0] == file_id]
        assert any(name == "*" for _, _, name in together[0].deps)


_DEPENDENTS = {
    "pkg/__init__.py": "from pkg.impl import helper\n",
    "pkg/impl.py": "def helper(x):\n    return x\n\ndef one():\n    pass\n\n"
    "def two():\n    pass\n\ndef make():\n    helper(0)\n    return one\n",
    "use1.py": "from pkg import helper\n\ndef run():\n    return helper(1)\n",
    "use2.py": "import pkg\n\ndef go():\n    return pkg.helper(2)\n",
    "use3.py": "from pkg.impl import helper, one\n\nhelper(3)\ncb = one\ncb()\n",
}


def _links_inserted(monkeypatch: Any) -> list[set[int]]:
    """The file ids of each bulk insert into ``links`` from now on."""
    inserted: list[set[int]] = []
    insert = Store._insert_table

    def recording(self: Store, table: str, data: Any) -> None:
        if table == "links":
            inserted.append(set(data["file_id"].to_pylist()))
        insert(self, table, data)

    monkeypatch.setattr(Store, "_insert_table", recording)
    return inserted


def test_files_relinked_for_a_name_they_consulted_keep_or_replace_their_links(
    write_tree: WriteTree, tmp_path: Path, monkeypatch: Any
) -> None:
    """A file re-linked because a name it consulted changed keeps its stored links rows when
    it finds the same ones (graphsvc/link/kept.py), and replaces them when a re-export goes, an
    imported name a variable holds (a flow input) becomes a class, or a name is renamed: after
    each edit the links equal a cold index's."""
    tree = write_tree(_DEPENDENTS)
    impl = _DEPENDENTS["pkg/impl.py"]
    nested = impl.replace("    return x\n", "    def inner():\n        pass\n    return x\n", 1)
    settings, linker = load_settings(tree, jobs=1), Linker()
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, settings, linker=linker)
        inserted = _links_inserted(monkeypatch)
        (tree / "pkg/impl.py").write_text(nested)
        # helper's signature changes (a nested function): every user is re-linked, finds the
        # links it had, and keeps them; only the edited file's links go in
        summary = index_tree(tree, store, settings, linker=linker)
        ids = dict(store.con.execute("SELECT path, file_id FROM files").fetchall())
        assert summary.relinked == frozenset(ids.values())  # pkg/__init__.py too
        assert inserted == [{ids["pkg/impl.py"]}]
    (tree / "pkg/impl.py").write_text(impl)
    seen = _edits_equal_cold(
        tree,
        tmp_path,
        [
            ("pkg/impl.py", nested),
            ("pkg/__init__.py", ""),  # the re-export goes: use1 and use2 link nowhere
            ("pkg/__init__.py", _DEPENDENTS["pkg/__init__.py"]),
            # one becomes a class: what cb() calls (cb = one, a flow input) is another kind
            ("pkg/impl.py", impl.replace("def one():", "class one:")),
            ("pkg/impl.py", impl.replace("helper", "helper2")),
        ],
    )
    assert _targets(seen[1], "use1.py", "helper") != _targets(seen[0], "use1.py", "helper")
    assert _targets(seen[2], "use3.py", "cb") == {"pkg.impl.one"}
    calls = [[r for r in rows["links"] if r[0] == "use3.py" and r[3] == "cb"] for rows in seen]
    assert calls[3] != calls[2]


def test_a_rolled_back_relink_of_dependents_then_equals_a_cold_index(
    write_tree: WriteTree, tmp_path: Path, monkeypatch: Any
) -> None:
    """After a re-link that rolled back the linker knows nothing of the rows stored: the next
    re-link of the same dependents replaces their rows (the stored ones are those from before
    the edit), whatever it finds."""
    tree = write_tree(_DEPENDENTS)
    settings, linker = load_settings(tree, jobs=1), Linker()
    insert = Store._insert_table

    def crash(self: Store, table: str, data: Any) -> None:
        if table == "links":  # the linker's write (after the apply committed the edit)
            raise RuntimeError("crash")
        insert(self, table, data)

    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, settings, linker=linker)
        (tree / "pkg/impl.py").write_text(
            _DEPENDENTS["pkg/impl.py"].replace("def one", "class one")
        )
        monkeypatch.setattr(Store, "_insert_table", crash)
        with pytest.raises(RuntimeError, match="crash"):
            index_tree(tree, store, settings, linker=linker)
        monkeypatch.setattr(Store, "_insert_table", insert)
        index_tree(tree, store, settings, linker=linker)  # the pending re-link, redone
        warm = _rows(store)
    with Store.open(tmp_path / "cold.duckdb") as cold:
        index_tree(tree, cold, settings)
        assert warm == _rows(cold)
    assert [r[5] for r in warm["links"] if r[0] == "use3.py" and r[3] == "cb"] == ["resolved"]


def test_star_tables_kept_across_runs_follow_star_modules_that_come_go_and_change(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """The star-import tables a resident index keeps between runs: a star-imported module
    that is not in the tree appears, gains a name, gets an ``__all__`` and goes again; the
    importing package's other star module gains a name; each time the links and their
    dependency rows equal a cold index's."""
    tree = write_tree(
        {
            "pkg/__init__.py": "from pkg.sub import *\n",
            "pkg/sub/__init__.py": "from pkg.sub.a import *\nfrom pkg.sub.late import *\n",
            "pkg/sub/a.py": "def f():\n    pass\n",
            "app.py": "import pkg\n\npkg.f()\npkg.g()\npkg.late_fn()\n\n\ndef use():\n"
            "    call = pkg.g\n    call()\n",
        }
    )
    seen = _edits_equal_cold(
        tree,
        tmp_path,
        [
            ("pkg/sub/late.py", "def g():\n    pass\n"),
            ("pkg/sub/late.py", "def g():\n    pass\n\ndef late_fn():\n    pass\n"),
            (
                "pkg/sub/late.py",
                "__all__ = ['late_fn']\n\ndef g():\n    pass\n\ndef late_fn():\n    pass\n",
            ),
            ("pkg/sub/a.py", "def f():\n    pass\n\ndef g():\n    pass\n"),
            ("pkg/sub/late.py", None),
        ],
    )
    assert _targets(seen[0], "app.py", "call") == {"pkg.sub.late.g"}
    assert _targets(seen[1], "app.py", "pkg.late_fn") == {"pkg.sub.late.late_fn"}
    assert _targets(seen[2], "app.py", "pkg.g") == {None}  # late's __all__ leaves g out
    assert _targets(seen[3], "app.py", "call") == {"pkg.sub.a.g"}
    assert _targets(seen[4], "app.py", "pkg.late_fn") == {None}
