"""Missing wiring and uninitialised components: precision and recall on the fixture, each
query's time on a 1,000-file tree, and the findings on the standard library and installed
packages (with a sample to check by hand).

    .venv/bin/python bench/bench_wiring.py [--runs 7] [--packages networkx,rich] [--write]

Precision and recall are per query, against tests/fixtures/wiring/expected.json (written by
hand). Query times are medians over ``--runs`` runs on the tree bench_link.py builds (whole
site-packages packages in name order, ~1,000 files), each beside the ratio to the import-only
``missing_wiring`` query measured in the same run. Then the standard library (without
site-packages) and each ``--packages`` package are indexed on their own and the findings of
each query counted; ``--sample N`` findings, drawn with a fixed seed, are printed for the hand
check (the verdicts go into BENCHMARKS.md by hand, next to the section).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench_index import append_section, machine, spread
from bench_link import thousand_files

from graphsvc.config import load_settings
from graphsvc.findings import Refresher, list_findings
from graphsvc.queries import load_queries, run_rows
from graphsvc.store import Store
from graphsvc.update import index_tree

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "wiring"
QUERIES = (
    "missing_wiring_calls",
    "unassigned_self_attributes",
    "uninitialized_components",
)
BASELINE = "missing_wiring"  # the import-only query of the same family
BUDGET_MS = 100.0


def index(tree: Path, db: Path, exclude: tuple[str, ...] = ()) -> float:
    """Index ``tree`` into ``db`` and refresh the findings; seconds taken."""
    settings = load_settings(tree, jobs=2, exclude=list(exclude), db_memory_mb=512)
    catalog = load_queries()
    started = time.perf_counter()
    with Store.open(db) as store:
        summary = index_tree(tree, store, settings)
        Refresher(catalog, tree, settings.suppress).run(store, summary.batch_id, summary)
    return time.perf_counter() - started


def by_query(db: Path) -> dict[str, list[dict[str, object]]]:
    """The open findings of each wiring query (and the baseline) as small dicts."""
    found: dict[str, list[dict[str, object]]] = {q: [] for q in (BASELINE, *QUERIES)}
    with Store.open(db, read_only=True) as store:
        for f in list_findings(store, limit=100_000).findings:
            if f.status == "open" and f.query in found:
                found[f.query].append(
                    {
                        "id": f.id,
                        "question": f.question,
                        "locations": [f"{loc.path}:{loc.line}" for loc in f.locations[:3]],
                        "confidence": f.confidence,
                    }
                )
    return found


def fixture_scores(work: Path) -> list[tuple[str, str, str, str]]:
    """(query, expected, found, precision / recall) on the hand-written fixture."""
    tree = shutil.copytree(FIXTURE / "tree", work / "fixture")
    db = work / "fixture.duckdb"
    index(tree, db)
    found = by_query(db)
    expected: dict[str, set[str]] = {}
    for fid, want in json.loads((FIXTURE / "expected.json").read_text()).items():
        if fid != "_comment":
            expected.setdefault(want["query"], set()).add(fid)
    rows = []
    for query in (BASELINE, *QUERIES):
        got = {str(f["id"]) for f in found[query]}
        want = expected.get(query, set())
        hits = len(got & want)
        precision = hits / len(got) if got else 1.0
        recall = hits / len(want) if want else 1.0
        rows.append((query, str(len(want)), str(len(got)), f"{precision:.2f} / {recall:.2f}"))
    return rows


def query_times(work: Path, runs: int) -> tuple[int, dict[str, list[float]]]:
    """Files of the 1,000-file tree, and each query's run times (seconds)."""
    tree, files = thousand_files(work)
    db = work / "repo.duckdb"
    index(tree, db)
    catalog = load_queries()
    times: dict[str, list[float]] = {q: [] for q in (BASELINE, *QUERIES)}
    with Store.open(db) as store:
        for _ in range(runs):  # alternate the queries, so that drift hits them alike
            for name in times:
                query = catalog.get(name)
                started = time.perf_counter()
                run_rows(store, query)
                times[name].append(time.perf_counter() - started)
    return files, times


def corpus_counts(
    work: Path, name: str, tree: Path, exclude: tuple[str, ...]
) -> tuple[int, float, dict[str, list[dict[str, object]]]]:
    db = work / f"{name}.duckdb"
    seconds = index(tree, db, exclude)
    with Store.open(db, read_only=True) as store:
        row = store.con.execute("SELECT count(*) FROM files").fetchone()
    return (int(row[0]) if row else 0), seconds, by_query(db)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--packages", default="networkx,rich,werkzeug,watchdog,uvicorn,click,starlette"
    )
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--no-corpora", action="store_true", help="skip stdlib and packages")
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphsvc-bench-wiring-") as tmp:
        work = Path(tmp)
        info = machine(work)
        scores = fixture_scores(work)
        files, times = query_times(work, args.runs)
        corpora: list[tuple[str, int, float, dict[str, list[dict[str, object]]]]] = []
        if not args.no_corpora:
            stdlib = Path(sysconfig.get_paths()["stdlib"])
            got = corpus_counts(work, "stdlib", stdlib, ("site-packages/",))
            corpora.append(("stdlib", *got))
            purelib = Path(sysconfig.get_paths()["purelib"])
            for package in filter(None, args.packages.split(",")):
                if (purelib / package).is_dir():
                    root = work / f"corpus_{package}"
                    shutil.copytree(purelib / package, root / package)
                    corpora.append((package, *corpus_counts(work, package, root, ())))
    base = statistics.median(times[BASELINE])
    lines = [f"## Missing wiring and uninitialised components (#8), {info[0][8:]}", "", *info, ""]
    lines += [
        "Precision / recall on `tests/fixtures/wiring/` (expected findings written by hand;"
        " every near miss of the fixture must stay silent):",
        "",
        "| query | expected | found | precision / recall |",
        "|---|---|---|---|",
        *(f"| `{q}` | {e} | {g} | {pr} |" for q, e, g, pr in scores),
        "",
        f"Query time on {files} files of site-packages (median of {args.runs} runs, spread"
        f" min-max; ratio to `{BASELINE}`, the import-only query, measured in the same run;"
        f" budget {BUDGET_MS:.0f} ms):",
        "",
        "| query | ms | ratio | budget |",
        "|---|---|---|---|",
    ]
    for name, samples in times.items():
        median_ms = statistics.median(samples) * 1000
        verdict = "PASS" if median_ms <= BUDGET_MS else "FAIL"
        ratio = statistics.median(samples) / base if base else float("nan")
        lines.append(f"| `{name}` | {spread(samples, 1000)} | {ratio:.2f}x | {verdict} |")
    sample: list[tuple[str, dict[str, object]]] = []
    if corpora:
        lines += [
            "",
            "Open findings per query on whole corpora (each indexed on its own):",
            "",
            "| corpus | files | index s | " + " | ".join(f"`{q}`" for q in QUERIES) + " |",
            "|---|---|---|" + "---|" * len(QUERIES),
        ]
        for name, count, seconds, found in corpora:
            cells = " | ".join(str(len(found[q])) for q in QUERIES)
            lines.append(f"| {name} | {count} | {seconds:.0f} | {cells} |")
            sample += [(name, f) for q in QUERIES for f in found[q]]
    section = "\n".join(lines) + "\n"
    print(section)
    if sample:
        rng = random.Random(8)
        picked = rng.sample(sample, min(args.sample, len(sample)))
        print(f"## sample for the hand check ({len(picked)} of {len(sample)})")
        for corpus, finding in picked:
            print(json.dumps({"corpus": corpus, **finding}))
    if args.write:
        append_section(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
