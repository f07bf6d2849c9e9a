"""Import contracts: the tree's import-linter contracts checked against the indexed graph.

Teams that keep layer rules write them for import-linter (``[tool.importlinter]`` in
pyproject.toml, ``[importlinter]`` in setup.cfg or ``.importlinter``). graphsvc reads the same
configuration with import-linter's own reader, builds a grimp import graph from the indexed
imports instead of re-parsing the tree, and runs import-linter's contract classes on it, so a
broken contract is reported after every batch, the way ``lint-imports`` reports it:

- ``contract_violation`` (id ``contract_violation_<contract>_<importer>_<imported>``): one per
  illegal dependency (a lower layer that imports a higher one, a source module that reaches a
  forbidden one, two independent modules that depend on each other), with every import chain
  that makes it (``a -> b (l.3) -> c (l.7)``) and the first import of each chain as location;
  contract types whose report has no chains (``protected``, ``acyclic_siblings``, plugins) give
  one finding per broken contract with import-linter's own report as evidence;
- ``contract_unchecked`` (id ``contract_unchecked_<contract>``, or ``_config`` for the file):
  a contract that could not be checked (invalid options, a module it names is not in the tree,
  an ``ignore_imports`` entry that matches nothing, an unknown type) or a configuration file
  that cannot be read: never a silent pass.

A tree without import-linter configuration (and no ``contracts`` setting) has no contract
findings. This is a non-SQL finding source (``query`` is ``contracts``), diffed in by
:meth:`Refresher.run_source`, and skipped when neither the internal import edges nor the
configuration file changed.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grimp
from importlinter import api as importlinter_api
from importlinter.application import output as importlinter_output
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.independence import IndependenceContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import Contract

from graphsvc.errors import GraphsvcError
from graphsvc.findings.model import Finding, Location, evidence_hash
from graphsvc.findings.refresh import Refresher, RefreshResult
from graphsvc.queries import apply_filter, upper_snake
from graphsvc.store import Store

log = logging.getLogger(__name__)
SOURCE = "contracts"
CONFIG_FILES = (".importlinter", "setup.cfg", "pyproject.toml")  # import-linter's own order
MAX_CHAINS = 10  # chains listed per illegal dependency (the count says how many there were)


def _contract_types() -> dict[str, type[Contract]]:
    types: dict[str, type[Contract]] = {
        "forbidden": ForbiddenContract,
        "independence": IndependenceContract,
        "layers": LayersContract,
    }
    try:  # newer import-linter releases ship more types
        from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
        from importlinter.contracts.protected import ProtectedContract
    except ImportError:  # pragma: no cover - older import-linter within the pinned range
        return types
    types["acyclic_siblings"] = AcyclicSiblingsContract
    types["protected"] = ProtectedContract
    return types


@dataclass(frozen=True, slots=True)
class Config:
    """The contracts of one configuration file, as import-linter reads them."""

    path: Path
    session: dict[str, Any]
    contracts: list[dict[str, Any]]


def find_config(tree: Path, explicit: Path | None = None) -> Path | None:
    """The configuration file to check: ``explicit`` (relative to the tree) when given, else
    the first of the tree's ``.importlinter``, ``setup.cfg`` and ``pyproject.toml`` that holds
    an import-linter section."""
    if explicit is not None:
        return explicit if explicit.is_absolute() else tree / explicit
    for name in CONFIG_FILES:
        path = tree / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        marker = "[tool.importlinter" if name == "pyproject.toml" else "[importlinter"
        if marker in text:
            return path
    return None


def read_config(path: Path) -> Config:
    """Read the import-linter configuration of ``path``.

    Raises:
        GraphsvcError: the file is missing, unreadable or holds no import-linter section.
    """
    try:
        options = importlinter_api.read_configuration(str(path))
    except FileNotFoundError as exc:
        raise GraphsvcError(f"{path}: {exc}") from exc
    except Exception as exc:  # TOML/INI syntax errors surface as several exception types
        raise GraphsvcError(f"{path}: cannot read import-linter configuration: {exc}") from exc
    return Config(path, dict(options["session_options"]), list(options["contracts_options"]))


def _flag(session: Mapping[str, Any], key: str) -> bool:
    return str(session.get(key, "")).strip().lower() == "true"


# The module an import statement makes Python load, as grimp records it: the submodule of a
# `from pkg import sub`, else the module written (`import a.b.c`: a.b.c), when the tree has it.
_INTERNAL_EDGES = """
SELECT DISTINCT m.name AS importer, coalesce(sub.name, mod.name) AS imported, i.line,
       i.module || coalesce(' import ' || i.name, '') AS written
FROM imports AS i
JOIN modules AS m USING (file_id)
LEFT JOIN modules AS sub ON i.kind = 'from' AND sub.name = i.target || '.' || i.name
LEFT JOIN modules AS mod ON mod.name = i.target
WHERE coalesce(sub.name, mod.name) IS NOT NULL
    AND i.kind <> 'future'
    AND NOT ($exclude_tc AND i.type_checking)
"""
# Outside packages (include_external_packages): grimp squashes them to their top-level name.
_EXTERNAL_EDGES = """
SELECT DISTINCT m.name AS importer, split_part(l.target_module, '.', 1) AS imported, l.line,
       l.expression AS written
FROM links AS l
JOIN modules AS m USING (file_id)
JOIN (SELECT DISTINCT file_id, line, col, type_checking FROM imports) AS i
    ON i.file_id = l.file_id AND i.line = l.line AND i.col = l.col
WHERE l.site = 'import' AND l.status IN ('external', 'stdlib') AND l.target_module IS NOT NULL
    AND NOT ($exclude_tc AND i.type_checking)
"""


def build_graph(
    store: Store, session: Mapping[str, Any]
) -> tuple[grimp.ImportGraph, dict[str, str]]:
    """A grimp import graph of the indexed tree, built the way grimp builds one from source:
    every module; every import of a module of the tree, to the module the statement loads
    (function-level imports included; those under ``if TYPE_CHECKING`` unless
    ``exclude_type_checking_imports``); with ``include_external_packages``, the imports of
    outside packages as squashed top-level modules. Also returns module name -> path."""
    paths = dict(
        store.con.execute(
            "SELECT m.name, f.path FROM modules AS m JOIN files AS f USING (file_id)"
        ).fetchall()
    )
    params = {"exclude_tc": _flag(session, "exclude_type_checking_imports")}
    rows = store.con.execute(_INTERNAL_EDGES + " ORDER BY 1, 2, 3", params).fetchall()
    external = _flag(session, "include_external_packages")
    if external:
        rows += store.con.execute(_EXTERNAL_EDGES + " ORDER BY 1, 2, 3", params).fetchall()
    graph = grimp.ImportGraph()
    for name in sorted(paths):
        graph.add_module(name)
    for importer, imported, line, written in rows:
        if importer == imported:
            continue
        if imported not in paths and imported not in graph.modules:
            graph.add_module(imported, is_squashed=True)
        graph.add_import(
            importer=importer, imported=imported, line_number=int(line), line_contents=written
        )
    return graph, paths


@dataclass(frozen=True, slots=True)
class Violation:
    """One illegal dependency of a broken contract: ``importer`` (and its descendants) may not
    import ``imported``; ``chains`` lists the links (importer, imported, line numbers)."""

    importer: str
    imported: str
    chains: tuple[tuple[tuple[str, str, tuple[int, ...]], ...], ...]


def _links(chain: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str, tuple[int, ...]], ...]:
    return tuple(
        (str(k["importer"]), str(k["imported"]), tuple(n for n in k["line_numbers"] if n))
        for k in chain
    )


def _detailed(chain: Mapping[str, Any]) -> tuple[tuple[str, str, tuple[int, ...]], ...]:
    """A grimp route rendered as one chain: its main chain, with the extra first and last
    links of the route (other importers of the same step) folded in after it."""
    return _links(chain["chain"]) + _links(chain["extra_firsts"]) + _links(chain["extra_lasts"])


def violations(metadata: Mapping[str, Any]) -> list[Violation] | None:
    """The illegal dependencies in a failed check's metadata, for the contract types that
    report chains (forbidden, independence, layers); None for the others."""
    found: list[Violation] = []
    if "invalid_dependencies" in metadata:  # layers
        for dep in metadata["invalid_dependencies"]:
            chains = tuple(_detailed(route) for route in dep["routes"])
            found.append(Violation(dep["importer"], dep["imported"], chains))
        return found
    if "invalid_chains" in metadata:  # forbidden (plain chains), independence (detailed)
        for dep in metadata["invalid_chains"]:
            chains = tuple(
                _detailed(c) if isinstance(c, Mapping) else _links(c) for c in dep["chains"]
            )
            found.append(Violation(dep["downstream_module"], dep["upstream_module"], chains))
        return found
    return None


def _chain_text(chain: tuple[tuple[str, str, tuple[int, ...]], ...]) -> str:
    parts = []
    for importer, imported, lines in chain:
        where = f" (l.{', '.join(map(str, lines))})" if lines else ""
        parts.append(f"{importer} -> {imported}{where}")
    return "; ".join(parts)


def _key(contract: Mapping[str, Any]) -> str:
    """A contract's id: its ``id`` option, else a hash of its name."""
    given = str(contract.get("id") or "").strip()
    return given or apply_filter(str(contract.get("name", "")), "hash12")


def _finding(
    kind: str, fid: str, hypothesis: str, question: str, evidence: list[str], **more: Any
) -> Finding:
    lines = tuple(evidence)
    return Finding(
        id=fid,
        kind=kind,
        query=SOURCE,
        hypothesis=upper_snake(hypothesis),
        question=" ".join(question.split()),
        evidence=lines,
        evidence_hash=evidence_hash(lines),
        locations=tuple(more.get("locations", ())),
        severity=more.get("severity", "high"),
        confidence=more.get("confidence", 1.0),
        action_class=more.get("action", "propose_fix"),
        autonomy=2,
        value_estimate=0.6,
        cost=0.3,
        capability_key="architecture.contracts",
        metadata=more.get("metadata", {}),
    )


def _unchecked(key: str, name: str, reason: str, config: Path) -> Finding:
    return _finding(
        "contract_unchecked",
        f"contract_unchecked_{key}",
        f"CONTRACT_UNCHECKED_{key}",
        f"The import contract {name!r} in {config.name} could not be checked ({reason}): "
        "fix its configuration?",
        [f"contract: {name}", f"config: {config.name}", f"reason: {reason}"],
        severity="medium",
        action="investigate",
    )


def _locations(v: Violation, paths: Mapping[str, str]) -> list[Location]:
    seen: dict[tuple[str, int], Location] = {}
    for chain in v.chains:
        importer, _, lines = chain[0]
        path = paths.get(importer)
        if path is not None:
            for line in lines or (1,):
                seen.setdefault((path, line), Location(path, line, importer))
    return sorted(seen.values(), key=lambda loc: (loc.path, loc.line))


def check_contracts(store: Store, config: Config) -> list[Finding]:
    """The findings of every contract of ``config`` against the indexed graph of ``store``."""
    graph, paths = build_graph(store, config.session)
    types = _contract_types()
    out: list[Finding] = []
    for options in config.contracts:
        name = str(options.get("name") or "(unnamed)")
        key = _key(options)
        kind = str(options.get("type", ""))
        if kind not in types:
            known = ", ".join(sorted(types))
            out.append(
                _unchecked(key, name, f"unknown contract type {kind!r} ({known})", config.path)
            )
            continue
        contract_options = {k: v for k, v in options.items() if k not in ("name", "type", "id")}
        try:
            contract = types[kind](
                name=name, session_options=config.session, contract_options=contract_options
            )
            check = contract.check(copy.deepcopy(graph), verbose=False)
        except Exception as exc:  # invalid options, a missing module, an unmatched ignore
            reason = " ".join(str(exc).split()) or type(exc).__name__
            out.append(_unchecked(key, name, reason, config.path))
            continue
        if check.kept:
            continue
        found = violations(check.metadata)
        if found is None:
            out.append(_whole_contract(contract, check, key, name, kind, config.path))
            continue
        for v in found:
            out.append(_violation(v, key, name, kind, paths))
    return out


def _violation(v: Violation, key: str, name: str, kind: str, paths: Mapping[str, str]) -> Finding:
    chains = sorted({_chain_text(c) for c in v.chains})
    evidence = [
        f"contract: {name}",
        f"type: {kind}",
        f"importer: {v.importer}",
        f"imported: {v.imported}",
        *(f"chain: {c}" for c in chains[:MAX_CHAINS]),
    ]
    if len(chains) > MAX_CHAINS:
        evidence.append(f"more_chains: {len(chains) - MAX_CHAINS}")
    return _finding(
        "contract_violation",
        f"contract_violation_{key}_{v.importer}_{v.imported}",
        f"CONTRACT_VIOLATION_{v.importer}_IMPORTS_{v.imported}",
        f"{v.importer} is not allowed to import {v.imported} (contract {name!r}, {kind}): "
        "which import in the chain should go?",
        evidence,
        locations=_locations(v, paths),
        metadata={"contract": name, "chains": len(chains)},
    )


def _whole_contract(
    contract: Contract, check: Any, key: str, name: str, kind: str, config: Path
) -> Finding:
    """A broken contract whose type reports no chains: import-linter's own report."""
    with importlinter_output.console.capture() as captured:
        contract.render_broken_contract(check)
    report = [line.strip() for line in captured.get().splitlines() if line.strip()]
    return _finding(
        "contract_violation",
        f"contract_violation_{key}",
        f"CONTRACT_VIOLATION_{key}",
        f"The import contract {name!r} ({kind}) in {config.name} is broken: which import "
        "should go?",
        [f"contract: {name}", f"type: {kind}", *(f"report: {line}" for line in report)],
        metadata={"contract": name},
    )


def contract_findings(store: Store, tree: Path, explicit: Path | None = None) -> list[Finding]:
    """The contract findings of ``tree`` (indexed in ``store``): none without configuration,
    one ``contract_unchecked`` finding when the configuration cannot be read."""
    path = find_config(tree, explicit)
    if path is None:
        return []
    try:
        config = read_config(path)
    except GraphsvcError as exc:
        return [_unchecked("config", path.name, str(exc), path)]
    return check_contracts(store, config)


def _stat(path: Path | None) -> tuple[object, ...]:
    if path is None:
        return ()
    try:
        st = path.stat()
    except OSError:
        return (str(path),)
    return (str(path), st.st_mtime_ns, st.st_size)


class ContractSource:
    """Refreshes the contract findings after each query refresh, skipping the work when
    neither the import facts and links (the Refresher's digests) nor the configuration file
    (path, mtime, size) changed.

    Args:
        tree: the indexed tree.
        explicit: the configured contracts file (None: the tree's import-linter config).
    """

    def __init__(self, tree: Path, explicit: Path | None = None) -> None:
        self.tree = tree
        self.explicit = explicit
        self._key: tuple[object, ...] | None = None
        self.skipped = 0

    def refresh(
        self, refresher: Refresher, store: Store, as_of: int | None = None
    ) -> RefreshResult | None:
        """Diff the contract findings into the feed (on the writer's thread). None when
        skipped or failed (logged; the stored contract findings stay as they were)."""
        try:
            key = _stat(find_config(self.tree, self.explicit))
            if key == self._key and "imports" in refresher.last_unchanged:
                self.skipped += 1
                return None
            found = contract_findings(store, self.tree, self.explicit)
            result = refresher.run_source(store, SOURCE, found, as_of)
        except Exception as exc:  # a source must never fail the batch that ran it
            log.error(
                "contract findings not refreshed: %s",
                exc,
                exc_info=not isinstance(exc, GraphsvcError),
            )
            self._key = None
            return None
        self._key = key
        return result
