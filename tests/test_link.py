"""The linker: imports, calls and references resolved across files, honestly, incrementally."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
from conftest import WriteTree

from graphsvc import navigate
from graphsvc.config import load_settings
from graphsvc.errors import ConfigError
from graphsvc.link import Linker, probe
from graphsvc.link import chunks as chunks_module
from graphsvc.link.index import NameIndex
from graphsvc.store import Store
from graphsvc.update import index_tree


def index(tree: Path, db: Path, linker: Linker | None = None, **overrides: Any) -> Store:
    store = Store.open(db)
    index_tree(tree, store, load_settings(tree, jobs=1, **overrides), linker=linker)
    return store


def links(store: Store, where: str = "true") -> list[tuple[Any, ...]]:
    return store.query(
        "SELECT f.path, l.line, l.expression, l.target, l.status, l.strategy, l.reason"
        f" FROM links l JOIN files f USING (file_id) WHERE {where} ORDER BY ALL"
    ).rows


def link_of(store: Store, path: str, expression: str) -> tuple[Any, ...]:
    found = [r for r in links(store) if r[0] == path and r[2] == expression]
    assert len(found) == 1, found
    return found[0][3:]


def test_callgraph_across_files_with_mro_super_and_constructors(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {
            "app/__init__.py": "from .base import Base as Base\n",
            "app/base.py": (
                "import os\n\nclass Base:\n    def __init__(self):\n        self.ready = True\n"
                "    def run(self):\n        self.step()\n        self.missing()\n"
                "    def step(self):\n        return len(os.listdir())\n"
            ),
            "app/worker.py": (
                "from app import Base\n\nclass Worker(Base):\n    def step(self):\n"
                "        return super().step()\n\ndef main():\n    Worker().run()\n\nmain()\n"
            ),
        }
    )
    with index(tree, tmp_path / "g.duckdb") as store:
        graph = navigate.callgraph(store)
        missing = link_of(store, "app/base.py", "self.missing")
        store_rows = [r[3:6] for r in links(store, "expression = 'self.step'")]
    assert graph["app.worker"] == ["app.worker.main"]
    # Worker() runs the inherited __init__; run is inherited too (C3 MRO across files).
    assert graph["app.worker.main"] == ["app.base.Base.__init__", "app.base.Base.run"]
    assert graph["app.worker.Worker.step"] == ["<builtin>.super", "app.base.Base.step"]
    # self.step() in Base may run Base.step or Worker's override: listed, not picked.
    assert graph["app.base.Base.run"] == []
    assert store_rows == [
        ("app.base.Base.step", "ambiguous", "self"),
        ("app.worker.Worker.step", "ambiguous", "self+subclass"),
    ]
    assert graph["app.base.Base.step"] == ["<builtin>.len", "os.listdir"]
    assert missing[:2] == (None, "unresolved")
    assert "class app.base.Base has no attribute missing" in missing[3]


def test_a_new_subclass_relinks_self_calls_of_its_base(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {
            "base.py": "class Base:\n    def run(self):\n        self.step()\n"
            "    def step(self):\n        pass\n",
            "user.py": "from base import Base\nBase().run()\n",
        }
    )
    linker = Linker()
    db = tmp_path / "g.duckdb"
    with index(tree, db, linker) as store:
        assert link_of(store, "base.py", "self.step")[:2] == ("base.Base.step", "resolved")
    sub = "from base import Base\n\nclass Sub(Base):\n    def step(self):\n        pass\n"
    (tree / "sub.py").write_text(sub)
    with index(tree, db, linker) as store:
        rows = [r[3:5] for r in links(store, "expression = 'self.step'")]
    assert rows == [("base.Base.step", "ambiguous"), ("sub.Sub.step", "ambiguous")]
    (tree / "sub.py").unlink()
    with index(tree, db, linker) as store:
        assert link_of(store, "base.py", "self.step")[:2] == ("base.Base.step", "resolved")


def test_import_statuses(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "pkg/__init__.py": "from .impl import *\n__all__ = ['api']\n",
            "pkg/impl.py": "def api():\n    pass\n\ndef _hidden():\n    pass\n",
            "main.py": (
                "import os.path\nimport duckdb\nimport no_such_dist_xyz\nimport pkg.gone\n"
                "from pkg import api\nfrom pkg import _hidden\nfrom pkg.impl import nope\n"
                "from __future__ import annotations\nfrom ... import beyond\n"
            ),
        }
    )
    with index(tree, tmp_path / "g.duckdb") as store:
        rows = {r[2]: r[3:] for r in links(store, "site = 'import' AND f.path = 'main.py'")}
        dist = store.query(
            "SELECT distribution, origin FROM links WHERE expression = 'duckdb'"
        ).rows
    assert rows["os.path"][:2] == ("os.path", "stdlib")
    assert rows["duckdb"][:2] == ("duckdb", "external")
    assert dist == [("duckdb", "external")]
    assert rows["no_such_dist_xyz"][:2] == (None, "unresolved")
    assert "neither a module of the tree nor importable" in rows["no_such_dist_xyz"][3]
    assert rows["pkg.gone"][1:] == (
        "unresolved",
        "import",
        "no module pkg.gone in the tree (package pkg is)",
    )
    assert rows["pkg:api"][:3] == ("pkg.impl.api", "internal", "import+star")
    # The star import in pkg/__init__.py does not bind impl's private names.
    assert rows["pkg:_hidden"][1] == "unresolved"
    assert rows["pkg.impl:nope"][1:3] == ("unresolved", "import")
    assert rows["__future__:annotations"][1] == "stdlib"
    assert rows["...:beyond"][1] == "unresolved"


def test_cycles_shadowing_and_duplicate_modules(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "pyproject.toml": "[tool.graphsvc]\npackage_roots = ['', 'a', 'b']\n",
            "cyc1.py": "from cyc2 import x\nfrom cyc2 import *\n",
            "cyc2.py": "from cyc1 import x\nfrom cyc1 import *\n",
            "json.py": "def dumps(x):\n    return x\n",
            "user.py": (
                "import json\nimport cyc1\nfrom cyc1 import x\nfrom dup import f\n"
                "json.dumps(1)\nx()\nf()\n"
            ),
            "a/dup.py": "def f():\n    pass\n",
            "b/dup.py": "def f():\n    pass\n",
            "dyn.py": "__all__ = ['a'] + [n for n in dir()]\n",
            "usesdyn.py": "from dyn import *\nnever_defined()\n",
        }
    )
    with index(tree, tmp_path / "g.duckdb") as store:
        json_import = link_of(store, "user.py", "json")
        cyc = link_of(store, "user.py", "cyc1:x")
        call_x = link_of(store, "user.py", "x")
        dup = store.query(
            "SELECT target, status, reason FROM links WHERE expression = 'dup:f' ORDER BY ALL"
        ).rows
        dumps = link_of(store, "user.py", "json.dumps")
        dyn = link_of(store, "usesdyn.py", "never_defined")
    assert json_import[:2] == ("json", "internal")
    assert json_import[3] == "shadows the standard library module json"
    assert dumps[:2] == ("json.dumps", "resolved")  # the tree's json.py, not the stdlib's
    assert cyc[:2] == (None, "unresolved") and call_x[:2] == (None, "unresolved")
    assert [(t, s) for t, s, _ in dup] == [("dup.f", "ambiguous")]
    assert "2 files define module dup: a/dup.py, b/dup.py" in dup[0][2]
    assert dyn[1] == "unresolved" and "star imports" in dyn[3]


def test_decorated_calls_go_where_the_decorator_sends_them(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {
            "m.py": (
                "import functools\nimport unittest\n\ndef keep(f):\n    return f\n\n"
                "def wrap(f):\n    def inner():\n        return f()\n    return inner\n\n"
                "@keep\ndef kept():\n    pass\n\n@wrap\ndef wrapped():\n    pass\n\n"
                "@unittest.skip('later')\ndef unknown():\n    pass\n\n"
                "@functools.lru_cache\ndef cached():\n    pass\n\n"
                "class C:\n    @staticmethod\n    def s():\n        pass\n\n"
                "kept()\nwrapped()\nunknown()\ncached()\nC.s()\n"
            )
        }
    )
    with index(tree, tmp_path / "g.duckdb") as store:
        kept = link_of(store, "m.py", "kept")
        wrapped = link_of(store, "m.py", "wrapped")
        unknown = link_of(store, "m.py", "unknown")
        graph = navigate.callgraph(store)
    # keep() returns its argument, wrap() returns inner: value flow follows each application.
    assert kept[:3] == ("m.kept", "resolved", "flow")
    assert wrapped[:3] == ("m.wrap.inner", "resolved", "flow")
    assert graph["m.wrap.inner"] == ["m.wrapped"]
    # What an outside decorator returns is unknown: the call is listed, not picked.
    assert unknown[:2] == ("m.unknown", "ambiguous")
    assert "decorated by @unittest.skip('later')" in unknown[3]
    # Applying a decorator calls it; transparent decorators keep the function.
    assert set(graph["m"]) >= {"m.keep", "m.wrap", "m.cached", "m.C.s", "functools.lru_cache"}
    assert graph["m.C"] == ["<builtin>.staticmethod"]


def test_a_change_relinks_the_files_that_depend_on_it(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {
            "lib/__init__.py": "from .impl import helper\n",
            "lib/impl.py": "def helper():\n    pass\n",
            "app.py": "from lib import helper\nhelper()\n",
            "other.py": "def unrelated():\n    pass\n",
        }
    )
    linker = Linker()
    db = tmp_path / "g.duckdb"
    with index(tree, db, linker) as store:
        assert link_of(store, "app.py", "helper")[:2] == ("lib.impl.helper", "resolved")
    (tree / "lib" / "impl.py").write_text("def renamed():\n    pass\n")
    with index(tree, db, linker) as store:
        assert link_of(store, "app.py", "helper")[:2] == (None, "unresolved")
        relinked = store.query("SELECT count(*) FROM link_pending").rows
    assert relinked == [(0,)]
    shutil.rmtree(tree / "lib")  # the whole package vanishes
    with index(tree, db) as store:  # a fresh linker: loads its index from the store
        call = link_of(store, "app.py", "helper")
        imp = link_of(store, "app.py", "lib:helper")
    assert call[:2] == (None, "unresolved")
    assert imp[1] == "unresolved" and "lib is neither a module of the tree" in imp[3]


class _RecordingLinker(Linker):
    def __init__(self) -> None:
        super().__init__()
        self.affected: list[frozenset[int]] = []

    def run(self, store: Store) -> Any:
        summary = super().run(store)
        self.affected.append(summary.affected)
        return summary


class _Crash(Exception):
    pass


class _CrashingLinker(Linker):
    def run(self, store: Store) -> Any:
        raise _Crash("the process died between the facts and the links")


def test_pending_work_survives_until_the_linker_runs(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree({"a.py": "def f():\n    pass\n", "b.py": "from a import f\nf()\n"})
    db = tmp_path / "g.duckdb"
    with index(tree, db) as store:
        assert link_of(store, "b.py", "f")[1] == "resolved"
    (tree / "a.py").write_text("def g():\n    pass\n")
    with pytest.raises(_Crash), index(tree, db, _CrashingLinker()):
        pass
    with Store.open(db) as store:  # facts are committed, the links are stale but pending
        assert store.query("SELECT count(*) FROM symbols WHERE qualname = 'a.g'").rows == [(1,)]
        assert link_of(store, "b.py", "f")[1] == "resolved"
        assert store.query("SELECT count(*) > 0 FROM link_pending").rows == [(True,)]
        summary = Linker().run(store)
        assert summary.files == 2  # a.py itself and b.py, which read a.f
        assert link_of(store, "b.py", "f")[:2] == (None, "unresolved")
        assert store.query("SELECT count(*) FROM link_pending").rows == [(0,)]
        assert Linker().run(store).files == 0  # nothing pending: nothing to do


def test_an_edit_relinks_only_files_that_read_the_changed_names(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {
            "lib.py": "def used():\n    pass\n\ndef other():\n    pass\n",
            "uses_used.py": "from lib import used\nused()\n",
            "uses_other.py": "import lib\nlib.other()\n",
            "star.py": "from lib import *\nnew_name()\n",
        }
    )
    linker = _RecordingLinker()
    db = tmp_path / "g.duckdb"
    index(tree, db, linker).close()
    with (tree / "lib.py").open("a") as out:  # a new function, and the old ones move down
        out.write("\n\ndef new_name():\n    pass\n")
    (tree / "lib.py").write_text("\n\n" + (tree / "lib.py").read_text())
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree, jobs=1), linker=linker)
        new_call = link_of(store, "star.py", "new_name")
        assert link_of(store, "uses_used.py", "used")[:2] == ("lib.used", "resolved")
        relinked = store.query(
            "SELECT path FROM files WHERE list_contains($1, file_id) ORDER BY 1",
            [sorted(linker.affected[-1])],
        ).rows
    # lib.py itself, and star.py, which had looked up lib.new_name (missing then); not the
    # files that read lib.used or lib.other, whose definitions only moved down.
    assert relinked == [("lib.py",), ("star.py",)]
    assert new_call[:3] == ("lib.new_name", "resolved", "lexical+star")


def _bare_python(where: Path) -> Path:
    """A real interpreter whose environment has nothing installed (a venv without pip)."""
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(where)
    return where / "bin" / "python"


def test_target_interpreter_decides_what_is_external(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree({"m.py": "import duckdb\nimport json\n"})
    db = tmp_path / "g.duckdb"
    bare = _bare_python(tmp_path / "bare")
    with index(tree, db) as store:
        assert link_of(store, "m.py", "duckdb")[1] == "external"
    with index(tree, db, python=bare) as store:  # another environment: everything re-linked
        duck = link_of(store, "m.py", "duckdb")
        assert link_of(store, "m.py", "json")[1] == "stdlib"
    assert duck[1] == "unresolved" and str(bare) in duck[3]


def test_a_resident_linker_sees_its_interpreter_gain_a_package(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """The linker keeps the environment's fingerprint between runs: a package installed into
    the target interpreter while it runs still re-links everything, and then nothing more."""
    tree = write_tree({"m.py": "import extra_pkg\nimport json\n"})
    db = tmp_path / "g.duckdb"
    bare = _bare_python(tmp_path / "bare")
    linker = Linker(python=bare)
    with index(tree, db, linker) as store:
        assert link_of(store, "m.py", "extra_pkg")[1] == "unresolved"
    site = subprocess.run(
        [str(bare), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "extra_pkg").mkdir()
    (Path(site) / "extra_pkg" / "__init__.py").write_text("")
    with index(tree, db, linker) as store:
        assert link_of(store, "m.py", "extra_pkg")[1] == "external"
        assert link_of(store, "m.py", "json")[1] == "stdlib"
        again = linker.run(store)
    assert not again.relink_all and again.files == 0


def test_a_bad_target_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot run it"):
        probe(tmp_path / "no-python")
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho not python >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(ConfigError, match="not a usable Python"):
        probe(fake)
    result = subprocess.run(
        [sys.executable, "-m", "graphsvc", "index", str(tmp_path), "--python", str(fake)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "not a usable Python" in result.stderr


def test_import_and_call_cycles(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "a.py": "import b\n\ndef f(n):\n    return g(n - 1) if n else 0\n\n"
            "def g(n):\n    return f(n)\n\ndef rec():\n    rec()\n",
            "b.py": "from c import x\n",
            "c.py": "import a\nx = 1\n",
            "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import e\n",
            "e.py": "import d\n",
            "alone.py": "import a\n",
        }
    )
    with index(tree, tmp_path / "g.duckdb") as store:
        imports = navigate.import_cycles(store)
        with_tc = navigate.import_cycles(store, include_type_checking=True)
        calls = navigate.call_cycles(store)
    assert imports == [["a", "b", "c"]]
    assert with_tc == [["a", "b", "c"], ["d", "e"]]
    assert calls == [["a.f", "a.g"], ["a.rec"]]


def test_a_refreshed_index_equals_a_fresh_one(write_tree: WriteTree, tmp_path: Path) -> None:
    # Refreshing changed files updates the by-name maps in place; they must end as a full
    # load builds them (path order; subclasses by the base name they are written with).
    tree = write_tree(
        {
            "a.py": "class A:\n    pass\n\nclass B(A):\n    pass\n",
            "b.py": "from a import A\n\nclass C(A):\n    pass\n",
            "c.py": "from a import A\n\nclass D(A, B):\n    pass\n",
            "pkg/__init__.py": "",
        }
    )
    linker = Linker()
    with index(tree, tmp_path / "g.duckdb", linker=linker) as store:
        (tree / "b.py").write_text("import a\n\nclass E(a.B):\n    pass\n")
        (tree / "c.py").unlink()
        (tree / "pkg" / "b.py").write_text("from a import A\n\nclass F(A):\n    pass\n")
        (tree / "aa.py").write_text("from a import A\n\nclass G(A):\n    pass\n")
        index_tree(tree, store, load_settings(tree, jobs=1), linker=linker)
        assert linker.index is not None
        fresh = NameIndex.load(store.con)

        def shape(index: NameIndex) -> tuple[object, object]:
            modules = {m: [d.path for d in ds] for m, ds in index.by_module.items()}
            subclasses = {k: [(d.path, c) for d, c in v] for k, v in index.subclass_index.items()}
            return modules, subclasses

        assert shape(linker.index) == shape(fresh)
        assert [(d.path, c) for d, c in linker.index.subclass_index["A"]] == [
            ("a.py", "a.B"),
            ("aa.py", "aa.G"),
            ("pkg/b.py", "pkg.b.F"),
        ]


def test_a_refresh_from_site_rows_equals_a_load_from_sql(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    # A refresh of a few files derives module-level bindings and attributes set by name from
    # the sites it read for the re-link (SiteRows); a full load asks SQL for the same facts.
    # Every field of every module must come out the same either way.
    dynamic = (
        "import json\n\nclass K:\n    from os import path as p\n    import a.b\n"
        "    def __init__(self, n):\n        setattr(self, n, 1)\n        setattr(self, 'lit', 2)\n"
        "        self.__dict__.update({})\n        if hasattr(self, 'h'):\n            pass\n"
        "    @classmethod\n    def make(cls):\n        getattr(cls, 'g')\n        vars(cls)\n"
        "        object.__setattr__(cls, 'o', 1)\n\nfrom a import X\n__all__ = ['K']\n"
    )
    tree = write_tree({"a.py": "X = 1\n", "m.py": "", "n.py": "import m\n"})
    linker = Linker()
    with index(tree, tmp_path / "g.duckdb", linker=linker) as store:
        (tree / "m.py").write_text(dynamic)
        (tree / "n.py").write_text(dynamic.replace("class K", "class L"))
        index_tree(tree, store, load_settings(tree, jobs=1), linker=linker)
        assert linker.index is not None
        fresh = NameIndex.load(store.con)
        assert linker.index.by_file == fresh.by_file
        assert fresh.by_module["m"][0].dynamic["m.K"] == {"p", "a", "lit", "h", "g", "*"}
        assert fresh.by_module["m"][0].bindings.keys() == {"json", "X"}


def test_an_interrupted_relink_of_everything_is_redone(
    write_tree: WriteTree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A re-link of everything commits a chunk of files at a time; link_state is written last,
    # so a crash in between leaves a state that asks the next run to re-link everything.
    tree = write_tree(
        {
            "a.py": "def f():\n    pass\n",
            "b.py": "from a import f\n\nf()\n",
            "c.py": "from b import f\n\nf()\n",
        }
    )
    monkeypatch.setattr(chunks_module, "_CHUNK_FILES", 1)
    written: list[str] = []
    insert = Store._insert_table

    def crash_on_second_part(self: Store, table: str, data: Any) -> None:
        if table == "links":
            written.append(table)
            if len(written) == 2:
                raise RuntimeError("crash")
        insert(self, table, data)

    settings = load_settings(tree, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        monkeypatch.setattr(Store, "_insert_table", crash_on_second_part)
        with pytest.raises(RuntimeError, match="crash"):
            index_tree(tree, store, settings)
        monkeypatch.setattr(Store, "_insert_table", insert)
        assert store.query("SELECT count(*) FROM link_state").rows == [(0,)]
        partial = links(store)  # the parts before the crash stay committed
        index_tree(tree, store, settings)  # nothing to parse, everything to re-link
        redone = links(store)
    with index(tree, tmp_path / "fresh.duckdb") as fresh:
        expected = links(fresh)
    assert 0 < len(partial) < len(expected)
    assert redone == expected


def _link_names(store: Store) -> list[tuple[Any, ...]]:
    return store.query("SELECT module, name, signature FROM link_names ORDER BY ALL").rows


def test_link_names_after_edits_equal_a_cold_index(write_tree: WriteTree, tmp_path: Path) -> None:
    """A re-link writes only the link_names rows whose signature changed; after edits that
    add, change and remove names, classes and modules, the table equals a cold index's."""
    tree = write_tree(
        {
            "pkg/__init__.py": "from .core import run\n",
            "pkg/core.py": "class Base:\n    pass\n\ndef run():\n    pass\n\n"
            "def gone():\n    pass\n",
            "pkg/extra.py": "def helper():\n    pass\n",
            "app.py": "from pkg import run\nfrom pkg.core import gone\nrun()\ngone()\n",
        }
    )
    edits = [
        (
            "pkg/core.py",
            "class Base:\n    pass\n\ndef run():\n    return 1\n\ndef gone():\n    pass\n",
        ),
        ("pkg/core.py", "class Base:\n    pass\n\n@staticmethod\ndef run():\n    pass\n"),
        (
            "pkg/core.py",
            "class Base(dict):\n    x = 1\n\ndef run():\n    pass\n\ndef new():\n    pass\n",
        ),
        ("pkg/extra.py", None),
        ("pkg/more.py", "from pkg.core import Base\n\nclass Sub(Base):\n    pass\n"),
    ]
    linker = Linker()
    db = tmp_path / "warm.duckdb"
    index(tree, db, linker).close()
    assert linker._seen is not None  # the key filter comes from the cold link, not a read later
    for n, (path, text) in enumerate(edits):
        if text is None:
            (tree / path).unlink()
        else:
            (tree / path).write_text(text)
        with Store.open(db) as store:
            index_tree(tree, store, load_settings(tree, jobs=1), linker=linker)
            warm = _link_names(store)
        with index(tree, tmp_path / f"cold{n}.duckdb") as cold:
            assert warm == _link_names(cold), (path, text)


def test_a_warmed_linker_keeps_its_key_filter_for_the_first_relink(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """``warm`` (a service's start) loads the index and the key filter; the first re-link
    after it uses them instead of reading link_deps again."""
    tree = write_tree({"lib.py": "def f():\n    pass\n", "app.py": "from lib import f\nf()\n"})
    db = tmp_path / "g.duckdb"
    index(tree, db).close()
    linker = Linker()
    with Store.open(db) as store:
        linker.warm(store)
        seen = linker._seen
        assert seen is not None
        (tree / "lib.py").write_text("def f():\n    pass\n\ndef g():\n    pass\n")
        index_tree(tree, store, load_settings(tree, jobs=1), linker=linker)
        assert linker._seen is seen
        assert link_of(store, "app.py", "f")[:2] == ("lib.f", "resolved")


def _linker_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "link_deps": store.query(
            "SELECT f.path, d.module, d.name FROM link_deps d JOIN files f USING (file_id)"
            " ORDER BY ALL"
        ).rows,
        "channel_inputs": store.query(
            "SELECT f.path, c.digest, c.facts FROM channel_inputs c JOIN files f USING (file_id)"
            " ORDER BY ALL"
        ).rows,
    }


def test_a_relink_replaces_only_the_link_deps_and_channel_inputs_that_changed(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """The apply leaves a replaced file's link_deps and channel_inputs rows to the linker,
    which rewrites them only when they changed (a new function that names nothing new
    changes neither); after every edit both tables equal a cold index's."""
    tree = write_tree(
        {
            "lib.py": "import redis\n\nr = redis.Redis()\n\n"
            "def send():\n    r.publish('jobs', b'')\n",
            "app.py": "from lib import send\n\nsend()\n",
        }
    )
    edits = [
        ("app.py", "from lib import send\n\nsend()\n\ndef extra():\n    return 2\n"),
        ("app.py", "from lib import send, r\n\nsend()\nr.publish('more', b'')\n"),
        ("lib.py", "import redis\n\nr = redis.Redis()\n\ndef send():\n    r.publish('x', b'')\n"),
        ("app.py", "import os\n\nos.getcwd()\n"),
    ]
    linker = Linker()
    db = tmp_path / "warm.duckdb"
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree, jobs=1), linker=linker)
        real = store.con
        statements: list[str] = []

        class Recording:
            def execute(self, sql: str, *args: Any) -> Any:
                statements.append(sql)
                return real.execute(sql, *args)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        deleted: list[list[str]] = []
        for n, (path, text) in enumerate(edits):
            (tree / path).write_text(text)
            statements.clear()
            store.con = Recording()  # type: ignore[assignment]
            try:
                index_tree(tree, store, load_settings(tree, jobs=1), linker=linker)
            finally:
                store.con = real
            deleted.append(
                [s.split()[2].strip('"') for s in statements if s.startswith("DELETE FROM")]
            )
            warm = _linker_rows(store)
            with index(tree, tmp_path / f"cold{n}.duckdb") as cold:
                assert warm == _linker_rows(cold), (path, text)
    # a new function that names nothing: neither table is touched
    assert "link_deps" not in deleted[0] and "channel_inputs" not in deleted[0]
    # a new import and a new publish: both change and are replaced
    assert "link_deps" in deleted[1] and "channel_inputs" in deleted[1]
