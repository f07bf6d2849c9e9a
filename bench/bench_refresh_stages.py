#!/usr/bin/env python3
"""Where a findings refresh after a one-file edit spends its CPU: per query, per check.

On bench_link's ~1,000-file tree, indexed once, a resident Refresher follows one-file edits
(a function appended to a file chosen at random, seeded) with DuckDB's threads at 1. A first
batch edits every chosen file once, so the store knows their fact digests as after a cold
index in the same process (a service that indexed the tree); the refreshes after the next
edits are measured: the refresh's CPU time, each query's (``Refresher._rows``), the calls of
the per-file checks inside it (``file_keys``, ``file_digests``: the changed files' partition
keys and input digests; ``global_digests``/``global_digest``: the global inputs; ``run_rows``:
the partitions recomputed; ``guard_digests``: the file guards, charged to the query that read
them for all) and the refresh's other stages. CPU time, not wall time: the
development machine is shared. ``--init-edits N`` then measures N edits of package
``__init__.py`` files apart (a function appended, or a ``from`` import repeated: a re-export
whose links change, which touches the partitions of the names it imports).

With ``--baseline DIR`` (another checkout of graphsvc) both sides run in rounds, the baseline
first in each, each in a subprocess with its checkout first on ``sys.path``, on copies of the
same indexed database and tree. Start it from a folder without a ``graphsvc`` package (the
pool's workers import from the working directory first). It prints a Markdown section;
--write appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHECKS = ("file_keys", "file_digests", "global_digests", "global_digest", "run_rows")


def measure(
    tree: Path, db: Path, work: Path, edits: int, seed: int, init_edits: int = 0
) -> dict[str, Any]:
    """One side: copies of ``tree`` and ``db`` in ``work``, ``edits`` measured refreshes, then
    ``init_edits`` more of package ``__init__.py`` files (see :func:`init_edit`)."""
    from graphsvc.config import load_settings
    from graphsvc.findings import Refresher
    from graphsvc.findings import partition as partition_module
    from graphsvc.link import Linker
    from graphsvc.queries import load_queries
    from graphsvc.store import Store
    from graphsvc.update import index_tree

    shutil.copytree(tree, work / "repo")
    shutil.copy(db, work / "graph.duckdb")
    tree = work / "repo"
    settings = load_settings(tree)
    refresher = Refresher(load_queries(), tree)
    spent: dict[str, list[float]] = defaultdict(list)
    current: list[str] = [""]

    def timed(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label.format(query=current[0])].append((time.process_time() - started) * 1000)

        setattr(owner, name, wrapper)

    for name in CHECKS:
        timed(partition_module, name, "{query} " + name)
    try:  # the file guards' statement (graphsvc/findings/guards.py), where the checkout has it
        from graphsvc.findings import guards as guards_module
    except ImportError:
        guards_module = None
    if guards_module is not None:
        timed(guards_module, "guard_digests", "{query} guard_digests")
    rows = refresher._rows

    def query_rows(store: Store, query: Any, *args: Any) -> Any:
        current[0] = query.name
        started = time.process_time()
        try:
            return rows(store, query, *args)
        finally:
            spent[f"{query.name} (all)"].append((time.process_time() - started) * 1000)

    refresher._rows = query_rows  # type: ignore[method-assign]
    timed(refresher, "_unchanged", "stage _unchanged")
    timed(refresher.inputs, "observe", "stage inputs.observe")
    timed(refresher.suppressor, "reasons", "stage suppress")
    timed(refresher, "_write", "stage _write")
    rng = random.Random(seed)
    totals: list[float] = []
    with Store.open(work / "graph.duckdb") as store:
        store.con.execute("SET threads = 1")
        linker = Linker()
        summary = index_tree(tree, store, settings, linker=linker)
        refresher.run(store, summary.batch_id, summary)
        paths = sorted(p for p in tree.rglob("*.py") if p.stat().st_size < 200_000)
        chosen = [rng.choice(paths) for _ in range(edits)]
        inits = sorted(p for p in paths if p.name == "__init__.py" and _plain_init(p))
        chosen_inits = [rng.choice(inits) for _ in range(init_edits)] if inits else []
        for path in [*chosen, *chosen_inits]:
            with path.open("a", encoding="utf-8") as out:
                out.write("\n# warm\n")
        summary = index_tree(tree, store, settings, linker=linker)
        refresher.run(store, summary.batch_id, summary)
        spent.clear()
        for n, path in enumerate(chosen):
            with path.open("a", encoding="utf-8") as out:
                out.write(f"\n\ndef _bench_edit_{n}():\n    return {n}\n")
            summary = index_tree(tree, store, settings, linker=linker)
            started = time.process_time()
            refresher.run(store, summary.batch_id, summary)
            totals.append((time.process_time() - started) * 1000)
        per_edit = {label: sum(values) / edits for label, values in spent.items()}
        spent.clear()
        init_totals: list[float] = []
        for n, path in enumerate(chosen_inits):
            init_edit(path, n)
            summary = index_tree(tree, store, settings, linker=linker)
            started = time.process_time()
            refresher.run(store, summary.batch_id, summary)
            init_totals.append((time.process_time() - started) * 1000)
    init_per_edit = {label: sum(values) / len(init_totals) for label, values in spent.items()}
    return {
        "totals": totals,
        "per_edit": per_edit,
        "init_totals": init_totals,
        "init_per_edit": init_per_edit,
    }


def _plain_init(path: Path) -> bool:
    """A package ``__init__.py`` with a one-line ``from`` import and no star import (an edit
    that repeats a star import re-links every module that reads the package)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return "import *" not in text and _from_line(text) is not None


def _from_line(text: str) -> str | None:
    for line in text.splitlines():
        plain = "(" not in line and not line.rstrip().endswith("\\")
        if line.startswith("from ") and " import " in line and plain:
            return line.strip()
    return None


def init_edit(path: Path, n: int) -> None:
    """Edit a package's ``__init__.py``: even ``n`` appends a function, odd ``n`` repeats the
    file's first one-line ``from`` import at its end (a re-export moved: its links change,
    and with them the partitions of the names it imports)."""
    with path.open("a", encoding="utf-8") as out:
        if n % 2 == 0:
            out.write(f"\n\ndef _bench_init_edit_{n}():\n    return {n}\n")
        else:
            out.write("\n" + str(_from_line(path.read_text(encoding="utf-8"))) + "\n")


def measure_in(tree: str, db: str, edits: int, seed: int, init_edits: int = 0) -> dict[str, Any]:
    """:func:`measure` in a temporary folder of its own (as :func:`bench_index.in_checkout`
    calls it, with paths as strings)."""
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-refresh-") as tmp:
        return measure(Path(tree), Path(db), Path(tmp), edits, seed, init_edits)


def index_in(tree: str, db: str) -> int:
    """Index ``tree`` into a new database ``db`` with this checkout's schema (a baseline that
    predates a migration cannot open the database the other side indexed); its files."""
    from graphsvc.config import load_settings
    from graphsvc.link import Linker
    from graphsvc.store import Store
    from graphsvc.update import index_tree

    with Store.open(Path(db)) as store:
        index_tree(Path(tree), store, load_settings(Path(tree)), linker=Linker())
        return int(store.con.execute("SELECT count(*) FROM files").fetchall()[0][0])


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def section(runs: dict[str, list[dict[str, Any]]], info: list[str], files: int) -> list[str]:
    sides = list(runs)
    lines = [f"## Findings refresh per query and check (bench_refresh_stages.py), {info[0][8:]}"]
    lines += ["", *info, f"- corpus: {files} files (bench_link's ~1,000-file repo)"]
    lines += [
        f"- {len(runs[sides[0]])} round(s) per side, alternating; each: one warm batch, then"
        " one-file edits (a function appended); DuckDB threads 1; CPU ms of this process",
        *(
            [
                "- then edits of package `__init__.py` files without star imports (__init__"
                " edits: a function appended, or the file's first one-line `from` import"
                " repeated, alternating)"
            ]
            if any(r.get("init_totals") for s in sides for r in runs[s])
            else []
        ),
        "",
        "| measure | " + " | ".join([*sides, *(["ratio"] if len(sides) == 2 else [])]) + " |",
        "|---|" + "---|" * (len(sides) + (len(sides) == 2)),
    ]

    def row(label: str, values: list[float]) -> str:
        cells = " | ".join(f"{v:.1f}" for v in values)
        ratio = f" | {values[1] / values[0]:.2f}x" if len(values) == 2 and values[0] else ""
        if len(values) == 2 and not values[0]:
            ratio = " | "
        return f"| {label} | {cells}{ratio} |"

    for prefix, key in (("", ""), ("__init__ edits: ", "init_")):
        if not all(r.get(key + "totals") for s in sides for r in runs[s]):
            continue
        for q, name in ((0.5, "p50"), (0.95, "p95")):
            lines.append(
                row(
                    f"{prefix}refresh CPU {name} (median of rounds)",
                    [statistics.median(_p(r[key + "totals"], q) for r in runs[s]) for s in sides],
                )
            )
        per_edit = key + "per_edit"
        labels = sorted({label for s in sides for r in runs[s] for label in r[per_edit]})
        for label in labels:
            values = [
                statistics.median(r[per_edit].get(label, 0.0) for r in runs[s]) for s in sides
            ]
            if max(values) >= 0.5:
                lines.append(row(f"{prefix}{label}: ms per edit", values))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=12, help="measured one-file edits")
    parser.add_argument("--rounds", type=int, default=3, help="rounds with --baseline")
    parser.add_argument(
        "--init-edits",
        type=int,
        default=0,
        help="then edits of package __init__.py files (a function appended, an import repeated)",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_index import emit_section, in_checkout, machine, revision
    from bench_link import indexed_db

    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-refresh-") as tmp:
        work = Path(tmp)
        info = machine(work)
        db, files = indexed_db(work, None)
        tree = work / "repo"
        sides = {"this " + revision(REPO): REPO}
        dbs = {REPO: db}
        if args.baseline is not None:
            sides = {"baseline " + revision(args.baseline): args.baseline.resolve(), **sides}
            dbs[args.baseline.resolve()] = work / "baseline.duckdb"
            in_checkout(args.baseline.resolve(), "bench_refresh_stages", "index_in", tree,
                        dbs[args.baseline.resolve()])  # fmt: skip
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for _ in range(args.rounds if args.baseline is not None else 1):
            for side, checkout in sides.items():
                found = in_checkout(
                    checkout, "bench_refresh_stages", "measure_in", tree, dbs[checkout],
                    args.edits, args.seed, args.init_edits,
                )  # fmt: skip
                runs[side].append(found)
    emit_section(section(runs, info, files), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
