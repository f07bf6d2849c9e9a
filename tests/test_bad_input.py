"""Bad input never stops a run: each bad file leaves a row saying what happened, the rest indexes.

Every test builds a real tree in a temp dir beside a good ``ok.py`` and indexes it into a real
DuckDB file, then checks the bad file's row, its parse errors, and that ``ok.py`` still made it.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import signal
import time
import tokenize
from pathlib import Path
from typing import Any

import pytest

import graphsvc.indexer
import graphsvc.update
import graphsvc.update_pool
from graphsvc.config import load_settings
from graphsvc.facts import ModuleInfo
from graphsvc.indexer import MAX_NESTING, Task, Vanished, index_file
from graphsvc.layout import detect_layout
from graphsvc.parsing import may_be_deep, nesting_depth
from graphsvc.store import FACT_TABLES, Store
from graphsvc.update import IndexSummary, index_tree
from graphsvc.update_plan import plan
from graphsvc.walk import WalkResult, walk

OK_SOURCE = "def good():\n    return 1\n"
STATUSES = {"ok", "partial", "failed", "skipped"}


# ----------------------------------------------------------------------------- helpers


def make_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ok.py").write_text(OK_SOURCE, encoding="utf-8")
    return tree


def db_file(tmp_path: Path) -> Path:
    return tmp_path / "db" / "graph.duckdb"


def index(tree: Path, db: Path, **overrides: Any) -> IndexSummary:
    """One ``graphsvc index`` run, then a consistency check of the whole database."""
    settings = load_settings(tree, jobs=1, **overrides)
    with Store.open(db) as store:
        summary = index_tree(tree, store, settings)
    assert_consistent(db)
    return summary


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with Store.open(db, read_only=True) as store:
        return store.query(sql, params).rows


def file_row(db: Path, path: str) -> dict[str, Any]:
    with Store.open(db, read_only=True) as store:
        result = store.query("SELECT * FROM files WHERE path = ?", [path])
    assert len(result.rows) == 1, f"expected one files row for {path}, got {result.rows}"
    return dict(zip(result.columns, result.rows[0], strict=True))


def errors_of(db: Path, path: str) -> list[tuple[int, int, str, str]]:
    return rows(
        db,
        "SELECT e.line, e.col, e.kind, e.message FROM parse_errors e"
        " JOIN files f USING (file_id) WHERE f.path = ? ORDER BY ALL",
        [path],
    )  # type: ignore[return-value]


def qualnames_of(db: Path, path: str) -> set[str]:
    found = rows(
        db,
        "SELECT s.qualname FROM symbols s JOIN files f USING (file_id) WHERE f.path = ?",
        [path],
    )
    return {r[0] for r in found}


def assert_ok_indexed(db: Path) -> None:
    """The good neighbour of every bad file is fully indexed."""
    row = file_row(db, "ok.py")
    assert row["status"] == "ok"
    assert "ok.good" in qualnames_of(db, "ok.py")


def assert_consistent(db: Path) -> None:
    """Invariants every database must keep, whatever the input was."""
    with Store.open(db, read_only=True) as store:
        q = store.query
        for table, _, _ in FACT_TABLES:
            orphans = q(
                f'SELECT count(*) FROM "{table}" WHERE file_id NOT IN (SELECT file_id FROM files)'
            ).rows[0][0]
            assert orphans == 0, f"{table} has rows of no file"
        for (status,) in q("SELECT DISTINCT status FROM files").rows:
            assert status in STATUSES
        # indexed files have exactly one module row; skipped/failed ones have no facts at all
        bad = q(
            "SELECT f.path, f.status, count(m.file_id) FROM files f"
            " LEFT JOIN modules m USING (file_id) GROUP BY ALL"
            " HAVING count(m.file_id) != CASE WHEN f.status IN ('ok', 'partial') THEN 1 ELSE 0 END"
        ).rows
        assert bad == [], f"module rows out of step with status: {bad}"
        for table in ("symbols", "imports", "calls", "references", "attributes"):
            leaked = q(
                f'SELECT DISTINCT f.path FROM "{table}" t JOIN files f USING (file_id)'
                " WHERE f.status NOT IN ('ok', 'partial')"
            ).rows
            assert leaked == [], f"{table} has facts of unindexed files: {leaked}"
        # status agrees with error_count and the parse_errors rows
        mismatched = q(
            "SELECT f.path, f.status, f.error_count, count(e.file_id) AS n FROM files f"
            " LEFT JOIN parse_errors e USING (file_id) GROUP BY ALL HAVING"
            " (f.status = 'ok' AND (f.error_count != 0 OR n != 0))"
            " OR (f.status = 'partial' AND (f.error_count = 0 OR n = 0 OR n > f.error_count))"
            " OR (f.status = 'failed' AND (n = 0 OR f.skip_reason IS NULL))"
            " OR (f.status = 'skipped' AND (n != 0 OR f.skip_reason IS NULL))"
        ).rows
        assert mismatched == [], f"status inconsistent with errors: {mismatched}"


# ----------------------------------------------------------------------------- 1. syntax


BROKEN_SOURCE = """\
def before():
    return 1


def broken(:
    pass


def after():
    return 2
"""


def test_syntax_error_is_partial_and_tolerant(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree / "broken.py").write_text(BROKEN_SOURCE, encoding="utf-8")
    db = db_file(tmp_path)

    summary = index(tree, db)

    assert summary.partial == 1
    assert summary.failed == 0
    row = file_row(db, "broken.py")
    assert row["status"] == "partial"
    assert row["skip_reason"] is None
    assert row["error_count"] >= 1
    errors = errors_of(db, "broken.py")
    assert errors, "a syntax error must leave a parse_errors row"
    assert {kind for _, _, kind, _ in errors} <= {"syntax", "missing"}
    assert {line for line, _, _, _ in errors} == {5}  # `def broken(:` is line 5
    names = qualnames_of(db, "broken.py")
    assert {"broken.before", "broken.after"} <= names  # both sides of the error survive
    assert_ok_indexed(db)


# ----------------------------------------------------------------------------- 2. PEP 263


LATIN1_SOURCE = (
    b'# -*- coding: latin-1 -*-\ns = "caf\xe9"\n\n\ndef greet():\n    print("caf\xe9")\n'
)


def test_latin1_coding_cookie_is_decoded(tmp_path: Path) -> None:
    # What Python itself calls this encoding; graphsvc records the same name.
    detected, _ = tokenize.detect_encoding(io.BytesIO(LATIN1_SOURCE).readline)
    assert detected == "iso-8859-1"
    tree = make_tree(tmp_path)
    (tree / "latin.py").write_bytes(LATIN1_SOURCE)
    db = db_file(tmp_path)

    index(tree, db)

    row = file_row(db, "latin.py")
    assert row["status"] == "ok"
    assert row["encoding"] == "iso-8859-1"
    assert row["error_count"] == 0
    assert errors_of(db, "latin.py") == []
    assert {"latin.s", "latin.greet"} <= qualnames_of(db, "latin.py")
    calls = rows(
        db,
        "SELECT c.line, c.scope, c.callee, c.first_arg FROM calls c JOIN files f USING (file_id)"
        " WHERE f.path = 'latin.py'",
    )
    assert calls == [(6, "latin.greet", "print", "caf\u00e9")]
    assert_ok_indexed(db)


# ----------------------------------------------------------------------------- 3. bad bytes


@pytest.mark.parametrize(
    ("name", "source", "encoding", "where", "byte", "names"),
    [
        (
            "bad_utf8",
            b'def before():\n    pass\nx = "\xff"\n\n\ndef after():\n    pass\n',
            "utf-8",
            (3, 6),
            "0xff",
            {"before", "x", "after"},
        ),
        (
            "ascii_decl",
            b"# coding: ascii\ndef before():\n    pass\ny = '\xe9'\ndef after():\n    pass\n",
            "ascii",
            (4, 6),
            "0xe9",
            {"before", "y", "after"},
        ),
    ],
)
def test_bytes_invalid_in_the_encoding_are_partial(
    tmp_path: Path,
    name: str,
    source: bytes,
    encoding: str,
    where: tuple[int, int],
    byte: str,
    names: set[str],
) -> None:
    tree = make_tree(tmp_path)
    (tree / f"{name}.py").write_bytes(source)
    db = db_file(tmp_path)

    index(tree, db)

    row = file_row(db, f"{name}.py")
    assert (row["status"], row["encoding"]) == ("partial", encoding)
    errors = errors_of(db, f"{name}.py")
    assert [(line, col, kind) for line, col, kind, _ in errors] == [(*where, "encoding")]
    assert byte in errors[0][3]
    assert {f"{name}.{n}" for n in names} <= qualnames_of(db, f"{name}.py")
    assert_ok_indexed(db)


# ----------------------------------------------------------------------------- 4. BOM


def test_utf8_bom_does_not_shift_columns(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    source = b"\xef\xbb\xbfdef first():\n    return len('abc')\n\n\ndef second():\n    pass\n"
    (tree / "bom.py").write_bytes(source)
    db = db_file(tmp_path)

    index(tree, db)

    row = file_row(db, "bom.py")
    assert row["status"] == "ok"
    assert row["encoding"] == "utf-8-sig"
    assert row["line_count"] == 6
    symbols = rows(
        db,
        "SELECT s.qualname, s.line, s.col FROM symbols s JOIN files f USING (file_id)"
        " WHERE f.path = 'bom.py' AND s.kind = 'function' ORDER BY s.line",
    )
    assert symbols == [("bom.first", 1, 1), ("bom.second", 5, 1)]
    calls = rows(
        db,
        "SELECT c.line, c.col, c.callee FROM calls c JOIN files f USING (file_id)"
        " WHERE f.path = 'bom.py'",
    )
    assert calls == [(2, 12, "len")]
    assert_ok_indexed(db)


# ----------------------------------------------------------------------------- 5. NUL


def test_nul_byte_is_partial_with_nul_error(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    source = b"def before():\n    pass\nx = 1\x00\ndef after():\n    pass\n"
    (tree / "nul.py").write_bytes(source)
    db = db_file(tmp_path)

    index(tree, db)

    row = file_row(db, "nul.py")
    assert row["status"] == "partial"
    nul_errors = [(line, col) for line, col, kind, _ in errors_of(db, "nul.py") if kind == "nul"]
    assert nul_errors == [(3, 6)]
    assert {"nul.before", "nul.after"} <= qualnames_of(db, "nul.py")
    assert_ok_indexed(db)


# ----------------------------------------------------------------------------- 6. size


def test_huge_file_is_skipped_as_too_large(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    line = b"value = 1  # padding padding padding padding padding padding padding\n"
    count = 20_000_000 // len(line) + 1
    (tree / "huge.py").write_bytes(line * count)
    size = len(line) * count
    db = db_file(tmp_path)

    summary = index(tree, db)  # default max_file_bytes (4 MB)

    assert summary.skipped == 1
    row = file_row(db, "huge.py")
    assert row["status"] == "skipped"
    assert "too large" in row["skip_reason"]
    assert row["sha256"] is None
    assert row["size"] == size
    assert qualnames_of(db, "huge.py") == set()
    assert errors_of(db, "huge.py") == []
    assert_ok_indexed(db)


def test_max_file_bytes_skip_is_not_sticky(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree / "small.py").write_text("def small():\n    return 2\n", encoding="utf-8")
    db = db_file(tmp_path)

    index(tree, db, max_file_bytes=10)
    row = file_row(db, "small.py")
    assert row["status"] == "skipped"
    assert "too large" in row["skip_reason"]
    assert qualnames_of(db, "small.py") == set()

    # Same bytes, same mtime: only the limit changed. The file must be indexed now.
    index(tree, db)
    row = file_row(db, "small.py")
    assert row["status"] == "ok", f"raising max_file_bytes left the skip in place: {row}"
    assert row["skip_reason"] is None
    assert "small.small" in qualnames_of(db, "small.py")
    assert_ok_indexed(db)


# ----------------------------------------------------------------------------- 7. depth


def test_deeply_nested_expressions_do_not_recurse(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    depth = 2000
    source = (
        "x = " + "(" * depth + "1" + ")" * depth + "\n"
        "y = " + "f(" * depth + "1" + ")" * depth + "\n"
    )
    (tree / "deep.py").write_text(source, encoding="utf-8")
    db = db_file(tmp_path)

    summary = index(tree, db)

    assert summary.failed == 0
    row = file_row(db, "deep.py")
    assert row["status"] in ("ok", "partial")
    assert row["skip_reason"] is None  # "extractor failed: RecursionError" would land here
    calls = rows(
        db,
        "SELECT count(*), count(DISTINCT c.col), min(c.line), max(c.line) FROM calls c"
        " JOIN files f USING (file_id) WHERE f.path = 'deep.py' AND c.callee = 'f'",
    )
    assert calls == [(depth, depth, 2, 2)]
    assert {"deep.x", "deep.y"} <= qualnames_of(db, "deep.py")
    assert_ok_indexed(db)


def test_pathological_nesting_is_skipped_not_stalled(tmp_path: Path) -> None:
    # tree-sitter queries slow down quadratically with depth (10,000 nested calls: seconds);
    # beyond MAX_NESTING the file is recorded as skipped instead of stalling the run.
    tree = make_tree(tmp_path)
    depth = MAX_NESTING + 1
    (tree / "generated.py").write_text("y = " + "f(" * depth + "1" + ")" * depth + "\n")
    db = db_file(tmp_path)

    summary = index(tree, db)

    row = file_row(db, "generated.py")
    assert row["status"] == "skipped"
    assert row["skip_reason"] == (
        f"nesting too deep: syntax tree nested {depth}+ levels (max {MAX_NESTING})"
    )
    assert row["sha256"] is not None
    assert qualnames_of(db, "generated.py") == set()
    assert summary.skipped == 1
    assert_ok_indexed(db)
    assert_consistent(db)
    again = index(tree, db)  # a deliberate skip is remembered, not redone every run
    assert (again.parsed, again.skipped, again.unchanged) == (0, 0, 2)


def test_nesting_depth_counts_brackets_only_when_it_can_matter() -> None:
    assert nesting_depth(b"f(g([1, {2: (3)}]))", limit=1) == 5
    assert nesting_depth(b"f(g([1, {2: (3)}]))", limit=10) == 0  # cannot exceed: not scanned
    assert nesting_depth(b"(" * 30 + b")" * 30 + b"[]" * 100, limit=20) == 30


def test_may_be_deep_finds_a_long_line_wherever_it_lies() -> None:
    short = b"x = 1\n" * 10
    for at in range(0, 60, 7):  # every offset against the window grid of the quick check
        for length in (20, 21, 40):
            data = short[:at] + b"\n" + b"a" * length + b"\n" + short[at:]
            assert may_be_deep(data, limit=10) is (length > 20)
    assert not may_be_deep(b"a" * 20, limit=10)  # no longer than 2 * limit: not even looked at
    assert may_be_deep(b"a" * 21, limit=10)


# ----------------------------------------------------------------------------- 8. vanished


def test_file_deleted_between_walk_and_read_is_vanished(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    doomed = tree / "doomed.py"
    doomed.write_text("def doomed():\n    pass\n", encoding="utf-8")
    found = walk(tree)
    layout = detect_layout(tree, found.project_dirs)
    work = plan(tree, found, layout, {}, 4_000_000)
    assert sorted(t.path for t in work.tasks) == ["doomed.py", "ok.py"]
    task = next(t for t in work.tasks if t.path == "doomed.py")

    doomed.unlink()

    assert index_file(task) == Vanished("doomed.py")


def test_index_tree_drops_file_that_vanishes_mid_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_tree(tmp_path)
    doomed = tree / "doomed.py"
    doomed.write_text("def doomed():\n    pass\n", encoding="utf-8")
    (tree / "a.py").write_text("def a():\n    pass\n", encoding="utf-8")
    db = db_file(tmp_path)
    index(tree, db)
    assert "doomed.doomed" in qualnames_of(db, "doomed.py")
    # New bytes everywhere, so the next run reads a.py, doomed.py and ok.py in path order.
    for name in ("a.py", "doomed.py", "ok.py"):
        with (tree / name).open("a", encoding="utf-8") as handle:
            handle.write("# changed\n")

    real_walk = graphsvc.update.walk

    def walk_then_delete(*args: Any, **kwargs: Any) -> WalkResult:
        found = real_walk(*args, **kwargs)  # doomed.py is walked...
        doomed.unlink()  # ...and gone before anything reads it
        return found

    monkeypatch.setattr(graphsvc.update, "walk", walk_then_delete)
    settings = load_settings(tree, jobs=1)
    with Store.open(db) as store:
        summary = index_tree(tree, store, settings)
    assert_consistent(db)

    assert summary.vanished == 1
    assert summary.removed == 0
    assert summary.parsed == 2
    assert rows(db, "SELECT path FROM files ORDER BY path") == [("a.py",), ("ok.py",)]
    assert rows(db, "SELECT count(*) FROM symbols WHERE qualname LIKE 'doomed%'") == [(0,)]
    assert_ok_indexed(db)


def test_file_deleted_before_run_is_removed(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree / "doomed.py").write_text("def doomed():\n    pass\n", encoding="utf-8")
    db = db_file(tmp_path)
    index(tree, db)
    (tree / "doomed.py").unlink()

    summary = index(tree, db)

    assert (summary.removed, summary.vanished, summary.unchanged) == (1, 0, 1)
    assert rows(db, "SELECT path FROM files") == [("ok.py",)]
    assert rows(db, "SELECT count(*) FROM symbols WHERE qualname LIKE 'doomed%'") == [(0,)]
    assert_ok_indexed(db)


# ----------------------------------------------------------------------------- 9. unreadable


def test_unreadable_file_fails_then_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_tree(tmp_path)
    locked = tree / "locked.py"
    locked.write_text("def locked():\n    pass\n", encoding="utf-8")
    db = db_file(tmp_path)
    real_open = os.open

    def deny_locked(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        # We run as root, where chmod 000 does not stop reads: fake the OS refusing this path.
        if os.fspath(path) == str(locked):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny_locked)
    summary = index(tree, db)

    assert summary.failed == 1
    assert summary.failures == [f"locked.py: unreadable: {os.strerror(errno.EACCES)}"]
    row = file_row(db, "locked.py")
    assert row["status"] == "failed"
    assert row["skip_reason"].startswith("unreadable")
    assert row["sha256"] is None
    assert [(line, kind) for line, _, kind, _ in errors_of(db, "locked.py")] == [(1, "read")]
    assert qualnames_of(db, "locked.py") == set()
    assert_ok_indexed(db)

    monkeypatch.undo()
    summary = index(tree, db)  # nothing changed on disk: a failed row is retried anyway

    assert summary.parsed == 1
    assert summary.failed == 0
    row = file_row(db, "locked.py")
    assert row["status"] == "ok"
    assert row["skip_reason"] is None
    assert errors_of(db, "locked.py") == []
    assert "locked.locked" in qualnames_of(db, "locked.py")


# ----------------------------------------------------------------------------- 10. loops


def test_symlink_loops_do_not_trap_or_duplicate(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree / "pkg").mkdir()
    (tree / "pkg" / "mod.py").write_text("def m():\n    pass\n", encoding="utf-8")
    os.symlink("..", tree / "pkg" / "loop")  # a directory symlink to its parent
    os.symlink("a.py", tree / "a.py")  # a file symlink to itself
    db = db_file(tmp_path)

    summary = index(tree, db)

    paths = [r[0] for r in rows(db, "SELECT path FROM files ORDER BY path")]
    assert paths == ["a.py", "ok.py", "pkg/mod.py"]  # nothing seen through pkg/loop
    assert summary.seen == 3
    row = file_row(db, "a.py")
    assert row["status"] == "skipped"
    assert row["skip_reason"] == f"cannot stat: {os.strerror(errno.ELOOP)}"
    assert row["sha256"] is None
    assert rows(db, "SELECT count(*) FROM symbols WHERE qualname = 'pkg.mod.m'") == [(1,)]
    assert rows(db, "SELECT count(*) FROM symbols WHERE qualname = 'ok.good'") == [(1,)]
    assert_ok_indexed(db)

    again = index(tree, db)  # a second run is stable: the skip is recognised as unchanged
    assert (again.unchanged, again.parsed, again.skipped) == (3, 0, 0)


def test_broken_symlink_is_skipped(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    os.symlink("missing.py", tree / "gone.py")
    db = db_file(tmp_path)

    summary = index(tree, db)

    assert summary.skipped == 1
    row = file_row(db, "gone.py")
    assert row["status"] == "skipped"
    assert row["skip_reason"] == "broken symlink"
    assert row["sha256"] is None
    assert_ok_indexed(db)


# ----------------------------------------------------------------------------- 11. foo.py/


def test_directory_named_like_a_module(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree / "foo.py").mkdir()
    (tree / "foo.py" / "bar.py").write_text("def bar():\n    pass\n", encoding="utf-8")
    db = db_file(tmp_path)

    index(tree, db)

    paths = [r[0] for r in rows(db, "SELECT path FROM files ORDER BY path")]
    assert paths == ["foo.py/bar.py", "ok.py"]  # the directory itself is no file row
    row = file_row(db, "foo.py/bar.py")
    assert row["status"] == "ok"
    # "foo.py" is not an identifier, so it cannot be part of an import path: names start below.
    assert row["module"] == "bar"
    module = rows(
        db,
        "SELECT m.name, m.is_package, m.package_root FROM modules m JOIN files f USING (file_id)"
        " WHERE f.path = 'foo.py/bar.py'",
    )
    assert module == [("bar", False, "foo.py")]
    assert "bar.bar" in qualnames_of(db, "foo.py/bar.py")
    assert_ok_indexed(db)


# ----------------------------------------------------------------------------- 12. non-files


def test_non_python_files_and_fifo(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree / "notes.txt").write_text("def not_python():\n    pass\n", encoding="utf-8")
    (tree / "data.bin").write_bytes(b"\x00\x01\x02")
    os.mkfifo(tree / "pipe.py")
    db = db_file(tmp_path)

    summary = index(tree, db)  # must not block opening the FIFO (pytest-timeout guards it)

    assert summary.other_files == 1  # data.bin; notes.txt is a documentation file (docs_seen)
    assert summary.docs_seen == 1
    paths = [r[0] for r in rows(db, "SELECT path FROM files ORDER BY path")]
    assert paths == ["ok.py", "pipe.py"]
    row = file_row(db, "pipe.py")
    assert row["status"] == "skipped"
    assert row["skip_reason"] == "not a regular file"
    assert rows(db, "SELECT count(*) FROM symbols WHERE name = 'not_python'") == [(0,)]
    assert_ok_indexed(db)


def test_index_file_on_fifo_does_not_block(tmp_path: Path) -> None:
    # A regular file replaced by a FIFO after the walk: the read side must not hang either.
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    task = Task("pipe.py", str(fifo), ModuleInfo("pipe", False, ""), None, 4_000_000)

    outcome = index_file(task)

    assert not isinstance(outcome, Vanished)
    assert outcome.record.status == "skipped"  # type: ignore[union-attr]
    assert outcome.record.skip_reason == "not a regular file"  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- parser crash


class _DiesInTheWorker:
    """A module name that kills the worker process that unpickles it: a stand-in for a crash in
    the C parser, faked at the process boundary (no graphsvc code is patched)."""

    name = "crasher"

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return (os._exit, (70,))


def test_a_dying_parser_process_costs_one_file(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    for i in range(60):
        (tree / f"m{i:02}.py").write_text(f"def f{i}():\n    return {i}\n")
    found = walk(tree)
    work = plan(tree, found, detect_layout(tree, found.project_dirs), {}, 4_000_000)
    victim = Task("crasher.py", str(tree / "crasher.py"), _DiesInTheWorker(), None, 4_000_000)  # type: ignore[arg-type]
    tasks = [*work.tasks[:30], victim, *work.tasks[30:]]

    outcomes = [o for chunk in graphsvc.update_pool.chunks(tasks, jobs=2) for o in chunk.outcomes]

    assert [o.record.path for o in outcomes] == [t.path for t in tasks]  # type: ignore[union-attr]
    dead = outcomes[30].record  # type: ignore[union-attr]
    assert dead.status == "failed" and "parser process died" in (dead.skip_reason or "")
    assert {o.record.status for o in outcomes if o is not outcomes[30]} == {"ok"}  # type: ignore[union-attr]


def _wedged_once(module: ModuleInfo, marker: str) -> ModuleInfo:
    """Unpickled in a worker: the first time, that worker ignores SIGTERM and never returns
    (a wedged C extension stand-in); later (the one-by-one redo) it is an ordinary module."""
    if not os.path.exists(marker):
        Path(marker).touch()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(60)
    return module


def _die_once_wedged(marker: str) -> None:
    """Unpickled in a worker: kills it, but only once another worker has wedged."""
    for _ in range(600):
        if os.path.exists(marker):
            break
        time.sleep(0.05)
    os._exit(70)


@dataclasses.dataclass(frozen=True)
class _DiesOnceWedged:
    name: str
    marker: str

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_die_once_wedged, (self.marker,))


@dataclasses.dataclass(frozen=True)
class _WedgedOnce:
    module: ModuleInfo
    marker: str

    def __reduce__(self) -> tuple[Any, tuple[ModuleInfo, str]]:
        return (_wedged_once, (self.module, self.marker))


@pytest.mark.timeout(90)
def test_a_worker_deaf_to_sigterm_cannot_hang_a_broken_pool(tmp_path: Path) -> None:
    """CPython 3.11 answers a dead worker with SIGTERM to the others and a join with no time
    limit; a wedged worker that survives SIGTERM must not hang the index (SIGKILL ends it)."""
    tree = make_tree(tmp_path)
    for i in range(60):
        (tree / f"m{i:02}.py").write_text(f"def f{i}():\n    return {i}\n")
    found = walk(tree)
    work = plan(tree, found, detect_layout(tree, found.project_dirs), {}, 4_000_000)
    first, marker = work.tasks[0], str(tmp_path / "wedged")
    wedged = dataclasses.replace(first, module=_WedgedOnce(first.module, marker))  # type: ignore[arg-type]
    dies = _DiesOnceWedged("crasher", marker)
    victim = Task("crasher.py", str(tree / "crasher.py"), dies, None, 4_000_000)  # type: ignore[arg-type]
    tasks = [wedged, *work.tasks[1:30], victim, *work.tasks[30:]]

    outcomes = [o for chunk in graphsvc.update_pool.chunks(tasks, jobs=2) for o in chunk.outcomes]

    assert (tmp_path / "wedged").exists()  # the worker did wedge
    assert [o.record.path for o in outcomes] == [t.path for t in tasks]  # type: ignore[union-attr]
    assert outcomes[30].record.status == "failed"  # type: ignore[union-attr]
    assert {o.record.status for o in outcomes if o is not outcomes[30]} == {"ok"}  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- review findings


def test_surrogate_literals_and_odd_codecs_cost_nothing(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree / "surrogate.py").write_text('f("\\ud800")\n\n\ndef after():\n    pass\n')
    (tree / "rot13.py").write_bytes(b"# coding: rot13\nk = 1\n")
    (tree / "escape.py").write_bytes(b'# coding: unicode_escape\nk = "\\ud800"\n')
    db = db_file(tmp_path)

    index(tree, db)

    first_args = "SELECT c.first_arg FROM calls c JOIN files f USING (file_id) WHERE f.path = ?"
    assert rows(db, first_args, ["surrogate.py"]) == [("\\ud800",)]
    assert "surrogate.after" in qualnames_of(db, "surrogate.py")
    rot13 = file_row(db, "rot13.py")
    assert (rot13["status"], rot13["encoding"]) == ("partial", "utf-8")
    kinds = "SELECT e.kind FROM parse_errors e JOIN files f USING (file_id) WHERE f.path = ?"
    assert rows(db, kinds, ["rot13.py"]) == [("encoding",)]
    assert file_row(db, "escape.py")["status"] in ("ok", "partial")
    assert_ok_indexed(db)
    assert_consistent(db)


def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree / os.fsdecode(b"\xff.py")).write_text("x = 1\n")
    db = db_file(tmp_path)

    index(tree, db)
    again = index(tree, db)

    assert rows(db, "SELECT path, status, skip_reason FROM files WHERE path != 'ok.py'") == [
        ("\\udcff.py", "skipped", "file name is not valid UTF-8")
    ]
    assert again.parsed == 0 and again.removed == 0
    assert_ok_indexed(db)


def test_deep_tree_without_brackets_is_skipped(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree / "chain.py").write_text("x = a" + ".b" * (MAX_NESTING + 10) + "\n")
    db = db_file(tmp_path)

    index(tree, db)

    row = file_row(db, "chain.py")
    assert row["status"] == "skipped"
    assert row["skip_reason"].startswith("nesting too deep: syntax tree nested")
    assert_ok_indexed(db)


def test_a_value_that_cannot_be_stored_costs_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The safety net behind every extractor: should a fact ever hold a string Arrow cannot
    # encode, only its file fails. The bad value is injected where facts leave index_file.
    tree = make_tree(tmp_path)
    (tree / "bad.py").write_text("def bad():\n    pass\n")
    real = graphsvc.indexer.index_file

    def with_bad_value(task: Task) -> Any:
        outcome = real(task)
        if task.path == "bad.py":
            broken = dataclasses.replace(outcome.symbols[0], qualname="\udc80")
            return dataclasses.replace(outcome, symbols=(broken,))
        return outcome

    monkeypatch.setattr(graphsvc.indexer, "index_file", with_bad_value)
    db = db_file(tmp_path)
    summary = index(tree, db)

    bad = file_row(db, "bad.py")
    assert bad["status"] == "failed" and bad["skip_reason"].startswith("extractor failed")
    assert summary.failed == 1
    assert_ok_indexed(db)
    assert_consistent(db)
