"""Channels: rules as data, sites per transport, the project's own bus found without
configuration, the saved queries' findings, and incremental updates equal to a cold index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from graphsvc.config import load_settings
from graphsvc.errors import RuleError
from graphsvc.facts import ModuleInfo
from graphsvc.findings import Refresher, list_findings
from graphsvc.indexer import index_bytes
from graphsvc.link.channels import ChannelPass
from graphsvc.queries import load_queries
from graphsvc.rules import load_rules
from graphsvc.store import Store
from graphsvc.topology import channel_topology, derived_rules, dynamic_sites
from graphsvc.update import index_tree
from tests.conftest import WriteTree, assert_same_as_cold, run_index

FIXTURES = Path(__file__).parent / "fixtures" / "channels"
CATALOG = load_queries()
CHANNEL_QUERIES = ("orphaned_queues", "consumers_without_producer", "write_only_collections")
# Other shipped finders (missing packages: the fixtures import brokers' clients) are not ours.
CHANNEL_KINDS = {CATALOG.queries[name].kind for name in CHANNEL_QUERIES}


def _copy(name: str, tmp_path: Path) -> Path:
    tree = tmp_path / name
    shutil.copytree(FIXTURES / name / "tree", tree, ignore=shutil.ignore_patterns(".graphsvc"))
    return tree


def _index(tree: Path, db: Path) -> dict[str, Any]:
    settings = load_settings(tree, jobs=1)
    with Store.open(db) as store:
        summary = index_tree(tree, store, settings)
        Refresher(CATALOG, tree, settings.suppress).run(store, summary.batch_id, summary)
        sites = store.query(
            "SELECT path, line, role, transport, topic, match_kind, catch_all, in_test"
            " FROM channel_site_paths ORDER BY ALL"
        ).rows
        links = store.query(
            "SELECT transport, produced, consumed FROM channel_links ORDER BY ALL"
        ).rows
        wrappers = store.query(
            "SELECT wrapper, param, position, role, depth FROM derived_rules ORDER BY ALL"
        ).rows
        every = list_findings(store, limit=1000).findings
        findings = {f.id: f for f in every if f.kind in CHANNEL_KINDS}
    return {"sites": sites, "links": links, "wrappers": wrappers, "findings": findings}


# ---------------------------------------------------------------------- rules


def test_shipped_rules_load_and_cover_each_transport() -> None:
    rules = load_rules()
    transports = {r.transport for r in rules.rules} | {c.transport for c in rules.collections}
    assert {"redis", "redis-list", "redis-stream", "zmq", "mqtt", "nats", "kafka", "amqp"} <= (
        transports
    )
    assert {"queue", "asyncio.queue", "multiprocessing.queue", "deque", "list"} <= transports
    assert {k.transport for k in rules.objects} == {"blinker", "django-signal", "celery"}
    assert rules.normalise("zmq.asyncio.Context.socket().send_multipart") == (
        "zmq.Socket.send_multipart"
    )
    assert rules.normalise("redis.StrictRedis().pubsub().psubscribe") == (
        "redis.client.PubSub.psubscribe"
    )
    assert rules.normalise("somewhere.unknown().send") == "somewhere.unknown<result>.send"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]]\ncallee = 'a.B.c'\nrole = 'producer'\ntopic = 0\n", "no transport"),
        ("transport = 't'\n[[rule]]\ncallee = 'a.B.c'\nrole = 'sender'\ntopic = 0\n", "role"),
        ("transport = 't'\n[[rule]]\ncallee = 'a.B.c'\nrole = 'producer'\n", "say where"),
        (
            "transport = 't'\n[[rule]]\ncallee = 'a'\nrole = 'consumer'\ntopic = 0\n"
            "match = 'fuzzy'\n",
            "match must be one of",
        ),
        ("transport = 't'\n[[rule]]\ncallee = []\nrole = 'producer'\ntopic = 0\n", "callee"),
        ("transport = 't'\n[[rule]]\ncallee = 'a'\nrole = 'producer'\ntopc = 0\n", "unknown"),
        ("transport = 't'\nrule = [\n", "not valid TOML"),
        ("transport = 't'\n[[object]]\nproducers = ['send']\n", "constructor or a decorator"),
        ("[[object]]\nconstructor = 'a.Sig'\n", "no transport"),
        ("transport = 't'\n[[handle]]\nfactory = 'a.P'\nends = 3\nproducers = 's'\n", "ends"),
        ("[[handle]]\nfactory = 'a.P'\nproducers = 's'\n", "no transport"),
        ("transport = 't'\n[[handle]]\nfactory = 'a.P'\n", "producers, consumers or binds"),
        (
            "transport = 't'\n[[handle]]\nfactory = 'a.P'\nconsumers = 'r'\ntype_arg = 'x'\n",
            "type_arg",
        ),
    ],
)
def test_user_rule_errors_name_file_rule_and_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_user_rule_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="no such rule file"):
        load_rules([tmp_path / "absent.toml"])


def test_user_rule_from_configuration(write_tree: WriteTree, tmp_path: Path) -> None:
    tree = write_tree(
        {
            "pyproject.toml": '[tool.graphsvc]\nchannel_rules = ["bus_rules.toml"]\n',
            "bus_rules.toml": (
                'transport = "inhouse"\n'
                "[[rule]]\ncallee = 'app.hub.Hub.fire'\nrole = 'producer'\ntopic = 0\n"
                "[[rule]]\ncallee = 'app.hub.Hub.on'\nrole = 'consumer'\ntopic = 0\n"
                "match = 'glob'\n"
            ),
            "app/__init__.py": "",
            "app/hub.py": (
                "class Hub:\n    def fire(self, name):\n        pass\n\n"
                "    def on(self, pattern):\n        pass\n"
            ),
            "app/use.py": (
                "from app.hub import Hub\n\nhub = Hub()\nhub.fire('user.created')\n"
                "hub.fire('user.deleted')\nhub.on('user.c*')\n"
            ),
        }
    )
    found = _index(tree, tmp_path / "g.duckdb")
    assert ("app/use.py", 4, "producer", "inhouse", "user.created", "exact", False, False) in (
        found["sites"]
    )
    assert ("inhouse", "user.created", "user.c*") in found["links"]
    assert "orphaned_queue_user.deleted" in found["findings"]
    assert "orphaned_queue_user.created" not in found["findings"]


# ---------------------------------------------------------------------- the home-made bus

BUS_SITES = {
    # (path, line, role, topic, match_kind, catch_all, in_test), transport zmq
    ("shop/monitor.py", 5, "producer", "alert.disk", "exact", False, False),
    ("shop/monitor.py", 6, "producer", "alert.memory", "exact", False, False),
    ("shop/orders.py", 17, "producer", "orders.created", "exact", False, False),  # re-export
    ("shop/orders.py", 23, "producer", "orders.shipped", "exact", False, False),  # local flow
    ("shop/orders.py", 24, "producer", "orders.cancelled", "exact", False, False),  # 2 levels
    ("shop/orders.py", 29, "producer", "payments.done", "exact", False, False),  # enum value
    ("shop/orders.py", 30, "producer", "payments.failed", "exact", False, False),  # module.attr
    ("shop/orders.py", 33, "producer", None, "dynamic", False, False),  # a parameter
    ("shop/workers.py", 12, "consumer", "orders.created", "prefix", False, False),
    ("shop/workers.py", 13, "consumer", "orders.ship", "prefix", False, False),
    ("shop/workers.py", 14, "consumer", "alert.disk", "prefix", False, False),  # subclass
    ("shop/workers.py", 15, "consumer", "payments.", "prefix", False, False),
    ("shop/workers.py", 16, "consumer", "", "prefix", True, False),  # everything
    ("shop/workers.py", 17, "consumer", "refunds.issued", "prefix", False, False),
    ("shop/workers.py", 18, "consumer", "alert.", "prefix", False, False),  # constant
    ("tests/test_bus.py", 5, "producer", "orders.test_only", "exact", False, True),
    ("tests/test_bus.py", 6, "consumer", "refunds.issued", "prefix", False, True),
}


def test_home_made_bus_found_without_configuration(tmp_path: Path) -> None:
    found = _index(_copy("bus", tmp_path), tmp_path / "g.duckdb")
    zmq = {(p, ln, r, t, m, c, i) for p, ln, r, tr, t, m, c, i in found["sites"] if tr == "zmq"}
    assert zmq == BUS_SITES
    # the lookalike AuditLog.emit reaches no transport: its call is no site
    assert not [s for s in found["sites"] if s[0] == "shop/orders.py" and s[1] == 18]
    assert found["wrappers"] == [
        ("shop.bus.core.Bus._send", "frame", 0, "producer", 1),
        ("shop.bus.core.Bus.emit", "topic", 0, "producer", 2),
        ("shop.bus.core.Subscriber.__init__", "topic", 0, "consumer", 1),
        ("shop.bus.typed.AlertSubscriber.__init__", "area", 0, "consumer", 2),
        ("shop.bus.typed.OrderBus.order_event", "kind", 0, "producer", 3),
        ("shop.orders.Orders.retry", "name", 0, "producer", 3),
    ]


def test_home_made_bus_findings(tmp_path: Path) -> None:
    found = _index(_copy("bus", tmp_path), tmp_path / "g.duckdb")["findings"]
    assert sorted(found) == [
        "consumer_without_producer_refunds.issued",
        "orphaned_queue_orders.cancelled",
        "orphaned_queue_shop.orders.Orders.sent",
    ]
    orphan = found["orphaned_queue_orders.cancelled"]
    assert orphan.hypothesis == "ORPHANED_QUEUE_ORDERS_CANCELLED"
    assert orphan.evidence == (
        "Channel type: zmq",
        "Produced in: shop/orders.py:24",
        "Catch-all subscribers: shop/workers.py:16",
    )
    assert (orphan.action_class, orphan.autonomy, orphan.value_estimate, orphan.cost) == (
        "propose_fix",
        3,
        0.95,
        0.2,
    )
    assert orphan.capability_key == "integration.orders.cancelled"
    consumer = found["consumer_without_producer_refunds.issued"]
    assert consumer.hypothesis == "CONSUMER_WITHOUT_PRODUCER_REFUNDS_ISSUED"
    assert consumer.evidence == (
        "Channel type: zmq",
        "Consumed in: shop/workers.py:17",
        "Test sites: tests/test_bus.py:6",
    )
    written = found["orphaned_queue_shop.orders.Orders.sent"]
    assert written.kind == "write_only_collection"
    assert "Produced in: shop/orders.py:25" in written.evidence


def test_catch_all_counts_when_asked(tmp_path: Path) -> None:
    tree = _copy("bus", tmp_path)
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        query = CATALOG.get("orphaned_queues")
        strict = store.con.execute(query.sql, {"transport": None, "count_catch_all": True})
        strict_rows = strict.fetchall()
        default = store.con.execute(query.sql, {"transport": None, "count_catch_all": False})
        default_rows = default.fetchall()
    assert [r[0] for r in default_rows] == ["orders.cancelled"]
    assert strict_rows == []


# ---------------------------------------------------------------------- transports

TRANSPORT_LINKS = {
    ("redis", "news.sports", "news.*"),  # glob
    ("redis", "news.weather", "news.*"),
    ("redis-list", "jobs:pending", "jobs:pending"),
    ("mqtt", "sensors/*/temp", "sensors/+/temp"),  # a producer pattern (self.room)
    ("mqtt", "sensors/*/temp", "sensors/#"),
    ("mqtt", "sensors/hall/humidity", "sensors/#"),
    ("nats", "orders.eu.created", "orders.*.created"),
    ("kafka", "clicks", "clicks"),
    ("kafka", "views.home", "^views\\..*"),  # confluent regex subscription
    ("amqp", "tasks", "tasks"),  # default exchange: the queue
    ("amqp", "logs/app.error.db", "logs/app.*.db"),  # topic exchange binding
    # aio-pika: exchange and queue objects through locals, self attributes and annotations
    ("amqp", "work", "work"),  # the default exchange delivers to the queue
    ("amqp", "orders/eu.created", "orders/*.created"),  # queue.bind(ORDERS, routing_key=...)
    ("amqp", "created-orders", "created-orders"),  # the binding feeds the queue
    ("amqp", "audit-all", "audit-all"),
    ("queue", "svc.inproc.Pipeline.jobs", "svc.inproc.Pipeline.jobs"),
    ("list", "svc.inproc.Pipeline.log", "svc.inproc.Pipeline.log"),
    ("pypubsub", "root.branch.leaf", "root.branch"),  # a subtree subscription
    ("multiprocessing.queue", "svc.mp_side.Farm.tasks", "svc.mp_side.Farm.tasks"),
    ("multiprocessing.queue", "svc.mp_side.Farm.results", "svc.mp_side.Farm.results"),
    # read without pop/get: bool(), a truth test, a bound method, another object's attribute
    ("list", "svc.inproc.Backlog.items", "svc.inproc.Backlog.items"),
    ("list", "svc.inproc.Backlog.retries", "svc.inproc.Backlog.retries"),
    ("deque", "svc.inproc.Backlog.cache", "svc.inproc.Backlog.cache"),
    ("list", "svc.inproc.Backlog.peers", "svc.inproc.Backlog.peers"),
    ("list", "svc.inproc.MailWorker.inbox", "svc.inproc.MailWorker.inbox"),  # base class reads
    ("list", "svc.inproc.MailWorker.seen", "svc.inproc.MailWorker.seen"),  # remove() reads
    ("list", "svc.inproc.Flags.flags", "svc.inproc.Flags.flags"),  # filled when assigned
    # pipes: each direction of a duplex pipe is a channel; ends followed into other modules
    *(
        ("multiprocessing.pipe", f"svc.pipe_side.{c}", f"svc.pipe_side.{c}")
        for c in (
            "Farm.__init__:far_end->self.requests",
            "Farm.__init__:self.requests->far_end",
            "one_way:writer->reader",
            "relay:out->inbox",
        )
    ),
    # ZeroMQ sockets by type: the address bound or connected (tcp by port), PUB/SUB as before
    ("zmq-pipeline", "tcp://*:5557", "tcp://*:5557"),  # bound *, connected ventilator
    ("zmq-pipeline", "tcp://*:5558", "tcp://*:5558"),  # f-string and % with a PORT constant
    ("zmq-pipeline", "ipc:///tmp/feed", "ipc:///tmp/feed"),  # a constant, self attributes
    ("zmq-reqrep", "inproc://lookup", "inproc://lookup"),
    ("zmq-pair", "inproc://pair", "inproc://pair"),
    ("zmq", "metrics.cpu", "metrics."),
}


def test_transport_semantics(tmp_path: Path) -> None:
    found = _index(_copy("transports", tmp_path), tmp_path / "g.duckdb")
    assert set(found["links"]) == TRANSPORT_LINKS


def _site_lines(found: dict[str, Any]) -> set[str]:
    return {f"{p}:{ln} {r} {tr} {t}" for p, ln, r, tr, t, _, _, _ in found["sites"]}


@pytest.mark.parametrize("name", ["bus", "transports", "signals"])
def test_fixture_matches_its_hand_written_expectation(tmp_path: Path, name: str) -> None:
    expected = json.loads((FIXTURES / name / "expected.json").read_text(encoding="utf-8"))
    found = _index(_copy(name, tmp_path), tmp_path / "g.duckdb")
    assert _site_lines(found) == set(expected["sites"])
    findings = {f"{i} {f.metadata['transport']}" for i, f in found["findings"].items()}
    assert findings == set(expected["findings"])


# ---------------------------------------------------------------------- incremental


def test_constant_edit_updates_dependent_sites(tmp_path: Path) -> None:
    tree = _copy("bus", tmp_path)
    db = tmp_path / "warm.duckdb"
    run_index(tree, db)
    topics = tree / "shop" / "topics.py"
    topics.write_text(
        topics.read_text().replace('"orders.created"', '"orders.placed"'), encoding="utf-8"
    )
    wrapper = tree / "shop" / "bus" / "core.py"
    wrapper.write_text(
        wrapper.read_text().replace(
            "self._send(topic.encode(), payload)", 'self._send(("v1." + topic).encode(), payload)'
        ),
        encoding="utf-8",
    )
    _, warm = run_index(tree, db)
    produced = {r[7] for r in warm["channel_sites"] if r[0] == "shop/orders.py"}
    assert "v1.orders.placed" in produced
    assert "orders.created" not in produced
    assert_same_as_cold(warm, tree, tmp_path / "cold.duckdb")


def test_topology_reader_for_an_endpoint(tmp_path: Path) -> None:
    tree = _copy("bus", tmp_path)
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        channels = {(c["transport"], c["channel"]): c for c in channel_topology(store, "zmq")}
        dynamic = dynamic_sites(store).rows
        wrappers = derived_rules(store).rows
    cancelled = channels[("zmq", "orders.cancelled")]
    assert [p["line"] for p in cancelled["producers"]] == [24]
    assert [(c["line"], c["catch_all"]) for c in cancelled["matched_consumers"]] == [(16, True)]
    created = channels[("zmq", "orders.created")]
    assert {c["line"] for c in created["matched_consumers"]} == {12, 16}
    assert dynamic == [
        (
            "shop/orders.py",
            33,
            "shop.orders.Orders.retry",
            "producer",
            "zmq",
            "name",
            "derived:shop.bus.core.Bus.emit",
            "shop.bus.core.Bus.emit > shop.bus.core.Bus._send",
        )
    ]
    emit = next(w for w in wrappers if w[0] == "shop.bus.core.Bus.emit")
    assert emit[7][-1] == "rule zmq:1"
    assert emit[8] == "shop/bus/core.py"


def test_wrapper_default_topic_and_a_file_removed(write_tree: WriteTree, tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/notify.py": (
            "import redis\n\n\nclass Notifier:\n"
            "    def __init__(self):\n        self.r = redis.Redis()\n\n"
            "    def send(self, body, channel='notices'):\n"
            "        self.r.publish(channel, body)\n"
        ),
        "app/use.py": (
            "from app.notify import Notifier\n\n\ndef go():\n"
            "    Notifier().send('hi')\n    Notifier().send('hi', channel='urgent')\n"
        ),
        "app/listen.py": (
            "import redis\n\n\ndef listen():\n    redis.Redis().pubsub().subscribe('notices')\n"
        ),
    }
    tree = write_tree(files)
    db = tmp_path / "g.duckdb"
    found = _index(tree, db)
    produced = {(s[0], s[1], s[4]) for s in found["sites"] if s[2] == "producer"}
    assert produced == {("app/use.py", 5, "notices"), ("app/use.py", 6, "urgent")}
    assert "orphaned_queue_urgent" in found["findings"]
    (tree / "app" / "listen.py").unlink()
    _, warm = run_index(tree, db)
    assert not [r for r in warm["channel_sites"] if r[0] == "app/listen.py"]
    assert_same_as_cold(warm, tree, tmp_path / "cold.duckdb")


def test_signal_held_in_a_self_attribute(write_tree: WriteTree, tmp_path: Path) -> None:
    """A signal kept in an attribute is produced through ``self`` in its own class and
    consumed through another class's attribute holding an instance; a lookalike attribute of
    another class (``changed`` holding a mailer with a ``send`` method) is not the signal."""
    files = {
        "ui/__init__.py": "",
        "ui/model.py": (
            "from blinker import Signal\n\n\nclass Model:\n"
            "    def __init__(self):\n        self.changed = Signal()\n\n"
            "    def save(self):\n        self.changed.send(self)\n"
        ),
        "ui/view.py": (
            "from ui.model import Model\n\n\nclass View:\n"
            "    def __init__(self):\n        self.model = Model()\n"
            "        self.model.changed.connect(self.refresh)\n\n"
            "    def refresh(self, sender):\n        pass\n"
        ),
        "ui/other.py": (
            "class Outbox:\n    def __init__(self):\n        self.changed = Mailer()\n\n"
            "    def flush(self):\n        self.changed.send('x')\n\n\n"
            "class Mailer:\n    def send(self, body):\n        return body\n"
        ),
    }
    found = _index(write_tree(files), tmp_path / "g.duckdb")
    assert [s[:5] for s in found["sites"]] == [
        ("ui/model.py", 6, "declaration", "blinker", "ui.model.Model.changed"),
        ("ui/model.py", 9, "producer", "blinker", "ui.model.Model.changed"),
        ("ui/view.py", 7, "consumer", "blinker", "ui.model.Model.changed"),
    ]
    assert not [f for f in found["findings"] if "changed" in f]  # produced and consumed


def test_self_referential_receivers_do_not_recurse() -> None:
    source = (
        "class Walker:\n"
        "    def __init__(self):\n"
        "        self.cur = self.cur.next_node()\n"
        "        self.cur.send('x')\n\n"
        "def loop():\n"
        "    a = a.b()\n"
        "    a.publish('t')\n"
    )
    facts = index_bytes("w.py", source.encode(), ModuleInfo("w", False, ""), 0)
    assert facts.record.status == "ok"
    calls = [f for f in facts.channel_facts if f.kind == "call"]
    assert [(f.line, f.detail) for f in calls] == [(4, "self.cur.send"), (8, "a.publish")]


def test_broken_user_rules_stop_index_before_it_writes(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(
        {
            "pyproject.toml": '[tool.graphsvc]\nchannel_rules = ["r.toml"]\n',
            "r.toml": "transport = 't'\n[[rule]]\ncallee = 'a.b'\nrole = 'sender'\ntopic = 0\n",
            "a.py": "x = 1\n",
        }
    )
    with Store.open(tmp_path / "g.duckdb") as store:
        with pytest.raises(RuleError, match=r"r\.toml: rule 1: role must be one of"):
            index_tree(tree, store, load_settings(tree, jobs=1))
        assert store.query("SELECT count(*) FROM files").rows == [(0,)]


def test_pass_skips_batches_that_change_no_channel_input(tmp_path: Path) -> None:
    tree = _copy("bus", tmp_path)
    db = tmp_path / "g.duckdb"
    run_index(tree, db)
    rules = load_rules()
    defaults = load_settings(tree).channel_test_globs
    with Store.open(db) as store:
        assert ChannelPass(rules, defaults).run(store).skipped
        # a different setting is a different input
        assert not ChannelPass(rules, ["shop/"]).run(store).skipped
        assert ChannelPass(rules, ["shop/"]).run(store).skipped
    (tree / "shop" / "plain.py").write_text("def helper():\n    return 1\n", encoding="utf-8")
    _, warm = run_index(tree, db, channel_test_globs=["shop/"])
    with Store.open(db) as store:
        assert ChannelPass(rules, ["shop/"]).run(store).skipped
    monitor = tree / "shop" / "monitor.py"
    monitor.write_text(monitor.read_text().replace("alert.memory", "alert.cpu"), encoding="utf-8")
    _, warm = run_index(tree, db, channel_test_globs=["shop/"])
    assert any(r[7] == "alert.cpu" for r in warm["channel_sites"])
    assert all(r[-1] for r in warm["channel_sites"] if r[0].startswith("shop/"))  # in_test
    assert_same_as_cold(warm, tree, tmp_path / "cold.duckdb", channel_test_globs=["shop/"])


class _Recording:
    """A store connection that records the text of every statement run through it."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.sql: list[str] = []

    def execute(self, sql: str, *args: Any) -> Any:
        self.sql.append(sql)
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_the_channel_pass_raises_the_memory_limit_only_to_recompute(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """A pass whose inputs did not change costs one statement and leaves DuckDB's memory limit
    alone; a recomputation runs under the given limit and restores the writer's cap."""
    tree = write_tree(
        {
            "app.py": "import redis\nr = redis.Redis()\nr.publish('jobs', b'x')\n",
            "worker.py": "import redis\np = redis.Redis().pubsub()\np.subscribe('jobs')\n",
        }
    )
    settings = load_settings(tree, jobs=1)
    with Store.open(tmp_path / "g.duckdb", memory_mb=64) as store:
        index_tree(tree, store, settings)
        sites = store.query("SELECT count(*) FROM channel_sites").rows
        real = store.con
        recording = _Recording(real)
        store.con = recording  # type: ignore[assignment]
        try:
            assert ChannelPass(load_rules(), settings.channel_test_globs).run(store, "1GB").skipped
            assert len(recording.sql) == 1
            store.con.execute("DELETE FROM channel_state")
            recording.sql.clear()
            assert (
                not ChannelPass(load_rules(), settings.channel_test_globs).run(store, "1GB").skipped
            )
        finally:
            store.con = real
        assert sum("SET memory_limit" in sql for sql in recording.sql) == 2  # raised, restored
        assert store.query("SELECT current_setting('memory_limit')").rows == [("64.0 MiB",)]
        assert store.query("SELECT count(*) FROM channel_sites").rows == sites != [(0,)]
