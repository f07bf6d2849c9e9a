-- name: missing_wiring_calls
-- title: Calls and references to names that modules of the tree do not define
-- description: A call or reference (a callback argument, a decorator, a container element, an
--   alias) through a module of the tree to a name that module does not define, directly or
--   along re-exports and star imports (util.gone() after from pkg import util, pkg.util.gone()
--   after import pkg.util): a function renamed or moved, its callers left behind. Same id
--   family as missing_wiring: one finding per missing (name, module), every site a location.
--   A name some import already reports missing (from pkg.util import gone, import pkg.old) is
--   that import's finding and is not repeated here. Left out as unknowable: modules whose
--   namespace is built at run time (they call globals(), vars(), exec() or eval(), star-import
--   a module outside the tree, one with a dynamic __all__ or one that star-imports in turn, or
--   build their own __all__ dynamically, or hold an @enum.global_enum class or call an enum's
--   _convert_), dunder names the interpreter creates (__warningregistry__), names of folders
--   the walk skips by default (build, dist, venv: pip._internal.operations.build), modules
--   whose file has syntax errors (the name may sit in the part that did not parse), and sites
--   whose file probes the same name with hasattr() or getattr() (a version or feature check). A name some file assigns on the
--   module (mod.name = ..., matched by the module's last name part) exists at run time. Names
--   a module uses but binds nowhere (NameErrors) are not reported: on real trees they were
--   mostly names injected at run time.
-- partition: pkey
-- partition_keys: WITH tails AS MATERIALIZED (SELECT hash(regexp_extract(
--   regexp_extract(reason, '^module (\S+) defines no name (\S+)$', 1),
--   '([A-Za-z_][A-Za-z0-9_]*)$', 1)) AS key FROM links WHERE status = 'unresolved'
--   AND site IN ('call', 'reference') AND starts_with(reason, 'module ')),
--   l AS MATERIALIZED (SELECT file_id, site, kind, line, col, scope, expression, reason
--   FROM links WHERE list_contains($files, file_id)
--   AND status = 'unresolved' AND (site = 'import' OR (site IN ('call', 'reference')
--   AND starts_with(reason, 'module '))))
--   SELECT l.file_id, hash(regexp_extract(regexp_extract(l.reason,
--   '^module (\S+) defines no name (\S+)$', 1), '([A-Za-z_][A-Za-z0-9_]*)$', 1)) AS key,
--   concat_ws('|', 'site', l.site, l.kind, l.line, l.col, l.scope, l.expression, l.reason,
--   f.status, f.path, p.expression) AS detail FROM l JOIN files AS f ON f.file_id = l.file_id
--   LEFT JOIN (SELECT file_id, expression FROM "references" WHERE kind IN ('hasattr', 'getattr')
--   AND list_contains($files, file_id)) AS p ON p.file_id = l.file_id
--   AND (p.expression = l.expression OR starts_with(l.expression, p.expression || '.'))
--   WHERE l.site <> 'import'
--   UNION ALL SELECT file_id, key, detail FROM (SELECT i.file_id, unnest(list_transform(
--   string_split(i.target, '.'), lambda p: hash(regexp_extract(p,
--   '([A-Za-z_][A-Za-z0-9_]*)$', 1)))) AS key, concat_ws('|', 'import', i.target, i.name,
--   i.kind) AS detail FROM imports AS i JOIN l ON l.file_id = i.file_id AND l.site = 'import'
--   AND l.line = i.line AND l.col = i.col AND l.expression = CASE WHEN i.kind IN ('from',
--   'star', 'future') THEN i.module || ':' || i.name ELSE i.module END
--   WHERE i.target IS NOT NULL AND list_contains($files, i.file_id))
--   WHERE key IN (SELECT key FROM tails)
--   UNION ALL SELECT file_id, key, detail FROM (SELECT m.file_id, hash(regexp_extract(m.name,
--   '([A-Za-z_][A-Za-z0-9_]*)$', 1)) AS key, concat_ws('|', 'module', m.name, m.all_dynamic,
--   f.status, d.detail) AS detail FROM modules AS m JOIN files AS f ON f.file_id = m.file_id
--   LEFT JOIN (SELECT file_id, concat_ws('|', 'dynamic', candidate, callee) AS detail
--   FROM calls WHERE list_contains($files, file_id) AND (candidate IN ('<builtin>.globals',
--   '<builtin>.vars', '<builtin>.exec', '<builtin>.eval') OR ends_with(callee, '._convert_'))
--   UNION ALL SELECT file_id, concat_ws('|', 'enum', qualname, array_to_string(decorators, ' '))
--   FROM symbols WHERE list_contains($files, file_id) AND kind = 'class'
--   AND contains(array_to_string(decorators, ' '), 'global_enum')
--   UNION ALL SELECT file_id, concat_ws('|', 'star', module, target) FROM imports
--   WHERE list_contains($files, file_id) AND kind = 'star') AS d ON d.file_id = m.file_id
--   WHERE list_contains($files, m.file_id)) WHERE key IN (SELECT key FROM tails)
--   UNION ALL SELECT file_id, key, detail FROM (SELECT file_id, hash(regexp_extract(receiver,
--   '([A-Za-z_][A-Za-z0-9_]*)$', 1)) AS key, concat_ws('|', 'write', name) AS detail
--   FROM attribute_writes WHERE list_contains($files, file_id))
--   WHERE key IN (SELECT key FROM tails)
-- global_inputs: SELECT DISTINCT 'site' AS what, regexp_extract(regexp_extract(reason,
--   '^module (\S+) defines no name (\S+)$', 1), '([A-Za-z_][A-Za-z0-9_]*)$', 1) AS name,
--   NULL::BOOLEAN AS outside, NULL::BOOLEAN AS dynamic FROM links
--   WHERE status = 'unresolved' AND site IN ('call', 'reference')
--   AND starts_with(reason, 'module ')
--   UNION ALL SELECT DISTINCT 'star', i.target, s.name IS NULL, s.all_dynamic
--   OR s.file_id IN (SELECT file_id FROM imports WHERE kind = 'star') FROM imports AS i
--   LEFT JOIN modules AS s ON s.name = i.target WHERE i.kind = 'star'
-- file_guard: SELECT file_id, hash(site, kind, line, col, scope, expression, reason) AS h
--   FROM links WHERE list_contains($files, file_id) AND status = 'unresolved'
--   UNION ALL SELECT file_id, hash(status, path) FROM files WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(kind, expression) FROM "references"
--   WHERE kind IN ('hasattr', 'getattr') AND list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(i) FROM imports AS i WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(name, all_dynamic) FROM modules
--   WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(receiver, name) FROM attribute_writes
--   WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(qualname, decorators) FROM symbols
--   WHERE list_contains($files, file_id) AND kind = 'class'
--   AND contains(array_to_string(decorators, ' '), 'global_enum')
--   UNION ALL SELECT file_id, hash(candidate, callee) FROM calls
--   WHERE list_contains($files, file_id) AND (candidate IN ('<builtin>.globals',
--   '<builtin>.vars', '<builtin>.exec', '<builtin>.eval') OR ends_with(callee, '._convert_'))
-- kind: missing_wiring
-- id: missing_wiring_{missing}_{module}
-- hypothesis: MISSING_WIRING_{missing}_IN_{module}
-- question: Where should {missing} come from, given that {module} does not define it (used in {users})?
-- evidence: missing, module, used_in, reason
-- locations: locations
-- metadata: users, expressions
-- severity: high
-- confidence: 0.9
-- action: propose_fix
-- autonomy: 2
-- value: 0.7
-- cost: 0.2
-- capability_key: wiring.calls
WITH sites AS MATERIALIZED (
    SELECT
        l.file_id,
        l.line,
        l.col,
        l.scope,
        l.expression,
        l.reason,
        regexp_extract(l.reason, '^module (\S+) defines no name (\S+)$', 1) AS module,
        regexp_extract(l.reason, '^module (\S+) defines no name (\S+)$', 2) AS missing
    FROM links AS l
    WHERE l.status = 'unresolved'
        AND (l.site = 'call' OR (l.site = 'reference' AND l.kind NOT IN ('getattr', 'hasattr')))
        AND starts_with(l.reason, 'module ')
        -- one partition per last name part of the module said to miss a name: the part an
        -- attribute write matches (w.receiver), every part of an unresolved import's target
        AND (
            $partition IS NULL
            OR list_contains($partition, hash(regexp_extract(
                regexp_extract(l.reason, '^module (\S+) defines no name (\S+)$', 1),
                '([A-Za-z_][A-Za-z0-9_]*)$', 1
            )))
        )
),
-- what the import query reports (or deliberately leaves to the code's own guard); a
-- partition run reads only the imports of its sites' modules and what is below them
imported AS (
    SELECT DISTINCT target, name, kind
    FROM import_links
    WHERE $partition IS NULL
        AND status = 'unresolved'
        AND target IS NOT NULL
    UNION ALL
    SELECT DISTINCT i.target, i.name, i.kind
    FROM (
        SELECT DISTINCT i.*
        FROM imports AS i
        JOIN (SELECT DISTINCT module FROM sites) AS s
            ON i.target = s.module
            OR starts_with(i.target, s.module || '.')
        WHERE $partition IS NOT NULL
    ) AS i
    JOIN links AS l
        ON l.file_id = i.file_id
        AND l.site = 'import'
        AND l.line = i.line
        AND l.col = i.col
        AND l.expression = CASE
            WHEN i.kind IN ('from', 'star', 'future') THEN i.module || ':' || i.name
            ELSE i.module
        END
    WHERE l.status = 'unresolved'
),
-- the modules said to miss a name, and those of them whose namespace the tree does not show
named AS (
    SELECT m.file_id, m.name, m.all_dynamic
    FROM modules AS m
    SEMI JOIN sites AS s
        ON s.module = m.name
),
dynamic_modules AS (
    SELECT m.name
    FROM named AS m
    JOIN files AS f
        ON f.file_id = m.file_id
    WHERE f.status <> 'ok'
        OR m.all_dynamic
        OR m.file_id IN (
            -- @enum.global_enum copies the members into the module
            SELECT file_id
            FROM symbols
            WHERE file_id IN (SELECT file_id FROM named)
                AND kind = 'class'
                AND contains(array_to_string(decorators, ' '), 'global_enum')
        )
        OR m.file_id IN (
            SELECT file_id
            FROM calls
            WHERE file_id IN (SELECT file_id FROM named)
                AND (
                    candidate IN ('<builtin>.globals', '<builtin>.vars', '<builtin>.exec',
                        '<builtin>.eval')
                    -- IntEnum._convert_(name, __name__, ...) adds the members to the module
                    OR ends_with(callee, '._convert_')
                )
        )
        OR m.file_id IN (
            SELECT i.file_id
            FROM imports AS i
            LEFT JOIN modules AS source
                ON source.name = i.target
            WHERE i.file_id IN (SELECT file_id FROM named)
                AND i.kind = 'star'
                AND (
                    source.name IS NULL
                    OR source.all_dynamic
                    OR source.file_id IN (SELECT file_id FROM imports WHERE kind = 'star')
                )
        )
),
-- hasattr(mod, "name") / getattr(mod, "name", default) probes: the code checks for itself
probed AS (
    SELECT DISTINCT file_id, expression
    FROM "references"
    WHERE kind IN ('hasattr', 'getattr')
        AND file_id IN (SELECT file_id FROM sites)
)
SELECT
    s.missing,
    s.module,
    list(DISTINCT f.path ORDER BY f.path) AS used_in,
    array_to_string(list(DISTINCT f.path ORDER BY f.path), ', ') AS users,
    list(DISTINCT s.expression ORDER BY s.expression) AS expressions,
    min(s.reason) AS reason,
    list({'path': f.path, 'line': s.line, 'symbol': s.scope} ORDER BY f.path, s.line, s.col)
        AS locations,
    hash(regexp_extract(s.module, '([A-Za-z_][A-Za-z0-9_]*)$', 1)) AS pkey
FROM sites AS s
JOIN files AS f
    ON f.file_id = s.file_id
WHERE s.module <> ''
    AND NOT (starts_with(s.missing, '__') AND ends_with(s.missing, '__'))
    -- folders the walk skips by default (config.DEFAULT_EXCLUDES): such a subpackage exists
    -- on disk but not in the graph
    AND s.missing NOT IN ('build', 'dist', 'venv', 'node_modules', '__pycache__')
    AND f.status = 'ok'
    AND s.module NOT IN (SELECT name FROM dynamic_modules)
    AND NOT EXISTS (
        SELECT 1
        FROM probed AS p
        WHERE p.file_id = s.file_id
            AND (p.expression = s.expression OR starts_with(s.expression, p.expression || '.'))
    )
    -- module.name = ... somewhere (a monkeypatch, or a module filled in by its importer)
    AND NOT EXISTS (
        SELECT 1
        FROM attribute_writes AS w
        WHERE w.name = s.missing
            AND regexp_extract(w.receiver, '([A-Za-z_][A-Za-z0-9_]*)$', 1)
                = regexp_extract(s.module, '([A-Za-z_][A-Za-z0-9_]*)$', 1)
    )
    AND NOT EXISTS (
        SELECT 1
        FROM imported AS i
        WHERE (i.kind IN ('from', 'star') AND i.target = s.module AND i.name = s.missing)
            OR i.target = s.module || '.' || s.missing
            OR starts_with(i.target, s.module || '.' || s.missing || '.')
    )
GROUP BY s.missing, s.module
ORDER BY s.module, s.missing
