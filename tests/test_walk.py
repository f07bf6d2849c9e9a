"""The walk: .gitignore files at every level, default and configured excludes, the DB folder."""

from __future__ import annotations

from pathlib import Path

from conftest import WriteTree

from graphsvc.walk import walk, walk_paths


def _paths(tree: Path, **kwargs: object) -> list[str]:
    return [e.path for e in walk(tree, **kwargs).files]  # type: ignore[arg-type]


def test_gitignore_at_several_levels(write_tree: WriteTree) -> None:
    tree = write_tree(
        {
            ".gitignore": "generated/\n*_pb2.py\n",
            "app/.gitignore": "local_*.py\n!local_keep.py\n",
            "app/main.py": "",
            "app/local_settings.py": "",
            "app/local_keep.py": "",
            "app/api_pb2.py": "",
            "generated/models.py": "",
            "other/generated.py": "",
        }
    )
    assert _paths(tree) == ["app/local_keep.py", "app/main.py", "other/generated.py"]


def test_default_and_configured_excludes(write_tree: WriteTree) -> None:
    tree = write_tree(
        {
            "pkg/a.py": "",
            ".venv/lib/site.py": "",
            "node_modules/x/y.py": "",
            "pkg/__pycache__/a.py": "",
            "build/lib/pkg/a.py": "",
            ".git/hooks/h.py": "",
            "vendor/lib.py": "",
            "docs/conf.py": "",
        }
    )
    assert _paths(tree) == ["docs/conf.py", "pkg/a.py", "vendor/lib.py"]
    assert _paths(tree, exclude=["vendor/", "docs/conf.py"]) == ["pkg/a.py"]


def test_counts_and_a_database_folder_inside_the_tree(write_tree: WriteTree) -> None:
    tree = write_tree(
        {"a.py": "", "db/cache.py": "", "db/g.duckdb": "", "README.md": "", "pyproject.toml": ""}
    )
    found = walk(tree)
    assert [e.path for e in found.files] == ["a.py", "db/cache.py"]
    assert found.other_files == 3
    assert found.project_dirs == {""}
    assert found.files[0].size == 0 and found.files[0].mtime_ns > 0


def test_nested_gitignore_can_reinclude(write_tree: WriteTree) -> None:
    tree = write_tree(
        {
            ".gitignore": "gen_*.py\n",
            "sub/.gitignore": "!gen_keep.py\n",
            "sub/gen_keep.py": "",
            "sub/gen_drop.py": "",
            "gen_top.py": "",
        }
    )
    assert _paths(tree) == ["sub/gen_keep.py"]


def test_walk_paths_agrees_with_the_full_walk_below_every_path(write_tree: WriteTree) -> None:
    tree = write_tree(
        {
            ".gitignore": "generated/\n*_pb2.py\ngen_*.py\n",
            "app/.gitignore": "local_*.py\n!local_keep.py\n",
            "app/main.py": "",
            "app/local_settings.py": "",
            "app/local_keep.py": "",
            "app/api_pb2.py": "",
            "app/deep/er/x.py": "",
            "generated/models.py": "",
            "other/generated.py": "",
            "sub/.gitignore": "!gen_keep.py\n",
            "sub/gen_keep.py": "",
            "sub/gen_drop.py": "",
            "gen_top.py": "",
            "top.py": "",
            "node_modules/m.py": "",
            "vendor/v.py": "",
        }
    )
    full = _paths(tree, exclude=["vendor/"])
    every = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*"))
    for rel in [*every, "", "missing.py", "app/missing/deeper.py"]:
        below = [p for p in full if not rel or p == rel or p.startswith(rel + "/")]
        found = walk_paths(tree, [rel], exclude=["vendor/"])
        assert [e.path for e in found.files] == below, rel
    several = walk_paths(tree, ["app", "app/main.py", "sub", "top.py"], exclude=["vendor/"])
    assert [e.path for e in several.files] == [
        "app/deep/er/x.py", "app/local_keep.py", "app/main.py", "sub/gen_keep.py", "top.py"
    ]  # fmt: skip
