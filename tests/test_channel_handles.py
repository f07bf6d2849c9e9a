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
    follow (a reader that stops reading makes the direction orphaned; moving the Pipe() call
    renames its channels), and each state equals a cold index."""
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES / "transports" / "tree", tree)
    db = tmp_path / "warm.duckdb"
    _, warm = run_index(tree, db)
    farm = "svc.pipe_side.Farm.__init__@9:self.requests->far_end"
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
    names = {s[3] for s in _sites(warm, "multiprocessing.pipe")}
    assert "svc.pipe_side.Farm.__init__@11:self.requests->far_end" in names
    assert farm not in names
    assert_same_as_cold(warm, tree, tmp_path / "cold2.duckdb")


def test_pipe_through_parameters_and_attributes(write_tree: WriteTree, tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/make.py": (
            "from multiprocessing import Pipe, Process\n\nfrom app.use import Sink, consume\n\n\n"
            "def start():\n"  # 6
            "    a, b = Pipe()\n"  # 7
            "    Process(target=consume, kwargs={}, args=(b,)).start()\n"
            "    sink = Sink(a)\n"
            "    sink.push('x')\n"  # 10
            "    alias = b\n"
            "    alias.send('back')\n"  # 12
        ),
        "app/use.py": (
            "def consume(conn):\n    print(conn.recv())\n\n\n"  # 2
            "class Sink:\n    def __init__(self, conn):\n        self.out = conn\n\n"
            "    def push(self, item):\n        self.out.send(item)\n"  # 10
            "    @staticmethod\n    def echo(conn):\n        conn.recv()\n"  # 13: gets no end
        ),
    }
    _, facts = run_index(write_tree(files), tmp_path / "g.duckdb")
    forward, back = "app.make.start@7:a->b", "app.make.start@7:b->a"
    assert _sites(facts, "multiprocessing.pipe") == {
        ("app/use.py", 2, "consumer", forward),
        ("app/use.py", 10, "producer", forward),
        ("app/make.py", 12, "producer", back),
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
