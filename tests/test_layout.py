"""Module names from the package layout."""

from __future__ import annotations

from pathlib import Path

from conftest import WriteTree

from graphsvc.layout import detect_layout
from graphsvc.walk import walk


def _modules(tree: Path, configured: tuple[str, ...] = ()) -> dict[str, tuple[str, bool, str]]:
    found = walk(tree)
    layout = detect_layout(tree, found.project_dirs, configured)
    return {
        e.path: (m.name, m.is_package, m.package_root)
        for e in found.files
        for m in [layout.module_for(e.path)]
    }


def test_flat_packages_namespace_packages_and_main(write_tree: WriteTree) -> None:
    tree = write_tree(
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "",
            "pkg/__main__.py": "",
            "nspkg/sub/mod.py": "",  # no __init__.py anywhere: a namespace package
            "script.py": "",
        }
    )
    assert _modules(tree) == {
        "pkg/__init__.py": ("pkg", True, ""),
        "pkg/mod.py": ("pkg.mod", False, ""),
        "pkg/__main__.py": ("pkg.__main__", False, ""),
        "nspkg/sub/mod.py": ("nspkg.sub.mod", False, ""),
        "script.py": ("script", False, ""),
    }


def test_src_layout_and_several_project_roots(write_tree: WriteTree) -> None:
    tree = write_tree(
        {
            "pyproject.toml": "",
            "src/app/__init__.py": "",
            "src/app/core.py": "",
            "services/api/setup.cfg": "",
            "services/api/api/views.py": "",
            "libs/util/pyproject.toml": "",
            "libs/util/src/util/text.py": "",
            "tests/test_core.py": "",
        }
    )
    assert _modules(tree) == {
        "src/app/__init__.py": ("app", True, "src"),
        "src/app/core.py": ("app.core", False, "src"),
        "services/api/api/views.py": ("api.views", False, "services/api"),
        "libs/util/src/util/text.py": ("util.text", False, "libs/util/src"),
        "tests/test_core.py": ("tests.test_core", False, ""),
    }


def test_configured_roots_override_detection(write_tree: WriteTree) -> None:
    tree = write_tree({"src/app/core.py": "", "lib/shared/io.py": ""})
    modules = _modules(tree, ("lib",))
    assert modules["lib/shared/io.py"] == ("shared.io", False, "lib")
    assert modules["src/app/core.py"] == ("src.app.core", False, "")


def test_non_identifier_folders_start_a_new_root(write_tree: WriteTree) -> None:
    tree = write_tree({"my-tools/run.py": "", "foo.py/bar.py": "", "a/b-c/d/e.py": ""})
    modules = _modules(tree)
    assert modules["my-tools/run.py"] == ("run", False, "my-tools")
    assert modules["foo.py/bar.py"] == ("bar", False, "foo.py")
    assert modules["a/b-c/d/e.py"] == ("d.e", False, "a/b-c")


def test_tree_that_is_itself_a_package(tmp_path: Path) -> None:
    tree = tmp_path / "mypkg"
    (tree / "sub").mkdir(parents=True)
    (tree / "__init__.py").write_text("")
    (tree / "sub" / "x.py").write_text("")
    modules = _modules(tree)
    assert modules["__init__.py"] == ("mypkg", True, "")
    assert modules["sub/x.py"] == ("mypkg.sub.x", False, "")
