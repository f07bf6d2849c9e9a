#!/usr/bin/env python3
"""Duplicate responsibilities benchmark: accuracy on the fixture, query time, index cost, stdlib.

1. Precision and recall of the duplicate groups on tests/fixtures/dupes/ (expected.json,
   written by hand) for graphsvc's four duplicate_* queries and for a BASELINE: a plain
   jscpd-style detector written below (exact token windows of 50 tokens over each file's
   tokens, comments and whitespace dropped, no renaming; matches extended and kept when they
   span 5 lines or more, jscpd's defaults). It is a baseline to compare with, not product code:
   no installable Python tool of this kind fits (jscpd is a Node program). Each side of a
   baseline match is mapped to the innermost definition around its first line (the module
   when there is none), and groups are the connected components of those pairs, as ours are.
2. Each duplicate_* query (with its finder) on a ~1,000-file tree (whole site-packages
   packages), medians of 20 runs.
3. Cold index of a copy of the standard library in-process (jobs=1, so the switch reaches
   extraction) with clone fingerprints on and off, alternating, medians of --runs.
4. Findings per query on that standard library copy, and a seeded sample of 20 groups printed
   for a hand check (the check itself is written into BENCHMARKS.md by a person).

It prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
import tokenize
from pathlib import Path

from bench_index import REPO, STDLIB_EXCLUDES, append_section, machine, spread
from bench_link import thousand_files

import graphsvc.extract as extract
from graphsvc.config import load_settings
from graphsvc.findings import Refresher, list_findings
from graphsvc.queries import load_queries, run_rows
from graphsvc.store import Store
from graphsvc.update import index_tree

FIXTURE = REPO / "tests" / "fixtures" / "dupes"
QUERIES = ("duplicate_code", "duplicate_files", "duplicate_roles", "duplicate_purposes")
TARGET_RATIO = 1.20
TARGET_QUERY_MS = 100.0
WINDOW_TOKENS, WINDOW_LINES = 50, 5  # jscpd's defaults (minTokens, minLines)
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}


# -- the baseline: jscpd-style token windows (a baseline, not product code) --------------------


def _file_tokens(path: Path) -> list[tuple[str, int]]:
    try:
        toks = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        return [(t.string, t.start[0]) for t in toks if t.type not in _SKIP and t.string]
    except (SyntaxError, tokenize.TokenError, UnicodeDecodeError):
        return []


def baseline_matches(tree: Path) -> list[tuple[str, int, int, str, int, int]]:
    """(path a, first line, last line, path b, first line, last line) of every clone."""
    files = {str(p.relative_to(tree)): _file_tokens(p) for p in sorted(tree.rglob("*.py"))}
    where: dict[int, list[tuple[str, int]]] = {}
    for path, toks in files.items():
        values = [t for t, _ in toks]
        for i in range(len(values) - WINDOW_TOKENS + 1):
            where.setdefault(hash(tuple(values[i : i + WINDOW_TOKENS])), []).append((path, i))
    pairs: set[tuple[str, int, str, int]] = set()
    for spots in where.values():
        for x in range(len(spots)):
            for y in range(x + 1, len(spots)):
                pairs.add((*spots[x], *spots[y]))
    out = []
    for a, i, b, j in sorted(pairs):
        if (a, i - 1, b, j - 1) in pairs:
            continue  # not the start of a run
        n = 0
        while (a, i + n + 1, b, j + n + 1) in pairs:
            n += 1
        ta, tb = files[a], files[b]
        la = (ta[i][1], ta[i + n + WINDOW_TOKENS - 1][1])
        lb = (tb[j][1], tb[j + n + WINDOW_TOKENS - 1][1])
        if la[1] - la[0] + 1 >= WINDOW_LINES and lb[1] - lb[0] + 1 >= WINDOW_LINES:
            out.append((a, *la, b, *lb))
    return out


def _components(pairs: list[tuple[str, str]]) -> list[frozenset[str]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups: dict[str, set[str]] = {}
    for x in parent:
        groups.setdefault(find(x), set()).add(x)
    return [frozenset(g) for g in groups.values() if len(g) > 1]


def baseline_groups(tree: Path, store: Store) -> list[frozenset[str]]:
    defs: dict[str, list[tuple[int, int, str]]] = {}
    for path, qualname, line, end in store.query(
        "SELECT f.path, c.qualname, c.line, c.end_line FROM clones c JOIN files f USING (file_id)"
    ).rows:
        defs.setdefault(path, []).append((line, end, qualname))
    modules = dict(store.query("SELECT path, module FROM files").rows)

    def entity(path: str, first: int, last: int) -> str:
        # generous to the baseline: the innermost definition around the match's first line
        # (a match often runs on into the next definition's first tokens), else the module
        del last
        around = [(e - s, q) for s, e, q in defs.get(path, []) if s <= first <= e]
        return min(around)[1] if around else modules[path]

    pairs = [
        (entity(a, a1, a2), entity(b, b1, b2)) for a, a1, a2, b, b1, b2 in baseline_matches(tree)
    ]
    return _components([(x, y) for x, y in pairs if x != y])


# -- accuracy ------------------------------------------------------------------------------------


def _score(found: list[frozenset[str]], expected: list[frozenset[str]]) -> tuple[int, int, int]:
    tp = len(set(found) & set(expected))
    return tp, len(set(found)) - tp, len(set(expected)) - tp


def accuracy(work: Path) -> tuple[dict[str, tuple[int, int, int, int]], int]:
    groups = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))["groups"]
    expected = [frozenset(g["members"]) for g in groups]
    tree = shutil.copytree(FIXTURE / "tree", work / "tree")
    with Store.open(work / "fixture.duckdb") as store:
        summary = index_tree(tree, store, load_settings(tree, jobs=1))
        Refresher(load_queries(), tree).run(store, summary.batch_id, summary)
        findings = list_findings(store, kind="duplicate_responsibility", limit=10_000).findings
        ours = [
            frozenset(e.removeprefix("members: ") for e in f.evidence if e.startswith("members:"))
            for f in findings
            if f.status == "open"
        ]
        base = baseline_groups(tree, store)
    textual = [frozenset(g["members"]) for g in groups if g["id"].split("_")[2] in ("code", "file")]
    return {
        "graphsvc duplicate_*": (*_score(ours, expected), _score(ours, textual)[0]),
        "baseline token windows": (*_score(base, expected), _score(base, textual)[0]),
    }, len(textual)


# -- cost --------------------------------------------------------------------------------------


def query_times(
    work: Path, runs: int = 20
) -> tuple[dict[str, list[float]], int, int, dict[str, int]]:
    work.mkdir(parents=True, exist_ok=True)
    tree, count = thousand_files(work)
    catalog = load_queries()
    timings: dict[str, list[float]] = {name: [] for name in QUERIES}
    found: dict[str, int] = {}
    with Store.open(work / "thousand.duckdb") as store:
        index_tree(tree, store, load_settings(tree))
        units = int(store.query("SELECT count(*) FROM clones").rows[0][0])
        for _ in range(runs):
            for name in QUERIES:
                started = time.perf_counter()
                found[name] = len(run_rows(store, catalog.get(name)))
                timings[name].append((time.perf_counter() - started) * 1000)
    return timings, count, units, found


def cold_cost(work: Path, runs: int) -> tuple[list[float], list[float], int, Path]:
    source = Path(sysconfig.get_paths()["stdlib"])
    tree = work / "stdlib"
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    settings = load_settings(tree, jobs=1, exclude=STDLIB_EXCLUDES)
    on: list[float] = []
    off: list[float] = []
    files = 0
    try:
        for n in range(runs * 2):
            extract.CLONES = n % 2 == 0
            db = work / f"cold{n}.duckdb"
            started = time.perf_counter()
            with Store.open(db) as store:
                files = index_tree(tree, store, settings).parsed
            (on if extract.CLONES else off).append(time.perf_counter() - started)
            if n > 0:
                db.unlink()
    finally:
        extract.CLONES = True
    return on, off, files, work / "cold0.duckdb"


def stdlib_findings(db: Path, tree: Path) -> tuple[dict[str, int], list[str]]:
    catalog = load_queries()
    counts: dict[str, int] = {}
    sample: list[str] = []
    with Store.open(db) as store:
        for name in QUERIES:
            rows = run_rows(store, catalog.get(name))
            counts[name] = len(rows)
            sample += [f"{name}: {', '.join(r['members'])}" for r in rows]
        units = int(store.query("SELECT count(*) FROM clones").rows[0][0])
    counts["clones rows"] = units
    rng = random.Random(8)
    return counts, sorted(rng.sample(sample, min(20, len(sample))))


def report(work: Path, runs: int) -> str:
    lines = [
        "",
        f"## Duplicate responsibilities, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
    ]
    lines += machine(work)
    scores, textual = accuracy(work / "fixture")
    lines += [
        "",
        "Accuracy on tests/fixtures/dupes (6 groups written by hand: 3 code, 1 file, 1 role, 1"
        " purpose; the rest negatives). A group counts when its member set equals an expected"
        f" one. The last column is recall on the {textual} code and file groups only (what a"
        " textual detector can find):",
        "",
        "| detector | groups reported | precision | recall (6) | recall (code, file) |",
        "|---|---|---|---|---|",
    ]
    for name, (tp, fp, fn, tp_textual) in scores.items():
        p = tp / (tp + fp) if tp + fp else 1.0
        lines.append(
            f"| {name} | {tp + fp} | {p:.2f} ({tp}/{tp + fp}) |"
            f" {tp / (tp + fn):.2f} ({tp}/{tp + fn}) |"
            f" {tp_textual / textual:.2f} ({tp_textual}/{textual}) |"
        )
    timings, count, units, found = query_times(work / "query")
    lines += [
        "",
        f"Queries on {count} files of site-packages ({units} clones rows), run_rows with the"
        " finder, 20 runs:",
        "",
        "| query | groups | p50 ms | max ms | budget |",
        "|---|---|---|---|---|",
    ]
    for name, values in timings.items():
        ok = "met" if statistics.median(values) <= TARGET_QUERY_MS else "**not met**"
        lines.append(
            f"| {name} | {found[name]} | {statistics.median(values):.1f} | {max(values):.1f} |"
            f" <= {TARGET_QUERY_MS:.0f} ms: {ok} |"
        )
    on, off, files, db = cold_cost(work / "cold", runs)
    ratio = statistics.median(on) / statistics.median(off)
    counts, sample = stdlib_findings(db, work / "cold" / "stdlib")
    lines += [
        "",
        f"Cold index of a stdlib copy ({files} files parsed), in-process, jobs=1, {runs} runs"
        " each, alternating:",
        "",
        "| metric | value |",
        "|---|---|",
        f"| cold index with clone fingerprints (s) | {spread(on)} |",
        f"| cold index without (s) | {spread(off)} |",
        f"| ratio with / without | {ratio:.3f}x (budget <= {TARGET_RATIO:.2f}x:"
        f" {'met' if ratio <= TARGET_RATIO else '**not met**'}) |",
        "",
        "Findings on that stdlib copy (default parameters): "
        + ", ".join(f"{k} {v}" for k, v in counts.items()),
        "",
        "Sample of 20 groups for the hand check (seed 8):",
        "",
        *[f"- {s}" for s in sample],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-dupes-") as tmp:
        text = report(Path(tmp), args.runs)
    print(text)
    if args.write:
        append_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
