-- name: duplicate_files
-- title: Byte-identical files under two or more module names
-- description: Files with the same sha256 that define different modules: a copied module
--   that will drift from its original. Files without one definition of min_tokens tokens
--   that is not boilerplate (empty __init__.py files, a docstring, only imports or constants)
--   and test files (unless include_tests) are left out. The id hashes the sorted module
--   names.
-- param: $min_tokens int = 20 (a file needs a definition at least this large to count)
-- param: $include_tests bool = false (also compare test files)
-- partition: pkey
-- anchors_needed: 2
-- partition_keys: SELECT f.file_id, hash(f.sha256) AS key, true AS anchor, f.path, f.module,
--   c.biggest FROM files AS f LEFT JOIN (SELECT file_id, max(tokens) FILTER (WHERE NOT
--   boilerplate) AS biggest FROM clones WHERE list_contains($files, file_id) GROUP BY file_id)
--   AS c ON c.file_id = f.file_id WHERE f.sha256 IS NOT NULL AND list_contains($files, f.file_id)
-- kind: duplicate_responsibility
-- id: duplicate_responsibility_file_{members:hash12}
-- hypothesis: DUPLICATE_FILE_{first}
-- question: Should {members} be one module that the others import, since their files are byte-identical?
-- evidence: members, files, found_by
-- locations: locations
-- metadata: size, sha256
-- severity: medium
-- confidence: 1.0
-- action: propose_fix
-- autonomy: 1
-- value: 0.5
-- cost: 0.3
-- capability_key: architecture.duplicates
WITH candidates AS (
    -- one partition per content (sha256)
    SELECT
        f.file_id,
        f.path,
        f.module,
        f.sha256
    FROM files AS f
    WHERE f.sha256 IS NOT NULL
        AND f.module IS NOT NULL
        AND ($include_tests OR NOT regexp_matches(
            f.path, '(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)'
        ))
        AND ($partition IS NULL OR hash(f.sha256) IN (SELECT unnest($partition)))
        AND f.file_id IN (
            SELECT file_id
            FROM clones
            WHERE tokens >= $min_tokens
                AND NOT boilerplate
        )
)
SELECT
    list(module ORDER BY module) AS members,
    min(module) AS first,
    count(*) AS size,
    list(path ORDER BY path) AS files,
    'same sha256 of the bytes' AS found_by,
    sha256,
    list({'path': path, 'line': 1, 'symbol': module} ORDER BY path) AS locations,
    hash(sha256) AS pkey
FROM candidates
GROUP BY sha256
HAVING count(DISTINCT module) >= 2
ORDER BY first
