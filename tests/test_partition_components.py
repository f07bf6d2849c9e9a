"""Edits of package ``__init__.py`` files run only the partitions that can change.

uninitialized_components follows an edit with the partitions of components only.

A class anchors the partitions of its name and bases only while it is a component candidate
(a method named like a service's entry, or a consumed channel, in its own file): an edit of
a package ``__init__.py`` that re-exports a class that is no component touches that class's
partition, which has no rows and no anchor, so it is not run; a re-export of a component
runs its partition. A function appended that the query's rows cannot depend on is spared by
its file guard. missing_wiring_calls keys a module said to miss a name by what builds its
namespace, not by its file's bytes. After every edit the findings equal a whole run on the
same database (Follow checks it).
"""

from __future__ import annotations

from pathlib import Path

from test_partition import BODIES
from test_partition_wiring import Follow

NAME = "uninitialized_components"
WORKER = "class Worker:\n    def run(self):\n        return 1\n"
PLAIN = "class Plain:\n    def describe(self):\n        return 2\n"
LISTENER = (
    "class Listener:\n    def handle(self):\n        import redis\n\n"
    "        p = redis.Redis().pubsub()\n        p.subscribe('jobs.in')\n        return p\n"
)


def test_init_edits_run_only_the_partitions_of_components(tmp_path: Path) -> None:
    follow = Follow(tmp_path, NAME, {"pkg/a.py": [WORKER], "pkg/b.py": [PLAIN]})
    follow.tree.defs["pkg/__init__.py"] = []
    guards = follow.refresher.partitions.guards
    try:
        assert follow.ids() == ["uninitialized_component_pkg.a.Worker"]
        # the package re-exports a class that is no component: no partition runs
        reused, run = follow.edit("pkg/__init__.py", "from pkg.b import Plain\n")
        assert run is not None and not run.whole and run.keys == 0 and reused
        # a function appended to it: the file guard spares the check
        reused, run = follow.edit("pkg/__init__.py", "def helper():\n    return 3\n")
        assert run is not None and not run.whole and reused and NAME in guards.spared
        # it re-exports the component: that partition runs, and the import hands it on
        reused, run = follow.edit("pkg/__init__.py", "from pkg.a import Worker\n")
        assert run is not None and not run.whole and run.keys == 1 and not reused
        assert NAME not in guards.spared
        assert follow.ids() == []
    finally:
        follow.store.close()


def test_a_class_anchors_its_partitions_while_it_is_a_component(tmp_path: Path) -> None:
    follow = Follow(tmp_path, NAME, {"pkg/a.py": [PLAIN]})
    try:
        assert follow.ids() == []
        # a class without an entry method or a consumed channel: its partition is not run
        reused, run = follow.edit(
            "pkg/b.py", "class Idle:\n    def describe(self):\n        return 4\n"
        )
        assert run is not None and not run.whole and run.keys == 0 and reused
        # one with an entry method is a component nothing creates
        reused, run = follow.edit(
            "pkg/c.py", "class Late:\n    def serve(self):\n        return 5\n"
        )
        assert run is not None and not run.whole and run.keys >= 1 and not reused
        assert follow.ids() == ["uninitialized_component_pkg.c.Late"]
        # one that consumes a channel is one too (a new channel: the query runs whole)
        follow.edit("pkg/sub/d.py", LISTENER)
        assert follow.ids() == [
            "uninitialized_component_pkg.c.Late",
            "uninitialized_component_pkg.sub.d.Listener",
        ]
        # a subclass of Plain that is a component: Plain's partition had no rows, and now
        # a component anchors it through its base
        sub = "class Runner(Plain):\n    def start(self):\n        return 6\n"
        reused, run = follow.edit("pkg/b.py", "from pkg.a import Plain\n\n\n" + sub)
        assert run is not None and not run.whole and run.keys >= 1
        assert "uninitialized_component_pkg.b.Runner" in follow.ids()
    finally:
        follow.store.close()


def test_an_edit_of_a_module_said_to_miss_a_name_keeps_its_partition(tmp_path: Path) -> None:
    """missing_wiring_calls: a module said to miss a name lists, for its partition, what
    its namespace is built from (its status, a dynamic __all__, star imports, globals() and
    the like), not its file's whole content: an import and a function appended to it do not
    recompute the partition, a globals() call does."""
    follow = Follow(tmp_path, "missing_wiring_calls", {"pkg/b.py": [BODIES[7].format(name="b")]})
    try:
        assert follow.ids() == ["missing_wiring_not_there_at_all_pkg.a"]
        reused, run = follow.edit("pkg/a.py", "import os\n\n\ndef uses_os():\n    return os.sep\n")
        assert run is not None and not run.whole and run.keys == 0 and reused
        reused, run = follow.edit("pkg/a.py", BODIES[18].format(name="names"))
        assert run is not None and not run.whole and run.keys == 1 and not reused
        assert follow.ids() == []
    finally:
        follow.store.close()
