"""The per-file parts of the incremental ``dead_code`` for a batch, computed in Python.

deadsql.PARTS_SQL is the specification: :func:`batch_parts` returns the same rows (the same
multiset, in the same columns) for the files of a batch. The statement cost ~60-80 ms on a
one-file batch whatever its rows: DuckDB's planning and operator set-up for ~390 operators.
Here :data:`ROWS_SQL` reads the batch's rows of each table the parts read, with the ``hash()``
of the names that become graph nodes (the ids must be DuckDB's), and the joins inside the
batch, NULL semantics included, are done in Python; the entry rules and GLOB are deadrules.py's.
tests/test_dead_parts.py compares the rows with PARTS_SQL's on every file of a fixture tree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from graphsvc.findings.deadrules import Glob, Rule, Rules, eq, extract, first, last

Row = tuple[Any, ...]  # (part, file_id, a, b, qualname, name, kind, parent, path, line, module,
# written, n): deadsql.PARTS_SQL's columns

# The batch's files ($files, $lo..$hi: rows_params) filter each scan, whose range skips row
# groups by their zone maps; a semi-join with the list read every row group (12.5 -> 8.2 ms
# CPU, one file of 1,407)
ROWS_SQL = """
SELECT t, file_id, s1, s2, s3, s4, s5, s6, s7, s8, i1, i2, h1, h2, h3, b1, l1
FROM (
    SELECT 'f' AS t, file_id, path AS s1, NULL::VARCHAR AS s8
    FROM files
    WHERE file_id BETWEEN $lo AND $hi AND list_contains($files::INTEGER[], file_id)
    UNION ALL BY NAME
    SELECT 'm' AS t, file_id, m.name AS s1, f.path AS s2,
        m.all_names IS NOT NULL AND NOT m.all_dynamic AS b1, hash(m.name) AS h1
    FROM modules AS m
    JOIN files AS f USING (file_id)
    WHERE file_id BETWEEN $lo AND $hi AND list_contains($files::INTEGER[], file_id)
    UNION ALL BY NAME
    SELECT 'y' AS t, file_id, qualname AS s1, name AS s2, kind AS s3, parent AS s4,
        line AS i1, in_all AS b1, bases AS l1, hash(qualname) AS h1, hash(parent) AS h2
    FROM symbols
    WHERE file_id BETWEEN $lo AND $hi AND list_contains($files::INTEGER[], file_id)
    UNION ALL BY NAME
    SELECT 'l' AS t, file_id, site AS s1, scope AS s2, expression AS s3, kind AS s4,
        target AS s5, named AS s6, status AS s7, line AS i1, col AS i2, hash(scope) AS h1,
        hash(target) AS h2, hash(named) AS h3
    FROM links
    WHERE file_id BETWEEN $lo AND $hi AND list_contains($files::INTEGER[], file_id)
    UNION ALL BY NAME
    SELECT 'x' AS t, file_id, name AS s1, kind AS s2, count AS i1,
        CASE WHEN kind = 'string' THEN hash(replace(name, ':', '.')) END AS h1
    FROM mentions
    WHERE file_id BETWEEN $lo AND $hi AND list_contains($files::INTEGER[], file_id)
    UNION ALL BY NAME
    SELECT 'r' AS t, file_id, context AS s1, expression AS s2, line AS i1, col AS i2,
        hash(context) AS h1
    FROM "references"
    WHERE kind = 'decorator'
        AND file_id BETWEEN $lo AND $hi AND list_contains($files::INTEGER[], file_id)
    UNION ALL BY NAME
    SELECT 'i' AS t, file_id, kind AS s1, module AS s2, alias AS s3, name AS s4, target AS s5,
        line AS i1, col AS i2
    FROM imports
    WHERE kind IN ('import', 'from') AND target IS NOT NULL
        AND file_id BETWEEN $lo AND $hi AND list_contains($files::INTEGER[], file_id)
)
"""

FUNCTIONS = ("function", "method", "staticmethod", "classmethod")
ELIGIBLE = (*FUNCTIONS, "class", "module")
VARIABLES = ("variable", "constant")
LINKED = ("resolved", "ambiguous", "internal")
SITES = ("call", "reference")
# RE2 (DuckDB) `$` is the end of the text: Python's `\Z`
_BRACKET = re.compile(r"\[.*\Z")
_DUNDER = re.compile(r"^__.+__\Z")
_PRIVATE_MODULE = re.compile(r"(^|\.)_[^_]")
_PRIVATE = re.compile(r"(^|\.)_")


@dataclass(slots=True)
class _Sym:
    """A row of the query's ``sym`` (a symbol of a file with a module row, not a lambda)."""

    qualname: str
    id: int
    name: str
    kind: str
    parent: str | None
    parent_id: int
    line: int
    file_id: int
    in_all: bool | None
    module: str
    module_id: int
    path: str
    in_test: bool
    has_all: bool | None


def batch_parts(con: Any, files: list[int], rules: Rules, library: bool) -> list[Row]:
    """PARTS_SQL's rows for ``files`` (see the module docstring)."""
    paths: dict[int, str] = {}
    mods: dict[int, list[tuple[str, str, bool | None, int]]] = defaultdict(list)
    sy: list[Row] = []
    lk: list[Row] = []
    mx: list[Row] = []
    rf: list[Row] = []
    imports: list[Row] = []
    for row in con.execute(ROWS_SQL, rows_params(files)).fetchall():
        t, fid = row[0], row[1]
        if t == "f":
            paths[fid] = row[2]
        elif t == "m":
            mods[fid].append((row[2], row[3], row[15], row[12]))
        elif t == "y":
            sy.append(row)
        elif t == "l":
            lk.append(row)
        elif t == "x":
            mx.append(row)
        elif t == "r":
            rf.append(row)
        else:
            imports.append(row)
    return _Parts(con, paths, mods, sy, lk, mx, rf, _linked(imports, lk), rules, library).rows()


def rows_params(files: list[int]) -> dict[str, object]:
    """ROWS_SQL's parameters for the batch of ``files`` (not empty)."""
    return {"files": files, "lo": min(files), "hi": max(files)}


def _linked(imports: list[Row], lk: list[Row]) -> list[Row]:
    """The rows of the import_links view (schema/0008) for ``imports``: each import with the
    target of each of its import links, or with None (its columns: t, file_id, kind, module,
    alias, name, target, resolved)."""
    at: dict[tuple[int, int, int, str], list[str | None]] = defaultdict(list)
    for lnk in lk:
        if lnk[2] == "import" and lnk[4] is not None:
            at[(lnk[1], lnk[10], lnk[11], lnk[4])].append(lnk[6])
    out: list[Row] = []
    for i in imports:
        kind, module, name = i[2], i[3], i[5]
        if kind in ("from", "star", "future"):
            expression = None if module is None or name is None else f"{module}:{name}"
        else:
            expression = module
        found = at.get((i[1], i[10], i[11], expression)) if expression is not None else None
        out += [(*i[:7], resolved) for resolved in found or [None]]
    return out


class _Parts:
    """The CTEs of PARTS_SQL over one batch's rows (ROWS_SQL's columns: t, file_id, s1..s8,
    i1, i2, h1..h3, b1, l1 at indices 0..16)."""

    def __init__(
        self,
        con: Any,
        paths: dict[int, str],
        mods: dict[int, list[tuple[str, str, bool | None, int]]],
        sy: list[Row],
        lk: list[Row],
        mx: list[Row],
        rf: list[Row],
        imports: list[Row],
        rules: Rules,
        library: bool,
    ) -> None:
        self.paths, self.sy, self.lk, self.mx, self.rf = paths, sy, lk, mx, rf
        self.imports, self.rules, self.library = imports, rules, library
        self.sym = [
            _Sym(s[2], s[12], s[3], s[4], s[5], s[13], s[10], s[1], s[15], module,
                 module_id, path, path in rules.test_files, has_all)
            for s in sy
            if s[4] != "lambda"
            for module, path, has_all, module_id in mods.get(s[1], ())
        ]  # fmt: skip
        self.mods = [
            (fid, module, path, has_all, module_id, path in rules.test_files)
            for fid, entries in mods.items()
            for module, path, has_all, module_id in entries
        ]
        self.glob = Glob(rules.matchers)
        self._decos()
        if rules.parts_need_duckdb:
            self._ask_globs()
            self.glob.run(con)

    # -- the query's CTEs ---------------------------------------------------------------------

    def _decos(self) -> None:
        """decos: each decorator reference with the decorator links at its place."""
        at: dict[tuple[int, int, int], list[Row]] = defaultdict(list)
        for lnk in self.lk:
            if lnk[2] == "reference" and lnk[5] == "decorator":
                at[(lnk[1], lnk[10], lnk[11])].append(lnk)
        # (file_id, decorated, written, target, hash(decorated))
        self.decos: list[tuple[int, str | None, str | None, str | None, int]] = []
        for r in self.rf:
            for lnk in at.get((r[1], r[10], r[11]), [None]):  # type: ignore[list-item]
                target = None if lnk is None else lnk[6]
                self.decos.append((r[1], r[2], r[3], target, r[12]))

    def _ask_globs(self) -> None:
        ask = self.glob.ask
        for d in self.decos:
            for p in self.rules.decorators:
                if p.wild:
                    ask(d[3], p.pattern)
                    ask(d[2], p.pattern)
        for s in self.sym:
            for r in self.rules.names:
                if s.kind in r.kinds:
                    if r.wild:
                        ask(s.name, r.pattern)
                    for p in r.paths:
                        ask(s.path, p)
        for lnk in self.lk:
            if lnk[2] == "call":
                for r in self.rules.constructors:
                    ask(lnk[6], r.pattern)

    def _deco_matches(self) -> dict[tuple[int, str, str], list[tuple[str, bool]]]:
        """deco_matches, by (file_id, decorated, written): the rule kind and keep of each."""
        out: dict[tuple[int, str, str], list[tuple[str, bool]]] = defaultdict(list)
        for fid, decorated, written, target, _ in self.decos:
            hits = [
                p
                for p in self.rules.decorators
                if not p.wild and (eq(p.pattern, target) or eq(p.pattern, written))
            ]
            hits += [
                p
                for p in self.rules.decorators
                if p.wild and (self.glob(target, p.pattern) or self.glob(written, p.pattern))
            ]
            if hits and decorated is not None and written is not None:
                out[(fid, decorated, written)].extend((p.kind, p.keep) for p in hits)
        return out

    def rows(self) -> list[Row]:
        sym, lk, mx = self.sym, self.lk, self.mx
        matches = self._deco_matches()
        # deco_rules: (file_id, decorated, hash(decorated), rule_kind, keep)
        deco_rules: list[tuple[int, str | None, int, str | None, bool | None]] = []
        for fid, decorated, written, _, node in self.decos:
            found = matches.get((fid, decorated, written), [])
            deco_rules += [(fid, decorated, node, k, keep) for k, keep in found] or [
                (fid, decorated, node, None, None)
            ]
        classes = list(dict.fromkeys(
            (s.file_id, s.qualname, s.id, s.parent_id, s.module_id, s.parent, s.module)
            for s in sym
            if s.kind == "class"
        ))  # fmt: skip
        by_id: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for c in classes:
            by_id[c[2]].append(c)
        members = [s for s in sym if s.kind != "module" and s.parent_id in by_id]
        runner: dict[int, list[int]] = defaultdict(list)
        for c in classes:
            for p in by_id.get(c[3]) or [None]:
                for pp in (by_id.get(p[3]) or [None]) if p is not None else [None]:
                    runner[c[2]].append(c[3] if p is None else p[3] if pp is None else c[4])
        # link_edges: (file_id, src, dst, hash(named) or None)
        link_edges: list[tuple[int, int, int, int | None]] = [
            (lnk[1], src, lnk[13], None if lnk[7] is None else lnk[14])
            for lnk in lk
            if lnk[6] is not None and lnk[8] in LINKED
            for src in runner.get(lnk[12]) or [lnk[12]]
        ]
        out: list[tuple[str, int, int | None, int | None]] = []
        out += [("e", fid, src, dst) for fid, src, dst, _ in link_edges]
        out += [("e", fid, src, named) for fid, src, _, named in link_edges if named is not None]
        out += [("e", s.file_id, s.id, s.module_id) for s in sym if s.kind != "module"]
        out += [("e", s.file_id, s.id, s.parent_id) for s in sym if s.kind == "module"]
        out += [("e", s.file_id, s.id, s.parent_id) for s in members]
        out += [
            ("e", s.file_id, s.parent_id, s.id)
            for s in members
            if s.kind in ("property", "class") or _DUNDER.search(s.name)
        ]
        if self.library:
            out += [
                ("e", s.file_id, s.parent_id, s.id) for s in members if not s.name.startswith("_")
            ]
        out += [("s", fid, None, node) for fid, node in self._seeds(deco_rules)]
        out += [
            ("x", x[1], None, x[12])
            for x in mx
            if x[3] == "string" and ("." in x[2] or ":" in x[2])
        ]
        out += [("i", s.file_id, None, s.id) for s in sym]
        out += [("D" if y[4] == "module" else "d", y[1], y[13], y[12]) for y in self.sy]
        out += [("l", lnk[1], None, lnk[12]) for lnk in lk]
        out += [("l", r[1], None, r[12]) for r in self.rf if r[2] is not None]
        out += [("n", r[1], None, None) for r in self.rf if r[2] is None]
        rows: list[Row] = [(*r, *_NINE) for r in out]
        rows += [("c", c[0], None, c[2], c[1], None, None, c[5], None, None, c[6], None, None)
                 for c in classes]  # fmt: skip
        rows += [("m", s.file_id, s.parent_id, s.id, s.qualname, s.name, s.kind, s.parent,
                  None, None, None, None, None) for s in members]  # fmt: skip
        rows += [("b", fid, h, None, cls, base, *_SEVEN) for fid, cls, h, base in self._bases()]
        rows += self._eligible(deco_rules)
        rows += self._keys()
        rows += self._evidence(matches)
        return rows

    def _seeds(
        self, deco_rules: list[tuple[int, str | None, int, str | None, bool | None]]
    ) -> list[tuple[int, int]]:
        sym, mx = self.sym, self.mx
        seeds: list[tuple[int, int]] = []
        mains = {x[1] for x in mx if x[2] == "__main__" and x[3] == "string"}
        names = {x[1] for x in mx if x[2] == "__name__" and x[3] == "name"}
        seeds += [(m[0], m[4]) for m in self.mods if m[0] in mains and m[0] in names]
        seeds += [
            (m[0], m[4]) for m in self.mods if m[1] == "__main__" or m[1].endswith(".__main__")
        ]
        seeds += [(m[0], m[4]) for m in self.mods if m[5]]
        for r in self.rules.scripts:
            seeds += [(s.file_id, s.id) for s in sym if s.qualname == r.pattern]
        seeds += [(d[0], d[2]) for d in deco_rules if d[3] == "decorator"]
        seeds += self._rule_seeds()
        if self.library:
            seeds += [
                (s.file_id, s.id)
                for s in sym
                if s.in_all
                or (s.kind == "module" and not _PRIVATE_MODULE.search(s.qualname))
                or (s.has_all is False and eq(s.parent, s.module)
                    and not _PRIVATE.search(s.qualname))
            ]  # fmt: skip
        return seeds

    def _rule_seeds(self) -> list[tuple[int, int]]:
        """The seeds of name rules and of constructor rules."""
        sym = self.sym
        seeds: list[tuple[int, int]] = []
        top = [s for s in sym if s.kind not in VARIABLES or eq(s.parent, s.module)]
        for wild in (False, True):
            for s in top:
                for r in self.rules.names:
                    if r.wild == wild and self._named_by(s, r):
                        seeds += [(s.file_id, s.id)] * r.kinds.count(s.kind)
        calls: dict[tuple[int, int, str], list[Row]] = defaultdict(list)
        for lnk in self.lk:
            if lnk[2] == "call" and lnk[3] is not None:
                calls[(lnk[1], lnk[10], lnk[3])].append(lnk)
        for s in sym:
            if s.kind in VARIABLES and eq(s.parent, s.module):
                for lnk in calls.get((s.file_id, s.line, s.module), ()):
                    seeds += [
                        (s.file_id, s.id)
                        for r in self.rules.constructors
                        if self.glob(lnk[6], r.pattern)
                    ]
        return seeds

    def _named_by(self, s: _Sym, r: Rule) -> bool:
        """Whether name rule ``r`` seeds ``s`` (the query's join of sym and name_rules)."""
        if s.kind not in r.kinds:
            return False
        if not (self.glob(s.name, r.pattern) if r.wild else s.name == r.pattern):
            return False
        if r.tests and not s.in_test:
            return False
        return not r.paths or any(self.glob(s.path, p) for p in r.paths)

    def _bases(self) -> set[tuple[int, str, int, str]]:
        """bases: each class's bases as written, resolved through its file's imports and
        top-level names (DISTINCT)."""
        written: list[tuple[str, int, str, int]] = []  # (cls, file_id, written, hash(cls))
        for y in self.sy:
            if y[4] == "class" and y[16]:
                written += [
                    (y[2], y[1], _BRACKET.sub("", b, count=1), y[12]) for b in y[16] if "=" not in b
                ]
        heads = {(fid, w.split(".", 1)[0]) for _, fid, w, _ in written}
        files = {fid for fid, _ in heads}
        bound: dict[tuple[int, str], list[str | None]] = defaultdict(list)
        for i in self.imports:
            fid, kind, module, alias, name, target, resolved = i[1], *i[2:8]
            if fid not in files:
                continue
            if kind == "import":
                bound_name = alias if alias is not None else first(module)
                if alias is None:
                    value = first(target)
                else:
                    value = resolved if resolved is not None else target
            else:
                bound_name = alias if alias is not None else name
                value = (
                    resolved
                    if resolved is not None
                    else None
                    if name is None
                    else f"{target}.{name}"
                )
            if bound_name is not None and (fid, bound_name) in heads:
                bound[(fid, bound_name)].append(value)
        for s in self.sym:
            if eq(s.parent, s.module) and s.file_id in files and (s.file_id, s.name) in heads:
                bound[(s.file_id, s.name)].append(s.qualname)
        out: set[tuple[int, str, int, str]] = set()
        for cls, fid, w, node in written:
            head = w.split(".", 1)[0]
            for value in bound.get((fid, head)) or [None]:
                base = f"<builtin>.{w}" if value is None else value + w[len(head) :]
                out.add((fid, cls, node, base))
        return out

    def _eligible(
        self, deco_rules: list[tuple[int, str | None, int, str | None, bool | None]]
    ) -> list[Row]:
        """eligible: the definitions reported when unreached ('q' rows)."""
        by_id: dict[int, list[_Sym]] = defaultdict(list)
        for s in self.sym:
            by_id[s.id].append(s)
        test_local = set()
        for s in self.sym:
            if not s.in_test:
                continue
            for p in by_id.get(s.parent_id, ()):
                for pp in by_id.get(p.parent_id) or [None]:
                    if p.kind in FUNCTIONS or (pp is not None and pp.kind in FUNCTIONS):
                        test_local.add(s.id)
        kept = [d[1] for d in deco_rules if d[4]]
        kept_set = set(kept)
        any_null = None in kept_set
        return [
            ("q", s.file_id, None, s.id, s.qualname, s.name, s.kind, s.parent, s.path, s.line,
             s.module, None, None)
            for s in self.sym
            if (s.kind in ELIGIBLE or (s.kind in VARIABLES and eq(s.parent, s.module)))
            and s.qualname not in kept_set
            and not any_null
            and s.id not in test_local
        ]  # fmt: skip

    def _keys(self) -> list[Row]:
        """keys: 'k' rows (names) and 'h' rows (heads of computed names)."""
        out: list[tuple[str, int, str | None]] = []
        out += [("k", x[1], x[2]) for x in self.mx if x[3] in ("name", "attribute")]
        out += [("h", x[1], x[2]) for x in self.mx if x[3] == "prefix" and len(x[2]) >= 3]
        out += [("k", x[1], extract(x[2])) for x in self.mx if x[3] == "string"]
        out += [("k", lnk[1], last(lnk[4])) for lnk in self.lk if lnk[2] in SITES]
        out += [("k", lnk[1], lnk[6]) for lnk in self.lk if lnk[6] is not None]
        return [(part, fid, None, None, None, name, *_SEVEN) for part, fid, name in out]

    def _evidence(self, matches: dict[tuple[int, str, str], list[tuple[str, bool]]]) -> list[Row]:
        """evidence: the candidates' evidence parts (deadnames.py)."""
        explained: dict[tuple[int, str | None, bool | None], int] = defaultdict(int)
        for fid, _, _, name, dotted in {
            (lnk[1], lnk[10], lnk[11], last(lnk[4]), None if lnk[4] is None else "." in lnk[4])
            for lnk in self.lk
            if lnk[2] in SITES and lnk[8] is not None and lnk[8] != "unresolved"
        }:
            explained[(fid, name, dotted)] += 1
        out: list[tuple[str, int, str | None, str | None, int | None]] = []
        out += [("F", fid, path, None, None) for fid, path in self.paths.items()]
        names_of: dict[int, set[str]] = defaultdict(set)
        for y in self.sy:
            names_of[y[1]].add(y[3])
        for x in self.mx:
            if x[3] in ("name", "attribute"):
                extra = x[10] - explained.get((x[1], x[2], x[3] == "attribute"), 0)
                if x[3] == "attribute":
                    out.append(("A", x[1], x[2], None, extra))
                elif x[2] in names_of.get(x[1], ()):
                    out.append(("N", x[1], x[2], None, extra))
        out += [("S", x[1], extract(x[2]), None, None) for x in self.mx if x[3] == "string"]
        out += [("P", x[1], x[2], None, None) for x in self.mx if x[3] == "prefix"]
        out += [
            ("G", lnk[1], None, None, None)
            for lnk in self.lk
            if lnk[6] in ("<builtin>.globals", "<builtin>.vars")
        ]
        modules = {y[2] for y in self.sy if y[4] == "module"}
        out += [
            ("C", lnk[1], lnk[3], None, None)
            for lnk in self.lk
            if lnk[2] == "call" and lnk[3] in modules
        ]
        out += [
            ("R", fid, decorated, written, int((fid, decorated, written) in matches))
            for fid, decorated, written, _, _ in self.decos
        ]
        return [
            (part, fid, None, None, None, name, None, None, None, None, None, written, n)
            for part, fid, name, written, n in out
        ]


_NINE = (None,) * 9
_SEVEN = (None,) * 7
