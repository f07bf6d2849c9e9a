"""The incremental dead_code (graphsvc/findings/deadcode.py) equals the saved query on the same
database after every batch.

Seeded random edit sequences over a copy of the dead-code fixture tree, indexed with a resident
linker as the service does: functions added, removed and renamed, calls and imports added and
removed, classes with overriding methods, strings naming code, packaging entry points and
configuration values naming code changed, files added and removed, a test file, a module
defined twice and a package binding the name of its submodule (the tree is then not
well-formed, and the engine recomputes the files tied by such a name together), and
what a candidate's evidence reads from other files (decorators no rule knows, computed names,
globals(), attributes read on unknown objects). After
each batch the engine's rows (at the default threshold and at 0, which shows every candidate
with its evidence) must be those of ``run_rows`` of queries/dead_code.sql.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import shutil
from functools import partial
from pathlib import Path

import pytest

from graphsvc.config import load_settings
from graphsvc.findings import Refresher, deadspec, list_findings
from graphsvc.findings.deadcode import DeadCode
from graphsvc.findings.deadspec import follows
from graphsvc.findings.model import render
from graphsvc.link import Linker
from graphsvc.queries import load_queries, run_rows
from graphsvc.store import Store
from graphsvc.update import index_tree

FIXTURE = Path(__file__).parent / "fixtures" / "deadcode" / "tree"
CATALOG = load_queries()
QUERY = CATALOG.get("dead_code")
BASE_NS = 1_700_000_000 * 10**9
MODULES = ("shop/orders.py", "shop/models.py", "shop/events.py", "shop/cli.py")
TARGETS = (
    "shop.orders._audit_helper",
    "shop.orders.Order.archive",
    "shop.orders.Discount",
    "shop.models",
    "shop.unused_module",
    "shop.orders._never_called_either",
)
ACTIONS = (
    "add_function",
    "add_function",
    "remove_function",
    "rename",
    "call",
    "import",
    "class",
    "string",
    "scripts",
    "config",
    "add_file",
    "remove_file",
    "test_file",
    "twice",
    "shadow",
    "nothing",
    "decorator",
    "computed",
    "globals",
    "attribute",
)
PYPROJECT = "[project]\nname = 'shop'\nversion = '0.1'\n\n[tool.graphsvc]\n"
PYPROJECT += "dead_code_mode = 'application'\n\n[project.scripts]\nshop = 'shop.cli:main'\n"


class Edits:
    """A tree that a seeded random generator edits, one batch at a time."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.tick = 0
        self.n = 0
        self.added: dict[str, list[str]] = {}  # module path -> names of added functions
        self.extra: list[str] = []  # added files
        shutil.copytree(FIXTURE, root)
        self.write("pyproject.toml", PYPROJECT)

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.tick += 1
        stamp = BASE_NS + self.tick * 10**9
        os.utime(path, ns=(stamp, stamp))

    def append(self, rel: str, text: str) -> None:
        path = self.root / rel
        self.write(rel, path.read_text(encoding="utf-8") + text)

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink()

    def step(self) -> str:
        """Make one random edit; what it did."""
        self.n += 1
        action = self.rng.choice(ACTIONS)
        target = self.rng.choice(TARGETS)
        getattr(self, f"_{action}")(self.n, self.rng.choice(MODULES), target)
        return action

    def _add_function(self, n: int, module: str, target: str) -> None:
        name = target.rsplit(".", 1)[-1]
        body = self.rng.choice(("return None", f"return {name}()", "return _gen_helper()"))
        fn = f"gen_{n}" if self.rng.random() < 0.5 else f"_gen_{n}"
        self.append(module, f"\n\ndef {fn}():\n    {body}\n")
        self.added.setdefault(module, []).append(fn)

    def _remove_function(self, n: int, module: str, target: str) -> None:
        if not self.added.get(module):
            return
        fn = self.added[module].pop(0)
        text = (self.root / module).read_text(encoding="utf-8")
        start = text.index(f"\n\ndef {fn}():")
        end = text.index("\n", text.index("\n    ", start + 3) + 1) + 1
        self.write(module, text[:start] + text[end:])

    def _rename(self, n: int, module: str, target: str) -> None:
        text = (self.root / "shop/orders.py").read_text(encoding="utf-8")
        old, new = self.rng.choice((("_audit_helper", "_audit_helper2"), ("archive", "archived")))
        if old not in text:
            old, new = new, old
        self.write("shop/orders.py", text.replace(old, new))

    def _call(self, n: int, module: str, target: str) -> None:
        name = target.rsplit(".", 1)[-1]
        self.append(module, f"\n{name}  # mention\n" if self.rng.random() < 0.5 else "\n")

    def _import(self, n: int, module: str, target: str) -> None:
        mod, _, attr = target.rpartition(".")
        line = f"from {mod} import {attr}\n" if mod.startswith("shop.") else f"import {target}\n"
        self.append(module, "\n" + line)

    def _class(self, n: int, module: str, target: str) -> None:
        self.append(
            module,
            f"\n\nfrom shop.orders import Order as _Base{n}\n\n\nclass Sub{n}(_Base{n}):\n"
            f"    def archive(self):\n        return {n}\n\n    def total(self):\n"
            f"        return super().total()\n",
        )

    def _string(self, n: int, module: str, target: str) -> None:
        name = target.rsplit(".", 1)[-1]
        self.append(module, f"\nREGISTRY_{n} = [{target!r}, 'shop.orders:{name}']\n")

    def _scripts(self, n: int, module: str, target: str) -> None:
        mod, _, attr = target.rpartition(".")
        self.write("pyproject.toml", PYPROJECT + self.rng.choice(("", f"tool = '{mod}:{attr}'\n")))

    def _config(self, n: int, module: str, target: str) -> None:
        if self.rng.random() < 0.5 and (self.root / "deploy/schedule.yaml").exists():
            self.remove("deploy/schedule.yaml")
            return
        mod, _, attr = target.rpartition(".")
        self.write("deploy/schedule.yaml", f"jobs:\n  nightly:\n    handler: {mod}:{attr}\n")

    def _add_file(self, n: int, module: str, target: str) -> None:
        rel = f"shop/extra_{n}.py"
        imported = self.rng.choice(("place_order", "Order", "Discount"))
        self.write(
            rel,
            f"from shop.orders import {imported}\n\n\n"
            f"class Thing{n}:\n    def run(self):\n        return helper_{n}()\n\n\n"
            f"def helper_{n}():\n    return 1\n",
        )
        self.extra.append(rel)

    def _remove_file(self, n: int, module: str, target: str) -> None:
        if self.extra:
            self.remove(self.extra.pop(self.rng.randrange(len(self.extra))))

    def _test_file(self, n: int, module: str, target: str) -> None:
        name = target.rsplit(".", 1)[-1] if target.count(".") > 1 else "place_order"
        self.write(
            f"tests/test_gen_{n}.py",
            f"from shop.orders import {name}\n\n\n"
            "def test_it():\n    class Local:\n        def m(self):\n            return 1\n"
            "    assert Local\n",
        )

    def _twice(self, n: int, module: str, target: str) -> None:
        twin = self.root / "shop/models/__init__.py"
        if twin.exists():
            shutil.rmtree(twin.parent)
        else:
            self.write("shop/models/__init__.py", "def duplicate():\n    return 1\n")

    def _shadow(self, n: int, module: str, target: str) -> None:
        # the package binds the name of a submodule (as the stdlib's dbm binds ndbm): one
        # qualname defined in two files, or a class whose members are a module's children
        init = "shop/__init__.py"
        text = (self.root / init).read_text(encoding="utf-8").split("\n# shadow\n")[0]
        shadow = self.rng.choice(
            (
                "",
                "events = None\n",
                "try:\n    from shop import orders\nexcept ImportError:\n    orders = None\n",
                "class events:\n    def publish(self):\n        return 1\n",
            )
        )
        self.write(init, text + (f"\n# shadow\n{shadow}" if shadow else ""))

    def _nothing(self, n: int, module: str, target: str) -> None:
        pass

    # what a candidate's evidence reads from other files (graphsvc/findings/deadnames.py)
    def _decorator(self, n: int, module: str, target: str) -> None:
        # a decorator no rule knows may register what it decorates
        name = target.rsplit(".", 1)[-1]
        self.append(
            module,
            f"\n\ndef _reg_{n}(f):\n    return f\n\n\n@_reg_{n}\ndef {name}_{n}():\n"
            "    return None\n",
        )

    def _computed(self, n: int, module: str, target: str) -> None:
        # a computed name whose head (long, or short: its own file only) a candidate starts with
        name = target.rsplit(".", 1)[-1]
        head = name[: self.rng.choice((2, 4, 6))]
        self.append(
            module, f"\n\ndef _dispatch_{n}(obj, kind):\n    return getattr(obj, {head!r} + kind)\n"
        )

    def _globals(self, n: int, module: str, target: str) -> None:
        self.append(module, f"\n_NAMES_{n} = globals()\n")

    def _attribute(self, n: int, module: str, target: str) -> None:
        # .name read on an object the linker cannot resolve
        name = target.rsplit(".", 1)[-1]
        self.append(module, f"\n\ndef _read_{n}(obj):\n    return obj.{name}\n")


def _expected(store: Store, min_confidence: float) -> list[dict[str, object]]:
    return run_rows(store, QUERY, {"min_confidence": min_confidence})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_equals_the_saved_query_after_every_edit(tmp_path: Path, seed: int) -> None:
    edits = Edits(tmp_path / "tree", seed)
    settings = load_settings(edits.root, jobs=1)
    linker = Linker()
    engine = DeadCode(min_files=0)
    paths: dict[str, int] = {}
    tied = kept_callers = 0
    with Store.open(tmp_path / "graph.duckdb") as store:
        summary = index_tree(edits.root, store, settings, linker=linker)
        engine.note(summary)
        assert engine.rows(store, 0.0) == _expected(store, 0.0)
        assert engine.last.full
        for _ in range(24):
            action = edits.step()
            summary = index_tree(edits.root, store, settings, linker=linker)
            engine.note(summary)
            got = engine.rows(store, 0.0)
            assert got == _expected(store, 0.0), action
            # the engine's check (by hash, from its own state) says what the SQL one says
            problems = store.con.execute(deadspec.CHECK_SQL, {"files": None}).fetchall()[0][0]
            assert engine.well_formed == (problems == 0), action
            path = "full" if engine.last.full else "incremental"
            if not engine.last.full and not engine.well_formed:
                path = "incremental, not well-formed"
            paths[path] = paths.get(path, 0) + 1
            tied += engine.last.tied
            kept_callers += engine.last.facts - engine.last.callers
            assert engine.rows(store, 0.8) == _expected(store, 0.8), action
            assert engine.last.facts == 0 or engine.last.reason == "tree not well-formed"
    assert paths.get("incremental", 0) > 0
    # a tree that is not well-formed is followed too, recomputing the files a name ties
    assert paths.get("incremental, not well-formed", 0) > 0 and tied > 0
    # candidates whose evidence was recomputed kept callers the batch could not change
    assert kept_callers > 0


def test_a_one_function_edit_recomputes_only_what_it_touches(tmp_path: Path) -> None:
    edits = Edits(tmp_path / "tree", 0)
    settings = load_settings(edits.root, jobs=1)
    linker = Linker()
    engine = DeadCode(min_files=0)
    with Store.open(tmp_path / "graph.duckdb") as store:
        engine.note(index_tree(edits.root, store, settings, linker=linker))
        engine.rows(store, 0.8)
        edits.append("shop/events.py", "\n\ndef _fresh_helper():\n    return None\n")
        engine.note(index_tree(edits.root, store, settings, linker=linker))
        rows = engine.rows(store, 0.8)
        assert rows == _expected(store, 0.8)
        assert "shop.events._fresh_helper" in {r["qualname"] for r in rows}
        assert not engine.last.full
        assert engine.last.searched in ("none", "added")
        assert engine.last.facts < engine.last.candidates


def test_a_refresh_without_a_summary_recomputes_only_after_an_unknown_batch(
    tmp_path: Path,
) -> None:
    edits = Edits(tmp_path / "tree", 0)
    settings = load_settings(edits.root, jobs=1)
    linker = Linker()
    engine = DeadCode(min_files=0)
    with Store.open(tmp_path / "graph.duckdb") as store:
        engine.note(index_tree(edits.root, store, settings, linker=linker))
        engine.rows(store, 0.8)
        engine.note(None)  # the service's catch-up of deferred queries: no batch since
        assert engine.rows(store, 0.8) == _expected(store, 0.8)
        assert not engine.last.full
        edits.append("shop/events.py", "\n\ndef _unseen():\n    return None\n")
        index_tree(edits.root, store, settings, linker=linker)  # a batch it is not told of
        engine.note(None)
        assert engine.rows(store, 0.8) == _expected(store, 0.8)
        assert engine.last.full


def test_a_name_defined_in_two_files_ties_only_those_files(tmp_path: Path) -> None:
    """A package that binds the name of its submodule (the stdlib's dbm: ``ndbm = None``)
    defines one qualname in two files, and two files claiming one module do too: the tree is
    not well-formed, and the engine recomputes such files together whenever one of them
    changes (their rows may read each other's); an edit elsewhere stays an edit of its file."""
    edits = Edits(tmp_path / "tree", 0)
    settings = load_settings(edits.root, jobs=1)
    linker = Linker()
    engine = DeadCode(min_files=0)
    with Store.open(tmp_path / "graph.duckdb") as store:

        def batch() -> list[dict[str, object]]:
            engine.note(index_tree(edits.root, store, settings, linker=linker))
            rows = engine.rows(store, 0.0)
            assert rows == _expected(store, 0.0)
            assert not engine.last.full
            return rows

        engine.note(index_tree(edits.root, store, settings, linker=linker))
        engine.rows(store, 0.8)
        assert engine.well_formed
        edits.append(
            "shop/__init__.py",
            "try:\n    from shop import events\nexcept ImportError:\n    events = None\n",
        )
        batch()
        assert not engine.well_formed
        edits.append("shop/events.py", "\n\ndef _fresh_helper():\n    return None\n")
        assert "shop.events._fresh_helper" in {r["qualname"] for r in batch()}
        assert engine.last.tied == 1  # shop/__init__.py, with the file that changed
        edits.append("shop/orders.py", "\n\ndef _lonely():\n    return None\n")
        batch()
        assert engine.last.tied == 0
        edits.write("shop/models/__init__.py", "def duplicate():\n    return 1\n")
        batch()
        edits.append("shop/models.py", "\n\ndef _other_twin():\n    return None\n")
        batch()
        assert engine.last.tied >= 1
        (edits.root / "shop/models/__init__.py").unlink()
        (edits.root / "shop/models").rmdir()
        edits.write("shop/__init__.py", (FIXTURE / "shop/__init__.py").read_text("utf-8"))
        batch()
        assert engine.well_formed


def test_the_refresher_reports_the_saved_querys_findings(tmp_path: Path) -> None:
    edits = Edits(tmp_path / "tree", 5)
    settings = load_settings(edits.root, jobs=1)
    linker = Linker()
    refresher = Refresher(CATALOG, edits.root)
    refresher.dead_code = DeadCode(min_files=0)  # the fixture tree is small
    with Store.open(tmp_path / "graph.duckdb") as store:
        refresher.run(store, summary=index_tree(edits.root, store, settings, linker=linker))
        for _ in range(4):
            edits.step()
            refresher.run(store, summary=index_tree(edits.root, store, settings, linker=linker))
            got = {f.id: f for f in list_findings(store, kind="dead_code", status=None).findings}
            want = {f.id: f for f in map(partial(render, QUERY), _expected(store, 0.8))}
            assert {i for i, f in got.items() if f.status != "fixed"} == set(want)
            assert all(got[i].evidence_hash == f.evidence_hash for i, f in want.items())
        assert not refresher.dead_code.last.full


def test_an_engine_failure_falls_back_to_the_saved_query(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edits = Edits(tmp_path / "tree", 0)
    settings = load_settings(edits.root, jobs=1)
    refresher = Refresher(CATALOG, edits.root)
    refresher.dead_code = DeadCode(min_files=0)
    with Store.open(tmp_path / "graph.duckdb") as store:
        summary = index_tree(edits.root, store, settings, linker=Linker())

        def broken(store: Store, min_confidence: float) -> list[dict[str, object]]:
            raise RuntimeError("engine bug")

        refresher.dead_code.rows = broken  # type: ignore[method-assign]
        result = refresher.run(store, summary=summary)
        assert "dead_code" not in result.failed
        got = {f.id for f in list_findings(store, kind="dead_code", status="open").findings}
        assert got == {f"dead_code_{r['qualname']}" for r in _expected(store, 0.8)}
        assert "incremental dead_code failed" in caplog.text


def test_a_small_tree_runs_the_saved_query(tmp_path: Path) -> None:
    edits = Edits(tmp_path / "tree", 0)
    refresher = Refresher(CATALOG, edits.root)
    with Store.open(tmp_path / "graph.duckdb") as store:
        summary = index_tree(edits.root, store, load_settings(edits.root, jobs=1))
        refresher.run(store, summary=summary)
        assert not refresher.dead_code.engaged(store)  # 12 files < MIN_FILES
        assert not refresher.dead_code.graph.files  # no state kept
        got = {f.id for f in list_findings(store, kind="dead_code", status="open").findings}
        assert got == {f"dead_code_{r['qualname']}" for r in _expected(store, 0.8)}


def test_the_engine_follows_the_shipped_query_only() -> None:
    assert follows(QUERY)
    digest = hashlib.sha256(QUERY.sql.encode()).hexdigest()
    assert digest == deadspec.SPEC_SHA256, (
        "queries/dead_code.sql changed: update graphsvc/findings/deadsql.py to match it, then "
        "deadspec.SPEC_SHA256"
    )
    assert not follows(dataclasses.replace(QUERY, sql=QUERY.sql + "\n"))


def test_a_new_user_passes_its_doubt_on_to_what_it_calls(tmp_path: Path) -> None:
    """Code used only by unreachable code is as uncertain as its least certain user: when a
    batch gives a candidate another user (one whose module reads its names dynamically), its
    confidence drops to that user's, as the saved query says, and goes back when the call
    goes (the engine keeps its users sorted between batches and must see each change)."""
    edits = Edits(tmp_path / "tree", 0)
    edits.append("shop/cli.py", "\n\nfrom shop import helpers, dyn  # noqa\n")
    edits.write(
        "shop/helpers.py",
        "def _inner():\n    return 1\n\n\ndef _a():\n    return _inner()\n\n\n"
        "def _c():\n    return 3\n",
    )
    plain = "def lookup(name):\n    return globals()[name]\n\n\ndef _b():\n    return 2\n"
    both = plain.replace(
        "return 2", "from shop.helpers import _c, _inner\n    return _inner() + _c()"
    )
    inner_only = plain.replace("return 2", "from shop.helpers import _inner\n    return _inner()")
    edits.write("shop/dyn.py", plain)
    settings = load_settings(edits.root, jobs=1)
    linker = Linker()
    engine = DeadCode(min_files=0)
    with Store.open(tmp_path / "graph.duckdb") as store:
        confidences = []
        for text in (plain, both, inner_only, plain):
            edits.write("shop/dyn.py", text)
            engine.note(index_tree(edits.root, store, settings, linker=linker))
            rows = engine.rows(store, 0.0)
            assert rows == _expected(store, 0.0)
            found = {r["qualname"]: (r["confidence"], r["callers"]) for r in rows}
            confidences.append((found["shop.helpers._inner"], found["shop.helpers._c"]))
        assert not engine.last.full
    (inner, c), (inner_called, c_called), (inner_still, c_left), back = confidences
    assert back == (inner, c)
    assert inner_called[0] < inner[0] and inner_called[1] == ["shop.dyn._b", "shop.helpers._a"]
    assert c_called[0] < c[0] and c_called[1] == ["shop.dyn._b"] and not c[1]
    # a candidate whose only user goes (in a batch that changes no other one's users) loses
    # the doubt it passed on
    assert inner_still == inner_called and c_left == c
