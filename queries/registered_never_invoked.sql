-- name: registered_never_invoked
-- title: Handlers put into a registry that nothing reads
-- description: A module-level registry (a dict, list or set that code of its module fills
--   with R[key] = value or R.append/add/update/register(...) statements) that no code reads:
--   its module names it only to fill it, no other module imports it or reads an attribute or
--   string of that name. Its handlers (functions decorated by a decorator of the registry's
--   module, or passed to one of its functions) are registered but can never be invoked. Only
--   modules with one such registry are judged, so each handler belongs to its registry for
--   sure; reads through globals(), vars() or exec are not seen (confidence 0.8).
-- partition: pkey
-- partition_keys: WITH g AS MATERIALIZED (SELECT m.name AS module, x.name FROM mentions AS x
--   JOIN modules AS m ON m.file_id = x.file_id WHERE x.kind = 'store'),
--   l AS MATERIALIZED (SELECT file_id, site, kind, line, col, target, target_kind,
--   target_module FROM links WHERE list_contains($files, file_id)),
--   x AS MATERIALIZED (SELECT file_id, kind, name, count FROM mentions
--   WHERE list_contains($files, file_id)),
--   s AS MATERIALIZED (SELECT file_id, parent, name, qualname, kind, line FROM symbols
--   WHERE list_contains($files, file_id) AND kind IN ('variable', 'constant'))
--   SELECT x.file_id, hash(g.module) AS key, concat_ws('|', 'mention', x.kind, x.name, x.count)
--   AS detail FROM x JOIN g ON g.name = x.name
--   UNION ALL SELECT s.file_id, hash(s.parent), concat_ws('|', 'symbol', s.qualname, s.kind,
--   s.line) FROM s JOIN g ON g.module = s.parent AND g.name = s.name
--   UNION ALL SELECT l.file_id, hash(g.module), concat_ws('|', 'used', l.site, l.kind, l.line,
--   l.col) FROM l JOIN g ON l.target = g.module || '.' || g.name
--   UNION ALL SELECT d.file_id, hash(d.target_module), concat_ws('|', 'decorator', d.line,
--   d.col, r.context) FROM l AS d LEFT JOIN (SELECT file_id, line, col, context
--   FROM "references" WHERE kind = 'decorator' AND list_contains($files, file_id)) AS r
--   ON r.file_id = d.file_id AND r.line = d.line AND r.col = d.col
--   WHERE d.site = 'reference' AND d.kind = 'decorator' AND d.target_kind = 'function'
--   AND d.target_module IN (SELECT module FROM g)
--   UNION ALL SELECT c.file_id, hash(c.target_module), concat_ws('|', 'registers', c.line,
--   a.target, a.target_kind) FROM l AS c JOIN l AS a ON a.file_id = c.file_id
--   AND a.line = c.line WHERE a.site = 'reference' AND a.kind = 'argument' AND c.site = 'call'
--   AND c.target_kind = 'function' AND c.target_module IN (SELECT module FROM g)
-- global_inputs: SELECT m.name AS module, x.name FROM mentions AS x
--   JOIN modules AS m ON m.file_id = x.file_id WHERE x.kind = 'store'
-- file_guard: SELECT file_id, hash(kind, name, count) AS h FROM mentions
--   WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(parent, name, qualname, kind, line) FROM symbols
--   WHERE list_contains($files, file_id) AND kind IN ('variable', 'constant')
--   UNION ALL SELECT file_id, hash(site, kind, line, col, target, target_kind, target_module)
--   FROM links WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(line, col, context) FROM "references"
--   WHERE kind = 'decorator' AND list_contains($files, file_id)
-- kind: registered_never_invoked
-- id: registered_never_invoked_{registry}
-- hypothesis: REGISTERED_NEVER_INVOKED_{registry}
-- question: Who should dispatch the handlers registered in {registry} ({handler_list}), which nothing ever reads?
-- evidence: registry, path, handlers
-- locations: locations
-- metadata: handler_count
-- severity: medium
-- confidence: 0.8
-- action: investigate
-- autonomy: 1
-- value: 0.5
-- cost: 0.3
-- capability_key: architecture.dead_code
WITH
-- module-level names something is put into, with how often their file names them at all
filled AS (
    SELECT s.qualname AS registry, s.name, s.file_id, f.path, s.line, m.name AS module,
        x.count AS fills, r.count AS names
    FROM mentions AS x
    JOIN symbols AS s ON s.file_id = x.file_id AND s.name = x.name
    JOIN modules AS m ON m.file_id = s.file_id AND s.parent = m.name
    JOIN files AS f ON f.file_id = s.file_id
    JOIN mentions AS r ON r.file_id = x.file_id AND r.name = x.name AND r.kind = 'name'
    WHERE x.kind = 'store' AND s.kind IN ('variable', 'constant')
        -- one partition per module: a module's registries are judged together
        AND ($partition IS NULL OR list_contains($partition, hash(m.name)))
),
-- every mention of those names outside their fills: another file, an attribute, a string
elsewhere AS (
    SELECT DISTINCT x.name
    FROM mentions AS x
    JOIN filled AS r ON r.name = x.name
    WHERE x.kind IN ('attribute', 'string') OR x.file_id <> r.file_id
),
used AS (
    SELECT DISTINCT target FROM links WHERE target IN (SELECT registry FROM filled)
),
registries AS (
    SELECT r.*
    FROM filled AS r
    WHERE r.names = r.fills
        -- one registry in its module: its handlers are its own
        AND r.module IN (SELECT module FROM filled GROUP BY module HAVING count(*) = 1)
        AND r.name NOT IN (SELECT name FROM elsewhere)
        AND r.registry NOT IN (SELECT target FROM used)
),
handlers AS (
    -- @register("x") def f, the decorator a function of the registry's module
    SELECT r.registry, ref.context AS handler, f.path, d.line
    FROM registries AS r
    JOIN links AS d
        ON d.site = 'reference' AND d.kind = 'decorator' AND d.target_module = r.module
        AND d.target_kind = 'function'
    JOIN "references" AS ref
        ON ref.file_id = d.file_id AND ref.line = d.line AND ref.col = d.col
        AND ref.kind = 'decorator'
    JOIN files AS f ON f.file_id = d.file_id
    UNION
    -- register("x", f): a function passed to a function of the registry's module
    SELECT r.registry, a.target, f.path, a.line
    FROM registries AS r
    JOIN links AS c
        ON c.site = 'call' AND c.target_module = r.module AND c.target_kind = 'function'
    JOIN links AS a
        ON a.file_id = c.file_id AND a.line = c.line AND a.site = 'reference'
        AND a.kind = 'argument' AND a.target_kind IN ('function', 'method', 'class')
    JOIN files AS f ON f.file_id = c.file_id
)
SELECT
    r.registry,
    r.path,
    list(DISTINCT h.handler ORDER BY h.handler) AS handlers,
    array_to_string(list(DISTINCT h.handler ORDER BY h.handler)[1:5], ', ') AS handler_list,
    count(DISTINCT h.handler) AS handler_count,
    [{'path': r.path, 'line': r.line, 'symbol': r.registry}]
    || list({'path': h.path, 'line': h.line, 'symbol': h.handler} ORDER BY h.path, h.line)
        AS locations,
    hash(r.module) AS pkey
FROM registries AS r
JOIN handlers AS h USING (registry)
GROUP BY r.registry, r.path, r.line, r.module
ORDER BY r.registry
