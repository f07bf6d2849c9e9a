"""Channels carried by handles: multiprocessing.Pipe ends followed across modules, ZeroMQ
PUSH/PULL, REQ/REP and PAIR sockets by their bound or connected address; lookalikes kept
out; incremental runs equal a cold index."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from conftest import WriteTree, assert_same_as_cold, run_index

from graphsvc.link.handles import address_topic
from graphsvc.link.topics import Topic

FIXTURES = Path(__file__).parent / "fixtures" / "channels"


def _sites(facts: dict[str, list[tuple[Any, ...]]], transport: str) -> set[tuple[Any, ...]]:
    """(path, line, role, topic) of the channel sites of one transport."""
    return {(r[0], r[1], r[4], r[7]) for r in facts["channel_sites"] if r[5] == transport}


def test_pipe_edits_follow_the_ends(tmp_path: Path) -> None:
    """Editing the module that reads a pipe end, then the one that makes the pipe: the sites
    follow (a reader that stops reading leaves the direction unread; lines added above the
    Pipe() call move its sites but keep its channel's name, so findings keep their ids; a
    second pipe with the same end names in the same function adds the line to both), and
    each state equals a cold index."""
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES / "transports" / "tree", tree)
    db = tmp_path / "warm.duckdb"
    _, warm = run_index(tree, db)
    farm = "svc.pipe_side.Farm.__init__:self.requests->far_end"
    assert ("svc/pipe_worker.py", 3, "consumer", farm) in _sites(warm, "multiprocessing.pipe")
    worker = tree / "svc" / "pipe_worker.py"
    worker.write_text(worker.read_text().replace("job = conn.recv()", "job = 1"))
    _, warm = run_index(tree, db)
    sites = _sites(warm, "multiprocessing.pipe")
    assert not [s for s in sites if s[0] == "svc/pipe_worker.py" and s[1] == 3]
    assert ("svc/pipe_side.py", 13, "producer", farm) in sites
    assert_same_as_cold(warm, tree, tmp_path / "cold1.duckdb")
    side = tree / "svc" / "pipe_side.py"
    side.write_text(side.read_text().replace("class Farm:\n", "class Farm:\n    size = 1\n\n"))
    _, warm = run_index(tree, db)
    assert ("svc/pipe_side.py", 15, "producer", farm) in _sites(warm, "multiprocessing.pipe")
    assert_same_as_cold(warm, tree, tmp_path / "cold2.duckdb")
    side.write_text(
        side.read_text().replace(
            '    left.send("nobody reads this")\n',
            '    left.send("nobody reads this")\n    left, right = Pipe()\n    left.send(2)\n',
        )
    )
    _, warm = run_index(tree, db)
    names = {s[3] for s in _sites(warm, "multiprocessing.pipe") if "forgotten" in s[3]}
    assert names == {
        "svc.pipe_side.forgotten@31:left->right",
        "svc.pipe_side.forgotten@33:left->right",
    }
    assert_same_as_cold(warm, tree, tmp_path / "cold3.duckdb")


def test_pipe_through_parameters_and_attributes(write_tree: WriteTree, tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/make.py": (
            "import multiprocessing\nfrom multiprocessing import Pipe, Process\n\n"
            "from app.use import Sink, consume\n\n\n"
            "def start():\n"  # 7
            "    a, b = Pipe()\n"  # 8
            "    Process(target=consume, kwargs={}, args=(b,)).start()\n"
            "    sink = Sink(a)\n"
            "    sink.push('x')\n"  # 11
            "    alias = b\n"
            "    alias.send('back')\n"  # 13
            "    c, d = Pipe()\n"  # 14
            "    consume(conn=d)\n"
            "    c.send('by keyword')\n"  # 16
            "    ctx = multiprocessing.get_context('spawn')\n"
            "    e, f = ctx.Pipe()\n"  # 18
            "    consume(f)\n"
            "    e.send('through a context')\n"  # 20
        ),
        "app/use.py": (
            "def consume(conn):\n    print(conn.recv())\n\n\n"  # 2
            "class Sink:\n    def __init__(self, conn):\n        self.out = conn\n\n"
            "    def push(self, item):\n        self.out.send(item)\n"  # 10
            "    @staticmethod\n    def echo(conn):\n        conn.recv()\n"  # 13: gets no end
        ),
    }
    _, facts = run_index(write_tree(files), tmp_path / "g.duckdb")
    forward, back = "app.make.start:a->b", "app.make.start:b->a"
    assert _sites(facts, "multiprocessing.pipe") == {
        ("app/use.py", 2, "consumer", forward),
        ("app/use.py", 10, "producer", forward),
        ("app/make.py", 13, "producer", back),
        ("app/use.py", 2, "consumer", "app.make.start:c->d"),  # consume(conn=d)
        ("app/make.py", 16, "producer", "app.make.start:c->d"),
        ("app/use.py", 2, "consumer", "app.make.start:e->f"),  # get_context().Pipe()
        ("app/make.py", 20, "producer", "app.make.start:e->f"),
    }


def test_tcp_addresses_match_on_the_port() -> None:
    def topic(*pieces: str | None) -> str | None:
        return address_topic(Topic(tuple(pieces), ("literal",))).text()

    assert topic("tcp://127.0.0.1:5557") == "tcp://*:5557"
    assert topic("tcp://*:5557") == "tcp://*:5557"
    assert topic("tcp://", None, ":5557") == "tcp://*:5557"  # f"tcp://{host}:5557"
    assert topic("tcp://localhost:", None) == "tcp://*:*"  # the port unknown: a pattern
    assert topic("ipc:///tmp/feed") == "ipc:///tmp/feed"
    assert topic("inproc://jobs") == "inproc://jobs"


def test_zmq_address_constant_and_socket_type_edits(tmp_path: Path) -> None:
    """Editing the module holding the address constants moves both ends of the channel;
    turning a PUSH socket into a PUB one makes its send a PUB/SUB site instead; each state
    equals a cold index."""
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES / "transports" / "tree", tree)
    db = tmp_path / "warm.duckdb"
    _, warm = run_index(tree, db)
    assert ("svc/zmq_pipeline.py", 38, "producer", "tcp://*:6000") in _sites(warm, "zmq-pipeline")
    assert not [s for s in _sites(warm, "zmq") if s[0] == "svc/zmq_pipeline.py" and s[1] == 38]
    constants = tree / "svc" / "zmq_addresses.py"
    constants.write_text('FEED = "ipc:///tmp/other"\nRESULTS_PORT = 6001\n', encoding="utf-8")
    _, warm = run_index(tree, db)
    sites = _sites(warm, "zmq-pipeline")
    assert {s for s in sites if s[3] in ("ipc:///tmp/other", "tcp://*:6001")} == {
        ("svc/zmq_pipeline.py", 15, "consumer", "tcp://*:6001"),
        ("svc/zmq_pipeline.py", 24, "producer", "ipc:///tmp/other"),
        ("svc/zmq_workers.py", 12, "producer", "tcp://*:6001"),
        ("svc/zmq_workers.py", 21, "consumer", "ipc:///tmp/other"),
    }
    assert not [s for s in sites if s[3] in ("ipc:///tmp/feed", "tcp://*:5558")]
    assert_same_as_cold(warm, tree, tmp_path / "cold1.duckdb")
    pipeline = tree / "svc" / "zmq_pipeline.py"
    pipeline.write_text(
        pipeline.read_text().replace(
            "push = zmq.Context().socket(zmq.PUSH)", "push = zmq.Context().socket(zmq.PUB)"
        ),
        encoding="utf-8",
    )
    _, warm = run_index(tree, db)
    assert not [s for s in _sites(warm, "zmq-pipeline") if s[1] == 38]
    assert ("svc/zmq_pipeline.py", 38, "producer", "nobody") in _sites(warm, "zmq")
    assert_same_as_cold(warm, tree, tmp_path / "cold2.duckdb")


def test_sockets_of_unknown_type_or_from_other_libraries_are_no_sites(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    files = {
        "app/__init__.py": "",
        "app/net.py": (
            "import socket\n\nimport zmq\n\n\n"
            "def raw():\n    s = socket.socket()\n    s.connect(('h', 1))\n    s.send(b'x')\n\n\n"
            "def typed_elsewhere(ctx, kind):\n"  # 12
            "    s = ctx.socket(kind)\n    s.bind('tcp://*:9')\n    s.send(b'x')\n\n\n"
            "class Radio:\n    def socket(self, kind):\n        return self\n\n"
            "    def send(self, data):\n        return data\n\n\n"
            "def radio():\n    r = Radio().socket(zmq.PUSH)\n    r.bind('tcp://*:9')\n"
            "    r.send(b'x')\n"
        ),
    }
    _, facts = run_index(write_tree(files), tmp_path / "g.duckdb")
    transports = {r[5] for r in facts["channel_sites"]}
    assert not transports & {"zmq-pipeline", "zmq-reqrep", "zmq-pair"}


def test_aio_pika_names_through_objects_and_edits(write_tree: WriteTree, tmp_path: Path) -> None:
    """An exchange named by a constant of another module, held in a self attribute and passed
    to queue.bind as an object: renaming the constant moves the producer and the binding
    together; a queue that is bound but never consumed is orphaned; equal to a cold index."""
    files = {
        "app/__init__.py": "",
        "app/names.py": 'EVENTS = "events"\n',
        "app/pub.py": (
            "import aio_pika\n\nfrom app.names import EVENTS\n\n\n"
            "class Publisher:\n"
            "    async def open(self, channel: aio_pika.abc.AbstractChannel):\n"
            "        self.exchange = await channel.declare_exchange(EVENTS, 'topic')\n\n"
            "    async def emit(self, key):\n"
            "        message = aio_pika.Message(b'')\n"
            "        await self.exchange.publish(message, routing_key='user.' + key)\n"
        ),
        "app/sub.py": (
            "import aio_pika\n\nfrom app import names\n\n\n"
            "async def wire(channel: aio_pika.abc.AbstractChannel):\n"
            "    exchange = await channel.declare_exchange(names.EVENTS, 'topic')\n"
            "    queue = await channel.declare_queue(name='users')\n"
            "    await queue.bind(exchange, routing_key='user.*')\n"  # 9
            "    unread = await channel.declare_queue('unread')\n"
            "    await unread.bind(exchange=exchange, routing_key='#')\n"  # 11
            "    await queue.consume(print)\n"  # 12
        ),
    }
    tree = write_tree(files)
    db = tmp_path / "warm.duckdb"
    _, warm = run_index(tree, db)
    sites = _sites(warm, "amqp")
    assert ("app/pub.py", 12, "producer", "events/user.*") in sites  # a pattern: key unknown
    assert ("app/sub.py", 9, "consumer", "events/user.*") in sites
    assert ("app/sub.py", 11, "producer", "unread") in sites  # bound, never consumed
    assert ("app/sub.py", 12, "consumer", "users") in sites
    names = tree / "app" / "names.py"
    names.write_text('EVENTS = "audit"\n', encoding="utf-8")
    _, warm = run_index(tree, db)
    topics = {s[3] for s in _sites(warm, "amqp")}
    assert {"audit/user.*", "audit/#"} <= topics
    assert not [t for t in topics if t.startswith("events/")]
    assert_same_as_cold(warm, tree, tmp_path / "cold.duckdb")


def test_an_end_handed_to_code_not_followed_counts_both_ways(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    """``Process(target=type(self)._serve, args=(writer,))``: the target cannot be named, so
    the writer may send there (and receive): the reader is not reported as unfed. An end
    passed to a function that only hands it on escapes the same way; one passed to a function
    that polls it does not."""
    files = {
        "app/__init__.py": "",
        "app/mgr.py": (
            "from multiprocessing import Pipe, Process\n\nfrom app.helpers import hand_on, peek\n"
            "\n\nclass Manager:\n"
            "    def start(self):\n"  # 7
            "        reader, writer = Pipe(duplex=False)\n"  # 8
            "        Process(target=type(self)._serve, args=(writer,)).start()\n"  # 9
            "        return reader.recv()\n"  # 10
            "\n"
            "    def other(self):\n"
            "        left, right = Pipe()\n"  # 13
            "        hand_on(right)\n"  # 14
            "        left.send(1)\n"  # 15
            "\n"
            "    def lonely(self):\n"
            "        a, b = Pipe()\n"  # 18
            "        peek(b)\n"
            "        a.send(2)\n"  # 20
        ),
        "app/helpers.py": (
            "def hand_on(conn):\n    return [conn]\n\n\ndef peek(conn):\n    return conn.poll()\n"
        ),
    }
    _, facts = run_index(write_tree(files), tmp_path / "g.duckdb")
    sites = _sites(facts, "multiprocessing.pipe")
    pipe = "app.mgr.Manager.start:writer->reader"
    assert ("app/mgr.py", 9, "producer", pipe) in sites  # writer (passed on)
    assert ("app/mgr.py", 10, "consumer", pipe) in sites
    other = "app.mgr.Manager.other:left->right"
    assert ("app/mgr.py", 14, "consumer", other) in sites  # right (passed on)
    lonely = "app.mgr.Manager.lonely:a->b"
    assert [s for s in sites if s[3] == lonely] == [("app/mgr.py", 20, "producer", lonely)]
