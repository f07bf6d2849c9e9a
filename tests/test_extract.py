"""Extraction: golden annotated sources per fact kind, plus targeted checks.

Each fixture in tests/fixtures/extract/ is rendered with a caret under every fact's column;
tests/goldens/<name>.txt holds the reviewed rendering. ``pytest --update-goldens`` rewrites them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graphsvc.extract import Extraction, extract
from graphsvc.facts import ModuleInfo
from graphsvc.parsing import decode_source

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
GOLDENS = Path(__file__).parent / "goldens"
MODULE = ModuleInfo("pkg.sub.mod", False, "")


def _extract(name: str) -> tuple[list[str], Extraction]:
    raw = (FIXTURES / f"{name}.py").read_bytes()
    return raw.decode().splitlines(), extract(f"pkg/sub/{name}.py", decode_source(raw).data, MODULE)


def _facts_by_line(found: Extraction) -> dict[int, list[tuple[int, str]]]:
    notes: dict[int, list[tuple[int, str]]] = {}

    def add(line: int, col: int, note: str) -> None:
        notes.setdefault(line, []).append((col, note))

    for s in found.symbols:
        extra = "".join(
            f" {label}={value}"
            for label, value in (
                ("decorators", list(s.decorators)),
                ("bases", list(s.bases)),
                ("doc", s.docstring),
                ("in_all", s.in_all),
                ("async", s.is_async or None),
            )
            if value not in (None, [])
        )
        add(
            s.line, s.col, f"symbol {s.kind} {s.qualname} parent={s.parent} end={s.end_line}{extra}"
        )
    for i in found.imports:
        flags = [
            flag
            for flag, on in (
                ("try", i.in_try),
                ("type_checking", i.type_checking),
                ("in_function", i.in_function),
            )
            if on
        ]
        note = f"import {i.kind} module={i.module} level={i.level} target={i.target}"
        add(i.line, i.col, f"{note} name={i.name} alias={i.alias} scope={i.scope} {flags}")
    for c in found.calls:
        note = f"call {c.callee} -> {c.candidate} ({c.candidate_kind}) in {c.scope}"
        add(c.line, c.col, f"{note} args={c.arg_count} kw={list(c.keywords)} first={c.first_arg!r}")
    for r in found.references:
        note = f"ref {r.kind} {r.expression} -> {r.candidate} ({r.candidate_kind})"
        add(r.line, r.col, f"{note} in {r.scope} context={r.context}")
    for a in found.attributes:
        note = f"attr {a.class_qualname}.{a.name} via={a.via} in {a.scope}"
        add(
            a.line,
            a.col,
            f"{note} {a.value_kind}={a.value!r} -> {a.value_candidate} ({a.candidate_kind})",
        )
    for e in found.parse_errors:
        add(e.line, e.col, f"error {e.kind}: {e.message}")
    return notes


def render(lines: list[str], found: Extraction) -> str:
    """The source with a caret line under each fact, at the fact's column."""
    notes = _facts_by_line(found)
    out = [f"module {found.module}"]
    for number, line in enumerate(lines, start=1):
        out.append(f"{number:3} | {line}".rstrip())
        for col, note in sorted(notes.pop(number, [])):
            out.append(f"    | {' ' * (col - 1)}^ {note}")
    for number, rest in sorted(notes.items()):  # facts past the last line
        out.extend(f"{number:3} ^ {note}" for _, note in rest)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in FIXTURES.glob("*.py")), ids=lambda n: str(n)
)
def test_golden(name: str, update_goldens: bool) -> None:
    lines, found = _extract(name)
    rendered = render(lines, found)
    golden = GOLDENS / f"{name}.txt"
    if update_goldens or not golden.exists():
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


def _symbols(name: str) -> dict[str, str]:
    _, found = _extract(name)
    return {s.qualname: s.kind for s in found.symbols}


def test_symbol_kinds_and_qualnames() -> None:
    kinds = _symbols("symbols")
    assert kinds["pkg.sub.mod"] == "module"
    assert kinds["pkg.sub.mod.Service"] == "class"
    assert kinds["pkg.sub.mod.Service.__init__"] == "method"
    assert kinds["pkg.sub.mod.Service.build"] == "staticmethod"
    assert kinds["pkg.sub.mod.Service.create"] == "classmethod"
    assert kinds["pkg.sub.mod.Service.status"] == "property"
    assert kinds["pkg.sub.mod.Service.cost"] == "property"
    assert kinds["pkg.sub.mod.Service.run.inner"] == "function"
    assert kinds["pkg.sub.mod.Service.run.Local"] == "class"
    assert kinds["pkg.sub.mod.MAX_RETRIES"] == "constant"
    assert kinds["pkg.sub.mod.counter"] == "variable"
    assert kinds["pkg.sub.mod.Service.timeout"] == "variable"
    # lambdas are numbered per enclosing scope; a default belongs to the scope holding the def
    assert kinds["pkg.sub.mod.<lambda1>"] == "lambda"
    assert kinds["pkg.sub.mod.helper.<lambda1>"] == "lambda"


def test_all_exports() -> None:
    _, found = _extract("symbols")
    assert found.module.all_names == ("Service", "helper", "MAX_RETRIES")
    assert not found.module.all_dynamic
    in_all = {s.qualname: s.in_all for s in found.symbols}
    assert in_all["pkg.sub.mod.helper"] is True
    assert in_all["pkg.sub.mod.cached"] is False
    assert in_all["pkg.sub.mod.Service.build"] is None  # not module level


def test_relative_imports_resolve_against_the_package() -> None:
    _, found = _extract("imports")
    targets = {(i.module, i.name): i.target for i in found.imports}
    assert targets[(".", "sibling")] == "pkg.sub"
    assert targets[("..", "uncle")] == "pkg"
    assert targets[("..other.mod", "thing")] == "pkg.other.mod"
    assert targets[("....", "too_far")] is None
    guarded = {i.target: (i.in_try, i.type_checking, i.in_function) for i in found.imports}
    assert guarded["ujson"] == (True, False, False)
    assert guarded["yaml"] == (True, False, False)
    assert guarded["tomllib"] == (False, False, False)  # try/finally does not guard
    assert guarded["sqlite3"] == (False, False, True)


def test_call_candidates() -> None:
    _, found = _extract("calls")
    by_callee = {(c.scope, c.callee): (c.candidate, c.candidate_kind) for c in found.calls}
    assert by_callee[("pkg.sub.mod.main", "osp.join")] == ("os.path.join", "import")
    assert by_callee[("pkg.sub.mod.main", "worker.run")] == ("pkg.sub.mod.Worker.run", "instance")
    assert by_callee[("pkg.sub.mod.Worker.run", "self.client.send")] == (
        "pkg.clients.Client.send",
        "self_attr",
    )
    assert by_callee[("pkg.sub.mod.Worker.run", "self.name.upper")] == (None, "self_attr")
    assert by_callee[("pkg.sub.mod.Worker.run", "super().hello")] == (
        "pkg.sub.mod.Base.hello",
        "super",
    )
    assert by_callee[("pkg.sub.mod.main", "parse")] == (None, "ambiguous")
    assert by_callee[("pkg.sub.mod.main", "callback")] == ("pkg.sub.mod.local_function", "local")
    assert by_callee[("pkg.sub.mod.main", "unknown_name")] == (None, "unknown")
    assert by_callee[("pkg.sub.mod.shadow", "len")] == (None, "variable")  # shadowed builtin
    assert by_callee[("pkg.sub.mod.main", "print")] == ("<builtin>.print", "builtin")
    assert by_callee[("pkg.sub.mod", "main")] == ("pkg.sub.mod.main", "local")


def test_every_site_is_kept_even_when_unresolved() -> None:
    raw = (FIXTURES / "calls.py").read_bytes()
    _, found = _extract("calls")
    assert len(found.calls) == raw.count(b"(") - raw.count(b"def ") - raw.count(b"class Worker(")


def test_errors_keep_the_parts_that_parse() -> None:
    _, found = _extract("errors")
    names = {s.qualname for s in found.symbols}
    assert {"pkg.sub.mod.before", "pkg.sub.mod.after"} <= names
    assert found.error_count >= 1
    assert {e.line for e in found.parse_errors} & {5, 9}


def test_global_and_nonlocal_declarations() -> None:
    source = (
        b"import json\n\n"
        b"def setup():\n    global handler\n    handler = json.dumps\n\n"
        b"def outer():\n    impl = json.loads\n    def inner():\n        nonlocal impl\n"
        b"        impl = json.dumps\n        return impl('x')\n    return inner\n\n"
        b"global top\ntop = json.dumps\n\n"
        b"def use():\n    return handler({}), top({})\n"
    )
    found = extract("m.py", source, ModuleInfo("m", False, ""))
    by_callee = {(c.scope, c.callee): (c.candidate, c.candidate_kind) for c in found.calls}
    assert by_callee[("m.use", "handler")] == ("json.dumps", "import")  # bound through `global`
    assert by_callee[("m.use", "top")] == ("json.dumps", "import")
    # nonlocal rebinds the outer name: two values, so neither is picked
    assert by_callee[("m.outer.inner", "impl")] == (None, "ambiguous")
