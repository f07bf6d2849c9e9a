"""The SQL of the incremental ``dead_code`` that reads the whole database (see deadsql.py).

- :data:`GLOBAL_SQL`: what needs the whole class hierarchy: override edges, the members a base
  class rule names, subclasses a framework finds, bases outside the tree (the query's
  ``inherit``, ``outside_bases``, ``base_rules``, ``overriders``).
- :data:`FACTS_SQL`: the evidence of the candidates given as parameters (their dead rows),
  but for their callers (:data:`CALLERS_SQL`: the links to them, whose scopes the engine maps
  to the outermost unreached definition as the query's ``outer_of`` does) and the outside base
  of a method's class (from :data:`GLOBAL_SQL`).
- :data:`TARGETS_SQL`: the targets of links from scopes whose reachability changed.
"""

from __future__ import annotations

from graphsvc.findings.deadsql import bases_ctes
from graphsvc.queries.deadcode import INPUTS

GLOBAL_SQL = (
    """
WITH RECURSIVE
mods AS (
    SELECT m.file_id, m.name AS module, f.path
    FROM modules AS m
    JOIN files AS f USING (file_id)
),
sym AS (
    SELECT s.qualname, hash(s.qualname) AS id, s.name, s.kind, s.parent,
        hash(s.parent) AS parent_id, s.file_id, md.module, hash(md.module) AS module_id
    FROM symbols AS s
    JOIN mods AS md USING (file_id)
    WHERE s.kind <> 'lambda'
),
classes AS (
    SELECT DISTINCT qualname, id, parent_id, module_id FROM sym WHERE kind = 'class'
),
"""
    + bases_ctes(only_batch=False)
    + """,
inherit(cls, base) AS (
    SELECT cls, base FROM bases
    UNION
    SELECT i.cls, b.base FROM inherit AS i JOIN bases AS b ON b.cls = i.base
),
outside_bases AS (
    SELECT cls, min(base) AS base
    FROM inherit
    WHERE base NOT IN (SELECT qualname FROM classes)
        AND NOT starts_with(base, '<builtin>.')
        AND split_part(base, '.', 1) NOT IN (
            'typing', 'typing_extensions', 'abc', 'enum', 'dataclasses', 'collections', 'numbers'
        )
    GROUP BY cls
),
base_rules AS (
    SELECT DISTINCT i.cls, r.rule, r.framework, r.entry, r.members, i.base
    FROM inherit AS i
    JOIN entry_rules AS r ON r.kind = 'base' AND i.base GLOB r.pattern
),
members AS (
    SELECT s.id, s.name, s.kind, s.parent_id, s.parent
    FROM sym AS s
    WHERE s.kind <> 'module' AND s.parent_id IN (SELECT id FROM classes)
),
overriders AS MATERIALIZED (
    SELECT b.id AS base, c.name, c.id
    FROM inherit AS i
    JOIN members AS c ON c.parent = i.cls
    JOIN classes AS b ON b.qualname = i.base
)
SELECT 'e' AS part, m.parent_id AS a, m.id AS b, NULL AS cls, NULL AS base
FROM members AS m
JOIN base_rules AS b ON b.cls = m.parent
WHERE len(list_filter(b.members, lambda p: m.name GLOB p)) > 0
UNION ALL
SELECT 'e', a.id, o.id, NULL, NULL
FROM overriders AS o
JOIN members AS a ON a.parent_id = o.base AND a.name = o.name
UNION ALL
SELECT 's', NULL, hash(cls), NULL, NULL FROM base_rules WHERE entry
UNION ALL
SELECT 'o', NULL, NULL, cls, base FROM outside_bases
"""
)

FACTS_SQL = """
WITH
-- the candidates whose evidence is wanted, as the query's dead rows (zipped lists)
cand AS (
    SELECT
        unnest($qualname::VARCHAR[]) AS qualname,
        unnest($name::VARCHAR[]) AS name,
        unnest($kind::VARCHAR[]) AS kind,
        unnest($parent::VARCHAR[]) AS parent,
        unnest($path::VARCHAR[]) AS path,
        unnest($line::INTEGER[]) AS line,
        unnest($module::VARCHAR[]) AS module,
        unnest($file_id::INTEGER[]) AS file_id,
        unnest($rebound::BOOLEAN[]) AS rebound
),
cand_keys AS (
    SELECT *, CASE WHEN kind = 'module' THEN split_part(qualname, '.', -1) ELSE name END AS key
    FROM cand
),
names AS (
    SELECT DISTINCT key AS name FROM cand_keys
),
decos AS (
    SELECT r.context AS decorated, r.expression AS written, l.target, l.status, l.target_kind
    FROM "references" AS r
    LEFT JOIN links AS l
        ON l.file_id = r.file_id AND l.line = r.line AND l.col = r.col
        AND l.site = 'reference' AND l.kind = 'decorator'
    -- registering needs the candidates' decorators only
    WHERE r.kind = 'decorator' AND r.context IN (SELECT qualname FROM cand)
),
deco_patterns AS (
    SELECT kind AS rule_kind, keep, framework, rule, pattern,
        regexp_matches(pattern, '[*?\\[]') AS wild
    FROM entry_rules
    WHERE kind IN ('decorator', 'transparent')
),
deco_matches AS (
    SELECT d.decorated, d.written, p.rule_kind, p.keep, p.framework, p.rule
    FROM decos AS d
    JOIN deco_patterns AS p ON NOT p.wild AND p.pattern IN (d.target, d.written)
    UNION ALL
    SELECT d.decorated, d.written, p.rule_kind, p.keep, p.framework, p.rule
    FROM decos AS d
    JOIN deco_patterns AS p ON p.wild AND (d.target GLOB p.pattern OR d.written GLOB p.pattern)
),
deco_rules AS (
    SELECT d.decorated, d.written, d.target, d.target_kind, m.rule_kind, m.keep, m.framework,
        m.rule
    FROM decos AS d
    LEFT JOIN deco_matches AS m ON m.decorated = d.decorated AND m.written = d.written
),
explained AS (
    SELECT file_id, name, dotted, count(*) AS n
    FROM (
        SELECT DISTINCT file_id, line, col, split_part(expression, '.', -1) AS name,
            contains(expression, '.') AS dotted
        FROM links
        WHERE site IN ('call', 'reference') AND status <> 'unresolved'
            AND split_part(expression, '.', -1) IN (SELECT name FROM names)
    )
    GROUP BY ALL
),
loose AS (
    SELECT x.file_id, x.name, x.kind, x.count - coalesce(e.n, 0) AS extra
    FROM mentions AS x
    LEFT JOIN explained AS e
        ON e.file_id = x.file_id AND e.name = x.name AND e.dotted = (x.kind = 'attribute')
    WHERE x.kind IN ('name', 'attribute') AND x.name IN (SELECT name FROM names)
),
attr_uses AS (
    SELECT lo.name,
        list(DISTINCT f.path ORDER BY f.path) FILTER (WHERE lo.extra > 0) AS loose_paths,
        list(DISTINCT f.path ORDER BY f.path) AS all_paths
    FROM loose AS lo
    JOIN files AS f USING (file_id)
    WHERE lo.kind = 'attribute'
    GROUP BY lo.name
),
own_reads AS (
    SELECT file_id, name, max(extra) AS extra FROM loose WHERE kind = 'name' GROUP BY ALL
),
-- a string whose last identifier is the name ends with it: that test first (few names)
string_uses AS (
    SELECT n.name, list(DISTINCT f.path ORDER BY f.path) AS paths
    FROM (SELECT file_id, name FROM mentions WHERE kind = 'string') AS x
    JOIN names AS n ON ends_with(x.name, n.name)
    JOIN files AS f ON f.file_id = x.file_id
    WHERE regexp_extract(x.name, '([A-Za-z_][A-Za-z0-9_]*)$', 1) = n.name
    GROUP BY n.name
),
prefix_uses AS (
    SELECT n.name, min(p.name) AS prefix
    FROM (
        SELECT name, left(name, unnest(range(3, length(name)))) AS head FROM names
    ) AS n
    JOIN (SELECT DISTINCT name FROM mentions WHERE kind = 'prefix' AND length(name) >= 3) AS p
        ON p.name = n.head
    GROUP BY n.name
),
-- the candidates' files' short heads first: a join on the file alone, then the test
short_prefix_uses AS (
    SELECT c.qualname, min(x.name) AS prefix
    FROM (
        SELECT file_id, name FROM mentions
        WHERE kind = 'prefix' AND length(name) < 3
            AND file_id IN (SELECT file_id FROM cand_keys)
    ) AS x
    JOIN cand_keys AS c ON c.file_id = x.file_id
    WHERE starts_with(c.key, x.name) AND c.key <> x.name
    GROUP BY c.qualname
),
registering AS (
    SELECT decorated, min(written) AS written FROM deco_rules
    WHERE rule_kind IS NULL AND decorated IN (SELECT qualname FROM cand)
    GROUP BY decorated
),
module_code AS (
    SELECT DISTINCT l.scope FROM links AS l
    WHERE l.site = 'call' AND l.scope IN (SELECT qualname FROM cand WHERE kind = 'module')
),
facts AS (
    SELECT
        c.*,
        CASE WHEN c.rebound THEN au.all_paths ELSE au.loose_paths END AS attr_paths,
        coalesce(CASE WHEN c.rebound THEN o.extra IS NOT NULL ELSE o.extra > 0 END, false)
            AS own_read,
        su.paths AS string_paths,
        coalesce(pu.prefix, spu.prefix) AS prefix,
        rg.written AS registering_decorator,
        c.qualname IN (SELECT scope FROM module_code) AS module_code,
        c.kind <> 'module' AND c.file_id IN (
            SELECT file_id FROM links
            WHERE target IN ('<builtin>.globals', '<builtin>.vars')
                AND file_id IN (SELECT file_id FROM cand)
        ) AS reads_globals
    FROM cand_keys AS c
    LEFT JOIN attr_uses AS au ON au.name = c.key
    LEFT JOIN own_reads AS o ON o.file_id = c.file_id AND o.name = c.key
    LEFT JOIN string_uses AS su ON su.name = c.key
    LEFT JOIN prefix_uses AS pu ON pu.name = c.key
    LEFT JOIN short_prefix_uses AS spu ON spu.qualname = c.qualname
    LEFT JOIN registering AS rg ON rg.decorated = c.qualname
)
SELECT
    qualname, kind, path, line, key, parent, attr_paths, own_read, string_paths, prefix,
    registering_decorator, module_code, reads_globals
FROM facts
"""

# The links to the candidates $targets that make callers: the engine maps each scope to the
# outermost unreached definition it is reported through (the query's outer_of, three levels)
CALLERS_SQL = """
SELECT DISTINCT scope, target
FROM links
WHERE target IN (SELECT unnest($targets::VARCHAR[]))
    AND status IN ('resolved', 'ambiguous', 'internal')
"""

# The links from the scopes of $scopes (qualnames) to a target: whose callers may change when
# those scopes become reachable or unreachable.
TARGETS_SQL = """
SELECT DISTINCT target
FROM links
WHERE target IS NOT NULL AND scope IN (SELECT unnest($scopes::VARCHAR[]))
"""

# the finder's input columns (queries/dead_code.sql's output but its two parameters)
FACT_COLUMNS = tuple(c for c in INPUTS if c not in ("min_confidence", "mode"))
# a candidate's dead row (the query's ``dead``), as FACTS_SQL takes it
DEAD_COLUMNS = (
    "qualname",
    "name",
    "kind",
    "parent",
    "path",
    "line",
    "module",
    "file_id",
    "rebound",
)
# what FACTS_SQL returns (the others: callers and outside_base, the engine adds)
FACT_SQL_COLUMNS = (
    "qualname",
    "kind",
    "path",
    "line",
    "key",
    "parent",
    "attr_paths",
    "own_read",
    "string_paths",
    "prefix",
    "registering_decorator",
    "module_code",
    "reads_globals",
)
