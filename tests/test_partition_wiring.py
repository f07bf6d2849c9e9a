"""The wiring finding queries follow an edit without running whole.

``missing_wiring_calls`` is partitioned by the last name part of the module said to miss a
name, ``registered_never_invoked`` by the registry's module; ``unassigned_self_attributes``
reads narrow file inputs (its unassigned-self call sites, constructor calls, the names
written from outside a class). Each test makes findings in two partitions, then edits: an
edit that changes one partition recomputes only it, one that changes none reuses the
findings, and after every edit the findings equal a whole run on the same database.
tests/test_partition.py checks the same after random edits.
"""

from __future__ import annotations

from pathlib import Path

from test_partition import BODIES, Tree

from graphsvc.config import load_settings
from graphsvc.findings import Refresher
from graphsvc.findings.model import render
from graphsvc.findings.partition import PartitionRun
from graphsvc.queries import Catalog, load_queries, run_rows
from graphsvc.store import Store
from graphsvc.update import index_tree

CATALOG = load_queries()


class Follow:
    """One query's Refresher over a Tree: each edit is indexed, refreshed and compared."""

    def __init__(self, root: Path, name: str, texts: dict[str, list[str]]) -> None:
        self.tree = Tree(root / "tree")
        for rel, more in texts.items():
            self.tree.defs[rel] += more
            self.tree.flush(rel)
        self.query = CATALOG.get(name)
        self.settings = load_settings(self.tree.root, jobs=1)
        self.refresher = Refresher(Catalog({name: self.query}), self.tree.root)
        self.store = Store.open(root / "graph.duckdb")
        summary = index_tree(self.tree.root, self.store, self.settings)
        self.refresher.run(self.store, summary.batch_id, summary)
        self.check()

    def edit(self, rel: str, text: str) -> tuple[bool, PartitionRun | None]:
        """Append ``text`` to ``rel``; whether the findings were reused, and how the
        partitions were computed (None: not partitioned)."""
        self.tree.defs[rel].append(text)
        self.tree.flush(rel)
        summary = index_tree(self.tree.root, self.store, self.settings)
        result = self.refresher.run(self.store, summary.batch_id, summary)
        self.check()
        run = self.refresher.partitions.last.get(self.query.name)
        return self.query.name in result.reused, run

    def check(self) -> None:
        expected = [render(self.query, row) for row in run_rows(self.store, self.query)]
        got = self.refresher._rendered[self.query.name]
        # a partitioned query's findings come in key order, the SQL's in its own
        assert sorted(got, key=lambda f: f.id) == sorted(expected, key=lambda f: f.id)

    def ids(self) -> list[str]:
        return sorted(f.id for f in self.refresher._rendered[self.query.name])


def test_missing_wiring_calls_recomputes_the_module_an_edit_touches(tmp_path: Path) -> None:
    follow = Follow(
        tmp_path,
        "missing_wiring_calls",
        {
            "pkg/b.py": [BODIES[7].format(name="calls_a")],  # a.not_there_at_all()
            "pkg/sub/d.py": ["def calls_c():\n    from pkg import c\n\n    return c.gone_too()\n"],
        },
    )
    try:
        assert follow.ids() == [
            "missing_wiring_gone_too_pkg.c",
            "missing_wiring_not_there_at_all_pkg.a",
        ]
        # the import query reports the name now: partition "a" only (not "pkg": no call
        # site names a module whose last part is pkg; not "d": pkg.sub.d misses nothing)
        reused, run = follow.edit("pkg/sub/d.py", BODIES[16].format(name="imports_it"))
        assert run is not None and not run.whole and run.keys == 1 and not reused
        assert follow.ids() == ["missing_wiring_gone_too_pkg.c"]
        # a function that calls nothing: no partition changes, the findings hold
        reused, run = follow.edit("pkg/sub/d.py", BODIES[6].format(name="plain"))
        assert run is not None and not run.whole and run.keys == 0 and reused
        # pkg/c.py builds its namespace at run time: partition "c" only (an edit that changes
        # how the namespace of a module said to miss a name is built recomputes its partition)
        reused, run = follow.edit("pkg/c.py", BODIES[18].format(name="names"))
        assert run is not None and not run.whole and run.keys == 1
        assert follow.ids() == []
        # a call site of a module whose last part had none: the global inputs changed
        site = "def new_site():\n    from pkg import b\n\n    return b.nope()\n"
        _, run = follow.edit("pkg/a.py", site)
        assert run is not None and run.whole
        assert follow.ids() == ["missing_wiring_nope_pkg.b"]
    finally:
        follow.store.close()


REGISTRY = (
    "TABLE = {{}}\n\n\ndef put(fn):\n    TABLE[fn.__name__] = fn\n    return fn\n\n\n"
    "@put\ndef {name}():\n    return 5\n"
)


def test_registered_never_invoked_recomputes_the_registry_an_edit_reads(tmp_path: Path) -> None:
    follow = Follow(
        tmp_path,
        "registered_never_invoked",
        {
            "pkg/a.py": [BODIES[8].format(name="handler_a")],  # HANDLERS, @register
            "pkg/c.py": [REGISTRY.format(name="handler_c")],
        },
    )
    try:
        assert follow.ids() == [
            "registered_never_invoked_pkg.a.HANDLERS",
            "registered_never_invoked_pkg.c.TABLE",
        ]
        # a function that calls a function (a new mention and call link): nothing changes
        reused, run = follow.edit("pkg/sub/d.py", "def other():\n    return len([1])\n")
        assert run is not None and not run.whole and run.keys == 0 and reused
        # another module reads pkg.a.HANDLERS: only pkg.a's partition runs
        reused, run = follow.edit("pkg/b.py", BODIES[21].format(name="reads"))
        assert run is not None and not run.whole and run.keys == 1 and not reused
        assert follow.ids() == ["registered_never_invoked_pkg.c.TABLE"]
        # a second handler for pkg.c's put, passed to it
        late = "def late():\n    return 6\n\n\nfrom pkg.c import put\n\nput(late)\n"
        reused, run = follow.edit("pkg/sub/d.py", late)
        assert run is not None and not run.whole and run.keys == 1 and not reused
        (finding,) = follow.refresher._rendered["registered_never_invoked"]
        assert "handlers: pkg.sub.d.late" in finding.evidence, finding.evidence
    finally:
        follow.store.close()


def test_unassigned_self_attributes_reads_only_its_narrow_inputs(tmp_path: Path) -> None:
    follow = Follow(
        tmp_path,
        "unassigned_self_attributes",
        {"pkg/b.py": [BODIES[9].format(name="Client")]},  # self.client.fetch(), Client()
    )
    try:
        assert follow.ids() == ["missing_wiring_self.client_pkg.b.Client"]
        # a call of a function (not a constructor): the inputs hold
        reused, run = follow.edit("pkg/sub/d.py", "def other():\n    return len([1])\n")
        assert reused and run is None
        # obj.client = None somewhere: the query runs, the finding goes
        reused, _ = follow.edit("pkg/c.py", BODIES[24].format(name="sets"))
        assert not reused
        assert follow.ids() == []
    finally:
        follow.store.close()
