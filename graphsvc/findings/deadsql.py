"""The SQL of the incremental ``dead_code`` (graphsvc/findings/deadcode.py), in parts.

``queries/dead_code.sql`` is the specification: these statements are its CTEs, split where the
incremental engine needs to hold a result between batches, and they must give the same rows.
:data:`SPEC_SHA256` is the digest of the query text they were written against: when the saved
query changes, the engine runs the saved query instead (and tests/test_dead_incremental.py
fails until this file follows).

- :data:`PARTS_SQL`: the rows each file contributes, for the files of ``$files`` (NULL: all):
  reachability edges (``e``), seeds (``s``), names strings may seed (``x``), its symbol ids
  (``i``), and the digests of what the class hierarchy reads (``c`` classes, ``b`` resolved
  bases, ``m`` class members). Every lookup these rows make (a scope's class, a member's class,
  a test function's locals, a kept decorator) stays inside the file when the tree is
  *well-formed* (:data:`CHECK_SQL`), so a file's rows change only when its own facts do.
- :data:`GLOBAL_SQL`: what needs the whole class hierarchy: override edges, the members a base
  class rule names, subclasses a framework finds, bases outside the tree.
- :data:`ELIGIBLE_SQL`: the definitions of ``$files`` that are reported when unreached.
- :data:`KEYS_SQL`: the names and attributes a file reads, the last names of its strings and
  link expressions, its link targets, and the heads of its computed names (which candidates'
  evidence a change of the file can alter).
- :data:`FACTS_SQL`: the evidence of the candidates given as parameters (their dead rows),
  but for their callers (:data:`CALLERS_SQL`: the links to them, whose scopes the engine maps
  to the outermost unreached definition as the query's ``outer_of`` does) and the outside base
  of a method's class (from :data:`GLOBAL_SQL`).
"""

from __future__ import annotations

# sha256 of the statement of queries/dead_code.sql (SavedQuery.sql) these parts follow
SPEC_SHA256 = "a25afd10ab40bab36ba0a70cbef4ed54fdab034ab41040599c624af02c864b93"

_FILES = """
fl AS (
    SELECT file_id FROM files
    WHERE $files IS NULL OR file_id IN (SELECT unnest($files::INTEGER[]))
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
    FROM symbols AS s
    JOIN mods AS md USING (file_id)
    WHERE s.kind <> 'lambda'
),
classes AS (
    SELECT DISTINCT file_id, qualname, id, parent_id, module_id FROM sym WHERE kind = 'class'
),
members AS (
    SELECT s.file_id, s.id, s.name, s.kind, s.parent_id, s.parent
    FROM sym AS s
    WHERE s.kind <> 'module' AND s.parent_id IN (SELECT id FROM classes)
),
decos AS (
    SELECT r.file_id, r.context AS decorated, r.expression AS written, l.target, l.status,
        l.target_kind
    FROM "references" AS r
    LEFT JOIN links AS l
        ON l.file_id = r.file_id AND l.line = r.line AND l.col = r.col
        AND l.site = 'reference' AND l.kind = 'decorator'
    WHERE r.kind = 'decorator' AND r.file_id IN (SELECT file_id FROM fl)
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

PARTS_SQL = f"""
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
    FROM links AS l
    LEFT JOIN runner AS r ON r.scope = hash(l.scope)
    WHERE l.target IS NOT NULL AND l.status IN ('resolved', 'ambiguous', 'internal')
        AND l.file_id IN (SELECT file_id FROM fl)
),
bound AS (
    SELECT DISTINCT file_id,
        CASE WHEN kind = 'import' THEN coalesce(alias, split_part(module, '.', 1))
            ELSE coalesce(alias, name) END AS bound_name,
        CASE WHEN kind = 'import' AND alias IS NULL THEN split_part(target, '.', 1)
            WHEN kind = 'import' THEN coalesce(resolved, target)
            ELSE coalesce(resolved, target || '.' || name) END AS value
    FROM import_links
    WHERE kind IN ('import', 'from') AND target IS NOT NULL
        AND file_id IN (SELECT file_id FROM fl)
    UNION ALL
    SELECT DISTINCT file_id, name, qualname FROM sym WHERE parent = module
),
base_written AS (
    SELECT s.qualname AS cls, s.file_id, regexp_replace(b.written, '\\[.*$', '') AS written
    FROM (
        SELECT qualname, file_id, bases FROM symbols
        WHERE kind = 'class' AND len(bases) > 0 AND file_id IN (SELECT file_id FROM fl)
    ) AS s,
        unnest(s.bases) AS b(written)
    WHERE NOT contains(b.written, '=')
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
),
name_rules AS (
    SELECT r.*, k.symbol_kind, regexp_matches(r.pattern, '[*?\\[]') AS wild
    FROM entry_rules AS r, unnest(r.kinds) AS k(symbol_kind)
    WHERE r.kind = 'name'
),
seeds AS (
    SELECT md.file_id, hash(md.module) AS node
    FROM mods AS md
    WHERE EXISTS (
            SELECT 1 FROM mentions AS x
            WHERE x.file_id = md.file_id AND x.name = '__main__' AND x.kind = 'string'
        )
        AND EXISTS (
            SELECT 1 FROM mentions AS x
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
    JOIN links AS l
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
)
SELECT 'e' AS part, file_id, src AS a, dst AS b FROM edges
UNION ALL
SELECT 's', file_id, NULL, node FROM seeds
UNION ALL
SELECT 'x', file_id, NULL, hash(replace(name, ':', '.'))
FROM mentions
WHERE kind = 'string' AND (contains(name, '.') OR contains(name, ':'))
    AND file_id IN (SELECT file_id FROM fl)
UNION ALL
SELECT 'i', file_id, NULL, id FROM sym
UNION ALL
-- what the well-formedness check reads: every definition (lambdas and files without a module
-- row too) with its parent, the link scopes, the decorated names
SELECT CASE WHEN kind = 'module' THEN 'D' ELSE 'd' END, file_id, hash(parent), hash(qualname)
FROM symbols
WHERE file_id IN (SELECT file_id FROM fl)
UNION ALL
SELECT DISTINCT 'l', file_id, NULL::UBIGINT, hash(scope)
FROM links
WHERE file_id IN (SELECT file_id FROM fl)
UNION ALL
SELECT DISTINCT 'l', file_id, NULL::UBIGINT, hash(context)
FROM "references"
WHERE kind = 'decorator' AND context IS NOT NULL AND file_id IN (SELECT file_id FROM fl)
UNION ALL
SELECT DISTINCT 'n', file_id, NULL::UBIGINT, NULL::UBIGINT
FROM "references"
WHERE kind = 'decorator' AND context IS NULL AND file_id IN (SELECT file_id FROM fl)
UNION ALL
SELECT 'c', file_id, NULL, hash(qualname, id, parent_id, module_id) FROM classes
UNION ALL
SELECT 'b', file_id, NULL, hash(cls, base) FROM bases
UNION ALL
SELECT 'm', file_id, NULL, hash(id, name, kind, parent_id, parent) FROM members
"""

ELIGIBLE_SQL = f"""
WITH RECURSIVE
{_FILES},
test_local AS (
    SELECT s.id
    FROM sym AS s
    JOIN sym AS p ON p.id = s.parent_id
    LEFT JOIN sym AS pp ON pp.id = p.parent_id
    WHERE s.in_test
        AND (p.kind IN ('function', 'method', 'staticmethod', 'classmethod')
            OR pp.kind IN ('function', 'method', 'staticmethod', 'classmethod'))
)
SELECT s.file_id, s.qualname, s.id, s.name, s.kind, s.parent, s.path, s.line, s.module
FROM sym AS s
WHERE (s.kind IN ('function', 'method', 'staticmethod', 'classmethod', 'class', 'module')
        OR (s.kind IN ('variable', 'constant') AND s.parent = s.module))
    AND s.qualname NOT IN (SELECT decorated FROM deco_rules WHERE keep)
    AND s.id NOT IN (SELECT id FROM test_local)
"""

KEYS_SQL = """
SELECT DISTINCT file_id, name AS key, false AS head
FROM mentions
WHERE kind IN ('name', 'attribute')
    AND ($files IS NULL OR file_id IN (SELECT unnest($files::INTEGER[])))
UNION
SELECT file_id, name, true
FROM mentions
WHERE kind = 'prefix' AND length(name) >= 3
    AND ($files IS NULL OR file_id IN (SELECT unnest($files::INTEGER[])))
UNION
SELECT file_id, regexp_extract(name, '([A-Za-z_][A-Za-z0-9_]*)$', 1), false
FROM mentions
WHERE kind = 'string' AND ($files IS NULL OR file_id IN (SELECT unnest($files::INTEGER[])))
UNION
SELECT file_id, split_part(expression, '.', -1), false
FROM links
WHERE site IN ('call', 'reference')
    AND ($files IS NULL OR file_id IN (SELECT unnest($files::INTEGER[])))
UNION
SELECT file_id, target, false
FROM links
WHERE target IS NOT NULL
    AND ($files IS NULL OR file_id IN (SELECT unnest($files::INTEGER[])))
"""

# Whether the rows of the files of $files (as they are now) keep every lookup of PARTS_SQL and
# ELIGIBLE_SQL inside one file: no qualname defined in two files, no parent defined in another
# file unless it is a module (a package), no link scope or decorated name defined in another
# file, no decorator without its decorated name.
CHECK_SQL = """
WITH
fl AS (
    SELECT file_id FROM files
    WHERE $files IS NULL OR file_id IN (SELECT unnest($files::INTEGER[]))
),
fs AS MATERIALIZED (
    SELECT file_id, qualname, parent, kind FROM symbols WHERE file_id IN (SELECT file_id FROM fl)
)
SELECT
    (SELECT count(*) FROM symbols AS b
        JOIN fs AS a ON a.qualname = b.qualname AND a.file_id <> b.file_id)
    + (SELECT count(*) FROM fs AS s
        JOIN symbols AS p ON p.qualname = s.parent AND p.file_id <> s.file_id
        WHERE p.kind <> 'module')
    + (SELECT count(*) FROM symbols AS s
        JOIN fs AS p ON p.qualname = s.parent AND p.file_id <> s.file_id
        WHERE p.kind <> 'module')
    + (SELECT count(*) FROM links AS l
        JOIN symbols AS s ON s.qualname = l.scope AND s.file_id <> l.file_id
        WHERE l.file_id IN (SELECT file_id FROM fl))
    + (SELECT count(*) FROM links AS l
        JOIN fs AS s ON s.qualname = l.scope AND s.file_id <> l.file_id)
    + (SELECT count(*) FROM "references" AS r
        JOIN symbols AS s ON s.qualname = r.context AND s.file_id <> r.file_id
        WHERE r.kind = 'decorator' AND r.file_id IN (SELECT file_id FROM fl))
    + (SELECT count(*) FROM "references" AS r
        JOIN fs AS s ON s.qualname = r.context AND s.file_id <> r.file_id
        WHERE r.kind = 'decorator')
    + (SELECT count(*) FROM "references" WHERE kind = 'decorator' AND context IS NULL)
"""

GLOBAL_SQL = """
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
bound AS (
    SELECT DISTINCT file_id,
        CASE WHEN kind = 'import' THEN coalesce(alias, split_part(module, '.', 1))
            ELSE coalesce(alias, name) END AS bound_name,
        CASE WHEN kind = 'import' AND alias IS NULL THEN split_part(target, '.', 1)
            WHEN kind = 'import' THEN coalesce(resolved, target)
            ELSE coalesce(resolved, target || '.' || name) END AS value
    FROM import_links
    WHERE kind IN ('import', 'from') AND target IS NOT NULL
    UNION ALL
    SELECT DISTINCT file_id, name, qualname FROM sym WHERE parent = module
),
base_written AS (
    SELECT s.qualname AS cls, s.file_id, regexp_replace(b.written, '\\[.*$', '') AS written
    FROM (
        SELECT qualname, file_id, bases FROM symbols WHERE kind = 'class' AND len(bases) > 0
    ) AS s,
        unnest(s.bases) AS b(written)
    WHERE NOT contains(b.written, '=')
),
bases AS (
    SELECT DISTINCT bw.cls,
        coalesce(
            bd.value || substr(bw.written, length(split_part(bw.written, '.', 1)) + 1),
            '<builtin>.' || bw.written
        ) AS base
    FROM base_written AS bw
    LEFT JOIN bound AS bd
        ON bd.file_id = bw.file_id AND bd.bound_name = split_part(bw.written, '.', 1)
),
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

# the analysis mode the saved query binds when $mode is NULL
MODE_SQL = (
    "SELECT coalesce((SELECT max(pattern) FROM entry_rules WHERE kind = 'mode'), 'application')"
)

# channel consumers: seeds (channel_sites changes with the files' calls and the channel rules)
CONSUMERS_SQL = "SELECT DISTINCT hash(symbol) FROM channel_sites WHERE role = 'consumer'"

# the digest of entry_rules (rules, packaging targets, test files, mode)
ENTRY_SQL = "SELECT count(*), sum(hash(t)) FROM entry_rules AS t"
