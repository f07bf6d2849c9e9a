"""Extraction: golden annotated sources per fact kind, plus targeted checks.

Each fixture in tests/fixtures/extract/ is rendered with a caret under every fact's column;
tests/goldens/<name>.txt holds the reviewed rendering. ``pytest --update-goldens`` rewrites them.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from tree_sitter import Node

import graphsvc.extract
from graphsvc.extract import Extraction, extract
from graphsvc.facts import ModuleInfo, Symbol
from graphsvc.parsing import decode_source, literal, parse, plain_string

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


TOP = ModuleInfo("m", False, "")
Candidates = dict[tuple[str, str], tuple[str | None, str]]


def _candidates(source: bytes) -> Candidates:
    found = extract("m.py", source, TOP)
    return {(c.scope, c.callee): (c.candidate, c.candidate_kind) for c in found.calls}


def test_names_bound_by_patterns_and_parameters_shadow_definitions() -> None:
    source = (
        b"def handler(): pass\ndef kw(): pass\ndef T(): pass\n"
        b"def f(c):\n    match c:\n        case [handler, *rest]: handler()\n"
        b"        case P(x=T): T()\n"
        b"def g(*handler: int, **kw: int):\n    handler(); kw()\n"
        b"def h[T](x):\n    T()\n"
        b"class D[T]:\n    def m(self):\n        T()\n"
        b"class E:\n    def m(*args, self=None):\n        args()\n"
    )
    found = _candidates(source)
    assert found[("m.f", "handler")] == (None, "variable")
    assert found[("m.f", "T")] == (None, "variable")
    assert found[("m.g", "handler")] == (None, "variable")
    assert found[("m.g", "kw")] == (None, "variable")
    assert found[("m.h", "T")] == (None, "variable")
    assert found[("m.D.m", "T")] == (None, "variable")  # PEP 695 class parameter
    assert found[("m.E.m", "args")] == (None, "variable")  # *args is not the receiver


def test_star_import_and_global_import_are_honest() -> None:
    found = _candidates(b"from numpy import *\n\ndef f(x):\n    return sum(x)\n")
    assert found[("m.f", "sum")] == (None, "unknown")  # may be numpy.sum
    found = _candidates(
        b"import os\n\ndef f():\n    global os\n    import sys as os\n\n"
        b"def g():\n    return os.getcwd()\n"
    )
    assert found[("m.g", "os.getcwd")] == (None, "ambiguous")


def test_guards_match_names_not_substrings() -> None:
    source = (
        b"if not TYPE_CHECKING:\n    import a\nif typing.TYPE_CHECKING:\n    import b\n"
        b"try:\n    import c\nexcept TimeoutException:\n    pass\n"
        b"try:\n    import d\nexcept (OSError, ImportError) as exc:\n    pass\n"
    )
    found = extract("m.py", source, ModuleInfo("m", False, ""))
    guards = {i.target: (i.type_checking, i.in_try) for i in found.imports}
    assert guards == {
        "a": (False, False),
        "b": (True, False),
        "c": (False, False),
        "d": (False, True),
    }


def test_relative_imports_never_climb_above_the_top_package() -> None:
    found = extract("m.py", b"from .y import z\n", ModuleInfo("m", False, ""))
    assert [i.target for i in found.imports] == [None]
    found = extract("p/m.py", b"from ..x import c\n", ModuleInfo("p.m", False, ""))
    assert [i.target for i in found.imports] == [None]


def test_docstrings_follow_python() -> None:
    source = (
        b'"abc" "def"\ndef a():\n    """Line one\\nstill"""\n'
        b'def b():\n    f"""not {a}"""\ndef c():\n    b"""bytes"""\n'
    )
    docs = {s.qualname: s.docstring for s in extract("m.py", source, MODULE).symbols}
    assert docs["pkg.sub.mod"] == "abcdef"
    assert docs["pkg.sub.mod.a"] == "Line one"
    assert docs["pkg.sub.mod.b"] is None and docs["pkg.sub.mod.c"] is None


def test_error_masking_never_invents_definitions_from_strings() -> None:
    source = b'x = foo(\ns = """\ndef fake():\n    pass\n"""\ndef real(): pass\n'
    names = {s.qualname for s in extract("m.py", source, ModuleInfo("m", False, "")).symbols}
    assert "m.real" in names and "m.fake" not in names


def test_other_all_mutations_make_it_dynamic() -> None:
    source = b'__all__ = ["a", "b"]\n__all__.remove("b")\n'
    module = extract("m.py", source, ModuleInfo("m", False, "")).module
    assert module.all_names == ("a", "b") and module.all_dynamic


def test_class_body_comprehensions_see_the_enclosing_scope() -> None:
    source = (
        b"def helper(): pass\ndef items(): pass\nclass A:\n    def helper(): pass\n"
        b"    def items(): pass\n    xs = [helper() for _ in items()]\n    y = helper()\n"
    )
    calls = [(c.scope, c.callee, c.candidate) for c in extract("m.py", source, TOP).calls]
    assert calls == [
        ("m.A", "helper", "m.helper"),  # the comprehension body skips the class scope...
        ("m.A", "items", "m.A.items"),  # ...but its first iterable is evaluated in it
        ("m.A", "helper", "m.A.helper"),
    ]


def test_nonlocal_rebinding_counts_wherever_it_is_written() -> None:
    source = (
        b"def helper(): pass\nclass Foo: pass\ndef outer():\n    def inner():\n"
        b"        nonlocal cb\n        cb = helper\n    cb = Foo\n    inner()\n    cb()\n"
    )
    assert _candidates(source)[("m.outer", "cb")] == (None, "ambiguous")


def test_lone_carriage_returns_are_line_ends() -> None:
    source = decode_source(b"def f():\r    g()\r")
    found = extract("m.py", source.data, TOP)
    assert source.line_count == 2
    assert [(c.line, c.col) for c in found.calls] == [(2, 5)]


def test_recovery_keeps_the_parse_with_more_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Valid Python that tree-sitter cannot parse (an attribute split across a dedent inside
    # parentheses, from CPython's test_compile.py) turns the whole file into one ERROR node.
    source = (
        b"import os\nimport sys\n\n\nclass T:\n    def test(self):\n        def f():\n"
        b"            (bar.\n        baz)\n            (bar.\n        baz)\n"
        b"        return sys.argv\n\n\ndef after():\n    return os.getcwd()\n"
    )
    chosen = {s.qualname for s in extract("m.py", source, TOP).symbols}
    monkeypatch.setattr(graphsvc.extract, "MASK_PASSES", 0)
    unmasked = {s.qualname for s in extract("m.py", source, TOP).symbols}
    assert {"m.T", "m.T.test", "m.T.f", "m.after"} <= chosen
    assert len(chosen) >= len(unmasked)


def test_all_is_replayed_in_source_order() -> None:
    source = b"__all__ = ['a']\n__all__.append('b')\n__all__ = ['c']\n__all__ += ['d']\n"
    module = extract("m.py", source, TOP).module
    assert (module.all_names, module.all_dynamic) == (("c", "d"), False)
    module = extract("m.py", b"__all__ = make()\n__all__ = ['z']\n", TOP).module
    assert (module.all_names, module.all_dynamic) == (("z",), False)


def test_in_all_copy_keeps_every_other_field() -> None:
    values = {f.name: f"value {i}" for i, f in enumerate(dataclasses.fields(Symbol))}
    symbol = Symbol(**values)  # type: ignore[arg-type]
    copied = graphsvc.extract._with_in_all(symbol, True)
    assert copied == dataclasses.replace(symbol, in_all=True)


def test_calls_starting_at_one_byte_come_outermost_first_every_time() -> None:
    # captures() returns nodes in an order that changes between runs; calls that start at the
    # same byte (a chain) were left in that order, so the call rows' order changed too
    source = b"def f(x):\n    return x.a().b().c().d(1)\n"
    for _ in range(20):
        found = extract("pkg/sub/chain.py", source, MODULE)
        chain = [(c.callee, c.line, c.col) for c in found.calls]
        assert chain == [
            ("x.a().b().c().d", 2, 12),
            ("x.a().b().c", 2, 12),
            ("x.a().b", 2, 12),
            ("x.a", 2, 12),
        ]


def _assigned_string(source: str) -> Node:
    root = parse(f"x = {source}\n".encode()).root_node
    right = root.child(0).child(0).child_by_field_name("right")  # module > statement > assignment
    assert right is not None and right.type == "string"
    return right


@pytest.mark.parametrize(
    "source", ['"abc"', "''", '""', '""""a"""', "'''x\ny'''", '"it\'s"', "'\"'", '"é ü"', "'{x}'"]
)
def test_plain_strings_are_read_from_their_bytes(source: str) -> None:
    node = _assigned_string(source)
    assert plain_string(node) is not None
    assert literal(node) == ast.literal_eval(source)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ('b"x"', "x"),
        ('r"a\\d"', "a\\d"),
        ('"a\\tb"', "a\tb"),
        ("u'x'", "x"),
        ('f"{x}"', None),  # an f-string has no literal value
        ('f"plain"', "plain"),
    ],
)
def test_other_strings_take_the_long_way(source: str, value: str | None) -> None:
    node = _assigned_string(source)
    assert plain_string(node) is None
    assert literal(node) == value


def _call_rows(source: str) -> dict[int, str]:
    found = extract("m.py", source.encode(), ModuleInfo("m", False, ""))
    return {c.line: c.data for c in found.channel_facts if c.kind == "call"}


def test_channel_calls_skipped_by_argument_types_gain_a_row_when_an_argument_may_be_a_topic() -> (
    None
):
    """The channel step skips a call whose arguments' node types cannot encode to a topic
    (numbers, comparisons, subscripts, unpacking) without encoding them; an edit that makes one
    argument a string, a name or a parameter gives the call its row back."""
    skipped = (
        "TOPIC = 'jobs'\n\n\ndef f(n, items):\n"
        "    emit(1, n > 2, items[0], *items, retries=3, flag=not n)\n"
    )
    assert _call_rows(skipped) == {}
    for argument in ('"jobs.created"', "TOPIC", "n", "retries=n", "flag=[n]", "(n)"):
        edited = skipped.replace("retries=3", argument)
        assert 5 in _call_rows(edited), argument
