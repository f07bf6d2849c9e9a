-- name: dead_code
-- title: Functions, methods, classes, module variables and modules nothing reachable uses
-- description: Reachability over the resolved graph from the entry points of entry_rules
--   (scripts with a main guard, __main__ modules, packaging entry points, test files and
--   test functions, framework decorators, base classes and names, application objects, channel
--   consumers, strings that name code; in library mode the public API). Edges: resolved and
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
mods AS MATERIALIZED (
    SELECT
        m.file_id,
        m.name AS module,
        f.path,
        m.all_names,
        f.path IN (SELECT pattern FROM entry_rules WHERE kind = 'test_file') AS in_test
    FROM modules AS m
    JOIN files AS f USING (file_id)
),
sym AS MATERIALIZED (
    SELECT s.qualname, s.name, s.kind, s.parent, s.line, s.file_id, s.in_all, md.module,
        md.path, md.in_test, md.all_names
    FROM symbols AS s
    JOIN mods AS md USING (file_id)
    WHERE s.kind <> 'lambda'
),
classes AS MATERIALIZED (
    SELECT DISTINCT qualname, parent, module FROM sym WHERE kind = 'class'
),
-- the scope whose run executes a class body: its function or module
runner AS MATERIALIZED (
    SELECT c.qualname AS scope,
        CASE WHEN p.qualname IS NULL THEN c.parent
            WHEN pp.qualname IS NULL THEN p.parent
            ELSE c.module END AS runs_in
    FROM classes AS c
    LEFT JOIN classes AS p ON p.qualname = c.parent
    LEFT JOIN classes AS pp ON pp.qualname = p.parent
),
link_edges AS (
    SELECT coalesce(r.runs_in, l.scope) AS src, l.target AS dst
    FROM links AS l
    LEFT JOIN runner AS r ON r.scope = l.scope
    WHERE l.target IS NOT NULL AND l.status IN ('resolved', 'ambiguous', 'internal')
),
-- names a file binds by import, for resolving base classes as written
bound AS MATERIALIZED (
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
    FROM symbols AS s, unnest(s.bases) AS b(written)
    WHERE s.kind = 'class' AND NOT contains(b.written, '=')
),
bases AS MATERIALIZED (
    SELECT DISTINCT bw.cls,
        coalesce(
            bd.value || substr(bw.written, length(split_part(bw.written, '.', 1)) + 1),
            '<builtin>.' || bw.written
        ) AS base
    FROM base_written AS bw
    LEFT JOIN bound AS bd
        ON bd.file_id = bw.file_id AND bd.bound_name = split_part(bw.written, '.', 1)
),
inherit(cls, base) AS MATERIALIZED (
    SELECT cls, base FROM bases
    UNION
    SELECT i.cls, b.base FROM inherit AS i JOIN bases AS b ON b.cls = i.base
),
-- bases outside the tree that may call methods by name (typing, abc, enum, builtins do not)
outside_bases AS MATERIALIZED (
    SELECT cls, min(base) AS base
    FROM inherit
    WHERE base NOT IN (SELECT qualname FROM classes)
        AND NOT starts_with(base, '<builtin>.')
        AND split_part(base, '.', 1) NOT IN (
            'typing', 'typing_extensions', 'abc', 'enum', 'dataclasses', 'collections', 'numbers'
        )
    GROUP BY cls
),
base_rules AS MATERIALIZED (
    SELECT DISTINCT i.cls, r.rule, r.framework, r.entry, r.members, i.base
    FROM inherit AS i
    JOIN entry_rules AS r ON r.kind = 'base' AND i.base GLOB r.pattern
),
members AS MATERIALIZED (
    SELECT DISTINCT s.qualname, s.name, s.kind, s.parent
    FROM sym AS s
    WHERE s.parent IN (SELECT qualname FROM classes)
),
decos AS MATERIALIZED (
    SELECT r.context AS decorated, r.expression AS written, l.target, l.status, l.target_kind
    FROM "references" AS r
    LEFT JOIN links AS l
        ON l.file_id = r.file_id AND l.line = r.line AND l.col = r.col
        AND l.site = 'reference' AND l.kind = 'decorator'
    WHERE r.kind = 'decorator'
),
deco_rules AS MATERIALIZED (
    SELECT d.decorated, d.written, d.target, d.target_kind, r.kind AS rule_kind, r.keep,
        r.framework, r.rule
    FROM decos AS d
    LEFT JOIN entry_rules AS r
        ON r.kind IN ('decorator', 'transparent')
        AND (d.target GLOB r.pattern OR d.written GLOB r.pattern)
),
seeds AS MATERIALIZED (
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
    SELECT decorated, 'registered by @' || written || ' (' || framework || ')'
    FROM deco_rules WHERE rule_kind = 'decorator'
    UNION ALL
    SELECT s.qualname, 'named like a ' || r.framework || ' entry point (' || r.rule || ')'
    FROM sym AS s
    JOIN entry_rules AS r
        ON r.kind = 'name'
        AND s.name GLOB r.pattern
        AND list_contains(r.kinds, s.kind)
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
    SELECT s.qualname, CASE WHEN s.all_names IS NULL THEN 'public API' ELSE 'in __all__' END
    FROM sym AS s, cfg
    WHERE cfg.mode = 'library'
        AND (
            s.in_all
            OR (s.kind = 'module' AND NOT regexp_matches(s.qualname, '(^|\.)_[^_]'))
            OR (s.all_names IS NULL AND s.parent = s.module
                AND NOT regexp_matches(s.qualname, '(^|\.)_'))
        )
),
edges AS MATERIALIZED (
    SELECT src, dst FROM link_edges
    UNION
    -- a used symbol needs its module; a module runs its package's __init__
    SELECT qualname, module FROM sym WHERE kind <> 'module'
    UNION
    SELECT qualname, parent FROM sym WHERE kind = 'module' AND parent IS NOT NULL
    UNION
    -- a used method means its class is used
    SELECT qualname, parent FROM members
    UNION
    -- a used class: Python calls its dunders, attribute access reaches its properties
    SELECT parent, qualname FROM members
    WHERE kind IN ('property', 'class') OR regexp_matches(name, '^__.+__$')
    UNION
    SELECT m.parent, m.qualname
    FROM members AS m
    JOIN base_rules AS b ON b.cls = m.parent
    WHERE len(list_filter(b.members, lambda p: m.name GLOB p)) > 0
    UNION
    -- an override runs wherever the overridden method is called
    SELECT a.qualname, c.qualname
    FROM inherit AS i
    JOIN members AS c ON c.parent = i.cls
    JOIN members AS a ON a.parent = i.base AND a.name = c.name
    UNION
    SELECT m.parent, m.qualname FROM members AS m, cfg
    WHERE cfg.mode = 'library' AND NOT starts_with(m.name, '_')
),
reach(node) AS (
    SELECT node FROM seeds
    UNION
    SELECT e.dst FROM reach AS r JOIN edges AS e ON e.src = r.node
),
dead AS MATERIALIZED (
    SELECT s.qualname, min(s.name) AS name, min(s.kind) AS kind, min(s.parent) AS parent,
        min(s.path) AS path, min(s.line) AS line, min(s.module) AS module,
        min(s.file_id) AS file_id
    FROM sym AS s
    WHERE s.qualname NOT IN (SELECT node FROM reach)
        AND (s.kind IN ('function', 'method', 'staticmethod', 'classmethod', 'class', 'module')
            OR (s.kind IN ('variable', 'constant') AND s.parent = s.module))
        AND s.qualname NOT IN (SELECT decorated FROM deco_rules WHERE keep)
    GROUP BY s.qualname
),
-- only the outermost: a dead class, not each of its methods
cand AS MATERIALIZED (
    SELECT * FROM dead WHERE parent IS NULL OR parent NOT IN (SELECT qualname FROM dead)
),
names AS MATERIALIZED (
    SELECT DISTINCT CASE WHEN kind = 'module' THEN split_part(qualname, '.', -1) ELSE name END
        AS name
    FROM cand
),
-- link sites the linker resolved, by the last name their expression ends with
explained AS MATERIALIZED (
    SELECT file_id, name, dotted, count(*) AS n
    FROM (
        SELECT DISTINCT file_id, line, col,
            regexp_extract(expression, '([A-Za-z_][A-Za-z0-9_]*)$', 1) AS name,
            contains(expression, '.') AS dotted
        FROM links
        WHERE site IN ('call', 'reference') AND status <> 'unresolved'
    )
    WHERE name IN (SELECT name FROM names)
    GROUP BY ALL
),
loose AS MATERIALIZED (
    -- mentions of a candidate's name that no resolved link accounts for
    SELECT x.file_id, x.name, x.kind, x.count - coalesce(e.n, 0) AS extra
    FROM mentions AS x
    LEFT JOIN explained AS e
        ON e.file_id = x.file_id AND e.name = x.name AND e.dotted = (x.kind = 'attribute')
    WHERE x.kind IN ('name', 'attribute') AND x.name IN (SELECT name FROM names)
        AND x.count > coalesce(e.n, 0)
),
strings AS MATERIALIZED (
    SELECT x.file_id, regexp_extract(x.name, '([A-Za-z_][A-Za-z0-9_]*)$', 1) AS name
    FROM mentions AS x
    WHERE x.kind = 'string'
),
prefixes AS MATERIALIZED (
    SELECT DISTINCT name AS prefix FROM mentions WHERE kind = 'prefix' AND length(name) >= 3
),
callers AS MATERIALIZED (
    SELECT l.target AS qualname, list(DISTINCT l.scope ORDER BY l.scope) AS scopes
    FROM links AS l
    WHERE l.target IN (SELECT qualname FROM cand) AND l.status IN ('resolved', 'ambiguous', 'internal')
        AND l.scope <> l.target
    GROUP BY l.target
),
facts AS MATERIALIZED (
    SELECT
        c.*,
        CASE WHEN c.kind = 'module' THEN split_part(c.qualname, '.', -1) ELSE c.name END AS key,
        cl.scopes AS callers,
        (SELECT list(DISTINCT f.path ORDER BY f.path) FROM loose AS lo JOIN files AS f USING (file_id)
            WHERE lo.name = key AND lo.kind = 'attribute') AS attr_paths,
        EXISTS (SELECT 1 FROM loose AS lo
            WHERE lo.name = key AND lo.kind = 'name' AND lo.file_id = c.file_id) AS own_read,
        (SELECT list(DISTINCT f.path ORDER BY f.path) FROM strings AS st JOIN files AS f USING (file_id)
            WHERE st.name = key) AS string_paths,
        (SELECT min(p.prefix) FROM prefixes AS p
            WHERE starts_with(key, p.prefix) AND p.prefix <> key) AS prefix,
        (SELECT min(d.written) FROM deco_rules AS d
            WHERE d.decorated = c.qualname AND d.rule_kind IS NULL) AS registering_decorator,
        (SELECT min(o.base) FROM outside_bases AS o
            WHERE o.cls = c.parent AND c.kind IN ('method', 'staticmethod', 'classmethod'))
            AS outside_base,
        c.kind = 'module' AND EXISTS (
            SELECT 1 FROM links AS l
            WHERE l.file_id = c.file_id AND l.scope = c.qualname AND l.site = 'call'
        ) AS module_code
    FROM cand AS c
    LEFT JOIN callers AS cl ON cl.qualname = c.qualname
),
scored AS (
    SELECT
        *,
        list_filter([
            CASE WHEN own_read THEN struct_pack(c := 0.3, r := 'read by name in its own module where the linker did not follow the value') END,
            CASE WHEN string_paths IS NOT NULL THEN struct_pack(c := 0.4, r := 'named in a string in ' || array_to_string(string_paths, ', ') || ' (getattr, a registry or an import by name)') END,
            CASE WHEN prefix IS NOT NULL THEN struct_pack(c := 0.4, r := 'a computed name may reach it: ''' || prefix || ''' + ...') END,
            CASE WHEN attr_paths IS NOT NULL THEN struct_pack(c := 0.5, r := '.' || key || ' is read on an object the linker could not resolve in ' || array_to_string(attr_paths[1:5], ', ')) END,
            CASE WHEN registering_decorator IS NOT NULL THEN struct_pack(c := 0.5, r := 'decorated by @' || registering_decorator || ', which may register it') END,
            CASE WHEN outside_base IS NOT NULL THEN struct_pack(c := 0.5, r := 'its class derives from ' || outside_base || ', which may call it by name') END,
            CASE WHEN module_code THEN struct_pack(c := 0.5, r := 'never imported, but it runs code at module level: it may be a script') END,
            CASE WHEN kind = 'module' AND callers IS NULL THEN struct_pack(c := 0.9, r := 'never imported by the tree, not a script, test or entry point') END,
            CASE WHEN callers IS NOT NULL THEN struct_pack(c := 0.9, r := 'used only by unreachable code: ' || array_to_string(callers[1:5], ', ')) END
        ], lambda x: x IS NOT NULL) AS doubts
    FROM facts
),
final AS (
    SELECT
        *,
        coalesce(list_min(list_transform(doubts, lambda d: d.c)), 1.0) AS confidence,
        CASE WHEN len(doubts) = 0
            THEN ['nothing uses it: no call, reference, import, attribute or string names it']
            ELSE list_transform(
                list_sort(doubts, 'ASC'), lambda d: d.r
            ) END AS reasons
    FROM scored
)
SELECT
    qualname,
    kind,
    path,
    line,
    round(confidence::DOUBLE, 2) AS confidence,
    reasons,
    reasons[1] AS summary,
    coalesce(callers, []) AS callers,
    (SELECT mode FROM cfg) AS mode,
    CASE WHEN confidence >= 1.0 THEN 'propose_fix' ELSE 'investigate' END AS action,
    [{'path': path, 'line': line, 'symbol': qualname}] AS locations
FROM final
WHERE confidence >= $min_confidence
ORDER BY path, line, qualname
