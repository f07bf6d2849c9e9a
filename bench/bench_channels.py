#!/usr/bin/env python3
"""Channels benchmark: accuracy on the fixture repositories, cost on the standard library.

1. Precision and recall of producer/consumer/declaration sites per transport, and of the
   orphan findings (orphaned_queue, consumer_without_producer, write_only_collection) per
   transport, against each fixture's hand-written ``tests/fixtures/channels/*/expected.json``.
2. Cold index of a copy of the standard library (in-process, jobs=1, so the switch below
   reaches extraction) with channel extraction on and off, alternating, medians of --runs;
   the channel pass's own time from the same runs.
3. ``orphaned_queues`` on a ~1,000-file tree (whole site-packages packages plus the fixtures'
   channel files), median of 20 runs.

It prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_index import REPO, STDLIB_EXCLUDES, machine, spread
from bench_link import thousand_files

import graphsvc.extract as extract
from graphsvc.config import load_settings
from graphsvc.findings import Refresher, list_findings
from graphsvc.link import channels as channel_pass
from graphsvc.link.channels import ChannelSummary
from graphsvc.queries import load_queries
from graphsvc.rules import load_rules
from graphsvc.store import Store
from graphsvc.update import index_tree

FIXTURES = REPO / "tests" / "fixtures" / "channels"
TARGET_RATIO = 1.25
TARGET_QUERY_MS = 50.0
Counts = dict[str, list[int]]  # transport -> [true positives, false positives, false negatives]


def _score(expected: set[str], found: set[str], field: int, into: Counts) -> None:
    """Count each line (``field``: where its transport is among the space-separated parts)."""
    for line in expected | found:
        counts = into.setdefault(line.split(" ")[field], [0, 0, 0])
        if line in expected and line in found:
            counts[0] += 1
        elif line in found:
            counts[1] += 1
        else:
            counts[2] += 1


def accuracy(work: Path) -> tuple[Counts, Counts]:
    sites: Counts = {}
    orphans: Counts = {}
    catalog = load_queries()
    for fixture in sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").is_file()):
        expected = json.loads((fixture / "expected.json").read_text(encoding="utf-8"))
        tree = work / fixture.name
        shutil.copytree(fixture / "tree", tree, ignore=shutil.ignore_patterns(".graphsvc"))
        settings = load_settings(tree, jobs=1)
        with Store.open(work / f"{fixture.name}.duckdb") as store:
            summary = index_tree(tree, store, settings)
            Refresher(catalog, tree).run(store, summary.batch_id, summary)
            rows = store.query(
                "SELECT path, line, role, transport, topic FROM channel_site_paths"
            ).rows
            findings = list_findings(store, limit=10_000).findings
        found_sites = {f"{p}:{ln} {r} {tr} {t}" for p, ln, r, tr, t in rows}
        kinds = ("orphaned_queue", "consumer_without_producer", "write_only_collection")
        found_orphans = {f"{f.id} {f.metadata['transport']}" for f in findings if f.kind in kinds}
        _score(set(expected["sites"]), found_sites, 2, sites)
        _score(set(expected["findings"]), found_orphans, 1, orphans)
    return sites, orphans


def _ratio(tp: int, other: int) -> float:
    return tp / (tp + other) if tp + other else 1.0


def cold_cost(
    work: Path, runs: int
) -> tuple[list[float], list[float], list[float], list[float], int, int]:
    source = Path(sysconfig.get_paths()["stdlib"])
    tree = work / "stdlib"
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    settings = load_settings(tree, jobs=1, exclude=STDLIB_EXCLUDES)
    with_channels: list[float] = []
    without: list[float] = []
    passes: list[float] = []
    skipped: list[float] = []
    timed = channel_pass.ChannelPass.run
    sites = files = 0

    def run_and_time(self: channel_pass.ChannelPass, store: Store) -> ChannelSummary:
        result = timed(self, store)
        passes.append(result.seconds)
        return result

    channel_pass.ChannelPass.run = run_and_time  # type: ignore[method-assign]
    try:
        for n in range(runs * 2):
            extract.CHANNELS = n % 2 == 0
            db = work / f"cold{n}.duckdb"
            started = time.perf_counter()
            with Store.open(db) as store:
                summary = index_tree(tree, store, settings)
                if extract.CHANNELS:
                    sites = int(store.query("SELECT count(*) FROM channel_sites").rows[0][0])
            seconds = time.perf_counter() - started
            files = summary.parsed
            (with_channels if extract.CHANNELS else without).append(seconds)
            if not extract.CHANNELS:
                passes.pop()
            if n == 0:
                skipped.extend(skipped_pass(db, tree, timed))
            db.unlink()
    finally:
        extract.CHANNELS = True
        channel_pass.ChannelPass.run = timed  # type: ignore[method-assign]
    return with_channels, without, passes, skipped, sites, files


def skipped_pass(db: Path, tree: Path, run: Callable[..., ChannelSummary]) -> list[float]:
    """The channel pass when no input changed (what most batches of a live service see)."""
    settings = load_settings(tree, jobs=1, exclude=STDLIB_EXCLUDES)
    rules = load_rules([])
    timings: list[float] = []
    with Store.open(db) as store:
        for _ in range(10):
            done = run(channel_pass.ChannelPass(rules, settings.channel_test_globs), store)
            if not done.skipped:
                raise RuntimeError("the channel pass ran although nothing changed")
            timings.append(done.seconds * 1000)
    return timings


def query_time(work: Path) -> tuple[list[float], int, int]:
    tree, count = thousand_files(work)
    for fixture in sorted(FIXTURES.iterdir()):
        shutil.copytree(fixture / "tree", tree / f"chfix_{fixture.name}")
    catalog = load_queries()
    query = catalog.get("orphaned_queues")
    timings: list[float] = []
    with Store.open(work / "thousand.duckdb") as store:
        index_tree(tree, store, load_settings(tree))
        sites = int(store.query("SELECT count(*) FROM channel_sites").rows[0][0])
        for _ in range(20):
            started = time.perf_counter()
            store.con.execute(query.sql, {"transport": None, "count_catch_all": False}).fetchall()
            timings.append((time.perf_counter() - started) * 1000)
    return timings, count, sites


def report(work: Path, runs: int) -> str:
    lines = ["", f"## Channels, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    lines += machine(work)
    sites, orphans = accuracy(work / "fixtures")
    lines += [
        "",
        "Accuracy on the fixture repositories (tests/fixtures/channels/*/expected.json, written"
        " by hand; precision / recall, true positives in brackets):",
        "",
        "| transport | sites P | sites R | orphan findings P | orphan findings R |",
        "|---|---|---|---|---|",
    ]
    for transport in sorted(set(sites) | set(orphans)):
        s = sites.get(transport, [0, 0, 0])
        o = orphans.get(transport, [0, 0, 0])
        lines.append(
            f"| {transport} | {_ratio(s[0], s[1]):.2f} ({s[0]}) | {_ratio(s[0], s[2]):.2f} |"
            f" {_ratio(o[0], o[1]):.2f} ({o[0]}) | {_ratio(o[0], o[2]):.2f} |"
        )
    with_ch, without, passes, skipped, site_count, files = cold_cost(work / "cold", runs)
    ratio = statistics.median(with_ch) / statistics.median(without)
    timings, count, query_sites = query_time(work / "query")
    lines += [
        "",
        f"- corpus: stdlib copy, {files} files parsed, cold `index_tree` in-process (jobs=1),"
        f" {runs} runs each, alternating; {site_count} channel sites found",
        "",
        "| metric | value |",
        "|---|---|",
        f"| cold index with channel extraction (s) | {statistics.median(with_ch):.2f}"
        f" ({spread(with_ch)}) |",
        f"| cold index without channel extraction (s) | {statistics.median(without):.2f}"
        f" ({spread(without)}) |",
        f"| ratio with / without | {ratio:.3f}x |",
        f"| of which the channel pass (s) | {statistics.median(passes):.3f} |",
        f"| the channel pass when no input changed (ms, n=10; fingerprint only) |"
        f" {statistics.median(skipped):.1f} ({spread(skipped)}) |",
        f"| `orphaned_queues` on {count} files + fixtures ({query_sites} sites), p50 / max (ms,"
        f" n=20) | {statistics.median(timings):.1f} / {max(timings):.1f} |",
        "",
        f"- {'PASS' if ratio <= TARGET_RATIO else 'FAIL'} channel extraction adds"
        f" {100 * (ratio - 1):.1f}% to the cold index (target <= 25%)",
        f"- {'PASS' if statistics.median(timings) <= TARGET_QUERY_MS else 'FAIL'}"
        f" orphaned_queues p50 {statistics.median(timings):.1f} ms (target <= 50 ms)",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-channels-") as tmp:
        work = Path(tmp)
        for sub in ("fixtures", "cold", "query"):
            (work / sub).mkdir()
        text = report(work, args.runs)
    print(text)
    if args.write:
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
