-- name: capability_terms
-- title: Names imported from the project's tools, skills or plugins packages that nothing implements
-- description: A from-import of a name from a module of the tree whose dotted name has a part
--   tools, skills or plugins (or tool, skill, plugin), that does not resolve, and whose name
--   no module of the tree defines anywhere (no function, class, variable or module of that
--   name): a capability the code expects and nobody has written. One finding per (package,
--   name), every import a location. Imports guarded by try/except ImportError are the code's
--   own statement that the capability is optional and are left out unless include_guarded.
-- param: $include_guarded bool = false (also report imports guarded by try/except ImportError)
-- partition: pkey
-- partition_keys: WITH terms AS (SELECT DISTINCT name FROM imports WHERE kind = 'from'
--   AND list_has_any(string_split(target, '.'),
--   ['tools', 'skills', 'plugins', 'tool', 'skill', 'plugin']))
--   SELECT DISTINCT file_id, hash(name) AS key, 'defines' AS what, NULL AS site FROM symbols
--   WHERE list_contains($files, file_id) AND name IN (SELECT name FROM terms)
--   UNION ALL SELECT file_id, hash(string_split(name, '.')[-1]), 'defines', NULL FROM modules
--   WHERE list_contains($files, file_id) AND string_split(name, '.')[-1] IN (SELECT name FROM terms)
--   UNION ALL SELECT i.file_id, hash(i.name), 'imports', concat_ws('|', i.line, i.col, i.scope,
--   i.target, i.kind, i.in_try, l.status, l.expression) FROM imports AS i
--   LEFT JOIN (SELECT * FROM links WHERE site = 'import' AND list_contains($files, file_id)) AS l
--   ON l.file_id = i.file_id AND l.line = i.line AND l.col = i.col
--   WHERE list_contains($files, i.file_id) AND i.name IN (SELECT name FROM terms)
-- global_inputs: SELECT DISTINCT string_split(name, '.')[1] AS part FROM modules UNION ALL
--   SELECT DISTINCT 'term:' || name FROM imports WHERE kind = 'from'
--   AND list_has_any(string_split(target, '.'),
--   ['tools', 'skills', 'plugins', 'tool', 'skill', 'plugin'])
-- file_guard: SELECT file_id, hash(name) AS h FROM symbols WHERE list_contains($files, file_id)
--   AND name IN (SELECT name FROM imports WHERE kind = 'from'
--   AND list_has_any(string_split(target, '.'),
--   ['tools', 'skills', 'plugins', 'tool', 'skill', 'plugin']))
--   UNION ALL SELECT file_id, hash(name) FROM modules WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(i) FROM imports AS i WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(line, col, status, expression) FROM links
--   WHERE site = 'import' AND list_contains($files, file_id)
-- kind: missing_capability
-- id: capability.{category}.{term_key:hash12}
-- hypothesis: MISSING_CAPABILITY_{category}_{term}
-- question: {module} is expected to provide the {category} {term} (imported in {importers}) but nothing in the tree implements it: write it, or find a substitute?
-- evidence: type, category, term, module, imported_in, reason
-- locations: locations
-- metadata: importers
-- severity: medium
-- confidence: 0.8
-- action: find_substitute
-- autonomy: 2
-- value: 0.6
-- cost: 0.4
-- capability_key: capability.{category}.{term}
WITH tree_tops AS (
    SELECT DISTINCT string_split(name, '.')[1] AS top
    FROM modules
),
sites AS (
    SELECT
        f.path,
        i.line,
        i.col,
        i.scope,
        i.target AS module,
        i.name AS term,
        list_filter(
            string_split(i.target, '.'),
            lambda p: p IN ('tools', 'skills', 'plugins', 'tool', 'skill', 'plugin')
        )[-1] AS part
    FROM import_links AS i
    JOIN files AS f
        ON f.file_id = i.file_id
    WHERE i.kind = 'from'
        AND i.status = 'unresolved'
        AND i.target IS NOT NULL
        AND i.name <> '*'
        AND ($include_guarded OR NOT i.in_try)
        AND string_split(i.target, '.')[1] IN (SELECT top FROM tree_tops)
        -- one partition per imported name
        AND ($partition IS NULL OR hash(i.name) IN (SELECT unnest($partition)))
),
-- the sites' names that something defines (only those: every symbol's name is a large set)
defined AS (
    SELECT DISTINCT name
    FROM symbols
    WHERE name IN (SELECT term FROM sites)
    UNION
    SELECT DISTINCT string_split(name, '.')[-1]
    FROM modules
    WHERE string_split(name, '.')[-1] IN (SELECT term FROM sites)
)
SELECT
    rtrim(part, 's') AS category,
    term,
    module,
    module || '.' || term AS term_key,
    'capability_term' AS type,
    list(DISTINCT path ORDER BY path) AS imported_in,
    array_to_string(list(DISTINCT path ORDER BY path), ', ') AS importers,
    'imported from ' || module || ' but no module of the tree defines ' || term AS reason,
    list({'path': path, 'line': line, 'symbol': scope} ORDER BY path, line, col) AS locations,
    hash(term) AS pkey
FROM sites
WHERE part IS NOT NULL
    AND term NOT IN (SELECT name FROM defined)
GROUP BY ALL
ORDER BY module, term
