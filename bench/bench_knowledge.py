#!/usr/bin/env python3
"""Knowledge benchmark: what indexing documentation costs, and the knowledge findings' time.

The tree is ~1,000 files of site-packages (bench_link's corpus) plus one generated Markdown
doc per Python file ("as many docs as code"): headings, prose, code spans naming the module's
real functions and classes (a few renamed, so that stale_knowledge has work), a Python block
with imports, a shell block and links to sibling docs. Cold index (facts + links + channels +
doc baselines, as `graphsvc index` does it, before the findings) with doc indexing on, beside
the same tree with it off (GRAPHSVC_DOC_GLOBS=[]), runs alternating, medians; then the
stale_knowledge query, the unindexed_knowledge source and a one-doc re-index. Budget: doc
indexing adds <= 15% to the cold index. It prints a Markdown section; --write appends it to
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_index import append_section, machine, spread
from bench_link import thousand_files

from graphsvc.config import load_settings
from graphsvc.findings import KnowledgeSource, Refresher
from graphsvc.queries import load_queries, run_query
from graphsvc.store import Store
from graphsvc.update import index_tree

BUDGET = 1.15
_DEF = re.compile(r"^(?:async\s+)?(def|class)\s+([A-Za-z]\w*)", re.M)


def write_docs(tree: Path) -> tuple[int, int]:
    """One doc per Python file under tree/docs/, mirroring the package layout."""
    docs = tree / "docs"
    count = lines = 0
    for source in sorted(tree.rglob("*.py")):
        rel = source.relative_to(tree)
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        if not all(p.isidentifier() for p in module.split(".")):
            continue
        try:
            names = [m[2] for m in _DEF.finditer(source.read_text(encoding="utf-8"))][:12]
        except (OSError, UnicodeDecodeError):
            continue
        # every seventh name is written as if it had been renamed since
        spans = [f"`{module}.{n}{'_old' if i % 7 == 6 else ''}()`" for i, n in enumerate(names)]
        text = [
            f"# {module}",
            "",
            f"The module `{module}` lives in `{rel.as_posix()}`. It is documented here for the",
            "benchmark: prose with `true`, `json.loads` and [a link](https://example.com).",
            "",
            "## API",
            "",
            *(f"- {span}: what it does, in a sentence or two of prose." for span in spans),
            "",
            "## Example",
            "",
            "```python",
            f"import {module}",
            *(f"{module}.{n}" for n in names[:3]),
            "```",
            "",
            "```console",
            f"$ python -m {module} --help",
            "$ make test",
            "```",
            "",
            f"See [the package](../{rel.parts[0]}.md) and [home](/README.md).",
        ]
        target = docs / rel.with_suffix(".md")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(text) + "\n", encoding="utf-8")
        count += 1
        lines += len(text)
    return count, lines


def cold(tree: Path, db: Path, docs: bool) -> float:
    for path in db.parent.glob(db.name + "*"):
        path.unlink()
    settings = load_settings(tree, **({} if docs else {"doc_globs": []}))
    started = time.perf_counter()
    with Store.open(db) as store:
        index_tree(tree, store, settings)
    return time.perf_counter() - started


def measure(tree: Path, work: Path, runs: int) -> dict[str, object]:
    on: list[float] = []
    off: list[float] = []
    for n in range(runs):  # alternate, so that the machine's load hits both alike
        order = (True, False) if n % 2 == 0 else (False, True)
        for docs in order:
            (on if docs else off).append(cold(tree, work / "g.duckdb", docs))
    db = work / "g.duckdb"
    cold(tree, db, True)
    query = load_queries().get("stale_knowledge")
    stale_ms: list[float] = []
    source_ms: list[float] = []
    reindex_ms: list[float] = []
    with Store.open(db) as store:
        docs, mentions, stale_docs = store.con.execute(
            "SELECT (SELECT count(*) FROM doc_files), (SELECT count(*) FROM doc_mentions),"
            " (SELECT count(*) FROM doc_mention_status WHERE missing_reason IS NOT NULL)"
        ).fetchone() or (0, 0, 0)
        findings = 0
        for _ in range(runs):
            started = time.perf_counter()
            findings = len(run_query(store, query, {}).rows)
            stale_ms.append((time.perf_counter() - started) * 1000)
        source = KnowledgeSource(tree)
        unindexed = 0
        for _ in range(runs):
            started = time.perf_counter()
            unindexed = len(source.findings(store))
            source_ms.append((time.perf_counter() - started) * 1000)
        refresher = Refresher(load_queries(), tree)
        refresher.run(store)
        settings = load_settings(tree)
        edited = sorted((tree / "docs").rglob("*.md"))[:runs]
        for n, path in enumerate(edited):
            with path.open("a", encoding="utf-8") as out:
                out.write(f"\nEdit {n}: `{path.stem}.nothing_{n}`\n")
            started = time.perf_counter()
            index_tree(tree, store, settings)
            reindex_ms.append((time.perf_counter() - started) * 1000)
    return {
        "on": on,
        "off": off,
        "stale_ms": stale_ms,
        "source_ms": source_ms,
        "reindex_ms": reindex_ms,
        "docs": docs,
        "mentions": mentions,
        "stale_mentions": stale_docs,
        "stale_findings": findings,
        "unindexed_findings": unindexed,
    }


def report(
    result: dict[str, object], files: int, docs: int, doc_lines: int, runs: int, target: int
) -> str:
    on = result["on"]
    off = result["off"]
    assert isinstance(on, list) and isinstance(off, list)
    ratio = statistics.median(on) / statistics.median(off)
    verdict = "met" if ratio <= BUDGET else "**not met**"

    def ms(key: str) -> str:
        values = result[key]
        assert isinstance(values, list)
        return f"{statistics.median(values):.1f} ms ({spread(values)})"

    with tempfile.TemporaryDirectory() as tmp:
        lines = [
            "## Knowledge: doc indexing cost and the knowledge findings (bench_knowledge.py)",
            "",
            *machine(Path(tmp)),
            f"- corpus: {files} Python files of site-packages (bench_link's ~1,000-file tree) +"
            f" {docs} generated Markdown docs ({doc_lines} lines), one per module",
            f"- command: `python bench/bench_knowledge.py --runs {runs} --files {target}`;"
            " cold index ="
            " facts + links + channels + doc baselines (index_tree), jobs = CPU count;"
            " runs alternate on/off",
            "",
            "| measure | value |",
            "|---|---|",
            f"| cold index, docs off (GRAPHSVC_DOC_GLOBS=[]) | {statistics.median(off):.2f} s"
            f" ({spread(off)}) |",
            f"| cold index, docs on | {statistics.median(on):.2f} s ({spread(on)}) |",
            f"| ratio on / off (budget <= {BUDGET:.2f}) | {ratio:.3f}: {verdict} |",
            f"| docs / mentions indexed | {result['docs']} / {result['mentions']} |",
            f"| `stale_knowledge` query ({result['stale_findings']} findings,"
            f" {result['stale_mentions']} missing mentions) | {ms('stale_ms')} |",
            f"| `unindexed_knowledge` source, default mode ({result['unindexed_findings']}"
            f" findings) | {ms('source_ms')} |",
            f"| re-index after a one-doc edit (index_tree: walk, read, link, baseline) |"
            f" {ms('reindex_ms')} |",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tree, files = thousand_files(work, args.files)
        docs, doc_lines = write_docs(tree)
        result = measure(tree, work, args.runs)
        text = report(result, files, docs, doc_lines, args.runs, args.files)
    print(text)
    if args.write:
        append_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
