#!/usr/bin/env python3
"""Cycles and import contracts on a ~1,000-file tree, beside `lint-imports`.

The tree is whole top-level packages of site-packages (bench_link.thousand_files). Three
contracts are written for it in import-linter's format: the top-level packages independent of
each other, the children of the package with the most children as layers in name order (an
arbitrary order, so it breaks), and each top-level package forbidden to import `typing` and
`json` (outside modules). graphsvc checks them on its indexed graph (ContractSource: build the
grimp graph from DuckDB, run import-linter's contracts) and `lint-imports --no-cache` checks
them by parsing the tree itself; the broken (importer, imported) pairs of each contract are
compared (agreement: precision and recall of ours against lint-imports), and so is the time
(medians of several runs, same tree, same run): a cold check (load the graph from DuckDB,
check) and the check after a one-file edit that adds an import, as the service runs it (the
resident graph updated in place for the re-linked files, then every contract checked). The
`import_cycles` query (with its cycle finder and cut suggestions) is timed on the same
database. Budget: each <= 100 ms.
It prints a Markdown section; --write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_index import BIN, REPO, emit_section, machine, spread
from bench_link import thousand_files

from graphsvc.config import load_settings
from graphsvc.findings import ContractSource, Refresher
from graphsvc.findings.contracts import contract_findings, find_config
from graphsvc.queries import load_queries, run_rows
from graphsvc.store import Store
from graphsvc.update import index_tree

BUDGET_MS = 100.0
_BROKEN = re.compile(r"^(\S+) is not allowed to import (\S+):$")


def write_contracts(tree: Path, store: Store) -> list[str]:
    """An .importlinter file for the tree; returns the contract names."""
    tops = sorted(
        name
        for (name,) in store.con.execute(
            "SELECT name FROM modules WHERE NOT contains(name, '.')"
        ).fetchall()
    )
    children = store.con.execute(
        "SELECT split_part(name, '.', 1) AS top, list(DISTINCT split_part(name, '.', 2)) "
        "FROM modules WHERE contains(name, '.') GROUP BY top ORDER BY len(list(DISTINCT "
        "split_part(name, '.', 2))) DESC, top LIMIT 1"
    ).fetchone()
    assert children is not None
    big, layers = children[0], sorted(children[1])[:8]
    lines = ["[importlinter]", "root_packages =", *(f"    {t}" for t in tops)]
    lines += ["include_external_packages = True", ""]
    lines += ["[importlinter:contract:apart]", "name = packages apart", "type = independence"]
    lines += ["modules =", *(f"    {t}" for t in tops), ""]
    lines += ["[importlinter:contract:layers]", f"name = {big} layers", "type = layers"]
    lines += [f"containers = {big}", "layers =", *(f"    {c}" for c in layers), ""]
    lines += ["[importlinter:contract:no-typing]", "name = no typing or json"]
    lines += ["type = forbidden", "source_modules =", *(f"    {t}" for t in tops)]
    lines += ["forbidden_modules =", "    typing", "    json", ""]
    (tree / ".importlinter").write_text("\n".join(lines), encoding="utf-8")
    return ["packages apart", f"{big} layers", "no typing or json"]


def lint_imports(tree: Path) -> tuple[float, dict[str, set[tuple[str, str]]], str]:
    """Run lint-imports on the tree: seconds, broken pairs per contract name, the summary."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=tree, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    pairs: dict[str, set[tuple[str, str]]] = {}
    contract = ""
    lines = done.stdout.splitlines()
    for n, line in enumerate(lines):
        if n + 1 < len(lines) and set(lines[n + 1]) == {"-"} and line.strip():
            contract = line.strip()
        match = _BROKEN.match(line.strip())
        if match:
            pairs.setdefault(contract, set()).add((match[1], match[2]))
    summary = next((x for x in lines if x.startswith("Contracts:")), done.stderr[-300:])
    return seconds, pairs, summary


def one_file_edits(
    tree: Path, store: Store, catalog: object, edits: int
) -> tuple[list[float], list[tuple[float, float]], int]:
    """Seconds of the contract source's refresh after each one-file edit that adds an
    import of another top-level package (a resident source, as in the service)."""
    settings = load_settings(tree)
    refresher = Refresher(catalog, tree)  # type: ignore[arg-type]
    source = ContractSource(tree)
    summary = index_tree(tree, store, settings)
    refresher.run(store, summary.batch_id, summary)
    source.refresh(refresher, store, summary)
    paths = sorted(p for p in tree.rglob("*.py") if p.stat().st_size < 200_000)
    tops = sorted({p.relative_to(tree).parts[0] for p in paths})
    rng = random.Random(5)
    seconds: list[float] = []
    parts: list[tuple[float, float]] = []
    for n in range(edits):
        path = rng.choice(paths)
        with path.open("a", encoding="utf-8") as out:
            out.write(f"\n\ndef _bench_edit_{n}():\n    import {rng.choice(tops)}\n")
        summary = index_tree(tree, store, settings)
        refresher.run(store, summary.batch_id, summary)
        started = time.perf_counter()
        source.refresh(refresher, store, summary)
        seconds.append(time.perf_counter() - started)
        parts.append(source.last_ms)
    return seconds, parts, source.loads


def own_contract(work: Path, runs: int) -> tuple[float, int, str]:
    """graphsvc's own layers contract (pyproject.toml) on a copy of its own package: a check as
    a team writes one. Median ms of a cold check, modules, and the verdict."""
    tree = work / "own"
    shutil.copytree(REPO / "graphsvc", tree / "graphsvc", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tree / "pyproject.toml")
    with Store.open(work / "own.duckdb") as store:
        index_tree(tree, store, load_settings(tree))
        modules = store.con.execute("SELECT count(*) FROM modules").fetchone()
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            found = contract_findings(store, tree)
            samples.append(time.perf_counter() - started)
    verdict = ", ".join(f.id for f in found) or "kept"
    return statistics.median(samples) * 1000, int(modules[0]) if modules else 0, verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-arch-") as tmp:
        work = Path(tmp)
        info = machine(work)
        tree, files = thousand_files(work)
        with Store.open(work / "g.duckdb") as store:
            index_tree(tree, store, load_settings(tree))
            names = write_contracts(tree, store)
            assert find_config(tree) == tree / ".importlinter"
            ours_s: list[float] = []
            for _ in range(args.runs):
                started = time.perf_counter()
                found = contract_findings(store, tree)
                ours_s.append(time.perf_counter() - started)
            catalog = load_queries()
            edit_s, parts, loads = one_file_edits(tree, store, catalog, args.runs * 3)
            found = contract_findings(store, tree)  # as of the edits, as lint-imports sees it
            cycles = catalog.get("import_cycles")
            cycle_s: list[float] = []
            for _ in range(args.runs):
                started = time.perf_counter()
                rows = run_rows(store, cycles, {})
                cycle_s.append(time.perf_counter() - started)
        own_ms, own_modules, own_verdict = own_contract(work, args.runs)
        theirs_s: list[float] = []
        for _ in range(max(3, args.runs // 2)):
            seconds, theirs, summary = lint_imports(tree)
            theirs_s.append(seconds)
    ours: dict[str, set[tuple[str, str]]] = {}
    unchecked = []
    for f in found:
        if f.kind == "contract_unchecked":
            unchecked.append(f.id)
            continue
        ev = dict(line.split(": ", 1) for line in f.evidence if ": " in line)
        ours.setdefault(ev["contract"], set()).add((ev["importer"], ev["imported"]))
    rows_md = []
    for name in names:
        mine, ref = ours.get(name, set()), theirs.get(name, set())
        both = len(mine & ref)
        precision = both / len(mine) if mine else 1.0
        recall = both / len(ref) if ref else 1.0
        rows_md.append(f"| {name} | {len(mine)} | {len(ref)} | {precision:.2f} | {recall:.2f} |")
    ours_ms = statistics.median(ours_s) * 1000
    edit_ms = statistics.median(edit_s) * 1000
    theirs_ms = statistics.median(theirs_s) * 1000
    cycle_ms = statistics.median(cycle_s) * 1000
    sizes = sorted((r["size"] for r in rows), reverse=True)
    lines = [f"## Cycles and import contracts, {info[0][8:]}", "", *info, ""]
    lines += [f"- corpus: {files} files (whole site-packages packages, name order)", ""]
    lines += ["| contract | broken pairs (graphsvc) | broken pairs (lint-imports) |"
              " precision | recall |", "|---|---|---|---|---|", *rows_md, ""]  # fmt: skip
    lines += [
        f"- contracts not checked: {unchecked or 'none'}; lint-imports: {summary}",
        f"- cold contract check (load the graph from DuckDB, check), median of {args.runs} "
        f"(ms): {ours_ms:.1f} (spread {spread(ours_s, 1000)})",
        f"- contract refresh after a one-file edit adding an import (graph updated in place, "
        f"every contract checked), median of {len(edit_s)} (ms): {edit_ms:.1f} (spread "
        f"{spread(edit_s, 1000)}; full loads: {loads}, the first): graph update "
        f"{statistics.median(p[0] for p in parts):.1f}, checks "
        f"{statistics.median(p[1] for p in parts):.1f} (medians)",
        f"- graphsvc's own layers contract on its own package ({own_modules} modules), cold "
        f"check, median of {args.runs} (ms): {own_ms:.1f}; {own_verdict}",
        f"- `lint-imports --no-cache` on the same tree (parses it), median of "
        f"{len(theirs_s)} (ms): {theirs_ms:.1f}; graphsvc / lint-imports: "
        f"{ours_ms / theirs_ms:.2f}x",
        f"- `import_cycles` (query + cycle finder + cuts), median of {args.runs} (ms): "
        f"{cycle_ms:.1f} (spread {spread(cycle_s, 1000)}); {len(rows)} cycles, sizes "
        f"{sizes[:8]}",
        "",
        f"- {'PASS' if edit_ms <= BUDGET_MS else 'FAIL'} contract refresh after an edit "
        f"{edit_ms:.1f} ms <= {BUDGET_MS:.0f} ms (cold {ours_ms:.1f} ms); "
        f"{'PASS' if cycle_ms <= BUDGET_MS else 'FAIL'} import_cycles "
        f"{cycle_ms:.1f} ms <= {BUDGET_MS:.0f} ms",
    ]
    emit_section(lines, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
