"""The suppressor's cache follows one-file edits (def lines and file hashes of the changed files
read again, nothing else) and decides exactly as a suppressor that reads everything afresh.

A real tree on disk, a real DuckDB file, the resident linker the service keeps (so each batch
says which files it re-linked).
"""

from __future__ import annotations

from pathlib import Path

from conftest import make_finding

from graphsvc.config import Settings, load_settings
from graphsvc.findings import Suppressor
from graphsvc.findings.model import Finding, Location
from graphsvc.link import Linker
from graphsvc.store import Store
from graphsvc.update import index_tree

# Each finding cites a line of one file and a symbol another file defines: its def line (and
# an ignore comment there) is what the cache must follow.
FILES = {
    "pkg/__init__.py": "",
    "pkg/defs.py": "def alpha():\n    pass\n\n\nclass Beta:\n    def gamma(self):\n        pass\n",
    "pkg/use.py": "from pkg.defs import alpha, Beta\n\nalpha()\nBeta().gamma()\n",
    "pkg/other.py": "X = 1\n",
}
EDITS: list[dict[str, str | None]] = [
    # a comment on alpha's def line
    {
        "pkg/defs.py": "def alpha():  # graphsvc: ignore[dead_code]\n    pass\n\n\nclass Beta:\n"
        "    def gamma(self):\n        pass\n"
    },
    # an unrelated file
    {"pkg/other.py": "X = 2\n"},
    # the defs move down; gamma gets a comment of every kind
    {
        "pkg/defs.py": "Y = 0\n\n\ndef alpha():  # graphsvc: ignore[dead_code]\n    pass\n\n\n"
        "class Beta:\n    def gamma(self):  # graphsvc: ignore[*]\n        pass\n"
    },
    # alpha back on line 1 without a comment; line 4, where it was, has one (for another def)
    {
        "pkg/defs.py": "def alpha():\n    pass\n\ndef other():  # graphsvc: ignore[dead_code]\n"
        "    pass\n\n\nclass Beta:\n    def gamma(self):  # graphsvc: ignore[*]\n        pass\n"
    },
    # the cited line itself gets a comment; a second definition of alpha's name elsewhere
    {
        "pkg/use.py": "from pkg.defs import alpha, Beta  # graphsvc: ignore[missing_wiring]\n\n"
        "alpha()\nBeta().gamma()\n",
        "pkg/other.py": "X = 3\n\n\ndef alpha():  # graphsvc: ignore[missing_wiring]\n    pass\n",
    },
    # comments gone
    {"pkg/defs.py": FILES["pkg/defs.py"]},
]


def _finding(fid: str, kind: str, symbol: str, line: int) -> Finding:
    return make_finding(fid, kind, Location("pkg/use.py", line, symbol))


FINDINGS = [
    _finding("a", "dead_code", "pkg.defs.alpha", 3),
    _finding("b", "missing_wiring", "pkg.defs.alpha", 1),
    _finding("c", "missing_wiring", "pkg.defs.Beta.gamma", 4),
    _finding("d", "dead_code", "pkg.other.alpha", 4),
]


def _setup(tmp_path: Path) -> tuple[Path, Settings, Linker, Suppressor]:
    """The tree on disk, its settings, the resident linker and the suppressor under test."""
    tree = tmp_path / "tree"
    for name, text in FILES.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    return tree, load_settings(tree, jobs=1), Linker(), Suppressor(tree)


def test_the_cache_follows_edits_and_agrees_with_a_fresh_read(tmp_path: Path) -> None:
    tree, settings, linker, kept = _setup(tmp_path)
    seen: list[dict[str, str]] = []
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, settings, linker=linker)
        generation = 1
        assert kept.reasons(store, FINDINGS, generation) == Suppressor(tree).reasons(
            store, FINDINGS
        )
        for edit in EDITS:
            for name, text in edit.items():
                assert text is not None
                (tree / name).write_text(text)
            summary = index_tree(tree, store, settings, linker=linker)
            assert summary.relinked is not None and not summary.removed
            generation += 1
            follows = kept.reasons(store, FINDINGS, generation, summary.relinked)
            assert follows == Suppressor(tree).reasons(store, FINDINGS)
            seen.append(follows)
    # the edits did move the answers (the comparison above is not between empty results)
    assert seen[0] == {"a": "code: pkg/defs.py:1"}
    assert seen[2] == {
        "a": "code: pkg/defs.py:4",
        "c": "code: pkg/defs.py:9",
    }
    assert seen[3] == {"c": "code: pkg/defs.py:9"}  # not "a": its old line is not its own
    assert seen[4]["b"] == "code: pkg/use.py:1"
    assert seen[5] == {"b": "code: pkg/use.py:1"}


def test_a_generation_skipped_reads_everything_again(tmp_path: Path) -> None:
    tree, settings, linker, kept = _setup(tmp_path)
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, settings, linker=linker)
        assert kept.reasons(store, FINDINGS, 1) == {}
        (tree / "pkg/defs.py").write_text(str(EDITS[0]["pkg/defs.py"]))
        index_tree(tree, store, settings, linker=linker)  # a batch the suppressor missed
        (tree / "pkg/other.py").write_text("X = 9\n")
        summary = index_tree(tree, store, settings, linker=linker)
        assert summary.relinked is not None
        # generation 3 follows 1: the changed set covers only the last batch, so it is not
        # trusted and everything is read again
        assert kept.reasons(store, FINDINGS, 3, summary.relinked) == {"a": "code: pkg/defs.py:1"}


def test_new_findings_in_a_followed_refresh_read_their_def_lines_with_the_changed_files(
    tmp_path: Path,
) -> None:
    # each refresh cites a symbol no earlier one did: its def lines are read in the same
    # statement that follows the changed files, and one defined in a changed file (or in one
    # the batch left alone) is found either way
    tree, settings, linker, kept = _setup(tmp_path)
    steps: list[tuple[dict[str, str], Finding]] = [
        (
            {"pkg/other.py": "X = 1\n\n\ndef delta():  # graphsvc: ignore[dead_code]\n    pass\n"},
            _finding("e", "dead_code", "pkg.other.delta", 2),
        ),
        (
            {"pkg/other.py": "X = 2\n"},
            _finding("f", "dead_code", "pkg.defs.Beta", 2),
        ),
        (
            {"pkg/defs.py": "class Beta:  # graphsvc: ignore[dead_code]\n    pass\n"},
            _finding("g", "dead_code", "pkg.defs.Beta", 3),
        ),
    ]
    findings = list(FINDINGS)
    answers: list[dict[str, str]] = []
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, settings, linker=linker)
        generation = 1
        kept.reasons(store, findings, generation)
        for edit, finding in steps:
            for name, text in edit.items():
                (tree / name).write_text(text)
            summary = index_tree(tree, store, settings, linker=linker)
            assert summary.relinked is not None
            generation += 1
            findings.append(finding)
            follows = kept.reasons(store, findings, generation, summary.relinked)
            assert follows == Suppressor(tree).reasons(store, findings)
            answers.append(follows)
    assert answers[0]["e"] == "code: pkg/other.py:4"  # defined in the changed file
    assert "f" not in answers[1]  # Beta's def line has no comment yet
    assert answers[2]["f"] == answers[2]["g"] == "code: pkg/defs.py:1"


def test_a_followed_refresh_decides_again_only_the_findings_a_changed_file_can_move(
    tmp_path: Path,
) -> None:
    # the findings the changed files cannot move keep their answers (decided once); those
    # that cite the changed file, or whose symbols it defines, and those whose places are
    # not the ones they were are decided again, and every answer is a fresh read's
    tree, settings, linker, kept = _setup(tmp_path)
    moved = _finding("a", "dead_code", "pkg.defs.alpha", 4)  # a's id, another cited line
    steps: list[tuple[dict[str, str], list[Finding], int]] = [
        ({"pkg/other.py": "X = 5\n"}, FINDINGS, 0),  # no finding reads pkg/other.py
        ({"pkg/defs.py": str(EDITS[0]["pkg/defs.py"])}, FINDINGS, 3),  # a, b, c's def lines
        ({"pkg/other.py": "X = 6\n"}, [moved, *FINDINGS[1:]], 1),  # a: another line
        (  # d's symbol is defined now (with a comment)
            {"pkg/other.py": "X = 7\n\n\ndef alpha():  # graphsvc: ignore[dead_code]\n    pass\n"},
            [moved, *FINDINGS[1:]],
            1,
        ),
        (
            {
                "pkg/use.py": FILES["pkg/use.py"].replace(
                    "gamma()", "gamma()  # graphsvc: ignore[*]"
                )
            },
            [moved, *FINDINGS[1:]],
            4,  # every finding cites pkg/use.py
        ),
    ]
    answers: list[dict[str, str]] = []
    with Store.open(tmp_path / "g.duckdb") as store:
        index_tree(tree, store, settings, linker=linker)
        kept.reasons(store, FINDINGS, 1)
        assert kept.decisions == len(FINDINGS)
        for generation, (edit, findings, decided) in enumerate(steps, start=2):
            for name, text in edit.items():
                (tree / name).write_text(text)
            summary = index_tree(tree, store, settings, linker=linker)
            assert summary.relinked is not None
            before = kept.decisions
            follows = kept.reasons(store, findings, generation, summary.relinked)
            assert follows == Suppressor(tree).reasons(store, findings), generation
            assert kept.decisions - before == decided, generation
            answers.append(follows)
        # no Python file changed: every answer holds
        before = kept.decisions
        assert kept.reasons(store, findings, len(steps) + 1) == answers[-1]
        assert kept.decisions == before
    assert answers[1] == {"a": "code: pkg/defs.py:1"}
    assert answers[2] == {"a": "code: pkg/defs.py:1"}  # through its symbol still
    assert answers[3] == {"a": "code: pkg/defs.py:1", "d": "code: pkg/other.py:4"}
    assert answers[4] == {
        "a": "code: pkg/use.py:4",
        "c": "code: pkg/use.py:4",
        "d": "code: pkg/use.py:4",
    }
