-- name: missing_wiring
-- title: Imports of internal modules or names that do not exist
-- description: An import that leads into the indexed tree (its top-level package is a package
--   of the tree, or it is relative) but finds nothing there: the module does not exist, or it
--   does not define the name (directly or along a chain of re-exports). One finding per missing
--   (name, module), with every import of it as a location. Imports inside try/except
--   ImportError are the code's own statement that the module is optional and are left out
--   unless include_guarded; imports under if TYPE_CHECKING are reported (a type checker fails
--   on them too).
-- param: $include_guarded bool = false (also report imports guarded by try/except ImportError)
-- depends_on: imports
-- kind: missing_wiring
-- id: missing_wiring_{missing}_{module}
-- hypothesis: MISSING_WIRING_{missing}_IN_{module}
-- question: Where should {missing} come from, given that {module} does not provide it (imported in {importers})?
-- evidence: missing, module, what, imported_in, reason
-- locations: locations
-- metadata: what, importers
-- severity: high
-- confidence: 0.9
-- action: propose_fix
-- autonomy: 2
-- value: 0.7
-- cost: 0.2
-- capability_key: wiring.imports
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
        i.kind,
        i.module AS written,
        i.target,
        i.name,
        i.reason,
        i.target IN (SELECT name FROM modules) AS target_exists,
        string_split(i.target, '.')[1] IN (SELECT top FROM tree_tops) AS internal
    FROM import_links AS i
    JOIN files AS f
        ON f.file_id = i.file_id
    WHERE i.status = 'unresolved'
        AND ($include_guarded OR NOT i.in_try)
),
missing AS (
    -- relative import climbing above the top package: nothing to name but what is written
    SELECT coalesce(name, written) AS missing, written AS module, 'relative import' AS what, *
    FROM sites
    WHERE target IS NULL
    UNION ALL
    -- the module exists but lacks the name (or a re-export of it leads nowhere)
    SELECT name AS missing, target AS module, 'name' AS what, *
    FROM sites
    WHERE target_exists
        AND kind IN ('from', 'star')
    UNION ALL
    -- the module itself is missing from a package of the tree
    SELECT
        regexp_extract(target, '([^.]+)$', 1) AS missing,
        regexp_extract(target, '^(.*)\.[^.]+$', 1) AS module,
        'module' AS what,
        *
    FROM sites
    WHERE NOT target_exists
        AND internal
        AND contains(target, '.')
)
SELECT
    missing,
    module,
    min(what) AS what,
    list(DISTINCT path ORDER BY path) AS imported_in,
    array_to_string(list(DISTINCT path ORDER BY path), ', ') AS importers,
    min(reason) AS reason,
    list({'path': path, 'line': line, 'symbol': scope} ORDER BY path, line, col) AS locations
FROM missing
GROUP BY missing, module
ORDER BY module, missing
