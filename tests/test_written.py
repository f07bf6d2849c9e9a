"""The one-file batch path: rows the store hands to the linker equal what it would read back,
deletes skipped for tables a file has no rows in, batch ids, and the linker's key filter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import WriteTree
from hypothesis import given, settings
from hypothesis import strategies as st

from graphsvc.columns import DIGEST_BYTES, Columns
from graphsvc.config import load_settings
from graphsvc.errors import DatabaseError
from graphsvc.facts import ModuleInfo
from graphsvc.indexer import index_bytes
from graphsvc.link.index import _load_modules, _written_modules
from graphsvc.link.seen import SeenKeys
from graphsvc.link.site_rows import SiteRows
from graphsvc.store import Batch, BatchRecord, Store, Touch, one_of
from graphsvc.update import index_tree
from graphsvc.update_pool import POOL_MIN_FILES
from graphsvc.written import HELD_FILES

RICH = (
    b"import os\nfrom collections import OrderedDict as OD, deque\n\n"
    b"@dataclass_like\nclass C(Base, metaclass=M):\n    '''Doc.'''\n    x = 1\n\n"
    b"    def __init__(self, a=None):\n        self.a = None\n        self.b = OD()\n"
    b"        setattr(self, 'dyn', 1)\n        self.__dict__.update({})\n\n"
    b"    def m(self):\n        return self.b.get(os.sep)(deque())\n\n"
    b"def f(cb=print):\n    g = lambda v: v\n    cb(g(1))\n    return C().m()\n"
    b"\nQUEUE = 'jobs'\n"
)
PLAIN = b"def only():\n    return 1\n"


def _facts(path: str, source: bytes):
    module = path.removesuffix(".py").replace("/", ".")
    return index_bytes(path, source, ModuleInfo(module, False, ""), 1)


def _ids(store: Store) -> dict[str, int]:
    return {str(p): int(i) for p, i in store.query("SELECT path, file_id FROM files").rows}


def test_the_linker_gets_the_rows_it_would_read_back(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py", RICH), _facts("b.py", PLAIN)]))
        store.apply(Batch(upserts=[_facts("a.py", RICH + b"\ndef late():\n    f()\n")]))
        ids = _ids(store)
        wanted = set(ids.values())
        written = store.take_written(wanted)
        assert written is not None
        assert store.take_written(wanted) is None  # taken once: the next run reads the store
        handed, read = SiteRows.of(written, wanted), SiteRows.read(store.con, wanted)
        assert handed.imports == read.imports and handed.calls == read.calls
        assert handed.references == read.references
        assert handed.imports[ids["a.py"]] and handed.calls[ids["a.py"]]
        flows = dict(store.query("SELECT file_id, data FROM flows").rows)
        assert handed.flows == {f: bytes(d) for f, d in flows.items()}
        channel = handed.channel_facts(store.con, sorted(wanted))
        assert channel == SiteRows.read(store.con, wanted).channel_facts(store.con, sorted(wanted))
        where = " WHERE " + one_of("{}", len(wanted))
        loaded = _load_modules(store.con, where, {"ids": sorted(wanted)})
        assert _written_modules(written) == loaded
        assert loaded[ids["a.py"]].none_only == {"a.C": {"a"}}


def test_rows_are_handed_over_only_when_all_of_them_were_written(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py", RICH), _facts("b.py", PLAIN)]))
        ids = _ids(store)
        store.take_written(None)  # a linker run took everything
        store.apply(Batch(upserts=[_facts("a.py", PLAIN)]))
        assert store.take_written(set(ids.values())) is None  # b.py was not written since
        store.apply(Batch(upserts=[_facts("a.py", RICH)], removed=["b.py"]))
        written = store.take_written(set(ids.values()))
        assert written is not None and written.paths == {ids["a.py"]: "a.py"}
        assert set(written.tables["symbols"]["file_id"].to_pylist()) == {ids["a.py"]}


def test_a_rolled_back_batch_hands_nothing_over(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py", RICH)]))
        ids = set(_ids(store).values())
        with pytest.raises(DatabaseError), store.atomic():
            store.apply(Batch(upserts=[_facts("a.py", PLAIN)]))
            store.con.execute("SELECT * FROM no_such_table")
        assert store.take_written(ids) is None


def test_a_file_losing_and_regaining_rows_of_a_table(tmp_path: Path) -> None:
    """Deletes skip the tables a file wrote no rows to: versions without attributes, calls or
    imports and back leave exactly the rows of the last version, in this store and after a
    reopen (where nothing is known about the files)."""
    db = tmp_path / "g.duckdb"
    counts = "SELECT count(*) FROM {} WHERE file_id = ?"
    tables = ("attributes", "calls", "imports", "clones", "symbols", "name_strings")

    def rows(store: Store, file_id: int) -> dict[str, int]:
        return {t: store.query(counts.format(t), [file_id]).rows[0][0] for t in tables}

    with Store.open(tmp_path / "fresh.duckdb") as fresh:
        fresh.apply(Batch(upserts=[_facts("a.py", RICH)]))
        rich = rows(fresh, _ids(fresh)["a.py"])
        fresh.apply(Batch(upserts=[_facts("a.py", PLAIN)]))
        plain = rows(fresh, _ids(fresh)["a.py"])
    assert rich["attributes"] and rich["imports"] and not plain["attributes"]
    with Store.open(db) as store:
        for source, expected in ((RICH, rich), (PLAIN, plain), (RICH, rich), (PLAIN, plain)):
            store.apply(Batch(upserts=[_facts("a.py", source), _facts("b.py", PLAIN)]))
            assert rows(store, _ids(store)["a.py"]) == expected
    for source, expected in ((RICH, rich), (PLAIN, plain)):
        with Store.open(db) as store:
            store.apply(Batch(upserts=[_facts("a.py", source)]))
            assert rows(store, _ids(store)["a.py"]) == expected


def _record(kind: str = "watch") -> BatchRecord:
    now = dt.datetime.now(dt.UTC)
    return BatchRecord(kind, None, now, now, 1.0, 1, 1, 0, 0, 0)


def test_batch_ids_count_up_across_rollbacks_and_reopens(tmp_path: Path) -> None:
    db = tmp_path / "g.duckdb"
    with Store.open(db) as store:
        assert [store.record_batch(_record()) for _ in range(3)] == [1, 2, 3]
        with pytest.raises(DatabaseError), store.atomic():
            assert store.record_batch(_record()) == 4
            store.con.execute("SELECT * FROM no_such_table")
        assert store.as_of() == 3
        assert store.record_batch(_record()) == 4
    with Store.open(db) as store:
        assert store.record_batch(_record()) == 5


@settings(max_examples=50, deadline=None)
@given(
    st.sets(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=300),
    st.sets(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=300),
)
def test_the_key_filter_never_forgets_a_key(
    first: set[tuple[str, str]], later: set[tuple[str, str]]
) -> None:
    seen = SeenKeys.of(first, len(first))
    seen.add(later)
    assert all(seen.may_hold(key) for key in first | later)
    assert seen.full == (seen.added > seen.capacity)


def test_the_key_filter_rules_out_most_other_keys() -> None:
    keys = {(f"pkg.mod{i % 97}", f"name{i}") for i in range(5000)}
    seen = SeenKeys.of(keys, len(keys))
    others = [(f"pkg.mod{i % 97}", f"other{i}") for i in range(5000)]
    assert sum(seen.may_hold(k) for k in others) < 250  # sized for ~1% false "maybe"s


def test_the_record_stays_bounded_without_a_linker_run(tmp_path: Path) -> None:
    """Batches that only touch files record nothing; past HELD_FILES writes nothing is held."""
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py", PLAIN)]))
        ids = set(_ids(store).values())
        for n in range(HELD_FILES + 5):
            store.apply(Batch(touched=[Touch("a.py", 10, n)]))
        assert store.take_written(ids) is not None
        for _ in range(HELD_FILES + 1):
            store.apply(Batch(upserts=[_facts("a.py", PLAIN + b"# again\n")]))
        assert store.take_written(ids) is None  # too many writes: read the tables instead
        store.apply(Batch(upserts=[_facts("a.py", PLAIN)]))
        assert store.take_written(ids) is not None  # a take starts afresh


def test_one_write_is_handed_over_whole_or_filtered(tmp_path: Path) -> None:
    """A write of exactly the wanted files is handed over as written; one of more files is
    cut down to the wanted ones; either way the rows are those the tables hold."""
    with Store.open(tmp_path / "g.duckdb") as store:
        store.apply(Batch(upserts=[_facts("a.py", RICH), _facts("b.py", RICH)]))
        ids = _ids(store)
        store.apply(Batch(upserts=[_facts("a.py", RICH), _facts("b.py", PLAIN)]))
        both = set(ids.values())
        written = store.take_written(both)
        assert written is not None
        handed, read = SiteRows.of(written, both), SiteRows.read(store.con, both)
        assert (handed.imports, handed.calls, handed.references) == (
            read.imports,
            read.calls,
            read.references,
        )
        store.apply(Batch(upserts=[_facts("a.py", RICH), _facts("b.py", RICH)]))
        written = store.take_written({ids["a.py"]})
        assert written is not None and written.paths == {ids["a.py"]: "a.py"}
        for table in ("symbols", "calls", "imports", "flows"):
            assert set(written.tables[table]["file_id"].to_pylist()) == {ids["a.py"]}
        assert (
            SiteRows.of(written, {ids["a.py"]}).calls
            == SiteRows.read(store.con, {ids["a.py"]}).calls
        )


def test_keys_the_filter_holds_do_not_fill_it() -> None:
    """A file re-linked again and again adds the keys it consulted before: they take no room,
    so the filter is not rebuilt (a read of all link_deps) after some hundred runs."""
    keys = {(f"pkg.mod{i % 13}", f"name{i}") for i in range(300)}
    seen = SeenKeys.of(keys, len(keys))
    before = seen.added
    assert 0 < before <= len(keys)  # a key the filter wrongly says it holds is not counted
    for _ in range(50):
        seen.add(keys)
    assert seen.added == before and not seen.full
    seen.add([("pkg.new", "name")])
    assert seen.may_hold(("pkg.new", "name")) and seen.added <= before + 1


def test_entry_state_answers_what_the_table_holds_across_a_rollback(tmp_path: Path) -> None:
    """The entry-rule fingerprints a writing store keeps in memory are the table's, also
    after an atomic batch that wrote new ones rolled back."""
    with Store.open(tmp_path / "g.duckdb") as store:

        def stored(key: str) -> str | None:
            rows = store.query("SELECT value FROM entry_state WHERE key = $k", {"k": key}).rows
            return str(rows[0][0]) if rows else None

        assert store.entry_state("precheck") is None
        store.write_entry_rules(None, "inputs-1", "pre-1")
        assert store.entry_state("precheck") == stored("precheck") == "pre-1"
        assert store.entry_state() == stored("inputs") == "inputs-1"
        with pytest.raises(DatabaseError), store.atomic():
            store.write_entry_rules(None, "inputs-2", "pre-2")
            assert store.entry_state("precheck") == "pre-2"
            store.con.execute("SELECT * FROM no_such_table")
        assert store.entry_state("precheck") == stored("precheck") == "pre-1"
        assert store.entry_state() == stored("inputs") == "inputs-1"


@pytest.mark.parametrize(
    "under", [["pkg"], ["pkg/a.py"], ["README.md", "b.py"], ["pkg", "docs"], [""], ["gone"]]
)
def test_states_under_are_the_file_and_doc_states(
    write_tree: WriteTree, tmp_path: Path, under: list[str]
) -> None:
    """A watcher's batch reads the Python files' and the docs' states in one statement: the
    same rows as the two reads, paths at or below the given ones (``pkg`` is not ``pkgx``)."""
    tree = write_tree(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    pass\n",
            "pkgx/c.py": "X = 1\n",
            "b.py": "import pkg\n",
            "README.md": "# Title\n\nSee `pkg.a.f`.\n",
            "docs/guide.md": "Use `b`.\n",
        }
    )
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        files, docs = store.states_under(under)
        assert files == store.file_states(under=under)
        assert docs == store.doc_states(under=under)
        assert (files or docs) or under == ["gone"]
        assert all(not p.startswith("pkgx") for p in files) or under == [""]


def test_files_rows_updated_in_place_equal_inserted_ones(tmp_path: Path) -> None:
    """A batch of up to UPDATE_FILES replaced files updates their ``files`` rows in place; the
    rows (status, error count, hash, size...) equal those a fresh store inserts."""
    versions = [
        {"a.py": RICH, "b.py": PLAIN, "c.py": PLAIN},
        {"a.py": b"def broken(:\n    pass\n"},  # partial, with an error count
        {"a.py": PLAIN, "b.py": RICH},  # two files: still in place
        {"a.py": RICH, "b.py": PLAIN, "c.py": RICH},  # three: a delete and an insert
    ]

    def rows(store: Store) -> list[tuple[object, ...]]:
        sql = "SELECT * EXCLUDE (indexed_at) FROM files ORDER BY path"
        return store.query(sql).rows

    with Store.open(tmp_path / "warm.duckdb") as warm:
        for n, version in enumerate(versions):
            warm.apply(Batch(upserts=[_facts(p, v) for p, v in version.items()]))
            latest = {p: v for old in versions[: n + 1] for p, v in old.items()}
            with Store.open(tmp_path / f"cold{n}.duckdb") as cold:
                cold.apply(Batch(upserts=[_facts(p, v) for p, v in sorted(latest.items())]))
                assert [r[1:] for r in rows(warm)] == [r[1:] for r in rows(cold)]
        assert [r[0] for r in rows(warm)] == [1, 2, 3]  # the ids stay
        statuses = warm.query("SELECT path, status, error_count FROM files ORDER BY 1").rows
        assert statuses[0] == ("a.py", "ok", 0)


class _Recording:
    """The store's connection, recording the tables each DELETE and bulk INSERT writes."""

    def __init__(self, con: object) -> None:
        self._con = con
        self.written: list[str] = []

    def execute(self, sql: str, *args: object) -> object:
        if sql.startswith("DELETE FROM "):
            self.written.append("delete " + sql.split()[2].strip('"'))
        return self._con.execute(sql, *args)  # type: ignore[attr-defined]

    def from_arrow(self, data: object) -> object:
        recording, relation = self, self._con.from_arrow(data)  # type: ignore[attr-defined]

        class _Relation:
            def insert_into(self, table: str) -> None:
                recording.written.append("insert " + table)
                relation.insert_into(table)

        return _Relation()

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


FACT_ROWS = (
    "modules",
    "symbols",
    "imports",
    "calls",
    "references",
    "attributes",
    "flows",
    "channel_facts",
    "mentions",
    "attribute_writes",
    "name_strings",
    "clones",
    "parse_errors",
)


def _fact_rows(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {t: sorted(store.query(f'SELECT * FROM "{t}"').rows, key=repr) for t in FACT_ROWS}


def test_a_one_file_edit_rewrites_only_the_fact_tables_whose_rows_changed(tmp_path: Path) -> None:
    """A file written has a digest of each fact table's rows kept; when it is written again
    alone, tables whose rows are the same are neither deleted nor inserted, and the rows
    equal a fresh store's after every edit (also one after a rollback, which forgets the
    digests, and one after a batch of several files, which keeps them)."""
    edited = RICH.replace(b"QUEUE = 'jobs'", b"QUEUE = 'tasks'")  # moves no line
    versions = [RICH, edited, RICH + b"\ndef tail():\n    return 2\n", PLAIN, RICH]
    with Store.open(tmp_path / "warm.duckdb") as warm:
        warm.apply(Batch(upserts=[_facts("a.py", RICH), _facts("b.py", PLAIN)]))
        real = warm.con
        written: list[list[str]] = []
        for n, version in enumerate(versions):
            if n == 3:  # a failing batch (a path twice) rolls back: digests are forgotten
                with pytest.raises(DatabaseError):
                    warm.apply(Batch(upserts=[_facts("c.py", PLAIN), _facts("c.py", PLAIN)]))
            recording = _Recording(real)
            warm.con = recording  # type: ignore[assignment]
            try:
                warm.apply(Batch(upserts=[_facts("a.py", version)]))
            finally:
                warm.con = real
            written.append(recording.written)
            with Store.open(tmp_path / f"cold{n}.duckdb") as cold:
                cold.apply(Batch(upserts=[_facts("a.py", version), _facts("b.py", PLAIN)]))
                assert _fact_rows(warm) == _fact_rows(cold), n
    # the same bytes alone after a batch of two: no fact table rewritten (the batch's digests)
    assert not any(w.split()[1] in FACT_ROWS for w in written[0])
    # an edit that moves no line: only the tables with rows about the changed constant
    # (its symbol, channel fact and mention) are rewritten
    assert "insert symbols" in written[1]
    for kept in ("modules", "imports", "calls", "references", "flows", "clones"):
        assert f"delete {kept}" not in written[1] and f"insert {kept}" not in written[1]
    assert any(w.startswith("insert ") and w != "insert files" for w in written[1])
    # a new function at the end: symbols change, imports and the module row do not
    assert "insert symbols" in written[2] and "insert imports" not in written[2]
    # after the rollback nothing is known: every table the file has rows in is rewritten
    assert "delete modules" in written[3] and "insert modules" in written[3]
    # link_deps and channel_inputs of a replaced file are the linker's to replace
    assert all(f"delete {t}" not in w for w in written for t in ("link_deps", "channel_inputs"))
    assert all("delete links" in w for w in written)


def test_a_files_digest_is_the_same_wherever_it_sits_in_a_chunk() -> None:
    """Digests are of the values only: a file's is the same alone, after other files or
    between them (a pool worker's chunk and a one-file batch agree)."""
    a, b, c = _facts("a.py", RICH), _facts("b.py", PLAIN), _facts("c.py", b"")
    alone = Columns.of([a]).digests[0]
    assert Columns.of([b, a, c]).digests[1] == alone
    together = Columns.concat([Columns.of([c, b]), Columns.of([a])])
    assert together.digests == (*Columns.of([c, b]).digests, alone)
    other = Columns.of([_facts("a.py", RICH + b"\nX = 1\n")]).digests[0]
    assert other != alone and other[:DIGEST_BYTES] == alone[:DIGEST_BYTES]  # module row same
    assert Columns.of([c]).digests[0][-DIGEST_BYTES:] == bytes(DIGEST_BYTES)  # no parse errors


def test_the_first_edit_after_a_cold_index_rewrites_only_what_changed(
    tmp_path: Path, write_tree: WriteTree
) -> None:
    """The digests of a cold index (computed in the pool's workers) serve the first edit of a
    file: an appended function rewrites the tables whose rows changed, not the module row
    or imports, and the rows equal a cold index of the edited tree."""
    source = RICH.decode()
    files = {f"pkg/m{n}.py": source for n in range(POOL_MIN_FILES)} | {"pkg/__init__.py": ""}
    root = write_tree(files)  # enough files for the pool
    settings = load_settings(root).model_copy(update={"jobs": 2})
    with Store.open(tmp_path / "warm.duckdb") as warm:
        index_tree(root, settings=settings, store=warm)
        (root / "pkg/m3.py").write_text(source + "\ndef tail():\n    return 2\n")
        recording = _Recording(warm.con)
        real, warm.con = warm.con, recording  # type: ignore[assignment]
        try:
            index_tree(root, settings=settings, store=warm)
        finally:
            warm.con = real
        with Store.open(tmp_path / "cold.duckdb") as cold:
            index_tree(root, settings=settings, store=cold)
            assert _fact_rows(warm) == _fact_rows(cold)
    assert "insert symbols" in recording.written
    assert "insert imports" not in recording.written
    assert "insert modules" not in recording.written
    assert "delete modules" not in recording.written
