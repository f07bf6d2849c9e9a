"""The SQL of the incremental ``dead_code`` (graphsvc/findings/deadcode.py), in parts.

``queries/dead_code.sql`` is the specification: these statements are its CTEs, split where the
incremental engine needs to hold a result between batches, and they must give the same rows
(deadspec.py: the digest of the query text they were written against, the engine's state
statements, the well-formedness check in SQL).

- :data:`PARTS_SQL`: the rows each file contributes, for the files of ``$files`` (NULL: all;
  :data:`PARTS_ALL_SQL` is the same rows, shaped for every file): reachability edges (``e``),
  seeds (``s``), names strings may seed (``x``), its symbol ids (``i``), the digests of what
  the class hierarchy reads (``c`` classes, ``b`` resolved bases, ``m`` class members), what
  the well-formedness check reads (``d``/``D`` definitions, ``l`` scopes, ``n``), the
  definitions reported when unreached (``q``), the names whose candidates' evidence the file
  can alter (``k`` names, attributes, the last names of its strings and link expressions, its
  link targets; ``h`` heads of its computed names), and its part of the candidates' evidence
  (``F`` path, ``A`` attribute reads, ``N`` reads of names it defines, ``S`` strings, ``P``
  computed-name heads, ``G`` globals(), ``C`` module-level calls, ``R`` decorators: see
  deadnames.py). Every lookup these rows make (a scope's class, a member's class, a test
  function's locals, a kept decorator) stays inside the file when the tree is *well-formed*
  (deadspec.CHECK_SQL), so a file's rows change only when its own facts do.

What needs the whole class hierarchy, and the candidates' evidence: deadfacts.py.
"""

from __future__ import annotations

# The batch's rows of each table, read once (a one-file batch: a few hundred rows; every later
# CTE reads these instead of scanning the whole table again with the file filter)
_FILES = """
fl AS MATERIALIZED (
    SELECT file_id FROM files
    WHERE $files IS NULL OR file_id IN (SELECT unnest($files::INTEGER[]))
),
sy AS @MAT@(
    SELECT file_id, qualname, name, kind, parent, line, in_all, bases
    FROM symbols
    WHERE file_id IN (SELECT file_id FROM fl)
),
lk AS @MAT@(
    SELECT file_id, site, line, col, scope, expression, kind, target, target_kind, named, status
    FROM links
    WHERE file_id IN (SELECT file_id FROM fl)
),
mx AS @MAT@(
    SELECT file_id, name, kind, count FROM mentions WHERE file_id IN (SELECT file_id FROM fl)
),
rf AS @MAT@(
    SELECT file_id, line, col, kind, context, expression
    FROM "references"
    WHERE file_id IN (SELECT file_id FROM fl)
),
mods AS (
    SELECT
        m.file_id,
        m.name AS module,
        f.path,
        m.all_names IS NOT NULL AND NOT m.all_dynamic AS has_all,
        f.path IN (SELECT pattern FROM entry_rules WHERE kind = 'test_file') AS in_test
    FROM modules AS m
    JOIN files AS f USING (file_id)
    WHERE m.file_id IN (SELECT file_id FROM fl)
),
sym AS (
    SELECT s.qualname, hash(s.qualname) AS id, s.name, s.kind, s.parent,
        hash(s.parent) AS parent_id, s.line, s.file_id, s.in_all, md.module,
        hash(md.module) AS module_id, md.path, md.in_test, md.has_all
    FROM sy AS s
    JOIN mods AS md USING (file_id)
    WHERE s.kind <> 'lambda'
),
classes AS (
    SELECT DISTINCT file_id, qualname, id, parent_id, module_id, parent, module
    FROM sym
    WHERE kind = 'class'
),
members AS (
    SELECT s.file_id, s.id, s.qualname, s.name, s.kind, s.parent_id, s.parent
    FROM sym AS s
    WHERE s.kind <> 'module' AND s.parent_id IN (SELECT id FROM classes)
),
decos AS (
    SELECT r.file_id, r.context AS decorated, r.expression AS written, l.target, l.status,
        l.target_kind
    FROM rf AS r
    LEFT JOIN lk AS l
        ON l.file_id = r.file_id AND l.line = r.line AND l.col = r.col
        AND l.site = 'reference' AND l.kind = 'decorator'
    WHERE r.kind = 'decorator'
),
deco_patterns AS (
    SELECT kind AS rule_kind, keep, framework, rule, pattern,
        regexp_matches(pattern, '[*?\\[]') AS wild
    FROM entry_rules
    WHERE kind IN ('decorator', 'transparent')
),
deco_matches AS (
    SELECT d.file_id, d.decorated, d.written, p.rule_kind, p.keep
    FROM decos AS d
    JOIN deco_patterns AS p ON NOT p.wild AND p.pattern IN (d.target, d.written)
    UNION ALL
    SELECT d.file_id, d.decorated, d.written, p.rule_kind, p.keep
    FROM decos AS d
    JOIN deco_patterns AS p ON p.wild AND (d.target GLOB p.pattern OR d.written GLOB p.pattern)
),
-- within a file: a pair across files gives a decorated name its own file's pair gives too
deco_rules AS (
    SELECT d.file_id, d.decorated, m.rule_kind, m.keep
    FROM decos AS d
    LEFT JOIN deco_matches AS m
        ON m.file_id = d.file_id AND m.decorated = d.decorated AND m.written = d.written
)"""


def bases_ctes(only_batch: bool) -> str:
    """The query's ``base_written``, ``bound`` and ``bases`` (each class's bases, resolved
    through its file's imports and top-level names), for the files of ``fl`` or all files:
    PARTS_SQL holds them per file, deadfacts.GLOBAL_SQL reads the whole hierarchy."""
    only = "\n        AND file_id IN (SELECT file_id FROM fl)" if only_batch else ""
    table = "sy" if only_batch else "symbols"  # sy: the batch's symbols (_FILES)
    return f"""
base_written AS (
    SELECT s.qualname AS cls, s.file_id, regexp_replace(b.written, '\\[.*$', '') AS written
    FROM (
        SELECT qualname, file_id, bases FROM {table}
        WHERE kind = 'class' AND len(bases) > 0
    ) AS s,
        unnest(s.bases) AS b(written)
    WHERE NOT contains(b.written, '=')
),
-- bound feeds bases alone: only the names bases are written with (bases is DISTINCT, so
-- bound need not be)
base_heads AS MATERIALIZED (
    SELECT DISTINCT file_id, split_part(written, '.', 1) AS head FROM base_written
),
bound AS (
    SELECT x.file_id, x.bound_name, x.value
    FROM (
        SELECT file_id,
            CASE WHEN kind = 'import' THEN coalesce(alias, split_part(module, '.', 1))
                ELSE coalesce(alias, name) END AS bound_name,
            CASE WHEN kind = 'import' AND alias IS NULL THEN split_part(target, '.', 1)
                WHEN kind = 'import' THEN coalesce(resolved, target)
                ELSE coalesce(resolved, target || '.' || name) END AS value
        FROM import_links
        WHERE kind IN ('import', 'from') AND target IS NOT NULL
            AND file_id IN (SELECT file_id FROM base_heads){only}
        UNION ALL
        SELECT file_id, name, qualname FROM sym
        WHERE parent = module AND file_id IN (SELECT file_id FROM base_heads)
    ) AS x
    JOIN base_heads AS h ON h.file_id = x.file_id AND h.head = x.bound_name
),
bases AS (
    SELECT DISTINCT bw.file_id, bw.cls,
        coalesce(
            bd.value || substr(bw.written, length(split_part(bw.written, '.', 1)) + 1),
            '<builtin>.' || bw.written
        ) AS base
    FROM base_written AS bw
    LEFT JOIN bound AS bd
        ON bd.file_id = bw.file_id AND bd.bound_name = split_part(bw.written, '.', 1)
)"""


_PARTS = f"""
WITH RECURSIVE
{_FILES},
runner AS (
    SELECT c.id AS scope,
        CASE WHEN p.id IS NULL THEN c.parent_id
            WHEN pp.id IS NULL THEN p.parent_id
            ELSE c.module_id END AS runs_in
    FROM classes AS c
    LEFT JOIN classes AS p ON p.id = c.parent_id
    LEFT JOIN classes AS pp ON pp.id = p.parent_id
),
link_edges AS (
    SELECT l.file_id, coalesce(r.runs_in, hash(l.scope)) AS src, hash(l.target) AS dst, l.named
    FROM lk AS l
    LEFT JOIN runner AS r ON r.scope = hash(l.scope)
    WHERE l.target IS NOT NULL AND l.status IN ('resolved', 'ambiguous', 'internal')
),
{bases_ctes(only_batch=True)},
name_rules AS (
    SELECT r.*, k.symbol_kind, regexp_matches(r.pattern, '[*?\\[]') AS wild
    FROM entry_rules AS r, unnest(r.kinds) AS k(symbol_kind)
    WHERE r.kind = 'name'
),
seeds AS (
    SELECT md.file_id, hash(md.module) AS node
    FROM mods AS md
    WHERE EXISTS (
            SELECT 1 FROM mx AS x
            WHERE x.file_id = md.file_id AND x.name = '__main__' AND x.kind = 'string'
        )
        AND EXISTS (
            SELECT 1 FROM mx AS x
            WHERE x.file_id = md.file_id AND x.name = '__name__' AND x.kind = 'name'
        )
    UNION ALL
    SELECT file_id, hash(module) FROM mods
    WHERE module = '__main__' OR ends_with(module, '.__main__')
    UNION ALL
    SELECT file_id, hash(module) FROM mods WHERE in_test
    UNION ALL
    SELECT s.file_id, hash(s.qualname)
    FROM entry_rules AS r
    JOIN sym AS s ON s.qualname = r.pattern
    WHERE r.kind IN ('script', 'config')
    UNION ALL
    SELECT file_id, hash(decorated) FROM deco_rules WHERE rule_kind = 'decorator'
    UNION ALL
    SELECT s.file_id, hash(s.qualname)
    FROM sym AS s
    JOIN name_rules AS r
        ON s.name = r.pattern
        AND NOT r.wild
        AND r.symbol_kind = s.kind
        AND (NOT r.tests OR s.in_test)
        AND (len(r.paths) = 0 OR len(list_filter(r.paths, lambda p: s.path GLOB p)) > 0)
    WHERE s.kind NOT IN ('variable', 'constant') OR s.parent = s.module
    UNION ALL
    SELECT s.file_id, hash(s.qualname)
    FROM sym AS s
    JOIN name_rules AS r
        ON r.symbol_kind = s.kind
        AND r.wild
        AND s.name GLOB r.pattern
        AND (NOT r.tests OR s.in_test)
        AND (len(r.paths) = 0 OR len(list_filter(r.paths, lambda p: s.path GLOB p)) > 0)
    WHERE s.kind NOT IN ('variable', 'constant') OR s.parent = s.module
    UNION ALL
    SELECT s.file_id, hash(s.qualname)
    FROM sym AS s
    JOIN lk AS l
        ON l.file_id = s.file_id AND l.line = s.line AND l.scope = s.module AND l.site = 'call'
    JOIN entry_rules AS r ON r.kind = 'constructor' AND l.target GLOB r.pattern
    WHERE s.kind IN ('variable', 'constant') AND s.parent = s.module
    UNION ALL
    SELECT s.file_id, hash(s.qualname)
    FROM sym AS s
    WHERE $library
        AND (
            s.in_all
            OR (s.kind = 'module' AND NOT regexp_matches(s.qualname, '(^|\\.)_[^_]'))
            OR (NOT s.has_all AND s.parent = s.module
                AND NOT regexp_matches(s.qualname, '(^|\\.)_'))
        )
),
edges AS (
    SELECT file_id, src, dst FROM link_edges
    UNION ALL
    SELECT file_id, src, hash(named) FROM link_edges WHERE named IS NOT NULL
    UNION ALL
    SELECT file_id, id, module_id FROM sym WHERE kind <> 'module'
    UNION ALL
    SELECT file_id, id, parent_id FROM sym WHERE kind = 'module' AND parent_id IS NOT NULL
    UNION ALL
    SELECT file_id, id, parent_id FROM members
    UNION ALL
    SELECT file_id, parent_id, id FROM members
    WHERE kind IN ('property', 'class') OR regexp_matches(name, '^__.+__$')
    UNION ALL
    SELECT file_id, parent_id, id FROM members
    WHERE $library AND NOT starts_with(name, '_')
),
test_local AS (
    SELECT s.id
    FROM sym AS s
    JOIN sym AS p ON p.id = s.parent_id
    LEFT JOIN sym AS pp ON pp.id = p.parent_id
    WHERE s.in_test
        AND (p.kind IN ('function', 'method', 'staticmethod', 'classmethod')
            OR pp.kind IN ('function', 'method', 'staticmethod', 'classmethod'))
),
-- the definitions reported when unreached
eligible AS (
    SELECT s.file_id, s.qualname, s.id, s.name, s.kind, s.parent, s.path, s.line, s.module
    FROM sym AS s
    WHERE (s.kind IN ('function', 'method', 'staticmethod', 'classmethod', 'class', 'module')
            OR (s.kind IN ('variable', 'constant') AND s.parent = s.module))
        AND s.qualname NOT IN (SELECT decorated FROM deco_rules WHERE keep)
        AND s.id NOT IN (SELECT id FROM test_local)
),
-- the names whose candidates' evidence the file's rows can change (repeated: the engine
-- keeps each once, as it does the scopes, strings, heads and modules below)
keys AS (
    SELECT file_id, name AS key, false AS head
    FROM mx
    WHERE kind IN ('name', 'attribute')
    @UNION@
    SELECT file_id, name, true
    FROM mx
    WHERE kind = 'prefix' AND length(name) >= 3
    @UNION@
    SELECT file_id, regexp_extract(name, '([A-Za-z_][A-Za-z0-9_]*)$', 1), false
    FROM mx
    WHERE kind = 'string'
    @UNION@
    SELECT file_id, split_part(expression, '.', -1), false
    FROM lk
    WHERE site IN ('call', 'reference')
    @UNION@
    SELECT file_id, target, false
    FROM lk
    WHERE target IS NOT NULL
),
-- the evidence parts (graphsvc/findings/deadnames.py): link sites the linker resolved, by the
-- last name their expression ends with, and the reads of names and attributes they leave
explained AS (
    SELECT file_id, name, dotted, count(*) AS n
    FROM (
        SELECT DISTINCT file_id, line, col, split_part(expression, '.', -1) AS name,
            contains(expression, '.') AS dotted
        FROM lk
        WHERE site IN ('call', 'reference') AND status <> 'unresolved'
    )
    GROUP BY ALL
),
loose AS (
    SELECT x.file_id, x.name, x.kind, x.count - coalesce(e.n, 0) AS extra
    FROM mx AS x
    LEFT JOIN explained AS e
        ON e.file_id = x.file_id AND e.name = x.name AND e.dotted = (x.kind = 'attribute')
    WHERE x.kind IN ('name', 'attribute')
),
evidence AS (
    SELECT 'F' AS part, file_id, path AS name, NULL::VARCHAR AS written, NULL::BIGINT AS n
    FROM files
    WHERE file_id IN (SELECT file_id FROM fl)
    UNION ALL
    SELECT 'A', file_id, name, NULL, extra FROM loose WHERE kind = 'attribute'
    UNION ALL
    -- reads of a name the file defines (a candidate's key is read in its own file)
    SELECT 'N', lo.file_id, lo.name, NULL, lo.extra
    FROM loose AS lo
    WHERE lo.kind = 'name'
        AND EXISTS (SELECT 1 FROM sy WHERE sy.file_id = lo.file_id AND sy.name = lo.name)
    UNION ALL
    SELECT @DISTINCT@'S', file_id, regexp_extract(name, '([A-Za-z_][A-Za-z0-9_]*)$', 1), NULL,
        NULL
    FROM mx
    WHERE kind = 'string'
    UNION ALL
    SELECT @DISTINCT@'P', file_id, name, NULL, NULL FROM mx WHERE kind = 'prefix'
    UNION ALL
    SELECT @DISTINCT@'G', file_id, NULL, NULL, NULL
    FROM lk
    WHERE target IN ('<builtin>.globals', '<builtin>.vars')
    UNION ALL
    SELECT @DISTINCT@'C', file_id, scope, NULL, NULL
    FROM lk
    WHERE site = 'call' AND scope IN (SELECT qualname FROM sy WHERE kind = 'module')
    UNION ALL
    -- each decorator site, with whether its pair of decorated name and decorator matches a rule
    SELECT 'R', d.file_id, d.decorated, d.written,
        EXISTS (
            SELECT 1 FROM deco_matches AS m
            WHERE m.file_id = d.file_id AND m.decorated = d.decorated AND m.written = d.written
        )::BIGINT
    FROM decos AS d
),
parts AS (
    SELECT 'e' AS part, file_id, src AS a, dst AS b FROM edges
    UNION ALL
    SELECT 's', file_id, NULL, node FROM seeds
    UNION ALL
    SELECT 'x', file_id, NULL, hash(replace(name, ':', '.'))
    FROM mx
    WHERE kind = 'string' AND (contains(name, '.') OR contains(name, ':'))
    UNION ALL
    SELECT 'i', file_id, NULL, id FROM sym
    UNION ALL
    -- what the well-formedness check reads: every definition (lambdas and files without a module
    -- row too) with its parent, the link scopes, the decorated names
    SELECT CASE WHEN kind = 'module' THEN 'D' ELSE 'd' END, file_id, hash(parent), hash(qualname)
    FROM sy
    UNION ALL
    SELECT @DISTINCT@'l', file_id, NULL::UBIGINT, hash(scope)
    FROM lk
    UNION ALL
    SELECT @DISTINCT@'l', file_id, NULL::UBIGINT, hash(context)
    FROM rf
    WHERE kind = 'decorator' AND context IS NOT NULL
    UNION ALL
    SELECT @DISTINCT@'n', file_id, NULL::UBIGINT, NULL::UBIGINT
    FROM rf
    WHERE kind = 'decorator' AND context IS NULL
)
SELECT part, file_id, a, b, qualname, name, kind, parent, path, line, module, written, n
FROM (
    SELECT * FROM parts
    UNION ALL BY NAME
    SELECT 'q' AS part, file_id, id AS b, qualname, name, kind, parent, path, line, module
    FROM eligible
    UNION ALL BY NAME
    SELECT CASE WHEN head THEN 'h' ELSE 'k' END AS part, file_id, key AS name
    FROM keys
    UNION ALL BY NAME
    SELECT * FROM evidence
    UNION ALL BY NAME
    -- what the class hierarchy reads from the file, as values (the engine keeps a digest, and
    -- computes deadfacts.GLOBAL_SQL's rows from them: deadhier.py)
    SELECT 'c' AS part, file_id, id AS b, qualname, parent, module FROM classes
    UNION ALL BY NAME
    SELECT 'b' AS part, file_id, hash(cls) AS a, cls AS qualname, base AS name FROM bases
    UNION ALL BY NAME
    SELECT 'm' AS part, file_id, parent_id AS a, id AS b, qualname, name, kind, parent
    FROM members
)
"""


def _parts(batch: bool) -> str:
    """PARTS_SQL for a batch (its rows of each table read once into a materialized CTE, no
    DISTINCT the engine does itself: each hash aggregate cost 2-5 ms on a one-file batch) or
    for every file (the tables read where needed, repeats dropped in SQL: 0.47 instead of
    0.82 million rows to fetch on 1,400 files)."""
    return (
        _PARTS.replace("@MAT@", "MATERIALIZED " if batch else "")
        .replace("@DISTINCT@", "" if batch else "DISTINCT ")
        .replace("@UNION@", "UNION ALL" if batch else "UNION")
    ) + ("" if batch else _IN_FILE_ORDER)


# the engine makes each file's rows into its state as soon as the next file's come (#5)
_IN_FILE_ORDER = "ORDER BY file_id\n"


PARTS_SQL = _parts(batch=True)
PARTS_ALL_SQL = _parts(batch=False)
