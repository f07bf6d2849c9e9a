-- name: duplicate_roles
-- title: Classes that consume the same channels and produce the same outputs
-- description: Classes whose methods consume the same set of channels (bus topics and broker
--   queues; transport and name) and produce the same non-empty set: two components doing one
--   job. In-process collections (lists, deques, queue.Queue) are class state named by their
--   attribute, not channels between components, and do not count. Channel sites come from the channel pass (channel_sites); a
--   site counts for the innermost class around it. Dynamic topics, catch-all subscriptions,
--   test sites and test files (unless include_tests) are left out, and so are groups whose
--   classes all have the same token shape (duplicate_code reports those). A class that only
--   consumes (a logger, an audit trail beside the real consumer) is never a member: consuming
--   the same input for different outputs is fan-out, not duplication.
-- param: $include_tests bool = false (also compare classes of test files)
-- file_inputs: SELECT file_id, hash(path) AS h FROM files WHERE list_contains($files, file_id)
--   UNION ALL SELECT s.file_id, hash(s.qualname, s.line, c.shape) FROM symbols AS s
--   LEFT JOIN clones AS c ON c.file_id = s.file_id AND c.qualname = s.qualname
--   WHERE s.kind = 'class' AND list_contains($files, s.file_id)
-- file_guard: SELECT file_id, hash(path) AS h FROM files WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(qualname, line) FROM symbols
--   WHERE kind = 'class' AND list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(qualname, shape) FROM clones
--   WHERE kind = 'class' AND list_contains($files, file_id)
-- kind: duplicate_responsibility
-- id: duplicate_responsibility_role_{members:hash12}
-- hypothesis: DUPLICATE_ROLE_{first}
-- question: Should {members} be one component, since each consumes {consumes} and produces {produces}?
-- evidence: members, consumes, produces, found_by
-- locations: locations
-- metadata: size
-- severity: medium
-- confidence: 0.7
-- action: investigate
-- autonomy: 1
-- value: 0.5
-- cost: 0.5
-- capability_key: architecture.duplicates
WITH classes AS (
    SELECT
        s.file_id,
        s.qualname,
        s.line,
        f.path
    FROM symbols AS s
    JOIN files AS f
        ON f.file_id = s.file_id
    WHERE s.kind = 'class'
        AND ($include_tests OR NOT regexp_matches(
            f.path, '(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)'
        ))
),
sites AS (
    SELECT
        c.qualname AS class,
        cs.role,
        cs.transport || ' ' || cs.topic AS channel
    FROM channel_sites AS cs
    JOIN classes AS c
        ON c.file_id = cs.file_id
        AND (cs.symbol = c.qualname OR starts_with(cs.symbol, c.qualname || '.'))
    WHERE cs.role IN ('producer', 'consumer')
        -- in-process collections are named by the class attribute holding them (and count
        -- for every class of the file that declares it): state, not a channel between components
        AND cs.transport NOT IN ('list', 'deque', 'queue', 'asyncio.queue', 'multiprocessing.queue')
        AND cs.topic IS NOT NULL
        AND NOT cs.catch_all
        AND NOT cs.in_test
    -- the innermost class around the site
    QUALIFY row_number() OVER (
        PARTITION BY cs.file_id, cs.line, cs.col, cs.role, cs.transport, cs.topic
        ORDER BY length(c.qualname) DESC
    ) = 1
),
roles AS (
    SELECT
        class,
        list(DISTINCT channel ORDER BY channel) FILTER (WHERE role = 'consumer') AS consumes,
        list(DISTINCT channel ORDER BY channel) FILTER (WHERE role = 'producer') AS produces
    FROM sites
    GROUP BY class
),
groups AS (
    SELECT
        r.consumes,
        r.produces,
        list(DISTINCT r.class ORDER BY r.class) AS members,
        list(DISTINCT {'path': c.path, 'line': c.line, 'symbol': r.class}
            ORDER BY {'path': c.path, 'line': c.line, 'symbol': r.class}) AS locations,
        count(DISTINCT k.shape) AS shapes,
        count(k.shape) AS shaped
    FROM roles AS r
    JOIN classes AS c
        ON c.qualname = r.class
    LEFT JOIN clones AS k
        ON k.file_id = c.file_id
        AND k.qualname = r.class
    WHERE len(r.consumes) > 0
        AND len(r.produces) > 0
    GROUP BY r.consumes, r.produces
    HAVING count(DISTINCT r.class) >= 2
)
SELECT
    members,
    members[1] AS first,
    len(members) AS size,
    consumes,
    produces,
    'same consumed channels and same produced channels (channel_sites)' AS found_by,
    locations
FROM groups
WHERE NOT (shapes = 1 AND shaped = len(members))
ORDER BY first
