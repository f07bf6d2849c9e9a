"""Duplicate responsibilities (#8): clone fingerprints at extraction, the four duplicate_*
queries on the fixture repository (tests/fixtures/dupes/), id stability across edits,
and incremental updates equal to a cold index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from graphsvc.config import load_settings
from graphsvc.extract import extract
from graphsvc.extract.clones import BINS
from graphsvc.facts import CloneUnit, ModuleInfo
from graphsvc.findings import Finding, Refresher, events_since, list_findings
from graphsvc.queries import load_queries, run_rows
from graphsvc.queries.duplicates import duplicate_groups
from graphsvc.store import Store
from graphsvc.update import index_tree

FIXTURE = Path(__file__).parent / "fixtures" / "dupes"
CATALOG = load_queries()
KIND = "duplicate_responsibility"


def clones(source: str, module: str = "m") -> dict[str, CloneUnit]:
    found = extract(f"{module}.py", source.encode(), ModuleInfo(module, False, ""))
    return {c.qualname: c for c in found.clones}


def similarity(a: CloneUnit, b: CloneUnit) -> float:
    return sum(x == y for x, y in zip(a.signature, b.signature, strict=True)) / BINS


class Graph:
    """A tree, its database and one Refresher kept across updates (as the service keeps it)."""

    def __init__(self, tree: Path, db: Path) -> None:
        self.tree, self.db = tree, db
        self.settings = load_settings(tree, jobs=1)
        self.refresher = Refresher(CATALOG, tree)

    def update(self) -> dict[str, Finding]:
        with Store.open(self.db) as store:
            summary = index_tree(self.tree, store, self.settings)
            self.refresher.run(store, summary.batch_id, summary)
            found = list_findings(store, kind=KIND, limit=10_000).findings
            return {f.id: f for f in found if f.status == "open"}

    def events(self) -> list[tuple[str, str]]:
        with Store.open(self.db, read_only=True) as store:
            return [(e.finding_id, e.event) for e in events_since(store, 0, 10_000)]

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with Store.open(self.db, read_only=True) as store:
            return sorted(store.query(sql).rows)


@pytest.fixture
def fixture_tree(tmp_path: Path) -> Path:
    return shutil.copytree(FIXTURE / "tree", tmp_path / "tree")


def _members(finding: Finding) -> list[str]:
    return [e.removeprefix("members: ") for e in finding.evidence if e.startswith("members: ")]


# -- fingerprints ------------------------------------------------------------------------------

ORIGINAL = '''
def total(lines, rate):
    """Sum the lines."""
    subtotal = 0
    for line in lines:
        subtotal += line["price"] * line["quantity"]
    return round(subtotal * (1 + rate), 2)
'''


def test_layout_comments_docstring_decorators_and_name_do_not_change_the_exact_hash() -> None:
    relaid = '''
import functools
@functools.cache
def other_name(lines,
               rate):  # a comment
    """Another docstring, on purpose."""
    subtotal = 0

    for line in lines:   # loop
        subtotal += line["price"] * line[
            "quantity"]
    return round(subtotal * (1 + rate), 2)
'''
    a, b = clones(ORIGINAL)["m.total"], clones(relaid)["m.other_name"]
    assert (a.exact, a.shape, a.tokens) == (b.exact, b.shape, b.tokens)
    assert a.signature == b.signature and len(a.signature) == BINS


def test_renamed_variables_and_literals_keep_the_shape_but_not_the_exact_hash() -> None:
    renamed = ORIGINAL.replace("subtotal", "acc").replace("line", "row").replace("2)", "4)")
    a, b = clones(ORIGINAL)["m.total"], clones(renamed)["m.total"]
    assert a.exact != b.exact
    assert a.shape == b.shape


def test_other_operations_or_attributes_change_the_shape() -> None:
    base = clones(ORIGINAL)["m.total"]
    for edit in (("+=", "-="), ("round(", "abs("), ('["price"]', ".price")):
        assert clones(ORIGINAL.replace(*edit))["m.total"].shape != base.shape, edit


def test_consistent_renaming_is_not_blind() -> None:
    """``a = b + a`` and ``a = b + b`` differ although both rename to names and a plus."""
    one = clones("def f(a, b):\n    a = b + a\n    return a\n")["m.f"]
    two = clones("def f(a, b):\n    a = b + b\n    return a\n")["m.f"]
    assert one.shape != two.shape


def test_near_duplicate_signatures_estimate_similarity() -> None:
    source = (FIXTURE / "tree" / "etl" / "load_csv.py").read_text()
    near = (FIXTURE / "tree" / "etl" / "load_tsv.py").read_text()
    different = (FIXTURE / "tree" / "etl" / "stats.py").read_text()
    a = clones(source, "a")["a.parse_rows"]
    b = clones(near, "b")["b.parse_tsv_rows"]
    stats = clones(different, "c")
    assert 0.7 <= similarity(a, b) < 1.0
    assert similarity(stats["c.sum_of_squares"], stats["c.product_of_inverses"]) < 0.5
    assert similarity(a, a) == 1.0


def test_a_class_hashes_its_methods_and_tiny_definitions_get_no_signature() -> None:
    source = (
        "class A:\n    def f(self):\n        return 1\n\n    def g(self, x):\n        return x\n"
    )
    found = clones(source)
    assert found["m.A"].tokens == 1 + found["m.A.f"].tokens + found["m.A.g"].tokens
    assert found["m.A.f"].parent == "m.A" and found["m.A"].parent is None
    assert found["m.A.f"].signature == ()
    changed = clones(source.replace("return 1", "return 2"))
    assert changed["m.A"].exact != found["m.A"].exact
    assert changed["m.A"].shape == found["m.A"].shape


@pytest.mark.parametrize(
    ("source", "boilerplate"),
    [
        ("def f(self):\n    return self._name\n", True),
        ("def f(self):\n    pass\n", True),
        ("def f(self):\n    ...\n", True),
        ("def f(self, a):\n    '''Doc.'''\n    raise NotImplementedError('later')\n", True),
        ("def f(self, a, b):\n    super().__init__()\n    self.a = a\n    self.b = b\n", True),
        ("def f(self, a):\n    self.items = []\n    self.a: int = a\n", True),
        ("class E(Exception):\n    '''Raised.'''\n", True),
        ("class C:\n    x = 1\n    def f(self):\n        return self.x\n", True),
        ("def f(self, a):\n    self.a = compute(a)\n", False),
        ("def f(self, a):\n    return a + 1\n", False),
        ("def f(self, a):\n    if a:\n        return 1\n    return 2\n", False),
        ("def f(self, a):\n    raise ValueError(a)\n", False),
        ("class C:\n    def f(self):\n        return self.x + 1\n", False),
    ],
)
def test_boilerplate(source: str, boilerplate: bool) -> None:
    first = next(iter(clones(source).values()))
    assert first.boilerplate is boilerplate


def test_a_definition_with_a_syntax_error_gets_no_row_and_the_rest_do() -> None:
    source = (
        "def good(a):\n    return a * 2\n\n"
        "def bad(a):\n    return (a +\n\n"
        "def after(b):\n    return b\n"
    )
    found = clones(source)
    assert "m.good" in found and "m.bad" not in found


def test_odd_tokens_never_raise() -> None:
    source = (
        "def f(x):\n"
        "    s = rb'\\x00' + f\"{x!r:>10}\" + '''multi\nline''' + \"\\\"\"\n"
        "    n = 0x1F + 1e-5 + .5j + 1_000\n"
        "    return é + x @ y if x else ~x ** 2 // 3\n"
    )
    found = clones(source)
    assert found["m.f"].tokens > 20


# -- the queries on the fixture repository -----------------------------------------------------


def test_fixture_repository_reports_exactly_the_expected_groups(
    fixture_tree: Path, tmp_path: Path
) -> None:
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))["groups"]
    found = Graph(fixture_tree, tmp_path / "g.duckdb").update()
    got = [
        {
            "id": f.id,
            "hypothesis": f.hypothesis,
            "members": _members(f),
            "locations": [f"{loc.path}:{loc.line} {loc.symbol}" for loc in f.locations],
        }
        for f in found.values()
    ]
    want = [{k: g[k] for k in ("id", "hypothesis", "members", "locations")} for g in expected]
    assert sorted(got, key=lambda g: g["id"]) == sorted(want, key=lambda g: g["id"])
    for finding in found.values():
        assert finding.kind == KIND and finding.hypothesis.startswith("DUPLICATE_")
        assert finding.evidence_hash and finding.question.endswith("?")


def test_parameters_widen_the_net(fixture_tree: Path, tmp_path: Path) -> None:
    graph = Graph(fixture_tree, tmp_path / "g.duckdb")
    graph.update()
    query = CATALOG.get("duplicate_code")
    with Store.open(graph.db, read_only=True) as store:
        default = {tuple(r["members"]) for r in run_rows(store, query)}
        with_tests = {tuple(r["members"]) for r in run_rows(store, query, {"include_tests": True})}
        loose = {tuple(r["members"]) for r in run_rows(store, query, {"min_similarity": 0.5})}
    tests = (
        "tests.test_billing.test_total_with_discount",
        "tests.test_billing.test_total_without_discount",
    )
    assert tests not in default and tests in with_tests
    assert len(loose) > len(default)


def test_copies_of_whole_classes_are_one_group_not_one_per_method() -> None:
    rows = [
        {
            "source": f"b.C{suffix}",
            "source_path": "b.py",
            "source_line": 1,
            "source_parent": "b.C" if suffix else None,
            "target": f"a.C{suffix}",
            "target_path": "a.py",
            "target_line": 1,
            "target_parent": "a.C" if suffix else None,
            "kind": "function" if suffix else "class",
            "how": "exact",
            "similarity": 1.0,
        }
        for suffix in ("", ".run", ".stop")
    ]
    groups = duplicate_groups(rows)
    assert [g["members"] for g in groups] == [["a.C", "b.C"]]
    alternatives = dict(rows[0], source="a.C", source_path="a.py")
    assert duplicate_groups([alternatives]) == []


# -- stability and incremental updates ---------------------------------------------------------


def test_editing_a_member_keeps_the_id_and_whitespace_edits_change_nothing(
    fixture_tree: Path, tmp_path: Path
) -> None:
    graph = Graph(fixture_tree, tmp_path / "g.duckdb")
    before = graph.update()
    inventory = fixture_tree / "shop" / "inventory.py"
    clone_sql = "SELECT qualname, exact, shape, signature FROM clones"
    hashes = graph.rows(clone_sql)
    events = graph.events()

    # comments, blank lines and a re-indented continuation: same hashes, no event at all
    text = inventory.read_text()
    inventory.write_text(
        text.replace("    orders = []\n", "    # collect\n    orders = []\n\n").replace(
            "orders.append({", "orders.append(\n            {"
        )
    )
    assert graph.update().keys() == before.keys()
    assert graph.rows(clone_sql) == hashes
    assert graph.events() == events

    # a member gains a statement: no longer a renamed clone but a near one; same members, same id
    renamed = next(i for i, f in before.items() if f.hypothesis.startswith("DUPLICATE_CODE_REN"))
    inventory.write_text(
        text.replace("    return orders\n", "    log(len(orders))\n    return orders\n")
    )
    after = graph.update()
    assert after.keys() == before.keys()
    assert after[renamed].hypothesis.startswith("DUPLICATE_CODE_NEAR_")
    assert after[renamed].evidence_hash != before[renamed].evidence_hash
    assert (renamed, "changed") in graph.events()


def test_incremental_updates_equal_a_cold_index_and_fix_and_reopen(
    fixture_tree: Path, tmp_path: Path
) -> None:
    graph = Graph(fixture_tree, tmp_path / "g.duckdb")
    before = graph.update()
    copied = next(i for i, f in before.items() if f.hypothesis.startswith("DUPLICATE_FILE_"))
    legacy = fixture_tree / "legacy" / "helpers.py"
    original = legacy.read_text()
    legacy.write_text(original + "\n\nVERSION = 2\n")
    edited = graph.update()
    assert copied not in edited  # fixed: the files differ now
    # their functions are still exact copies of each other, now reported as code
    code = [
        f
        for f in edited.values()
        if set(_members(f)) == {"legacy.helpers.chunked", "shop.helpers.chunked"}
    ]
    assert len(code) == 1 and code[0].hypothesis.startswith("DUPLICATE_CODE_EXACT_")

    cold = Graph(fixture_tree, tmp_path / "cold.duckdb").update()
    assert {i: f.evidence_hash for i, f in edited.items()} == {
        i: f.evidence_hash for i, f in cold.items()
    }
    sql = (
        "SELECT f.path, c.qualname, c.exact, c.shape, c.signature, c.tokens, c.boilerplate"
        " FROM clones c JOIN files f USING (file_id)"
    )
    assert graph.rows(sql) == Graph(fixture_tree, tmp_path / "cold.duckdb").rows(sql)

    legacy.write_text(original)
    assert copied in graph.update()
    assert (copied, "reopened") in graph.events()


SIBLINGS = """
class Ops:
    def smaller(self, values, limit):
        kept = []
        for value in values:
            if value is not None and value < limit:
                kept.append(value)
        return sorted(kept)[:10]

    def larger(self, values, limit):
        kept = []
        for value in values:
            if value is not None and value > limit:
                kept.append(value)
        return sorted(kept)[:10]

    def same(self, items, bound):
        kept = []
        for value in items:
            if value is not None and value < bound:
                kept.append(value)
        return sorted(kept)[:10]
"""


def test_copies_within_one_class_need_the_siblings_parameter(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "ops.py").write_text(SIBLINGS)
    graph = Graph(tree, tmp_path / "g.duckdb")
    assert graph.update() == {}
    with Store.open(graph.db, read_only=True) as store:
        rows = run_rows(store, CATALOG.get("duplicate_code"), {"siblings": True})
    found = {(tuple(r["members"]), r["how"]) for r in rows}
    assert (("pkg.ops.Ops.same", "pkg.ops.Ops.smaller"), "renamed") in found or (
        ("pkg.ops.Ops.larger", "pkg.ops.Ops.same", "pkg.ops.Ops.smaller"),
        "near",
    ) in found


def test_two_files_defining_the_same_module_give_one_finding_per_purpose(tmp_path: Path) -> None:
    """Two scripts both named tool.py (their folders are not packages) define the same
    qualnames; each purpose is its own group, and members carry the path where a qualname is
    defined twice (with qualnames alone both groups had one id, and the query failed)."""
    tree = tmp_path / "tree"
    (tree / "a-b").mkdir(parents=True)
    (tree / "c-d").mkdir()
    (tree / "a-b" / "tool.py").write_text(
        'def run(path):\n    """Load the settings from the file on disk."""\n'
        "    with open(path) as handle:\n        return handle.read()\n\n\n"
        'def other(stream, lines):\n    """Write the report to the output stream now."""\n'
        "    for line in lines:\n        stream.write(line)\n",
        encoding="utf-8",
    )
    (tree / "c-d" / "tool.py").write_text(
        'def run(stream, report):\n    """Write the report to the output stream now."""\n'
        "    stream.write(str(report))\n    stream.flush()\n\n\n"
        'def other(name):\n    """Load the settings from the file on disk."""\n'
        "    import json\n    return json.loads(open(name).read())\n",
        encoding="utf-8",
    )
    graph = Graph(tree, tmp_path / "g.duckdb")
    found = graph.update()
    purposes = {f.id: _members(f) for f in found.values() if "_purpose_" in f.id}
    assert sorted(purposes.values()) == [
        ["a-b/tool.py:tool.other", "c-d/tool.py:tool.run"],
        ["a-b/tool.py:tool.run", "c-d/tool.py:tool.other"],
    ]


def test_purposes_match_after_normalising_and_same_letters_in_another_order_do_not(
    tmp_path: Path,
) -> None:
    """Summaries equal once normalised (case, punctuation, articles, a final s) share a purpose;
    summaries with the same letters in another order (which the query's cheap pre-filter
    cannot tell apart: it counts letters) are normalised and compared, and do not."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "first.py").write_text(
        'def fetch_rows(table):\n    """Fetch the rows of a table, as dicts."""\n'
        "    cursor = table.cursor()\n    return [dict(row) for row in cursor]\n\n\n"
        'def spin(drum, speed):\n    """Spin the cold drum slowly."""\n'
        "    drum.speed = speed\n    return drum.turn()\n",
        encoding="utf-8",
    )
    (tree / "second.py").write_text(
        'def read_table(source):\n    """Fetch THE ROW of  table... as dict!"""\n'
        "    rows = source.all()\n    return [dict(item) for item in rows]\n\n\n"
        'def turn(wheel, pace):\n    """Spin the drum cold slowly."""\n'
        "    wheel.pace = pace\n    return wheel.go()\n",
        encoding="utf-8",
    )
    db = tmp_path / "g.duckdb"
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        rows = run_rows(store, CATALOG.get("duplicate_purposes"))
    assert [(r["members"], r["purpose"]) for r in rows] == [
        (["first.fetch_rows", "second.read_table"], "fetch row of table as dict")
    ]
