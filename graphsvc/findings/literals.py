"""Capability findings of literal call arguments, checked against this machine: programs the
code runs, environment variables it reads, files and models it opens.

- ``capability.program.<hash12>``: a program started through subprocess (run, call,
  check_call, check_output, Popen, getoutput, getstatusoutput), os.system, os.popen,
  os.exec*/spawn*p, shutil.which or asyncio.create_subprocess_exec/_shell, named by a string
  literal first argument (the first word of a shell line, after NAME=value assignments), that
  ``shutil.which`` does not find on this process's PATH (shell builtins count as found);
- ``capability.env.<hash12>``: os.getenv(NAME) / os.environ.get(NAME) with no default whose
  variable is not set in this process's environment (low severity);
- ``capability.file.<hash12>``: a read of a literal path (``open(PATH)`` with no mode,
  ``torch.load``, ``np.load``, ``pd.read_csv``, ``joblib.load``, ``PIL.Image.open``, ...) that
  exists neither under the tree's root, nor beside the reading file, nor as an absolute path
  (type ``model`` for model loaders and weight files). URLs, ``~`` paths, format strings and
  ``-`` are not paths here.

The calls come from the ``calls`` facts, the callee as the file names it (so a package that is
not installed still counts). The machine is checked at every refresh (no file event reports a
program installed or a data file appearing), but the call sites are cached per file and re-read
only for the files whose path, bytes or module changed, so a batch costs O(its files) plus one
small scan of ``files`` and one check per site.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from graphsvc.findings.model import Finding, Location
from graphsvc.findings.refresh import Refresher, RefreshResult
from graphsvc.queries import apply_filter
from graphsvc.store import Store
from graphsvc.update import IndexSummary

log = logging.getLogger(__name__)
SOURCE = "capabilities"
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
RUNNERS = frozenset(
    {
        "subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output",
        "subprocess.Popen", "subprocess.getoutput", "subprocess.getstatusoutput", "os.system",
        "os.popen", "os.execv", "os.execve", "os.execvp", "os.execvpe", "os.execl", "os.execle",
        "os.execlp", "os.execlpe", "os.spawnlp", "os.spawnvp", "shutil.which",
        "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell",
    }
)  # fmt: skip
ENVIRON_KEY = "os.environ[]"  # os.environ["X"] (a reference of kind subscript, not a call)
ENV_READERS = frozenset({"os.getenv", "os.environ.get", ENVIRON_KEY})
# Shell builtins and keywords a command line may start with: never "missing" from PATH.
SHELL_BUILTINS = frozenset(
    {
        ".", ":", "[", "alias", "bg", "break", "builtin", "cd", "command", "continue", "echo",
        "eval", "exec", "exit", "export", "false", "fg", "for", "if", "jobs", "kill", "printf",
        "pwd", "read", "return", "set", "shift", "source", "test", "trap", "true", "type",
        "ulimit", "umask", "unset", "wait", "while",
    }
)  # fmt: skip
_OPEN = "<builtin>.open"
_NOT_PATHS = ("http://", "https://", "s3://", "gs://", "file:", "~", "-")
_PROGRAM = re.compile(r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*([^\s;|&<>()]+)")


@dataclass(frozen=True, slots=True)
class Read:
    """One call with a literal first argument: where, the callee, what it names (a path, a
    program or a variable) and which check applies."""

    path: str
    line: int
    scope: str
    callee: str
    target: str
    category: str  # file | program | env


def _is_path(text: str) -> bool:
    return bool(text.strip()) and not text.startswith(_NOT_PATHS) and "{" not in text


class CapabilitySource:
    """Refreshes the program, environment and file findings after each query refresh (see the
    module docstring).

    Args:
        tree: the indexed tree.
    """

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self._reads: dict[int, list[Read]] | None = None  # file id -> its literal-argument calls
        self._files: dict[int, int] | None = None  # file id -> hash of (path, sha256, module)

    def _load(self, store: Store, file_ids: frozenset[int] | None) -> None:
        every = file_ids is None
        # A join with the callee names (a hash join), and the file filter as its own query, so
        # a one-file batch reads that file's calls, not a list lookup on every call.
        where = "" if every else " AND c.file_id IN (SELECT unnest($ids::INTEGER[]))"
        params: dict[str, object] = {
            "callees": sorted(MODEL_READERS | DATA_READERS | RUNNERS | ENV_READERS | {_OPEN})
        }
        if not every:
            params["ids"] = sorted(file_ids or ())
        rows = store.con.execute(
            "SELECT c.file_id, f.path, c.line, c.scope, c.candidate, c.first_arg, c.arg_count,"
            " len(c.keywords), c.first_arg_from FROM calls AS c"
            " JOIN (SELECT unnest($callees::VARCHAR[]) AS callee) AS k ON k.callee = c.candidate"
            " JOIN files AS f ON f.file_id = c.file_id"
            " WHERE c.first_arg IS NOT NULL" + where,
            params,
        ).fetchall()
        if every or self._reads is None:
            self._reads = {}
        else:
            for file_id in file_ids or ():
                self._reads.pop(file_id, None)
        rows += store.con.execute(  # os.environ["X"]: a read with no default (KeyError)
            "SELECT r.file_id, f.path, r.line, r.scope, $environ, r.context, 1, 0, 'literal'"
            ' FROM "references" AS r JOIN files AS f ON f.file_id = r.file_id'
            " WHERE r.kind = 'subscript' AND r.candidate = 'os.environ'"
            + where.replace("c.file_id", "r.file_id"),
            {k: v for k, v in params.items() if k != "callees"} | {"environ": ENVIRON_KEY},
        ).fetchall()
        for file_id, path, line, scope, callee, arg, count, keywords, origin in rows:
            if origin == "sequence" and callee not in RUNNERS:
                continue  # an argv names a program; a list is no path or variable name
            read = _classify(str(path), int(line), str(scope), str(callee), str(arg))
            if read is None:
                continue
            if read.category == "env" and (count, keywords) != (1, 0):
                continue  # a default, positional or by keyword
            if callee == _OPEN and (count, keywords) != (1, 0):
                continue  # a mode: the call may create the file
            self._reads.setdefault(int(file_id), []).append(read)

    def _present(self, read: Read) -> bool:
        if read.category == "program":
            return read.target in SHELL_BUILTINS or shutil.which(read.target) is not None
        if read.category == "env":
            return read.target in os.environ
        target = Path(read.target)
        if target.is_absolute():
            return target.exists()
        folder = self.tree / PurePosixPath(read.path).parent
        return (self.tree / target).exists() or (folder / target).exists()

    def _changed(self, store: Store) -> frozenset[int] | None:
        """The files whose path, bytes or module changed since the last call (None: all);
        the reads of files that are gone are dropped. One small scan of ``files``: a batch's
        call sites depend on its own files' facts only, not on what the linker re-linked."""
        rows = store.con.execute(
            "SELECT file_id, hash(path, sha256, module) FROM files"
        ).fetchall()  # integers only: cheap to fetch
        now = {int(file_id): int(h) for file_id, h in rows}
        known, self._files = self._files, now
        if known is None or self._reads is None:
            return None
        for file_id in set(known) - set(now):
            self._reads.pop(file_id, None)
        return frozenset(i for i, state in now.items() if known.get(i) != state)

    def findings(self, store: Store) -> list[Finding]:
        """The findings now (re-reading call sites only for files changed since the last
        call)."""
        changed = self._changed(store)
        if changed is None:
            self._load(store, None)
        elif changed:
            self._load(store, changed)
        missing: dict[tuple[str, str], list[Read]] = {}
        for reads in (self._reads or {}).values():
            for read in reads:
                if not self._present(read):
                    missing.setdefault((read.category, read.target), []).append(read)
        return [_finding(cat, target, reads) for (cat, target), reads in sorted(missing.items())]

    def refresh(
        self, refresher: Refresher, store: Store, summary: IndexSummary | None = None
    ) -> RefreshResult | None:
        """Diff the findings into the feed (on the writer's thread); None on a failure, which
        is logged (the stored findings of this source stay as they were)."""
        try:
            as_of = summary.batch_id if summary is not None else None
            return refresher.run_source(store, SOURCE, self.findings(store), as_of)
        except Exception as exc:  # a source must never fail the batch that ran it
            log.error("capability findings not refreshed: %s", exc, exc_info=True)
            self._reads = None
            self._files = None
            return None


def _classify(path: str, line: int, scope: str, callee: str, arg: str) -> Read | None:
    if callee in RUNNERS:
        match = _PROGRAM.match(arg)
        program = match[1] if match else ""
        return Read(path, line, scope, callee, program, "program") if program else None
    if callee in ENV_READERS:
        return Read(path, line, scope, callee, arg, "env") if arg.strip() else None
    return Read(path, line, scope, callee, arg, "file") if _is_path(arg) else None


def _finding(category: str, target: str, reads: list[Read]) -> Finding:
    reads.sort(key=lambda r: (r.path, r.line))
    paths = sorted({r.path for r in reads})
    where = ", ".join(paths)
    if category == "program":
        kind, severity, confidence, value = "executable", "medium", 0.7, 0.5
        reason = (
            f"{target} is not an executable file" if "/" in target else f"{target} is not on PATH"
        )
        question = (
            f"The code runs {target} (in {where}) but it is not on this machine's PATH: "
            "install it, or find a substitute?"
        )
        extra = [f"program: {target}", *(f"run_in: {p}" for p in paths)]
    elif category == "env":
        # os.environ["X"] raises KeyError when X is unset: worse than a None from getenv
        keyed = any(r.callee == ENVIRON_KEY for r in reads)
        kind, severity, confidence, value = "environment_variable", "low", 0.6, 0.3
        if keyed:
            severity, value = "medium", 0.4
        reason = "not set" + (" (os.environ[...] raises KeyError)" if keyed else "")
        question = (
            f"The code reads the environment variable {target} without a default (in {where}) "
            "and it is not set here: should it be set, or given a default?"
        )
        extra = [f"variable: {target}", *(f"read_in: {p}" for p in paths)]
    else:
        model = any(r.callee in MODEL_READERS for r in reads) or (
            PurePosixPath(target).suffix.lower() in MODEL_SUFFIXES
        )
        kind, severity, confidence, value = ("model" if model else "file"), "medium", 0.6, 0.4
        reason = (
            "exists neither under the tree's root, nor beside the reading file, nor as an "
            "absolute path"
        )
        question = (
            f"The code opens the {kind} {target} (in {where}) but it does not exist here: where "
            "should it come from (download, build step, configuration), or what can stand in "
            "for it?"
        )
        readers = sorted({r.callee.replace("<builtin>.", "") for r in reads})
        extra = [
            f"path: {target}",
            *(f"opened_in: {p}" for p in paths),
            *(f"opened_by: {r}" for r in readers),
        ]
    return Finding.of(
        id=f"capability.{category}.{apply_filter(target, 'hash12')}",
        kind="missing_capability",
        query=SOURCE,
        hypothesis=f"MISSING_CAPABILITY_{category}_{target}",
        question=question,
        evidence=(f"type: {kind}", f"category: {category}", *extra, f"reason: {reason}"),
        locations=(Location(r.path, r.line, r.scope) for r in reads),
        severity=severity,
        confidence=confidence,
        action="find_substitute",
        autonomy=1 if category == "env" else 2,
        value=value,
        cost=0.1 if category == "env" else 0.3,
        capability=f"capability.{category}.{target}",
    )
