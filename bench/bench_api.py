#!/usr/bin/env python3
"""REST under load: `graphsvc serve` polled by many clients, and many event-stream clients.

- feed polling: ``--clients`` (50) clients, each on its own keep-alive connection, poll
  ``GET /findings?since=<last_seq>`` every ``--interval`` seconds (the curiosity core's loop,
  faster), from a separate process. Latency p50/p95 while every file of a ~2,000-file tree is
  rewritten at once and indexed (the storm: each rewrite adds a function, one file in 20 also an
  import of a missing name, so findings change), beside the same clients on the idle service in
  the same run (the baseline), per round; medians over ``--rounds`` rounds.
- event streams: ``--sse-clients`` (200) clients hold ``GET /findings/stream`` open for
  ``--sse-seconds`` (300) while a file toggles a missing import every ``--sse-every`` seconds
  (one feed event each), heartbeats every 5 s. The service's RSS is sampled every second:
  growth from the first minute (all clients connected) to the last, beside the RSS before any
  client connected; every client must receive every event.

Prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from bench_index import REPO, machine, percentile
from bench_link import thousand_files
from bench_serve import Served

MB = 1024 * 1024
TARGET_P95_MS = 50.0
TARGET_RSS_GROWTH_MB = 20.0


# ---------------------------------------------------------------------- feed polling


def _poll(port: int, interval: float, stop: Any, out: list[tuple[float, float, int]]) -> None:
    """One client: poll the feed with since= its last position until ``stop`` is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    since = 0
    pause = threading.Event()
    while not stop.is_set():
        started = time.monotonic()
        conn.request("GET", f"/findings?since={since}&limit=100")
        response = conn.getresponse()
        body = response.read()
        out.append((started, time.monotonic() - started, response.status))
        if response.status == 200:
            since = json.loads(body)["last_seq"]
        pause.wait(max(0.0, interval - (time.monotonic() - started)))
    conn.close()


def pollers(port: int, clients: int, interval: float, stop: Any, result: Path) -> None:
    """The client process: ``clients`` threads; writes (start, latency, status) rows."""
    rows: list[list[tuple[float, float, int]]] = [[] for _ in range(clients)]
    threads = [
        threading.Thread(target=_poll, args=(port, interval, stop, rows[i]), daemon=True)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.write_text(json.dumps([r for client in rows for r in client]))


def storm(tree: Path, files: list[Path], round_: int) -> None:
    for i, path in enumerate(files):
        extra = ""
        if i % 20 == 0:
            package = path.relative_to(tree).parts[0]
            extra = f"from {package} import _storm_missing_{round_}\n"
        with path.open("a", encoding="utf-8") as out:
            out.write(f"\n{extra}\n\ndef storm_marker_{round_}():\n    pass\n")


def feed_under_storm(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    tree, count = thousand_files(work, args.files)
    files = sorted(tree.rglob("*.py"))
    served = Served(tree, work / "feed.duckdb", work / "feed.log")
    windows: list[tuple[str, float, float]] = []
    converge: list[float] = []
    result = work / "polls.json"
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    process = context.Process(
        target=pollers, args=(served.port, args.clients, args.interval, stop, result)
    )
    try:
        process.start()
        time.sleep(2.0)  # every client connected and past its first (full) page
        for round_ in range(args.rounds):
            idle = time.monotonic()
            time.sleep(args.idle_seconds)
            windows.append(("idle", idle, time.monotonic()))
            started = time.monotonic()
            storm(tree, files, round_)
            status, _ = served.call("POST", "/sync?timeout=600")
            assert status == 200, status
            converge.append(time.monotonic() - started)
            windows.append(("storm", started, time.monotonic()))
        stop.set()
        process.join(timeout=120)
        findings = served.get("/findings?limit=1")
    finally:
        stop.set()
        served.stop()
    polls = json.loads(result.read_text())
    rounds: dict[str, list[tuple[float, float, int]]] = {"idle": [], "storm": []}
    for kind, start, end in windows:
        inside = [p[1] for p in polls if start <= p[0] < end and p[2] == 200]
        p50, p95 = percentile(inside, 0.5), percentile(inside, 0.95)
        rounds[kind].append((p50, p95, len(inside)))
    return {
        "files": count,
        "rounds": rounds,
        "converge": converge,
        "errors": sum(1 for p in polls if p[2] != 200),
        "requests": len(polls),
        "as_of": findings["as_of"],
        "peak_rss": served.peak_rss,
    }


# ---------------------------------------------------------------------- event streams


async def _stream(
    port: int, stats: dict[str, int], ready: asyncio.Event, stop: asyncio.Event
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /findings/stream?heartbeat=5 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    stats["connected"] += 1
    ready.set()
    while not stop.is_set():
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=1.0)
        except TimeoutError:
            continue
        if not line:
            stats["closed"] += 1
            return
        if line.startswith(b"event: finding"):
            stats["events"] += 1
        elif b"heartbeat" in line:
            stats["heartbeats"] += 1
    writer.close()


def _streams(port: int, clients: int, seconds: float, result: Path, started: Any) -> None:
    """The client process: ``clients`` streams held open ``seconds``; per-client counts."""

    async def main() -> list[dict[str, int]]:
        stop = asyncio.Event()
        stats = [
            dict.fromkeys(("connected", "closed", "events", "heartbeats"), 0)
            for _ in range(clients)
        ]
        readies = [asyncio.Event() for _ in range(clients)]
        tasks = [
            asyncio.create_task(_stream(port, stats[i], readies[i], stop)) for i in range(clients)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        started.set()
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        return stats

    result.write_text(json.dumps(asyncio.run(main())))


def streams_soak(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    tree = work / "sse-tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("")
    (tree / "pkg" / "b.py").write_text("def helper():\n    return 1\n")
    target = tree / "pkg" / "a.py"
    target.write_text("x = 1\n")
    served = Served(tree, work / "sse.duckdb", work / "sse.log")
    process = psutil.Process(served.process.pid)
    time.sleep(2.0)
    before = process.memory_info().rss
    result = work / "streams.json"
    context = multiprocessing.get_context("spawn")
    connected = context.Event()
    clients = context.Process(
        target=_streams,
        args=(served.port, args.sse_clients, args.sse_seconds, result, connected),
    )
    samples: list[tuple[float, int]] = []
    cpu: list[float] = []
    toggles = 0
    try:
        clients.start()
        assert connected.wait(timeout=120), "the stream clients did not connect"
        start = time.monotonic()
        process.cpu_percent()
        next_toggle = start + args.sse_every
        while (now := time.monotonic()) - start < args.sse_seconds - 2:
            samples.append((now - start, process.memory_info().rss))
            if now >= next_toggle:
                toggles += 1
                text = "from pkg.b import missing\n" if toggles % 2 else "x = 1\n"
                target.write_text(text)
                next_toggle += args.sse_every
            time.sleep(1.0)
        cpu.append(process.cpu_percent())
        served.call("POST", "/sync")
        last_seq = served.get("/findings")["last_seq"]
        clients.join(timeout=180)
    finally:
        served.stop()
    stats = json.loads(result.read_text())
    minute = [rss for t, rss in samples if t <= 60]
    last = [rss for t, rss in samples if t >= samples[-1][0] - 60]
    return {
        "clients": len(stats),
        "connected": sum(s["connected"] for s in stats),
        "closed": sum(s["closed"] for s in stats),
        "events": sorted(s["events"] for s in stats),
        "heartbeats": statistics.median(s["heartbeats"] for s in stats),
        "feed_events": last_seq,
        "toggles": toggles,
        "rss_before": before,
        "rss_first_minute": statistics.median(minute),
        "rss_last_minute": statistics.median(last),
        "rss_max": max(rss for _, rss in samples),
        "cpu_percent": cpu[0],
        "seconds": samples[-1][0],
    }


# ---------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("feed", "streams", "all"), default="all")
    parser.add_argument("--files", type=int, default=2000, help="feed: tree size (about)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between polls")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--sse-clients", type=int, default=200)
    parser.add_argument("--sse-seconds", type=float, default=300.0)
    parser.add_argument("--sse-every", type=float, default=5.0, help="seconds between events")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-api-") as tmp:
        work = Path(tmp)
        host = machine(work)
        feed = feed_under_storm(work, args) if args.part in ("feed", "all") else None
        streams = streams_soak(work, args) if args.part in ("streams", "all") else None
    lines = ["", f"## bench_api.py — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    lines += host
    verdicts = []
    if feed:
        idle, busy = feed["rounds"]["idle"], feed["rounds"]["storm"]
        i50 = statistics.median(r[0] for r in idle) * 1000
        i95 = statistics.median(r[1] for r in idle) * 1000
        s50 = statistics.median(r[0] for r in busy) * 1000
        s95 = statistics.median(r[1] for r in busy) * 1000
        lines += [
            f"- feed polling: {args.clients} clients polling `GET /findings?since=` every "
            f"{args.interval:g} s (one keep-alive connection each, in a separate process) on a "
            f"{feed['files']}-file tree (site-packages packages); {args.rounds} rounds of "
            f"{args.idle_seconds:g} s idle, then a storm rewriting every file",
            "",
            "| measure | value | target |",
            "|---|---|---|",
            f"| idle service (baseline): p50 / p95 ms | {i50:.1f} / {i95:.1f} | |",
            f"| during the storm: p50 / p95 ms | {s50:.1f} / {s95:.1f} | p95 <= 50 |",
            f"| storm / idle, p95 | {s95 / i95:.1f}x | |",
            "| per round, idle p95 → storm p95 ms (requests) | "
            + "; ".join(
                f"{a[1] * 1000:.0f} ({a[2]}) → {b[1] * 1000:.0f} ({b[2]})"
                for a, b in zip(idle, busy, strict=True)
            )
            + " | |",
            f"| storm: {feed['files']} files rewritten, converge s (median) | "
            f"{statistics.median(feed['converge']):.1f} | |",
            f"| requests / non-200 answers | {feed['requests']} / {feed['errors']} | 0 errors |",
            f"| service peak RSS MB | {feed['peak_rss'] / MB:.0f} | |",
        ]
        verdicts.append(("feed p95 during the storm", s95, TARGET_P95_MS, "ms"))
    if streams:
        growth = (streams["rss_last_minute"] - streams["rss_first_minute"]) / MB
        lines += [
            "",
            f"- event streams: {streams['clients']} clients on `GET /findings/stream` for "
            f"{streams['seconds']:.0f} s (heartbeat 5 s), a feed event every {args.sse_every:g} s",
            "",
            "| measure | value | target |",
            "|---|---|---|",
            f"| RSS before any client (baseline) MB | {streams['rss_before'] / MB:.1f} | |",
            f"| RSS, first minute with all clients (median) MB | "
            f"{streams['rss_first_minute'] / MB:.1f} | |",
            f"| RSS, last minute (median) MB | {streams['rss_last_minute'] / MB:.1f} | |",
            f"| RSS growth, first → last minute MB | {growth:.1f} | <= 20 |",
            f"| RSS max MB | {streams['rss_max'] / MB:.1f} | |",
            f"| service CPU over the run, % of one core | {streams['cpu_percent']:.0f} | |",
            f"| clients connected / streams closed by the server | "
            f"{streams['connected']} / {streams['closed']} | all / 0 |",
            f"| feed events / events received per client (min-max) | {streams['feed_events']} / "
            f"{streams['events'][0]}-{streams['events'][-1]} | every one |",
            f"| heartbeats per client (median) | {streams['heartbeats']:.0f} | |",
        ]
        verdicts.append(("RSS growth with 200 streams", growth, TARGET_RSS_GROWTH_MB, "MB"))
    lines += [""]
    lines += [
        f"- {'PASS' if value <= target else 'FAIL'} {name}: {value:.1f} {unit} <= {target:g} {unit}"
        for name, value, target, unit in verdicts
    ]
    lines += [f"- bench wall time: {time.perf_counter() - began:.0f} s"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
