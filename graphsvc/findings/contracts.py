"""Import contracts: the tree's import-linter contracts checked against the indexed graph.

Teams that keep layer rules write them for import-linter (``[tool.importlinter]`` in
pyproject.toml, ``[importlinter]`` in setup.cfg or ``.importlinter``). graphsvc reads the same
configuration with import-linter's own reader, builds a grimp import graph from the indexed
imports instead of re-parsing the tree (:mod:`graphsvc.findings.importgraph`), and runs
import-linter's contract classes on it, so a broken contract is reported after every batch,
the way ``lint-imports`` reports it:

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
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphsvc.errors import GraphsvcError
from graphsvc.findings.importgraph import ImportGraph, build_graph
from graphsvc.findings.model import Finding, Location
from graphsvc.findings.refresh import Refresher, RefreshResult
from graphsvc.queries import apply_filter
from graphsvc.store import Store
from graphsvc.update import IndexSummary

if TYPE_CHECKING:
    from importlinter.domain.contract import Contract

# import-linter (with grimp and rich, ~4 MB of a serving process's RSS, #5) is imported where
# a contract is read or checked: a tree without contracts never loads it.
log = logging.getLogger(__name__)
SOURCE = "contracts"
CONFIG_FILES = (".importlinter", "setup.cfg", "pyproject.toml")  # import-linter's own order
MAX_CHAINS = 10  # chains listed per illegal dependency (the count says how many there were)


def _contract_types() -> dict[str, type[Contract]]:
    from importlinter.contracts.forbidden import ForbiddenContract
    from importlinter.contracts.independence import IndependenceContract
    from importlinter.contracts.layers import LayersContract

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
    from importlinter import api as importlinter_api

    try:
        options = importlinter_api.read_configuration(str(path))
    except FileNotFoundError as exc:
        raise GraphsvcError(f"{path}: {exc}") from exc
    except Exception as exc:  # TOML/INI syntax errors surface as several exception types
        raise GraphsvcError(f"{path}: cannot read import-linter configuration: {exc}") from exc
    return Config(path, dict(options["session_options"]), list(options["contracts_options"]))


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
    return Finding.of(
        id=fid,
        kind=kind,
        query=SOURCE,
        hypothesis=hypothesis,
        question=question,
        evidence=evidence,
        locations=more.get("locations", ()),
        severity=more.get("severity", "high"),
        confidence=more.get("confidence", 1.0),
        action=more.get("action", "propose_fix"),
        autonomy=2,
        value=0.6,
        cost=0.3,
        capability="architecture.contracts",
        metadata=more.get("metadata"),
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


def check_contracts(imports: ImportGraph, config: Config) -> list[Finding]:
    """The findings of every contract of ``config`` against ``imports``."""
    graph, paths = imports.graph, imports.paths
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
    from importlinter.application import output as importlinter_output

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


def load_contracts(tree: Path, explicit: Path | None = None) -> Config | Finding | None:
    """The configuration to check (None: there is none; a ``contract_unchecked_config``
    finding: it cannot be read)."""
    path = find_config(tree, explicit)
    if path is None:
        return None
    try:
        return read_config(path)
    except GraphsvcError as exc:
        return _unchecked("config", path.name, str(exc), path)


def contract_findings(store: Store, tree: Path, explicit: Path | None = None) -> list[Finding]:
    """The contract findings of ``tree`` (indexed in ``store``), from a fresh import graph:
    none without configuration, one ``contract_unchecked`` finding when the configuration
    cannot be read."""
    config = load_contracts(tree, explicit)
    if config is None:
        return []
    if isinstance(config, Finding):
        return [config]
    return check_contracts(build_graph(store, config.session), config)


def _config_key(tree: Path, explicit: Path | None) -> tuple[object, ...]:
    """(name, mtime, size) of every file the configuration can come from: a stat each, so a
    batch that changed none of them reads none of them."""
    if explicit is not None:
        candidates = [explicit if explicit.is_absolute() else tree / explicit]
    else:
        candidates = [tree / name for name in CONFIG_FILES]
    key: list[object] = []
    for path in candidates:
        try:
            st = path.stat()
        except OSError:
            continue
        key.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(key)


class ContractSource:
    """Refreshes the contract findings after each query refresh. Skips the work when neither
    the import facts and links (the Refresher's digests) nor the files the configuration can
    come from (name, mtime, size: a stat each, no read) changed; otherwise keeps its import
    graph resident and replaces only the edges of the files the batch re-linked (a full load
    after a removal, a module rename, a configuration change, or without a batch summary),
    then checks every contract.

    Args:
        tree: the indexed tree.
        explicit: the configured contracts file (None: the tree's import-linter config).
    """

    def __init__(self, tree: Path, explicit: Path | None = None) -> None:
        self.tree = tree
        self.explicit = explicit
        self._key: tuple[object, ...] | None = None
        self._imports: ImportGraph | None = None
        self.skipped = 0
        self.loads = 0  # full graph loads (the rest were in-place updates)
        self.last_ms = (0.0, 0.0)  # the last refresh's graph load or update, and checks

    def refresh(
        self, refresher: Refresher, store: Store, summary: IndexSummary | None = None
    ) -> RefreshResult | None:
        """Diff the contract findings into the feed (on the writer's thread), as of the batch
        ``summary`` describes. None when skipped or failed (logged; the stored contract
        findings stay as they were)."""
        as_of = None if summary is None else summary.batch_id
        try:
            key = _config_key(self.tree, self.explicit)
            if key == self._key and "imports" in refresher.last_unchanged:
                self.skipped += 1
                return None
            config = load_contracts(self.tree, self.explicit)
            if isinstance(config, Config):
                started = time.perf_counter()
                imports = self._graph(store, config, key, summary)
                graphed = time.perf_counter()
                found = check_contracts(imports, config)
                done = time.perf_counter()
                self.last_ms = ((graphed - started) * 1000, (done - graphed) * 1000)
            else:
                self._imports = None
                found = [] if config is None else [config]
            result = refresher.run_source(store, SOURCE, found, as_of)
        except Exception as exc:  # a source must never fail the batch that ran it
            log.error(
                "contract findings not refreshed: %s",
                exc,
                exc_info=not isinstance(exc, GraphsvcError),
            )
            self._key = None
            self._imports = None
            return None
        self._key = key
        return result

    def _graph(
        self, store: Store, config: Config, key: tuple[object, ...], summary: IndexSummary | None
    ) -> ImportGraph:
        imports = self._imports
        in_place = (
            imports is not None
            and key == self._key
            and summary is not None
            and summary.relinked is not None
            and not summary.removed + summary.vanished
            and imports.update(store, summary.relinked)
        )
        if not in_place or imports is None:
            imports = build_graph(store, config.session)
            self.loads += 1
        self._imports = imports
        return imports
