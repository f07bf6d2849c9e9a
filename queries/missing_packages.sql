-- name: missing_packages
-- title: Imported packages that are not installed in the target environment
-- description: Top-level packages imported (absolute imports) that are neither a package of
--   the tree nor importable by the target interpreter (GRAPHSVC_PYTHON, --python; default the
--   one running graphsvc) nor the standard library: the code fails at that import. One finding
--   per package, with every import of it as a location. Imports inside try/except ImportError
--   are the code's own statement that the package is optional and are left out unless
--   include_guarded.
-- param: $include_guarded bool = false (also report imports guarded by try/except ImportError)
-- depends_on: imports
-- kind: missing_capability
-- id: capability.package.{package:hash12}
-- hypothesis: MISSING_CAPABILITY_PACKAGE_{package}
-- question: The code imports {package} (in {importers}) but the target environment does not have it: install and declare it, or find a substitute?
-- evidence: type, category, package, imported_in, reason
-- locations: locations
-- metadata: importers
-- severity: high
-- confidence: 0.85
-- action: find_substitute
-- autonomy: 2
-- value: 0.6
-- cost: 0.3
-- capability_key: capability.package.{package}
WITH tree_tops AS (
    SELECT DISTINCT string_split(name, '.')[1] AS top
    FROM modules
),
available AS (
    -- a top-level package some import found (a missing submodule of it is not a missing package)
    SELECT DISTINCT string_split(target_module, '.')[1] AS top
    FROM links
    WHERE site = 'import'
        AND status IN ('external', 'stdlib')
        AND target_module IS NOT NULL
),
sites AS (
    SELECT
        f.path,
        i.line,
        i.col,
        i.scope,
        string_split(i.target, '.')[1] AS package
    FROM import_links AS i
    JOIN files AS f
        ON f.file_id = i.file_id
    WHERE i.status = 'unresolved'
        AND i.level = 0
        AND i.target IS NOT NULL
        AND ($include_guarded OR NOT i.in_try)
)
SELECT
    package,
    'python_package' AS type,
    'package' AS category,
    list(DISTINCT path ORDER BY path) AS imported_in,
    array_to_string(list(DISTINCT path ORDER BY path), ', ') AS importers,
    'not importable by the target interpreter and not a package of the tree' AS reason,
    list({'path': path, 'line': line, 'symbol': scope} ORDER BY path, line, col) AS locations
FROM sites
WHERE package NOT IN (SELECT top FROM tree_tops)
    AND package NOT IN (SELECT top FROM available)
GROUP BY package
ORDER BY package
