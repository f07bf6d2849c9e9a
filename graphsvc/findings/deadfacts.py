"""The SQL of the incremental ``dead_code`` that reads the whole database (see deadsql.py).

- :data:`GLOBAL_SQL`: what needs the whole class hierarchy: override edges, the members a base
  class rule names, subclasses a framework finds, bases outside the tree (the query's
  ``inherit``, ``outside_bases``, ``base_rules``, ``overriders``).
- :data:`CALLERS_SQL`: the links to the candidates, whose scopes the engine maps to the
  outermost unreached definition as the query's ``outer_of`` does (the rest of a candidate's
  evidence comes from every file's parts: deadnames.py; the outside base of a method's class
  from :data:`GLOBAL_SQL`).
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
