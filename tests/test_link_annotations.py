"""Receivers typed by annotations: ``def run(model: Model)``, ``self.bus: Bus = bus``,
``Optional[Model]``, ``"Model"``, ``Model | None``; unions of classes; lookalikes kept out;
a channel object reached through an annotated receiver; incremental equals cold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import WriteTree, assert_same_as_cold, run_index

from graphsvc.config import load_settings
from graphsvc.store import Store
from graphsvc.update import index_tree

MODELS = (
    "from typing import Optional, Union\n"  # 1
    "\n"
    "\n"
    "class Model:\n"  # 4
    "    def save(self):\n"
    "        return 1\n"
    "\n"
    "\n"
    "class Bus:\n"  # 9
    "    def publish(self, topic):\n"
    "        return topic\n"
    "\n"
    "    def save(self):\n"
    "        return 2\n"
)
USES = (
    "from typing import Optional, Union\n"  # 1
    "\n"
    "import app.models as m\n"  # 3
    "from app.models import Bus, Model\n"  # 4
    "\n"
    "\n"
    "def run(model: Model, other: Optional[Model], later: 'Model', bus: Bus | None = None):\n"
    "    model.save()\n"  # 8
    "    other.save()\n"  # 9
    "    later.save()\n"  # 10
    "    bus.publish('x')\n"  # 11
    "\n"
    "\n"
    "def dotted(model: m.Model, text: 'm.Bus | None'):\n"  # 14
    "    model.save()\n"  # 15
    "    text.publish('y')\n"  # 16
    "\n"
    "\n"
    "def either(thing: Union[Model, Bus], pair: Model | Bus):\n"  # 19
    "    thing.save()\n"  # 20
    "    pair.publish('z')\n"  # 21
    "\n"
    "\n"
    "class Holder:\n"  # 24
    "    def __init__(self, bus, fallback):\n"
    "        self.bus: Bus = bus\n"  # 26
    "        self.size: int = fallback\n"  # 27
    "\n"
    "    def go(self):\n"
    "        self.bus.publish('w')\n"  # 30
    "        self.size.save()\n"  # 31
    "\n"
    "\n"
    "def lookalikes(count: int, models: list[Model], kind: type[Model], cb: 'callable'):\n"
    "    count.save()\n"  # 35
    "    models.save()\n"  # 36
    "    kind.save()\n"  # 37
    "    cb.save()\n"  # 38
    "\n"
    "\n"
    "def local():\n"
    "    found: Model = make()\n"  # 42
    "    found.save()\n"  # 43
    "\n"
    "\n"
    "def make():\n"
    "    return None\n"
)


def _links(store: Store, path: str) -> dict[tuple[int, str], set[tuple[Any, ...]]]:
    rows = store.query(
        "SELECT l.line, l.expression, l.target, l.status, l.strategy FROM links l"
        " JOIN files f USING (file_id) WHERE f.path = $path AND l.site = 'call'",
        {"path": path},
    ).rows
    found: dict[tuple[int, str], set[tuple[Any, ...]]] = {}
    for line, expression, target, status, strategy in rows:
        found.setdefault((line, expression), set()).add((target, status, strategy))
    return found


def _index(tree: Path, db: Path) -> Store:
    store = Store.open(db)
    index_tree(tree, store, load_settings(tree, jobs=1))
    return store


def test_annotated_receivers_resolve_with_their_own_strategy(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree({"app/__init__.py": "", "app/models.py": MODELS, "app/uses.py": USES})
    with _index(tree, tmp_path / "g.duckdb") as store:
        found = _links(store, "app/uses.py")
    save = ("app.models.Model.save", "resolved", "annotation")
    publish = ("app.models.Bus.publish", "resolved", "annotation")
    assert found[(8, "model.save")] == {save}
    assert found[(9, "other.save")] == {save}  # Optional[Model]
    assert found[(10, "later.save")] == {save}  # a string annotation
    assert found[(11, "bus.publish")] == {publish}  # Bus | None
    assert found[(15, "model.save")] == {save}  # m.Model through `import app.models as m`
    assert found[(16, "text.publish")] == {publish}  # 'm.Bus | None'
    assert found[(30, "self.bus.publish")] == {publish}  # self.bus: Bus = bus
    assert found[(43, "found.save")] == {save}  # found: Model = make()
    # a union of classes that both define the method: each is a candidate, none is picked
    assert found[(20, "thing.save")] == {
        ("app.models.Model.save", "ambiguous", "annotation"),
        ("app.models.Bus.save", "ambiguous", "annotation"),
    }
    # only Bus has publish: a Model there would fail, so the call runs Bus.publish
    assert found[(21, "pair.publish")] == {publish}
    # int, list[Model], type[Model], a lowercase string: not instances of a class of the tree
    for line, expression in [
        (31, "self.size.save"),
        (35, "count.save"),
        (36, "models.save"),
        (37, "kind.save"),
        (38, "cb.save"),
    ]:
        assert {(t, s) for t, s, _ in found[(line, expression)]} == {(None, "unresolved")}, line


def test_typed_fields_of_a_class_of_the_file(write_tree: WriteTree, tmp_path: Path) -> None:
    """``out.flags.set()`` with ``out: Output`` and ``flags: Flags`` declared in the class body
    (a NamedTuple or dataclass field) or ``self.flags: Flags`` in a method."""
    source = (
        "from dataclasses import dataclass\nfrom typing import NamedTuple\n\n\n"
        "class Flags:\n    def set(self, key):\n        return key\n\n\n"  # 5
        "class Output(NamedTuple):\n    data: dict\n    flags: Flags\n\n\n"  # 10
        "@dataclass\nclass Box:\n    flags: Flags\n    count: int = 0\n\n\n"  # 15
        "class Holder:\n    def __init__(self):\n        self.flags: Flags = make()\n\n\n"  # 21
        "def make():\n    return Flags()\n\n\n"  # 26
        "def parse(out: Output, box: Box, holder: Holder):\n"  # 30
        "    out.flags.set('a')\n"  # 31
        "    box.flags.set('b')\n"  # 32
        "    holder.flags.set('c')\n"  # 33
        "    box.count.bit_length()\n"  # 34
        "    out.data.get('x')\n"  # 35
    )
    tree = write_tree({"app/__init__.py": "", "app/fields.py": source})
    with _index(tree, tmp_path / "g.duckdb") as store:
        found = _links(store, "app/fields.py")
    flag = {("app.fields.Flags.set", "resolved", "annotation")}
    assert found[(31, "out.flags.set")] == flag
    assert found[(32, "box.flags.set")] == flag
    assert found[(33, "holder.flags.set")] == flag
    for line, expression in [(34, "box.count.bit_length"), (35, "out.data.get")]:
        assert {(t, s) for t, s, _ in found[(line, expression)]} == {(None, "unresolved")}


def test_annotation_follows_subclass_overrides_and_edits(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """An annotated receiver may hold a subclass: an override anywhere makes the call
    ambiguous (strategy annotation+subclass); removing the method makes it unresolved;
    after each edit the links equal a cold index's."""
    tree = write_tree({"app/__init__.py": "", "app/models.py": MODELS, "app/uses.py": USES})
    db = tmp_path / "warm.duckdb"
    run_index(tree, db)
    (tree / "app" / "special.py").write_text(
        "from app.models import Model\n\n\nclass Special(Model):\n"
        "    def save(self):\n        return 3\n",
        encoding="utf-8",
    )
    _, warm = run_index(tree, db)
    with Store.open(db) as store:
        found = _links(store, "app/uses.py")
    assert found[(8, "model.save")] == {
        ("app.models.Model.save", "ambiguous", "annotation"),
        ("app.special.Special.save", "ambiguous", "annotation+subclass"),
    }
    assert_same_as_cold(warm, tree, tmp_path / "cold1.duckdb")
    models = tree / "app" / "models.py"
    models.write_text(models.read_text().replace("def publish(", "def emit("), encoding="utf-8")
    _, warm = run_index(tree, db)
    with Store.open(db) as store:
        found = _links(store, "app/uses.py")
    assert {(t, s) for t, s, _ in found[(11, "bus.publish")]} == {(None, "unresolved")}
    assert_same_as_cold(warm, tree, tmp_path / "cold2.duckdb")


def test_signal_reached_through_an_annotated_receiver(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """``def wire(model: Model): model.changed.send()`` produces ``Model.changed``
    (``changed = Signal()`` in the class); ``self.model = model`` with ``model: Model``
    consumes it; a parameter annotated with the signal class itself or with another class
    that has a ``changed`` attribute is no site."""
    files = {
        "ui/__init__.py": "",
        "ui/model.py": (
            "from blinker import Signal\n\n\nclass Model:\n    changed = Signal()\n\n\n"
            "class Mailbox:\n    changed = None\n"
        ),
        "ui/wire.py": (
            "from blinker import Signal\n\nfrom ui.model import Mailbox, Model\n\n\n"
            "def wire(model: Model):\n    model.changed.send()\n\n\n"  # 7
            "def handler(sig: Signal, box: Mailbox):\n"  # 10
            "    sig.send()\n    sig.connect(print)\n    box.changed.send()\n\n\n"  # 11-13
            "class View:\n    def __init__(self, model: 'Model'):\n"  # 16-17
            "        self.model = model\n"
            "        self.model.changed.connect(self.refresh)\n\n"  # 19
            "    def refresh(self, sender):\n        pass\n"
        ),
    }
    tree = write_tree(files)
    db = tmp_path / "warm.duckdb"
    _, warm = run_index(tree, db)
    sites = sorted((r[0], r[1], r[4], r[5], r[7]) for r in warm["channel_sites"])
    assert sites == [
        ("ui/model.py", 5, "declaration", "blinker", "ui.model.Model.changed"),
        ("ui/wire.py", 7, "producer", "blinker", "ui.model.Model.changed"),
        ("ui/wire.py", 19, "consumer", "blinker", "ui.model.Model.changed"),
    ]
    # the class that declares the signal renames it: the annotated sites follow
    model = tree / "ui" / "model.py"
    model.write_text(model.read_text().replace("changed = Signal()", "edited = Signal()"))
    _, warm = run_index(tree, db)
    sites = sorted((r[0], r[1], r[4]) for r in warm["channel_sites"])
    assert sites == [("ui/model.py", 5, "declaration")]
    assert_same_as_cold(warm, tree, tmp_path / "cold.duckdb")
