-- name: duplicate_code
-- title: Functions and classes that are copies of each other
-- description: Groups of functions, methods or classes with the same tokens (exact), the same
--   token shape (local names renamed, literals changed) or similar token shingles (near:
--   MinHash signatures computed at index time, candidates from 12 LSH bands of 5 positions, kept
--   when the estimated Jaccard similarity reaches min_similarity). Definitions below min_tokens
--   tokens or min_lines lines, boilerplate (pass, ..., raise NotImplementedError, plain
--   assignments, one simple return), and test files (unless include_tests) are left out, and
--   so are the extra copies of byte-identical files (duplicate_files reports those). Methods of
--   duplicate classes are reported with their class, not again. Copies that are all methods of
--   one class (or nested functions of one function) are left out unless siblings: on the
--   standard library they were mostly families of parallel operations (__lt__ and __gt__,
--   assertLess and assertGreater, unpack_int and unpack_float), alike by design. The id hashes the sorted
--   member names, so editing a member keeps the id while the group's members stay the same.
-- param: $min_tokens int = 40 (smaller definitions are never reported)
-- param: $min_lines int = 4 (shorter definitions are never reported)
-- param: $min_similarity float = 0.75 (near duplicates: estimated Jaccard similarity, 0..1)
-- param: $include_tests bool = false (also compare test files)
-- param: $max_bucket int = 50 (LSH buckets with more definitions are skipped as common idioms)
-- param: $siblings bool = false (also report copies that all sit in one class or function)
-- finder: duplicates
-- partition: pkeys
-- partition_keys: SELECT file_id, unnest([hash('exact', kind, exact), hash('shape', kind, shape)]
--   || bands::UBIGINT[]) AS key, qualname, parent, kind, line, end_line, tokens, boilerplate,
--   exact, shape, signature FROM clones WHERE list_contains($files, file_id)
--   AND tokens >= $min_tokens AND end_line - line + 1 >= $min_lines AND NOT boilerplate
-- global_inputs: SELECT sha256, list(path ORDER BY path) AS paths FROM files
--   WHERE sha256 IS NOT NULL GROUP BY sha256 HAVING count(*) > 1
-- file_guard: SELECT file_id, hash(qualname, parent, kind, line, end_line, tokens, exact, shape,
--   signature, bands) AS h FROM clones WHERE list_contains($files, file_id) AND NOT boilerplate
-- kind: duplicate_responsibility
-- id: duplicate_responsibility_code_{members:hash12}
-- hypothesis: DUPLICATE_CODE_{how}_{first}
-- question: Should {members} be merged into one {kind} that every caller uses, since they are {how} duplicates of each other?
-- evidence: members, files, found_by, similarity
-- locations: locations
-- metadata: size, how, kind
-- severity: {severity}
-- confidence: {confidence}
-- action: propose_fix
-- autonomy: 1
-- value: 0.5
-- cost: 0.4
-- capability_key: architecture.duplicates
WITH wanted AS (
    SELECT DISTINCT unnest($partition) AS key
),
picked AS (
    -- the definitions in those partitions (each partition's members all have its key)
    SELECT c.rowid AS rid
    FROM clones AS c
    JOIN wanted AS w
        ON w.key = hash('exact', c.kind, c.exact)
    UNION
    SELECT c.rowid
    FROM clones AS c
    JOIN wanted AS w
        ON w.key = hash('shape', c.kind, c.shape)
    UNION
    SELECT b.rid
    FROM (SELECT rowid AS rid, unnest(bands)::UBIGINT AS key FROM clones) AS b
    JOIN wanted AS w
        ON w.key = b.key
),
copies AS (
    -- byte-identical files: only the first path of each content takes part
    SELECT sha256, min(path) AS first_path
    FROM files
    WHERE sha256 IS NOT NULL
    GROUP BY sha256
),
units AS (
    SELECT
        -- a unit's id within this run (a window numbering by path sorted every unit: a
        -- tenth of the query's time); edges join on it and orient pairs by it, groups and
        -- finding ids never depend on it
        c.rowid AS uid,
        c.qualname,
        c.parent,
        c.kind,
        c.line,
        c.exact,
        c.shape,
        c.signature,
        c.bands,
        c.tokens,
        f.path,
        -- the partitions (see partition_keys): a group of equal tokens, of equal shape, an
        -- LSH bucket
        hash('exact', c.kind, c.exact) AS exact_key,
        hash('shape', c.kind, c.shape) AS shape_key
    FROM (
        -- every definition, or with $partition only those of its partitions, read by rowid:
        -- a filter on the scan of every clone read every clone's signature and bands (a
        -- third of a partition run); a constant-false branch is dropped when planning, so
        -- a whole run pays nothing for it
        SELECT rowid, * FROM clones WHERE $partition IS NULL
        UNION ALL
        SELECT c.rowid, c.* FROM picked AS p JOIN clones AS c ON c.rowid = p.rid
        WHERE $partition IS NOT NULL
    ) AS c
    JOIN files AS f
        ON f.file_id = c.file_id
    JOIN copies AS k
        ON k.sha256 = f.sha256
    WHERE c.tokens >= $min_tokens
        AND c.end_line - c.line + 1 >= $min_lines
        AND NOT c.boilerplate
        AND f.path = k.first_path
        AND ($include_tests OR NOT regexp_matches(
            f.path, '(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)'
        ))
),
-- groups of equal hashes, aggregated once (window functions over every unit sorted the
-- units by name for each partition: a quarter of the query's time); each member of a group
-- is linked to the group's first member by name
-- ($partition filters are list_contains: with $partition NULL the planner drops them, where
-- an IN (SELECT key FROM wanted) stayed in a whole run's plan as a join of every unit)
exact_keys AS (
    -- the equal hashes shared by several definitions: a grouping of every unit by its hash
    -- only; the groups' first members and sibling checks are computed on their members
    SELECT exact_key
    FROM units
    WHERE $partition IS NULL OR list_contains($partition, exact_key)
    GROUP BY exact_key
    HAVING count(*) > 1
),
shape_keys AS (
    SELECT shape_key
    FROM units
    WHERE $partition IS NULL OR list_contains($partition, shape_key)
    GROUP BY shape_key
    HAVING count(*) > 1
),
exact_members AS (
    SELECT u.*
    FROM units AS u
    SEMI JOIN exact_keys AS g
        ON g.exact_key = u.exact_key
),
shape_members AS (
    SELECT u.*
    FROM units AS u
    SEMI JOIN shape_keys AS g
        ON g.shape_key = u.shape_key
),
exact_groups AS (
    SELECT kind, exact, any_value(exact_key) AS pkey, arg_min(uid, (qualname, path)) AS first
    FROM exact_members
    GROUP BY kind, exact
    HAVING count(*) > 1
        AND ($siblings OR NOT (count(parent) = count(*) AND min(parent) = max(parent)))
),
exact_edges AS (
    SELECT u.uid, g.first AS other, 'exact' AS how, 1.0 AS similarity, g.pkey
    FROM exact_members AS u
    JOIN exact_groups AS g
        ON g.kind = u.kind AND g.exact = u.exact
),
shape_groups AS (
    SELECT kind, shape, any_value(shape_key) AS pkey, arg_min(uid, (qualname, path)) AS first
    FROM shape_members
    GROUP BY kind, shape
    HAVING min(exact) <> max(exact)
        AND ($siblings OR NOT (count(parent) = count(*) AND min(parent) = max(parent)))
),
shape_edges AS (
    SELECT u.uid, g.first AS other, 'renamed' AS how, 1.0 AS similarity, g.pkey
    FROM shape_members AS u
    JOIN shape_groups AS g
        ON g.kind = u.kind AND g.shape = u.shape
),
keys AS MATERIALIZED (
    SELECT uid, key::UBIGINT AS key
    FROM (SELECT uid, unnest(bands) AS key FROM units)
    WHERE $partition IS NULL OR list_contains($partition, key::UBIGINT)
),
buckets AS (
    -- definitions sharing a band (12 bands of 5 signature positions, keyed at index time):
    -- candidates from a similarity of about 0.6, 96% of pairs at 0.75; each bucket's
    -- members in one sorted list
    SELECT key, list(uid ORDER BY uid) AS uids
    FROM keys
    GROUP BY key
    HAVING count(*) BETWEEN 2 AND $max_bucket
),
shared AS MATERIALIZED (
    -- each bucket two definitions share (each is a partition of its own): the pairs of each
    -- bucket's sorted list, instead of a join of the keys with themselves
    SELECT pair.uid, pair.other, key
    FROM (
        SELECT
            key,
            unnest(flatten(list_transform(
                range(1, len(uids)),
                lambda i: list_transform(
                    range(i + 1, len(uids) + 1), lambda j: {'uid': uids[i], 'other': uids[j]}
                )
            ))) AS pair
        FROM buckets
    )
    WHERE pair.uid < pair.other
),
candidates AS (
    -- each pair once, whatever the number of buckets it shares
    SELECT DISTINCT uid, other
    FROM shared
),
pairs AS MATERIALIZED (
    -- each pair compared once, whatever the number of buckets it shares; joined on the
    -- candidates' ids first: left to itself the planner may join the two sides on kind and
    -- compare every pair's signatures. The similarity is computed here, once: a filter on
    -- it outside is pushed into this CTE and computed again
    SELECT
        c.uid,
        c.other,
        CASE
            WHEN a.kind = b.kind
                AND a.shape <> b.shape
                AND NOT starts_with(b.qualname, a.qualname || '.')
                AND NOT starts_with(a.qualname, b.qualname || '.')
                AND ($siblings OR a.parent IS NULL OR a.parent IS DISTINCT FROM b.parent)
            THEN len(list_filter(
                range(1, 65), lambda i: a.signature[i] = b.signature[i]
            )) / 64
        END AS similarity
    FROM candidates AS c
    JOIN units AS a
        ON a.uid = c.uid
    JOIN units AS b
        ON b.uid = c.other
    -- shingle sets of very different sizes cannot reach the similarity
    WHERE least(a.tokens, b.tokens) >= $min_similarity * greatest(a.tokens, b.tokens)
),
near_pairs AS (
    SELECT uid, other, similarity
    FROM pairs
    WHERE similarity >= $min_similarity
),
near_edges AS (
    -- with every bucket the pair shares (listed for the pairs found only: a list per
    -- candidate pair was a tenth of the query)
    SELECT
        s.uid,
        s.other,
        'near' AS how,
        s.similarity,
        list_sort(list_distinct(list(b.key))) AS pkeys
    FROM near_pairs AS s
    JOIN shared AS b
        ON b.uid = s.uid AND b.other = s.other
    GROUP BY s.uid, s.other, s.similarity
),
edges AS (
    SELECT uid, other, how, similarity, [pkey] AS pkeys FROM exact_edges WHERE uid <> other
    UNION ALL
    SELECT uid, other, how, similarity, [pkey] FROM shape_edges WHERE uid <> other
    UNION ALL
    SELECT uid, other, how, similarity, pkeys FROM near_edges
)
SELECT
    s.qualname AS source,
    s.path AS source_path,
    s.line AS source_line,
    s.parent AS source_parent,
    t.qualname AS target,
    t.path AS target_path,
    t.line AS target_line,
    t.parent AS target_parent,
    s.kind,
    e.how,
    e.similarity,
    e.pkeys
FROM edges AS e
JOIN units AS s
    ON s.uid = e.uid
JOIN units AS t
    ON t.uid = e.other
ORDER BY s.path, s.line, t.path, t.line, e.pkeys
