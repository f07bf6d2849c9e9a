-- name: dead_code
-- title: Functions, methods, classes, module variables and modules nothing reachable uses
-- description: Reachability over the resolved graph from the entry points of entry_rules
--   (scripts with a main guard, __main__ modules, packaging entry points, test files and
--   test functions, framework decorators, base classes and names, application objects, channel
--   consumers, strings that name code, values of configuration files that name code (a job
--   scheduler's handler: pkg.jobs:run); in library mode the public API). Edges: resolved and
--   ambiguous calls and references, imports, a used symbol's module and its packages, a used
--   method's class, a used class's dunders, properties, nested classes and framework members,
--   and overrides of used methods. A class body runs with its module. Only the outermost unused
--   definition is reported (a dead class, not each of its methods). Uses the linker could not
--   resolve lower the confidence instead of hiding the finding: x.name on an unknown x,
--   the name read in its own module where no link explains it, strings and computed names
--   (getattr prefixes), decorators that may register, bases outside the tree. Unused imports
--   are left to linters.
-- param: $min_confidence float = 0.8 (report rows at or above this confidence)
-- param: $mode text = NULL (library or application; NULL: GRAPHSVC_DEAD_CODE_MODE)
-- finder: dead_code
-- kind: dead_code
-- id: dead_code_{qualname}
-- hypothesis: DEAD_CODE_{qualname}
-- question: Can {qualname} ({kind} in {path}) be removed? Nothing reachable from the entry points uses it ({summary}).
-- evidence: qualname, kind, path, reasons, mode
-- locations: locations
-- metadata: confidence, reasons, callers
-- severity: low
-- confidence: {confidence}
-- action: {action}
-- autonomy: 1
-- value: 0.3
-- cost: 0.2
-- capability_key: architecture.dead_code
WITH RECURSIVE
cfg AS (
    SELECT coalesce(
        $mode, (SELECT max(pattern) FROM entry_rules WHERE kind = 'mode'), 'application'
    ) AS mode
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
),
-- reachability runs over 64-bit hashes of the qualnames: string pairs for every edge cost
-- several times the time and memory (two names sharing a hash would only hide a finding)
sym AS (
    SELECT s.qualname, hash(s.qualname) AS id, s.name, s.kind, s.parent,
        hash(s.parent) AS parent_id, s.line, s.file_id, s.in_all, md.module,
        hash(md.module) AS module_id, md.path, md.in_test, md.has_all
    FROM symbols AS s
    JOIN mods AS md USING (file_id)
    WHERE s.kind <> 'lambda'
),
classes AS (
    SELECT DISTINCT qualname, id, parent_id, module_id FROM sym WHERE kind = 'class'
),
-- the scope whose run executes a class body: its function or module
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
    SELECT coalesce(r.runs_in, hash(l.scope)) AS src, hash(l.target) AS dst, l.named
    FROM links AS l
    LEFT JOIN runner AS r ON r.scope = hash(l.scope)
    WHERE l.target IS NOT NULL AND l.status IN ('resolved', 'ambiguous', 'internal')
),
-- names a file binds by import, for resolving base classes as written
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
    SELECT s.qualname AS cls, s.file_id, regexp_replace(b.written, '\[.*$', '') AS written
    FROM (SELECT qualname, file_id, bases FROM symbols WHERE kind = 'class' AND len(bases) > 0) AS s,
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
-- bases outside the tree that may call methods by name (typing, abc, enum, builtins do not)
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
-- methods of classes with ancestors, beside each ancestor (joined first: joining members to
-- members by name before the ancestry multiplies the rows a thousand-fold)
overriders AS MATERIALIZED (
    SELECT b.id AS base, c.name, c.id
    FROM inherit AS i
    JOIN members AS c ON c.parent = i.cls
    JOIN classes AS b ON b.qualname = i.base
),
decos AS (
    SELECT r.context AS decorated, r.expression AS written, l.target, l.status, l.target_kind
    FROM "references" AS r
    LEFT JOIN links AS l
        ON l.file_id = r.file_id AND l.line = r.line AND l.col = r.col
        AND l.site = 'reference' AND l.kind = 'decorator'
    WHERE r.kind = 'decorator'
),
deco_patterns AS (
    SELECT kind AS rule_kind, keep, framework, rule, pattern,
        regexp_matches(pattern, '[*?\[]') AS wild
    FROM entry_rules
    WHERE kind IN ('decorator', 'transparent')
),
-- exact patterns by equality, wildcards by GLOB (a GLOB join compares every pair)
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
-- one row per (rule pattern, symbol kind): symbols join their rules on the kind by hash
name_rules AS (
    SELECT r.*, k.symbol_kind, regexp_matches(r.pattern, '[*?\[]') AS wild
    FROM entry_rules AS r, unnest(r.kinds) AS k(symbol_kind)
    WHERE r.kind = 'name'
),
seeds AS (
    SELECT md.module AS node, 'script (if __name__ == "__main__")' AS why
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
    SELECT module, '__main__ module' FROM mods
    WHERE module = '__main__' OR ends_with(module, '.__main__')
    UNION ALL
    SELECT module, 'test file' FROM mods WHERE in_test
    UNION ALL
    SELECT s.qualname, 'packaging entry point (' || r.rule || ')'
    FROM entry_rules AS r
    JOIN sym AS s ON s.qualname = r.pattern
    WHERE r.kind = 'script'
    UNION ALL
    SELECT s.qualname, 'named in a string'
    FROM mentions AS x
    JOIN sym AS s ON s.qualname = replace(x.name, ':', '.')
    WHERE x.kind = 'string' AND (contains(x.name, '.') OR contains(x.name, ':'))
    UNION ALL
    SELECT s.qualname, 'named in a configuration file (' || r.rule || ')'
    FROM entry_rules AS r
    JOIN sym AS s ON s.qualname = r.pattern
    WHERE r.kind = 'config'
    UNION ALL
    SELECT decorated, 'registered by @' || written || ' (' || framework || ')'
    FROM deco_rules WHERE rule_kind = 'decorator'
    UNION ALL
    SELECT s.qualname, 'named like a ' || r.framework || ' entry point (' || r.rule || ')'
    FROM sym AS s
    JOIN name_rules AS r
        ON s.name = r.pattern
        AND NOT r.wild
        AND r.symbol_kind = s.kind
        AND (NOT r.tests OR s.in_test)
        AND (len(r.paths) = 0 OR len(list_filter(r.paths, lambda p: s.path GLOB p)) > 0)
    WHERE s.kind NOT IN ('variable', 'constant') OR s.parent = s.module
    UNION ALL
    SELECT s.qualname, 'named like a ' || r.framework || ' entry point (' || r.rule || ')'
    FROM sym AS s
    JOIN name_rules AS r
        ON r.symbol_kind = s.kind
        AND r.wild
        AND s.name GLOB r.pattern
        AND (NOT r.tests OR s.in_test)
        AND (len(r.paths) = 0 OR len(list_filter(r.paths, lambda p: s.path GLOB p)) > 0)
    WHERE s.kind NOT IN ('variable', 'constant') OR s.parent = s.module
    UNION ALL
    SELECT s.qualname, 'application object made by ' || l.target
    FROM sym AS s
    JOIN links AS l
        ON l.file_id = s.file_id AND l.line = s.line AND l.scope = s.module AND l.site = 'call'
    JOIN entry_rules AS r ON r.kind = 'constructor' AND l.target GLOB r.pattern
    WHERE s.kind IN ('variable', 'constant') AND s.parent = s.module
    UNION ALL
    SELECT cls, 'found by ' || framework || ' as a subclass of ' || base FROM base_rules
    WHERE entry
    UNION ALL
    SELECT DISTINCT symbol, 'channel consumer' FROM channel_sites WHERE role = 'consumer'
    UNION ALL
    -- library: the public API (__all__ where a module has one, else public names)
    SELECT s.qualname, CASE WHEN s.has_all THEN 'in __all__' ELSE 'public API' END
    FROM sym AS s, cfg
    WHERE cfg.mode = 'library'
        AND (
            s.in_all
            OR (s.kind = 'module' AND NOT regexp_matches(s.qualname, '(^|\.)_[^_]'))
            OR (NOT s.has_all AND s.parent = s.module
                AND NOT regexp_matches(s.qualname, '(^|\.)_'))
        )
),
edges AS (
    SELECT src, dst FROM link_edges
    UNION ALL
    -- a constructor call uses the class it names (its target is the __init__ that runs)
    SELECT src, hash(named) FROM link_edges WHERE named IS NOT NULL
    UNION ALL
    -- a used symbol needs its module; a module runs its package's __init__
    SELECT id, module_id FROM sym WHERE kind <> 'module'
    UNION ALL
    SELECT id, parent_id FROM sym WHERE kind = 'module' AND parent_id IS NOT NULL
    UNION ALL
    -- a used method means its class is used
    SELECT id, parent_id FROM members
    UNION ALL
    -- a used class: Python calls its dunders, attribute access reaches its properties
    SELECT parent_id, id FROM members
    WHERE kind IN ('property', 'class') OR regexp_matches(name, '^__.+__$')
    UNION ALL
    SELECT m.parent_id, m.id
    FROM members AS m
    JOIN base_rules AS b ON b.cls = m.parent
    WHERE len(list_filter(b.members, lambda p: m.name GLOB p)) > 0
    UNION ALL
    -- an override runs wherever the overridden method is called
    SELECT a.id, o.id
    FROM overriders AS o
    JOIN members AS a ON a.parent_id = o.base AND a.name = o.name
    UNION ALL
    SELECT m.parent_id, m.id FROM members AS m, cfg
    WHERE cfg.mode = 'library' AND NOT starts_with(m.name, '_')
),
reach_ids(id) AS (
    SELECT hash(node) FROM seeds
    UNION
    SELECT e.dst FROM reach_ids AS r JOIN edges AS e ON e.src = r.id
),
-- what a test defines in its body (a class, its methods, a helper) is part of the test
test_local AS (
    SELECT s.id
    FROM sym AS s
    JOIN sym AS p ON p.id = s.parent_id
    LEFT JOIN sym AS pp ON pp.id = p.parent_id
    WHERE s.in_test
        AND (p.kind IN ('function', 'method', 'staticmethod', 'classmethod')
            OR pp.kind IN ('function', 'method', 'staticmethod', 'classmethod'))
),
dead AS MATERIALIZED (
    SELECT s.qualname, min(s.name) AS name, min(s.kind) AS kind, min(s.parent) AS parent,
        min(s.path) AS path, min(s.line) AS line, min(s.module) AS module,
        min(s.file_id) AS file_id,
        -- also bound by assignment (a fallback def and `name = other`): its calls may resolve
        -- to the other value
        bool_or(s.kind IN ('variable', 'constant')) AS rebound
    FROM sym AS s
    WHERE s.id NOT IN (SELECT id FROM reach_ids)
        AND (s.kind IN ('function', 'method', 'staticmethod', 'classmethod', 'class', 'module')
            OR (s.kind IN ('variable', 'constant') AND s.parent = s.module))
        AND s.qualname NOT IN (SELECT decorated FROM deco_rules WHERE keep)
        AND s.id NOT IN (SELECT id FROM test_local)
    GROUP BY s.qualname
),
-- only the outermost: a dead class, not each of its methods
cand AS MATERIALIZED (
    SELECT * FROM dead WHERE parent IS NULL OR parent NOT IN (SELECT qualname FROM dead)
),
cand_keys AS (
    SELECT *, CASE WHEN kind = 'module' THEN split_part(qualname, '.', -1) ELSE name END AS key
    FROM cand
),
names AS (
    SELECT DISTINCT key AS name FROM cand_keys
),
-- link sites the linker resolved, by the last name their expression ends with
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
-- mentions of a candidate's name; extra: how many no resolved link accounts for
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
string_uses AS (
    SELECT n.name, list(DISTINCT f.path ORDER BY f.path) AS paths
    FROM (
        SELECT file_id, regexp_extract(name, '([A-Za-z_][A-Za-z0-9_]*)$', 1) AS last
        FROM mentions
        WHERE kind = 'string'
    ) AS x
    JOIN names AS n ON n.name = x.last
    JOIN files AS f ON f.file_id = x.file_id
    GROUP BY n.name
),
-- each name beside its own proper heads of 3 characters or more, joined by equality (a
-- starts_with join compared every name with every prefix)
prefix_uses AS (
    SELECT n.name, min(p.name) AS prefix
    FROM (
        SELECT name, left(name, unnest(range(3, length(name)))) AS head FROM names
    ) AS n
    JOIN (SELECT DISTINCT name FROM mentions WHERE kind = 'prefix' AND length(name) >= 3) AS p
        ON p.name = n.head
    GROUP BY n.name
),
-- a short head ('_' + name) only counts in its own file
short_prefix_uses AS (
    SELECT c.qualname, min(x.name) AS prefix
    FROM mentions AS x
    JOIN cand_keys AS c
        ON c.file_id = x.file_id AND starts_with(c.key, x.name) AND c.key <> x.name
    WHERE x.kind = 'prefix' AND length(x.name) < 3
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
-- every dead symbol beside the outermost one it is reported through (four levels: a method
-- of a class of a module, a function in it; deeper ones map to a dead ancestor)
outer_of AS (
    SELECT d.qualname, coalesce(d3.qualname, d2.qualname, d1.qualname, d.qualname) AS top
    FROM dead AS d
    LEFT JOIN dead AS d1 ON d1.qualname = d.parent
    LEFT JOIN dead AS d2 ON d2.qualname = d1.parent
    LEFT JOIN dead AS d3 ON d3.qualname = d2.parent
),
cedges AS (
    SELECT DISTINCT o.top AS caller, l.target AS callee
    FROM links AS l
    JOIN outer_of AS o ON o.qualname = l.scope
    WHERE l.target IN (SELECT qualname FROM cand)
        AND l.status IN ('resolved', 'ambiguous', 'internal')
        AND o.top <> l.target
),
facts AS (
    SELECT
        c.*,
        cl.callers,
        CASE WHEN c.rebound THEN au.all_paths ELSE au.loose_paths END AS attr_paths,
        coalesce(CASE WHEN c.rebound THEN o.extra IS NOT NULL ELSE o.extra > 0 END, false)
            AS own_read,
        su.paths AS string_paths,
        coalesce(pu.prefix, spu.prefix) AS prefix,
        rg.written AS registering_decorator,
        CASE WHEN c.kind IN ('method', 'staticmethod', 'classmethod') THEN ob.base END
            AS outside_base,
        c.qualname IN (SELECT scope FROM module_code) AS module_code,
        c.kind <> 'module' AND c.file_id IN (
            SELECT file_id FROM links WHERE target IN ('<builtin>.globals', '<builtin>.vars')
        ) AS reads_globals
    FROM cand_keys AS c
    LEFT JOIN (
        SELECT callee, list(DISTINCT caller ORDER BY caller) AS callers
        FROM cedges
        GROUP BY callee
    ) AS cl ON cl.callee = c.qualname
    LEFT JOIN attr_uses AS au ON au.name = c.key
    LEFT JOIN own_reads AS o ON o.file_id = c.file_id AND o.name = c.key
    LEFT JOIN string_uses AS su ON su.name = c.key
    LEFT JOIN prefix_uses AS pu ON pu.name = c.key
    LEFT JOIN short_prefix_uses AS spu ON spu.qualname = c.qualname
    LEFT JOIN registering AS rg ON rg.decorated = c.qualname
    LEFT JOIN outside_bases AS ob ON ob.cls = c.parent
)
-- the finder (graphsvc/queries/deadcode.py) turns these into confidences and reasons
SELECT
    qualname, kind, path, line, key, parent, callers, attr_paths, own_read, string_paths,
    prefix, registering_decorator, outside_base, module_code, reads_globals,
    $min_confidence AS min_confidence,
    (SELECT mode FROM cfg) AS mode
FROM facts
