"""Saved queries: header format, validation against the real schema, params, user folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from graphsvc.errors import ParamError, QueryFileError, QueryNotFound
from graphsvc.queries import (
    Catalog,
    Template,
    bind_params,
    default_queries_dir,
    load_queries,
    run_query,
)
from graphsvc.queries.finders import cycle_breakers, strongly_connected
from graphsvc.store import Store
from tests.conftest import WriteTree

GOOD = """\
-- name: {name}
-- title: Modules by name
-- description: Every module of the tree,
--   one row each.
-- param: $prefix text = NULL (only names starting with this)
-- param: $limit int = 100 (at most this many)
-- kind: module_listing
-- id: module_{{module}}
-- hypothesis: MODULE_LISTED_{{module}}
-- question: Is {{module}} worth a look?
-- evidence: module, path
-- severity: low
-- action: explore
-- autonomy: 1
-- value: 0.1
-- cost: 0.1
SELECT
    m.name AS module,
    f.path,
    [{{'path': f.path, 'line': 1, 'symbol': m.name}}] AS locations
FROM modules AS m
JOIN files AS f
    ON f.file_id = m.file_id
WHERE $prefix IS NULL OR starts_with(m.name, $prefix)
ORDER BY module
LIMIT $limit
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.sql"
    path.write_text(text, encoding="utf-8")
    return path


def _load_user(tmp_path: Path, files: dict[str, str]) -> Catalog:
    folder = tmp_path / "user"
    for name, text in files.items():
        _write(folder, name, text)
    return load_queries(None, [folder])


def test_shipped_queries_load_cleanly() -> None:
    catalog = load_queries()
    assert catalog.errors == []
    assert {q.name for q in catalog.finding_queries()} >= {"missing_wiring", "import_cycles"}
    assert all(q.source == "builtin" for q in catalog.queries.values())
    assert default_queries_dir().is_dir()


def test_a_good_user_query_loads_with_its_header(tmp_path: Path) -> None:
    catalog = _load_user(tmp_path, {"listing": GOOD.format(name="listing")})
    assert catalog.errors == []
    query = catalog.get("listing")
    assert query.source == "user"
    assert query.description == "Every module of the tree, one row each."
    assert [(p.name, p.type, p.default, p.required) for p in query.params] == [
        ("prefix", "text", None, False),
        ("limit", "int", 100, False),
    ]
    assert query.columns == ("module", "path", "locations")
    assert query.finding is not None
    assert query.finding.kind == "module_listing"
    assert query.finding.locations == "locations"  # found by name
    assert query.finding.evidence == ("module", "path")


# (replacement in GOOD, text on the line the error must name, words the message must hold)
BROKEN = [
    ("-- title: Modules by name\n", "", "-- name:", "no title"),
    ("-- name: {name}", "-- name: Bad-Name", "-- name:", "snake_case"),
    ("-- name: {name}", "-- name: other_name", "-- name:", "must match the file name"),
    ("-- severity: low", "-- severity: urgent", "-- severity:", "severity 'urgent'"),
    ("-- action: explore", "-- action: panic", "-- action:", "action 'panic'"),
    ("-- autonomy: 1", "-- autonomy: 7", "-- autonomy:", "autonomy '7'"),
    ("-- value: 0.1", "-- value: 3", "-- value:", "between 0 and 1"),
    ("-- cost: 0.1", "-- cost: cheap", "-- cost:", "not a number"),
    ("-- cost: 0.1\n", "", "-- kind:", "needs cost:"),
    ("-- id: module_{{module}}", "-- id: module_all", "-- id:", "at least one column"),
    ("-- id: module_{{module}}", "-- id: m_{{nope}}", "-- id:", "'nope' is not in the query's"),
    ("-- id: module_{{module}}", "-- id: m_{{module:shout}}", "-- id:", "unknown filter"),
    ("-- hypothesis: MODULE_LISTED_", "-- hypothesis: listed_", "-- hypo", "UPPER_SNAKE prefix"),
    ("-- question: Is {{module}}", "-- question: Is {{modul}}", "-- question", "'modul' is not"),
    ("-- evidence: module, path", "-- evidence: module, size", "-- evidence", "'size' is not"),
    ("-- severity: low", "-- severity: low\n-- severty: low", "-- severty", "unknown header"),
    ("-- severity: low", "-- severity: low\n-- severity: high", "-- severity: high", "twice"),
    ("$limit int = 100", "$limit integer = 100", "$limit integer", "unknown type"),
    ("$limit int = 100", "$limit int = many", "$limit int = many", "bad default"),
    ("-- param: $limit int = 100", "-- param: limit int", "limit int", "expected '$name type"),
    ("-- param: $limit int = 100 (at most this many)\n", "", "-- param:", "$limit, which no"),
    ("LIMIT $limit", "LIMIT 5", "-- param:", "declared but the SQL never uses it"),
    ("FROM modules AS m", "FROM modulez AS m", "FROM modulez", "modulez"),
    ("ORDER BY module", "ORDER BY module,,", "ORDER BY", "syntax error"),
    ("SELECT\n", "DELETE FROM files;\nSELECT\n", "DELETE", "exactly one statement"),
    ("FROM modules AS m", "FROM read_csv('/etc/passwd') AS m", "SELECT", "reads files"),
    ("-- kind: module_listing", "-- kind: Module", "-- kind:", "snake_case"),
    ("-- kind: module_listing\n", "", "-- id:", "add kind: first"),
    ("-- description: Every", "description: Every", "description: Every", "syntax error"),
]


def _line_of(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


@pytest.mark.parametrize(("old", "new", "marker", "words"), BROKEN)
def test_a_broken_file_names_file_and_line_and_the_others_still_load(
    tmp_path: Path, old: str, new: str, marker: str, words: str
) -> None:
    broken = GOOD.replace(old, new)
    assert broken != GOOD, old
    line = _line_of(broken, marker)
    catalog = _load_user(
        tmp_path,
        {"listing": broken.format(name="listing"), "other": GOOD.format(name="other")},
    )
    assert "other" in catalog.queries and "missing_wiring" in catalog.queries
    assert "listing" not in catalog.queries
    assert len(catalog.errors) == 1, catalog.errors
    error = catalog.errors[0]
    assert error.path.endswith("listing.sql")
    assert error.line == line, str(error)
    assert words in str(error)
    assert str(error).startswith(f"{error.path}:{line}: ")


def test_a_write_or_a_file_read_never_loads(tmp_path: Path) -> None:
    head = "-- name: {}\n-- title: t\n"
    catalog = _load_user(
        tmp_path,
        {
            "wipe": head.format("wipe") + "DELETE FROM files\n",
            "sneaky": head.format("sneaky") + "SELECT * FROM 'secret/data.csv'\n",
            "seq": head.format("seq") + "SELECT * FROM checkpoint()\n",
        },
    )
    assert not {"wipe", "sneaky", "seq"} & set(catalog.queries)
    reasons = sorted(str(e).split(": SQL: ")[1] for e in catalog.errors)
    assert reasons[0].startswith("'secret/data.csv' is a file path")
    assert reasons[1].startswith("DELETE statements are not allowed")
    assert reasons[2].startswith("function checkpoint() is not allowed")


def test_a_broken_query_is_named_when_asked_for(tmp_path: Path) -> None:
    catalog = _load_user(tmp_path, {"listing": GOOD.format(name="listing").replace("low", "x")})
    with pytest.raises(QueryFileError, match=r"listing\.sql:12: severity"):
        catalog.get("listing")
    with pytest.raises(QueryNotFound, match="import_cycles, missing_packages, missing_wiring"):
        catalog.get("nothing_like_it")


def test_a_user_query_cannot_take_a_shipped_name(tmp_path: Path) -> None:
    text = GOOD.format(name="missing_wiring")
    catalog = _load_user(tmp_path, {"missing_wiring": text})
    assert catalog.queries["missing_wiring"].source == "builtin"
    assert "already loaded" in str(catalog.errors[0])


def test_a_missing_user_folder_is_an_error(tmp_path: Path) -> None:
    catalog = load_queries(None, [tmp_path / "nowhere"])
    assert "no such query folder" in str(catalog.errors[0])
    assert "missing_wiring" in catalog.queries


def test_unknown_finder_and_missing_finder_inputs(tmp_path: Path) -> None:
    with_finder = GOOD.replace("-- kind:", "-- finder: {finder}\n-- kind:")
    catalog = _load_user(
        tmp_path,
        {
            "a": with_finder.format(name="a", finder="magic"),
            "b": with_finder.format(name="b", finder="cycles"),
        },
    )
    messages = sorted(str(e) for e in catalog.errors)
    assert "unknown finder 'magic'" in messages[0]
    assert "needs the columns source, target" in messages[1]


def test_templates_and_filters() -> None:
    template = Template.parse("x_{a}_{a:upper}_{b:hash12}_{b:count}_{b}")
    row = {"a": "pkg.mod", "b": ["z", "y"]}
    text = template.render(row)
    assert text.startswith("x_pkg.mod_PKG_MOD_")
    assert text.endswith("_2_z, y")
    same = Template.parse("{b:hash12}").render({"b": ["y", "z"]})
    assert same in text  # the hash of a list ignores its order
    with pytest.raises(ValueError, match="must name an output column"):
        Template.parse("{a.b}")


@pytest.fixture
def listing(tmp_path: Path, write_tree: WriteTree) -> tuple[Catalog, Path]:
    from tests.conftest import run_index

    tree = write_tree({"alpha.py": "x = 1\n", "beta.py": "y = 2\n", "pkg/__init__.py": ""})
    db = tmp_path / "g.duckdb"
    run_index(tree, db)
    return _load_user(tmp_path, {"listing": GOOD.format(name="listing")}), db


def test_params_bind_with_types_and_defaults(listing: tuple[Catalog, Path]) -> None:
    catalog, db = listing
    query = catalog.get("listing")
    assert bind_params(query) == {"prefix": None, "limit": 100}
    assert bind_params(query, {"limit": "2", "prefix": "b"}) == {"prefix": "b", "limit": 2}
    with Store.open(db, read_only=True) as store:
        assert [r[0] for r in run_query(store, query).rows] == ["alpha", "beta", "pkg"]
        assert [r[0] for r in run_query(store, query, {"limit": "1"}).rows] == ["alpha"]
        assert [r[0] for r in run_query(store, query, {"prefix": "b"}).rows] == ["beta"]
    with pytest.raises(ParamError, match="'many' is not a int"):
        bind_params(query, {"limit": "many"})
    with pytest.raises(ParamError, match="not a parameter of this query"):
        bind_params(query, {"limits": "1"})
    with pytest.raises(ParamError, match="is not a int"):
        bind_params(query, {"limit": True})


def test_bool_float_and_required_params(tmp_path: Path) -> None:
    text = (
        "-- name: typed\n-- title: Typed\n-- param: $flag bool = true\n"
        "-- param: $ratio float = 0.5\n-- param: $who text\n"
        "SELECT $flag AS flag, $ratio AS ratio, $who AS who\n"
    )
    catalog = _load_user(tmp_path, {"typed": text})
    query = catalog.get("typed")
    assert query.kind is None
    with pytest.raises(ParamError, match="required"):
        bind_params(query)
    bound = bind_params(query, {"who": "me", "flag": "no", "ratio": "2"})
    assert bound == {"flag": False, "ratio": 2.0, "who": "me"}
    with pytest.raises(ParamError, match="expected true or false"):
        bind_params(query, {"who": "me", "flag": "maybe"})


@hypothesis_settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), max_size=60))
def test_strongly_connected_matches_networkx(pairs: list[tuple[int, int]]) -> None:
    """The cycles finder's own Tarjan against networkx on random graphs."""
    import networkx as nx

    edges = [(f"m{a}", f"m{b}") for a, b in pairs if a != b]
    graph = nx.DiGraph()
    graph.add_edges_from(edges)
    expected = sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)
    assert sorted(strongly_connected(edges)) == expected


def test_strongly_connected_survives_deep_chains() -> None:
    """Import chains of big trees are deeper than the recursion limit."""
    edges = [(f"m{i:06d}", f"m{i + 1:06d}") for i in range(20_000)] + [("m020000", "m000000")]
    (component,) = strongly_connected(edges)
    assert len(component) == 20_001 and component[0] == "m000000"


@hypothesis_settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=2, max_size=40))
def test_cycle_breakers_leave_no_cycle(pairs: list[tuple[int, int]]) -> None:
    """Whatever the component, removing the suggested cut leaves it acyclic (networkx checks),
    and the suggestion is listed cheapest first (fewest import sites)."""
    import networkx as nx

    rows = [{"source": f"m{a}", "target": f"m{b}"} for a, b in pairs if a != b]
    for component in strongly_connected((r["source"], r["target"]) for r in rows):
        inside = [r for r in rows if r["source"] in component and r["target"] in component]
        cut = cycle_breakers(inside)
        assert cut and all(pair in {(r["source"], r["target"]) for r in inside} for pair in cut)
        graph = nx.DiGraph((r["source"], r["target"]) for r in inside)
        graph.remove_edges_from(cut)
        assert nx.is_directed_acyclic_graph(graph)
        cost = [sum((r["source"], r["target"]) == pair for r in inside) for pair in cut]
        assert cost == sorted(cost)


def test_the_cheapest_single_cut_wins_over_a_heavier_one() -> None:
    """a imports b in three places, b imports a once: the cut is b -> a, whichever way the
    names sort; a three-module ring with a heavy chord gets the one edge that breaks both."""
    heavy = [{"source": "a", "target": "b"}] * 3 + [{"source": "b", "target": "a"}]
    assert cycle_breakers(heavy) == [("b", "a")]
    flipped = [{"source": "b", "target": "a"}] * 3 + [{"source": "a", "target": "b"}]
    assert cycle_breakers(flipped) == [("a", "b")]
    ring = [{"source": s, "target": t} for s, t in [("x", "y"), ("y", "z"), ("z", "x")] * 2]
    ring += [{"source": "y", "target": "x"}, {"source": "z", "target": "x"}]
    # cycles x-y-z-x and x-y-x: the cheaper y -> x alone leaves the first, only x -> y
    # (on both) breaks everything at once
    assert cycle_breakers(ring) == [("x", "y")]
    # two disjoint-ish cycles through a hub need two cuts: grimp's set, cheapest first
    hub = [{"source": s, "target": t} for s, t in [("h", "p"), ("p", "h"), ("h", "q"), ("q", "h")]]
    hub += [{"source": "h", "target": "p"}] * 2
    cut = cycle_breakers(hub)
    assert len(cut) == 2 and set(cut) <= {("h", "p"), ("p", "h"), ("h", "q"), ("q", "h")}
