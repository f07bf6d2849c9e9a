#!/usr/bin/env python3
"""Live-service benchmark: `graphsvc serve` on a copy of the standard library.

- save → queryable: time from the end of a file write (write+close, or an atomic rename of a
  temp file over it) until ``GET /symbols/<new function>`` finds the function the save added,
  polled every millisecond over HTTP (so the numbers include one HTTP round trip and up to 1 ms
  of polling); p50/p95/p99 over ``--saves`` saves per mode.
- storm: every file of the tree rewritten at once (like a git checkout), then ``POST /sync``:
  time to converge beside a cold ``graphsvc index`` of the same tree in the same run, events
  lost (files whose new marker function is missing afterwards) and the service's peak RSS.
- RSS floor: the same interpreter with graphsvc, the API and the service imported, nothing
  indexed.

Prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
from bench_index import emit_section, machine, percentile, revision, spread, stdlib_tree

from graphsvc.store import Store

MB = 1024 * 1024


class Served:
    """A `graphsvc serve` process on a free port, with its peak RSS sampled from /status."""

    def __init__(self, tree: Path, db: Path, log: Path, env: dict[str, str] | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        command = [sys.executable, "-m", "graphsvc", "serve", str(tree), "--db", str(db)]
        command += ["--port", str(self.port)]
        with log.open("ab") as sink:
            environment = {**os.environ, **(env or {})}
            # `python -m` puts the working directory first on sys.path: run from the log's
            # folder (a temp dir), so a baseline's PYTHONPATH is the graphsvc that runs, not
            # the checkout the bench was started in
            self.process = subprocess.Popen(
                command, stdout=sink, stderr=sink, env=environment, cwd=log.parent
            )
        self.peak_rss = 0
        self._done = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()
        self.started = time.perf_counter()
        while True:
            try:
                if self.get("/status")["as_of"] >= 1:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"serve exited; see {log}")
            time.sleep(0.05)
        self.startup_s = time.perf_counter() - self.started

    def _sample(self) -> None:
        """Peak RSS of the service, sampled every 20 ms."""
        process = psutil.Process(self.process.pid)
        while not self._done.wait(0.02):
            try:
                self.peak_rss = max(self.peak_rss, process.memory_info().rss)
            except psutil.Error:
                return

    def call(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def get(self, path: str) -> dict[str, Any]:
        return self.call("GET", path)[1]

    def stop(self) -> None:
        self._done.set()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=600)


def _targets(tree: Path, count: int) -> list[Path]:
    """``count`` ordinary modules spread over the tree (no __init__, no huge files)."""
    files = sorted(
        p for p in tree.rglob("*.py") if p.name != "__init__.py" and p.stat().st_size < 40_000
    )
    step = max(1, len(files) // count)
    return files[::step][:count]


def _module(tree: Path, path: Path) -> str:
    return ".".join(path.relative_to(tree).with_suffix("").parts)


def save_latency(
    served: Served, tree: Path, saves: int, atomic: bool, poll_s: float = 0.001
) -> list[float]:
    """Seconds from the end of each save to the moment the API returns its new symbol, asked
    every ``poll_s`` (each ask is a request the service answers, on the same two cores)."""
    targets = _targets(tree, 50)
    originals = {p: p.read_bytes() for p in targets}
    # steady state: the start-up's first findings refresh (every query, and the dead_code
    # engine's first run over every file) is over before the first measured save
    served.call("POST", "/sync?timeout=600")
    samples = []
    for i in range(saves):
        path = targets[i % len(targets)]
        name = f"bench_{'atomic' if atomic else 'write'}_{i}"
        data = originals[path] + f"\n\ndef {name}():\n    return {i}\n".encode()
        if atomic:
            temp = path.with_name(f".{path.name}.{i}.tmp")
            temp.write_bytes(data)
            os.replace(temp, path)
        else:
            path.write_bytes(data)
        saved = time.perf_counter()
        qualname = f"{_module(tree, path)}.{name}"
        while served.call("GET", f"/symbols/{qualname}")[0] != 200:
            time.sleep(poll_s)
        samples.append(time.perf_counter() - saved)
    for path, data in originals.items():
        path.write_bytes(data)
    served.call("POST", "/sync")
    return samples


def storm(served: Served, tree: Path, round_: int) -> tuple[float, int]:
    """Rewrite every file; seconds until in sync, and files rewritten."""
    files = sorted(tree.rglob("*.py"))
    started = time.perf_counter()
    for path in files:
        with path.open("ab") as out:
            out.write(f"\n\ndef storm_marker_{round_}():\n    pass\n".encode())
    served.call("POST", "/sync?timeout=600")
    converged = time.perf_counter() - started
    return converged, len(files)


def _save(path: Path, data: bytes) -> None:
    """One save as an editor does it (truncate, write, close), with as little Python as can be."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def sustained(served: Served, tree: Path, rate: int, seconds: float) -> tuple[float, float]:
    """Rewrite 500 files round-robin at ``rate`` saves/s for ``seconds``; returns the rate
    reached and the seconds from the last save until the service is in sync."""
    targets = _targets(tree, 500)
    originals = {p: p.read_bytes() for p in targets}
    started = time.perf_counter()
    saves = 0
    while (now := time.perf_counter() - started) < seconds:
        due = int(now * rate)
        while saves < due:
            path = targets[saves % len(targets)]
            _save(path, originals[path] + b"\n# save %d\n" % saves)
            saves += 1
        time.sleep(0.001)
    ended = time.perf_counter()
    served.call("POST", "/sync?timeout=600")
    return saves / (ended - started), time.perf_counter() - ended


def soak(served: Served, tree: Path, minutes: float, rate: int) -> dict[str, float]:
    """``rate`` saves/s over 500 files for ``minutes``, /status polled every second; RSS slope
    after warm-up (the first fifth) in MB per 10,000 saves, and the steady RSS."""
    targets = _targets(tree, 500)
    originals = {p: p.read_bytes() for p in targets}
    samples: list[tuple[int, float]] = []  # (saves so far, RSS MB)
    started = time.perf_counter()
    saves = 0
    next_poll = 0.0
    while (now := time.perf_counter() - started) < minutes * 60:
        while saves < int(now * rate):
            path = targets[saves % len(targets)]
            _save(path, originals[path] + b"\n# soak %d\n" % saves)
            saves += 1
        if now >= next_poll:
            samples.append((saves, served.get("/status")["rss_bytes"] / MB))
            next_poll += 1.0
        time.sleep(0.005)
    served.call("POST", "/sync?timeout=600")
    warm = samples[len(samples) // 5 :]
    slope = statistics.linear_regression([x for x, _ in warm], [y for _, y in warm]).slope
    tail = [y for _, y in samples[-len(samples) // 5 :]]
    return {
        "saves": saves,
        "slope_mb_per_10k": slope * 10_000,
        "steady_mb": statistics.median(tail),
        "max_mb": max(y for _, y in samples),
        "polls": len(samples),
    }


def lost_files(live: Path, cold: Path) -> list[str]:
    """Files whose stored bytes (sha256) differ between the live database and a cold index of
    the same tree, or that only one of them has: changes the service missed."""
    with Store.open(live, read_only=True) as store:
        mine = dict(store.query("SELECT path, sha256 FROM files").rows)
    with Store.open(cold, read_only=True) as store:
        truth = dict(store.query("SELECT path, sha256 FROM files").rows)
    return sorted(p for p in mine.keys() | truth.keys() if mine.get(p) != truth.get(p))


def cold_index(tree: Path, db: Path) -> float:
    command = [sys.executable, "-m", "graphsvc", "index", str(tree), "--db", str(db), "-q"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def rss_floor() -> int:
    code = (
        "import psutil, graphsvc.api, graphsvc.service, graphsvc.cli, graphsvc.link;"
        "print(psutil.Process().memory_info().rss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def _emit(lines: list[str], started: float, write: bool) -> None:
    """Print the section (with the bench's wall time) and, with ``write``, append it."""
    lines.append(f"- bench wall time: {time.perf_counter() - started:.0f} s")
    emit_section(lines, write)


def big_storm(copies: int, write: bool) -> int:
    """The storm of issue #5 at size: ``copies`` copies of the stdlib side by side (734 files
    each; 14 make ~10,000), every file rewritten at once while the service runs; time to
    converge beside a cold index of the same tree, files missed, and the service's peak RSS."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-storm-") as tmp:
        work = Path(tmp)
        first = stdlib_tree(work / "first")
        tree = work / "tree"
        for k in range(copies):  # c0/, c1/, ...: namespace packages of one stdlib each
            shutil.copytree(first, tree / f"c{k}")
        host = machine(work)
        db = work / "live.duckdb"
        served = Served(tree, db, work / "serve.log")
        try:
            rss_before = served.get("/status")["rss_bytes"]
            converge, files = storm(served, tree, 0)
        finally:
            served.stop()
        cold = cold_index(tree, work / "cold.duckdb")
        lost = lost_files(db, work / "cold.duckdb")
    lines = [
        f"## bench_serve.py --storm-copies {copies}: a {files}-file storm — "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *host,
        f"- corpus: {copies} copies of the standard library side by side, {files} files",
        "",
        "| measure | value | budget |",
        "|---|---|---|",
        f"| start-up (cold index + watch), s | {served.startup_s:.1f} | |",
        f"| storm: {files} files rewritten at once, converge (writes + sync), s"
        f" | {converge:.1f} | |",
        f"| cold index of the same tree (`graphsvc index`), s | {cold:.1f} | |",
        f"| converge / cold index | {converge / cold:.2f} | <= 1.2 |",
        f"| files missed (bytes differ from the cold index) | {len(lost)} | 0 |",
        f"| service RSS before the storm, MB | {rss_before / MB:.0f} | |",
        f"| service peak RSS (sampled every 20 ms), MB | {served.peak_rss / MB:.0f} | |",
        "",
    ]
    _emit(lines, started, write)
    return 0 if not lost else 1


def compare_saves(baseline: Path, saves: int, rounds: int, write: bool, poll_s: float) -> int:
    """save → queryable of this checkout beside ``baseline`` (another checkout of graphsvc,
    put first on the service's PYTHONPATH), in alternating rounds on one stdlib copy: the
    ratio is the number to read on a shared, noisy machine."""
    started = time.perf_counter()
    series: dict[str, list[float]] = {"baseline": [], "this": []}
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-serve-ab-") as tmp:
        work = Path(tmp)
        tree = stdlib_tree(work)
        host = machine(work)
        for r in range(rounds):
            for label in ("baseline", "this"):
                env = {"PYTHONPATH": str(baseline)} if label == "baseline" else None
                db = work / f"{label}-{r}.duckdb"
                served = Served(tree, db, work / f"{label}.log", env=env)
                try:
                    series[label] += save_latency(served, tree, saves, False, poll_s)
                finally:
                    served.stop()
    rev = revision(baseline)
    rows = []
    for label, lat in series.items():
        rows.append(
            f"| {label} | {1000 * percentile(lat, 0.5):.1f} / {1000 * percentile(lat, 0.95):.1f}"
            f" / {1000 * percentile(lat, 0.99):.1f} |"
        )
    ratio = percentile(series["this"], 0.95) / percentile(series["baseline"], 0.95)
    lines = [
        f"## bench_serve.py --baseline: save → queryable A/B — "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *host,
        f"- baseline: {rev}; {rounds} alternating rounds of {saves} write+close saves each "
        f"(a fresh service per round on the same stdlib copy), asked every {poll_s * 1000:g} ms",
        "",
        "| code | save → queryable p50 / p95 / p99 ms |",
        "|---|---|",
        *rows,
        "",
        f"- p95 this / baseline: {ratio:.2f}x",
    ]
    _emit(lines, started, write)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=500, help="saves per mode")
    parser.add_argument("--storms", type=int, default=3, help="storm runs (median)")
    parser.add_argument("--rate", type=int, default=5000, help="sustained saves per second")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument("--soak-minutes", type=float, default=0.0, help="0: no soak")
    parser.add_argument("--soak-rate", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout: only compare save → queryable with it (alternating rounds)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="--baseline: rounds per side")
    parser.add_argument(
        "--poll-ms",
        type=float,
        default=1.0,
        help="--baseline: how often the client asks for the saved symbol (1 ms asks cost the "
        "service CPU beside the batch; 5 ms leaves it the cores)",
    )
    parser.add_argument(
        "--storm-copies",
        type=int,
        default=0,
        help="only the big storm: this many stdlib copies side by side (14: ~10,000 files)",
    )
    args = parser.parse_args(argv)
    if args.storm_copies:
        return big_storm(args.storm_copies, args.write)
    if args.baseline is not None:
        return compare_saves(
            args.baseline.resolve(), args.saves, args.rounds, args.write, args.poll_ms / 1000
        )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-serve-") as tmp:
        work = Path(tmp)
        tree = stdlib_tree(work)
        files = len(list(tree.rglob("*.py")))
        host = machine(work)
        floor = rss_floor()
        db = work / "live.duckdb"
        served = Served(tree, db, work / "serve.log")
        startup = served.startup_s
        try:
            write_lat = save_latency(served, tree, args.saves, atomic=False)
            atomic_lat = save_latency(served, tree, args.saves, atomic=True)
            steady_rss = served.get("/status")["rss_bytes"]
            storms = [storm(served, tree, r) for r in range(args.storms)]
            reached, settle = sustained(served, tree, args.rate, args.rate_seconds)
            soaked = (
                soak(served, tree, args.soak_minutes, args.soak_rate) if args.soak_minutes else None
            )
        finally:
            served.stop()
        colds = [cold_index(tree, work / f"cold-{r}.duckdb") for r in range(args.storms)]
        lost = lost_files(db, work / "cold-0.duckdb")
        if lost:
            print("missed:", lost[:20], file=sys.stderr)
    converge = [s[0] for s in storms]
    ratio = [c / k for c, k in zip(converge, colds, strict=True)]
    lines = [
        f"## bench_serve.py — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *host,
        f"- corpus: standard library copy, {files} files; {args.saves} saves per mode, "
        f"{args.storms} storms",
        "",
        "| measure | value | budget |",
        "|---|---|---|",
        f"| start-up (cold index + watch), s | {startup:.2f} | |",
        *(
            f"| save → queryable, {mode}: p50 / p95 / p99 ms | "
            f"{1000 * percentile(lat, 0.5):.1f} / {1000 * percentile(lat, 0.95):.1f} / "
            f"{1000 * percentile(lat, 0.99):.1f} | p95 <= 100, p99 <= 250 |"
            for mode, lat in (("write+close", write_lat), ("atomic rename", atomic_lat))
        ),
        f"| storm: {storms[0][1]} files rewritten, converge s | {spread(converge)} | |",
        f"| storm: cold index of the same tree, s | {spread(colds)} | |",
        f"| storm: converge / cold index | {spread(ratio)} | <= 1.2 |",
        f"| sustained: {reached:.0f} saves/s for {args.rate_seconds:.0f} s over 500 files, "
        f"then in sync after, s | {settle:.2f} | |",
        f"| sustained + storms: events lost (files whose bytes differ from a cold index) | "
        f"{len(lost)} | 0 |",
        *(
            [
                f"| soak: {soaked['saves']:.0f} saves in {args.soak_minutes:.0f} min, RSS slope "
                f"after warm-up, MB per 10,000 saves | {soaked['slope_mb_per_10k']:.2f} | <= 1 |",
                f"| soak: steady RSS (median of the last fifth), MB | {soaked['steady_mb']:.0f}"
                " | <= 150 |",
            ]
            if soaked
            else []
        ),
        f"| RSS floor (everything imported, nothing indexed), MB | {floor / MB:.0f} | |",
        f"| RSS after the saves, MB | {steady_rss / MB:.0f} | <= 150 |",
        f"| peak RSS (sampled every 20 ms), MB | {served.peak_rss / MB:.0f} | |",
        "",
        f"- mean save → queryable: write {1000 * statistics.mean(write_lat):.1f} ms, "
        f"atomic {1000 * statistics.mean(atomic_lat):.1f} ms",
    ]
    _emit(lines, started, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
