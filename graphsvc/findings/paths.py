"""File findings: files and models the code opens by a literal path that do not exist.

A read of a literal path (``open("config/app.yaml")`` with no mode, ``torch.load("w.pt")``,
``np.load``, ``pd.read_csv``, ``joblib.load``, ``PIL.Image.open``, ...) whose path exists
neither relative to the tree's root, nor relative to the reading file's folder, nor as an
absolute path: ``capability.file.<hash12>`` (type ``file``, or ``model`` for model loaders and
weight files). URLs, ``~`` paths, format strings and ``-`` are not paths here. The calls come
from the ``calls`` facts (the callee as the file names it, so a package that is not installed
still counts); existence is checked at every refresh, since no file event reports a data file
appearing. Sites are cached per file and re-read only for the files a batch re-linked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from graphsvc.errors import GraphsvcError
from graphsvc.findings.model import Finding, Location, evidence_hash
from graphsvc.findings.refresh import Refresher, RefreshResult
from graphsvc.queries import apply_filter, upper_snake
from graphsvc.store import Store
from graphsvc.update import IndexSummary

log = logging.getLogger(__name__)
SOURCE = "files"
MODEL_READERS = frozenset(
    {
        "torch.load", "torch.jit.load", "safetensors.torch.load_file", "joblib.load",
        "onnxruntime.InferenceSession", "keras.models.load_model",
        "tensorflow.keras.models.load_model", "tf.keras.models.load_model",
    }
)  # fmt: skip
DATA_READERS = frozenset(
    {
        "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "pandas.read_csv",
        "pandas.read_parquet", "pandas.read_json", "pandas.read_excel", "pandas.read_pickle",
        "pandas.read_feather", "pandas.read_table", "cv2.imread", "PIL.Image.open",
        "imageio.imread", "h5py.File",
    }
)  # fmt: skip
MODEL_SUFFIXES = frozenset(
    {".pt", ".pth", ".ckpt", ".onnx", ".h5", ".keras", ".safetensors", ".gguf", ".joblib"}
)
_NOT_PATHS = ("http://", "https://", "s3://", "gs://", "file:", "~", "-")


@dataclass(frozen=True, slots=True)
class Read:
    """One literal-path read: the reading file, its line and scope, the callee and the path."""

    path: str
    line: int
    scope: str
    callee: str
    target: str


def _is_path(text: str) -> bool:
    return bool(text.strip()) and not text.startswith(_NOT_PATHS) and "{" not in text


class FileSource:
    """Refreshes the file findings after each query refresh (see the module docstring).

    Args:
        tree: the indexed tree.
    """

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self._reads: dict[int, list[Read]] | None = None  # file id -> its literal-path reads

    def _load(self, store: Store, file_ids: frozenset[int] | None) -> None:
        every = file_ids is None
        rows = store.con.execute(
            "SELECT c.file_id, f.path, c.line, c.scope, c.candidate, c.first_arg"
            " FROM calls AS c JOIN files AS f USING (file_id)"
            " WHERE c.first_arg IS NOT NULL"
            " AND ((c.candidate = '<builtin>.open' AND c.arg_count = 1 AND len(c.keywords) = 0)"
            "  OR list_contains($readers, c.candidate))"
            " AND ($every OR c.file_id IN (SELECT unnest($ids::INTEGER[])))",
            {
                "readers": sorted(MODEL_READERS | DATA_READERS),
                "every": every,
                "ids": sorted(file_ids or ()),
            },
        ).fetchall()
        if every or self._reads is None:
            self._reads = {}
        else:
            for file_id in file_ids or ():
                self._reads.pop(file_id, None)
        for file_id, path, line, scope, callee, target in rows:
            if _is_path(str(target)):
                self._reads.setdefault(int(file_id), []).append(
                    Read(str(path), int(line), str(scope), str(callee), str(target))
                )

    def _exists(self, read: Read) -> bool:
        target = Path(read.target)
        if target.is_absolute():
            return target.exists()
        folder = self.tree / PurePosixPath(read.path).parent
        return (self.tree / target).exists() or (folder / target).exists()

    def findings(self, store: Store, summary: IndexSummary | None = None) -> list[Finding]:
        """The file findings now (re-reading sites only for the files ``summary`` re-linked)."""
        if (
            summary is None
            or summary.relinked is None
            or summary.removed + summary.vanished
            or self._reads is None
        ):
            self._load(store, None)
        elif summary.relinked:
            self._load(store, summary.relinked)
        missing: dict[str, list[Read]] = {}
        for reads in (self._reads or {}).values():
            for read in reads:
                if not self._exists(read):
                    missing.setdefault(read.target, []).append(read)
        return [_finding(target, reads) for target, reads in sorted(missing.items())]

    def refresh(
        self, refresher: Refresher, store: Store, summary: IndexSummary | None = None
    ) -> RefreshResult | None:
        """Diff the file findings into the feed (on the writer's thread); None on a failure,
        which is logged (the stored file findings stay as they were)."""
        try:
            as_of = summary.batch_id if summary is not None else None
            return refresher.run_source(store, SOURCE, self.findings(store, summary), as_of)
        except GraphsvcError as exc:
            log.error("file findings not refreshed: %s", exc)
            self._reads = None
            return None


def _finding(target: str, reads: list[Read]) -> Finding:
    reads.sort(key=lambda r: (r.path, r.line))
    model = any(r.callee in MODEL_READERS for r in reads) or (
        PurePosixPath(target).suffix.lower() in MODEL_SUFFIXES
    )
    kind = "model" if model else "file"
    paths = sorted({r.path for r in reads})
    readers = sorted({r.callee.replace("<builtin>.", "") for r in reads})
    lines = (
        f"type: {kind}",
        "category: file",
        f"path: {target}",
        *(f"opened_in: {p}" for p in paths),
        *(f"opened_by: {r}" for r in readers),
        "reason: exists neither under the tree's root, nor beside the reading file, "
        "nor as an absolute path",
    )
    return Finding(
        id=f"capability.file.{apply_filter(target, 'hash12')}",
        kind="missing_capability",
        query=SOURCE,
        hypothesis=upper_snake(f"MISSING_CAPABILITY_FILE_{target}"),
        question=f"The code opens the {kind} {target} (in {', '.join(paths)}) but it does not "
        "exist here: where should it come from (download, build step, configuration), or what "
        "can stand in for it?",
        evidence=lines,
        evidence_hash=evidence_hash(lines),
        locations=tuple(Location(r.path, r.line, r.scope) for r in reads),
        severity="medium",
        confidence=0.6,
        action_class="find_substitute",
        autonomy=2,
        value_estimate=0.4,
        cost=0.3,
        capability_key=f"capability.{kind}",
    )
