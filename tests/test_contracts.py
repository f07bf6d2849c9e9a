"""Import contracts (import-linter's configuration and contract types) checked on the indexed
graph: real trees on disk, a real DuckDB file, the real import-linter and grimp; the reports
are compared with what `lint-imports` itself prints for the same tree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import WriteTree

from graphsvc.config import load_settings
from graphsvc.findings import ContractSource, Finding, Refresher, all_findings
from graphsvc.findings.contracts import contract_findings, find_config
from graphsvc.findings.importgraph import build_graph
from graphsvc.queries import load_queries
from graphsvc.store import Store
from graphsvc.update import index_tree

LAYERS = """
[tool.importlinter]
root_packages = ["app"]
include_external_packages = true

[[tool.importlinter.contracts]]
id = "layers"
name = "app layers"
type = "layers"
layers = ["app.api", "app.service", "app.store"]

[[tool.importlinter.contracts]]
id = "no-http-in-store"
name = "the store does not talk HTTP"
type = "forbidden"
source_modules = ["app.store"]
forbidden_modules = ["http"]

[[tool.importlinter.contracts]]
name = "plugins stay apart"
type = "independence"
modules = ["app.plugins.a", "app.plugins.b"]
"""

APP = {
    "app/__init__.py": "",
    "app/api.py": "from app import service\n",
    "app/service.py": "from app.store import save\n",
    # the store reaches the api through a helper: an indirect (two-link) violation
    "app/store.py": "import http.client\nfrom app import helpers\n\n\ndef save():\n    pass\n",
    "app/helpers.py": "def tidy():\n    from app.api import service\n",
    "app/plugins/__init__.py": "",
    "app/plugins/a.py": "from app.plugins import b\n",
    "app/plugins/b.py": "X = 1\n",
}


def _findings(tree: Path, db: Path) -> dict[str, Finding]:
    with Store.open(db) as store:
        index_tree(tree, store, load_settings(tree, jobs=1))
        return {f.id: f for f in contract_findings(store, tree)}


def test_layers_forbidden_and_independence_like_lint_imports(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(APP | {"pyproject.toml": LAYERS})
    found = _findings(tree, tmp_path / "g.duckdb")
    assert set(found) == {
        "contract_violation_layers_app.store_app.api",
        "contract_violation_no-http-in-store_app.store_http",
        # an independence contract without an id: its key is a hash of its name
        f"contract_violation_{_hash('plugins stay apart')}_app.plugins.a_app.plugins.b",
    }
    layers = found["contract_violation_layers_app.store_app.api"]
    assert layers.kind == "contract_violation" and layers.query == "contracts"
    assert layers.hypothesis == "CONTRACT_VIOLATION_APP_STORE_IMPORTS_APP_API"
    assert layers.evidence == (
        "contract: app layers",
        "type: layers",
        "importer: app.store",
        "imported: app.api",
        "chain: app.store -> app.helpers (l.2); app.helpers -> app.api (l.2)",
    )
    assert [(loc.path, loc.line) for loc in layers.locations] == [("app/store.py", 2)]
    forbidden = found["contract_violation_no-http-in-store_app.store_http"]
    assert "chain: app.store -> http (l.1)" in forbidden.evidence
    plugins = next(f for f in found.values() if "independence" in f.question)
    assert "chain: app.plugins.a -> app.plugins.b (l.1)" in plugins.evidence

    linted = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=tree, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert linted.returncode == 1  # the same tree, the same broken contracts
    assert "Contracts: 0 kept, 3 broken." in linted.stdout
    assert "app.store is not allowed to import app.api" in linted.stdout
    assert "- app.store -> app.helpers (l.2)" in linted.stdout


def _hash(text: str) -> str:
    from graphsvc.queries import apply_filter

    return apply_filter(text, "hash12")


def test_contracts_that_cannot_be_checked_say_so(write_tree: WriteTree, tmp_path: Path) -> None:
    config = """
[importlinter]
root_packages = app

[importlinter:contract:ghost]
name = names a module the tree lacks
type = forbidden
source_modules = app.ghost
forbidden_modules = app.api

[importlinter:contract:odd]
name = an unknown type
type = circular

[importlinter:contract:stale]
name = ignores an import that is gone
type = layers
layers =
    app.api
    app.service
ignore_imports =
    app.service -> app.api
"""
    tree = write_tree(APP | {".importlinter": config})
    found = _findings(tree, tmp_path / "g.duckdb")
    assert sorted(found) == [
        "contract_unchecked_ghost", "contract_unchecked_odd", "contract_unchecked_stale",
    ]  # fmt: skip
    reasons = {fid: f.evidence[-1] for fid, f in found.items()}
    assert "app.ghost" in reasons["contract_unchecked_ghost"]
    assert "unknown contract type 'circular'" in reasons["contract_unchecked_odd"]
    assert "app.service -> app.api" in reasons["contract_unchecked_stale"]
    assert all(f.severity == "medium" for f in found.values())


def test_a_broken_configuration_is_a_finding_and_no_configuration_is_none(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(APP | {"setup.cfg": "[importlinter]\nroot_packages = app\n[oops\n"})
    found = _findings(tree, tmp_path / "g.duckdb")
    assert list(found) == ["contract_unchecked_config"]
    assert "setup.cfg" in found["contract_unchecked_config"].question

    (tree / "setup.cfg").unlink()
    bare = tree
    assert find_config(bare) is None
    assert _findings(bare, tmp_path / "bare.duckdb") == {}
    # an explicit file that does not exist is a finding, not a silent pass
    with Store.open(tmp_path / "bare.duckdb") as store:
        (missing,) = contract_findings(store, bare, Path("contracts.toml"))
    assert missing.id == "contract_unchecked_config"
    assert "contracts.toml" in missing.evidence[-1]


def test_type_checking_imports_count_unless_excluded(write_tree: WriteTree, tmp_path: Path) -> None:
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app import api\n"
    files = APP | {"app/store.py": guarded, "app/helpers.py": ""}
    tree = write_tree(files | {"pyproject.toml": LAYERS})
    assert "contract_violation_layers_app.store_app.api" in _findings(tree, tmp_path / "a.duckdb")
    excluded = LAYERS.replace(
        'root_packages = ["app"]', 'root_packages = ["app"]\nexclude_type_checking_imports = true'
    )
    (tree / "pyproject.toml").write_text(excluded)
    assert "contract_violation_layers_app.store_app.api" not in _findings(
        tree, tmp_path / "b.duckdb"
    )


def test_the_feed_follows_edits_and_skips_unrelated_batches(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    tree = write_tree(APP | {"pyproject.toml": LAYERS})
    settings = load_settings(tree, jobs=1)
    with Store.open(tmp_path / "g.duckdb") as store:
        refresher = Refresher(load_queries(None, []), tree)
        source = ContractSource(tree)

        def batch() -> dict[str, int] | None:
            summary = index_tree(tree, store, settings)
            refresher.run(store, summary.batch_id, summary)
            result = source.refresh(refresher, store, summary)
            return None if result is None else result.events

        assert batch() == {"new": 3}
        with (tree / "app" / "service.py").open("a") as out:  # no import changes
            out.write("\n\ndef g():\n    return 1\n")
        assert batch() is None and source.skipped == 1
        (tree / "app" / "helpers.py").write_text("def tidy():\n    pass\n")  # chain broken
        assert batch() == {"fixed": 1}
        fixed = [f.id for f in all_findings(store).values() if f.status == "fixed"]
        assert fixed == ["contract_violation_layers_app.store_app.api"]
        config = tree / "pyproject.toml"  # the contract itself changes: checked again
        config.write_text(
            config.read_text().replace(
                'forbidden_modules = ["http"]', 'forbidden_modules = ["json"]'
            )
        )
        assert batch() == {"fixed": 1}


def test_cli_index_reports_contract_findings(write_tree: WriteTree) -> None:
    tree = write_tree(APP | {"pyproject.toml": LAYERS})
    done = subprocess.run(
        [sys.executable, "-m", "graphsvc", "index", str(tree)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "graphsvc", "findings", "--path", str(tree), "--kind",
         "contract_violation", "-f", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    found = {f["id"]: f for f in json.loads(listed.stdout)}
    assert "contract_violation_layers_app.store_app.api" in found
    assert found["contract_violation_layers_app.store_app.api"]["query"] == "contracts"


def test_the_resident_graph_follows_edits_in_place(write_tree: WriteTree, tmp_path: Path) -> None:
    """After each batch the graph updated in place has exactly the edges of a fresh load,
    including an import another file's new module re-targets (`from app import extra` names
    a variable of app until app/extra.py exists, then the module)."""
    tree = write_tree(
        APP | {"pyproject.toml": LAYERS, "app/__init__.py": "extra = 1\n", "app/user.py": ""}
    )
    settings = load_settings(tree, jobs=1)
    edits: list[dict[str, str]] = [
        {"app/user.py": "from app import extra\n"},  # app.user -> app (a variable of app)
        {"app/extra.py": "import json\n"},  # now app.user -> app.extra
        {"app/service.py": "from app.store import save\nfrom app import api\n"},
        {"app/service.py": "X = 2\n", "app/api.py": "from app.plugins import a\n"},
    ]
    with Store.open(tmp_path / "g.duckdb") as store:
        refresher = Refresher(load_queries(None, []), tree)
        source = ContractSource(tree)
        for n, edit in enumerate([{}, *edits]):
            write_tree(edit)
            summary = index_tree(tree, store, settings)
            refresher.run(store, summary.batch_id, summary)
            source.refresh(refresher, store, summary)
            resident = source._imports
            assert resident is not None
            fresh = build_graph(store, {"include_external_packages": "True"})
            assert resident.edges() == fresh.edges(), n
            assert resident.paths == fresh.paths
        assert source.loads == 1  # one load, then four in-place updates
        edges = {(a, b) for a, b, _ in resident.edges()}
        assert ("app.user", "app.extra") in edges and ("app.user", "app") not in edges
        assert ("app.service", "app.api") not in edges and ("app.api", "app.plugins.a") in edges
