-- name: write_only_collections
-- title: In-process queues and collections written but never read
-- description: Attributes holding a queue (queue, asyncio, multiprocessing), a deque or a list
--   (self.x = [] / deque() / Queue()) that methods of their class write (append, extend, put,
--   ...) and nothing reads: no pop, popleft, get, iteration, indexing, len(), return, or passing
--   it on. Uses in test files are listed but do not count. A collection whose attribute name
--   another file reads (obj.x anywhere outside the declaring file, by the mentions table) may
--   be drained there and is not reported: the name is all that file can tell.
-- param: $transport text = NULL (only this collection type: queue, asyncio.queue, multiprocessing.queue, deque, list)
-- file_inputs: SELECT file_id, hash(path) AS h FROM files WHERE list_contains($files, file_id)
--   UNION ALL SELECT DISTINCT file_id, hash(name) FROM mentions
--   WHERE kind = 'attribute' AND list_contains($files, file_id)
-- kind: write_only_collection
-- id: orphaned_queue_{channel}
-- hypothesis: ORPHANED_QUEUE_{channel:upper}
-- question: Who should read {channel} ({transport}), which {producers} fill but nothing drains?
-- evidence: "Channel type", "Produced in", "Declared in", "Test sites"
-- locations: locations
-- metadata: transport, producers
-- severity: medium
-- confidence: 0.8
-- action: propose_fix
-- autonomy: 3
-- value: 0.95
-- cost: 0.2
-- capability_key: integration.{channel}
WITH sites AS (
    SELECT *
    FROM channel_site_paths
    WHERE starts_with(rule, 'collection:')
        AND ($transport IS NULL OR transport = $transport)
),
read AS (
    SELECT DISTINCT topic
    FROM sites
    WHERE role = 'consumer'
        AND NOT in_test
),
-- obj.x read in another file than the one declaring the collection: possibly its reader
read_elsewhere AS (
    SELECT DISTINCT d.topic
    FROM sites AS d
    JOIN mentions AS m
        ON m.kind = 'attribute'
        AND m.name = regexp_extract(d.topic, '[^.]+$')
    JOIN files AS f
        ON f.file_id = m.file_id
    WHERE d.role = 'declaration'
        AND f.path <> d.path
),
written AS (
    SELECT DISTINCT transport, topic
    FROM sites
    WHERE role = 'producer'
        AND NOT in_test
        AND topic NOT IN (SELECT topic FROM read)
        AND topic NOT IN (SELECT topic FROM read_elsewhere)
)
SELECT
    w.topic AS channel,
    w.transport,
    [w.transport] AS "Channel type",
    list(s.path || ':' || s.line ORDER BY s.path, s.line) FILTER (s.role = 'producer' AND NOT s.in_test)
        AS "Produced in",
    list(s.path || ':' || s.line ORDER BY s.path, s.line) FILTER (s.role = 'declaration')
        AS "Declared in",
    list(s.path || ':' || s.line ORDER BY s.path, s.line) FILTER (s.in_test) AS "Test sites",
    string_agg(DISTINCT s.symbol, ', ' ORDER BY s.symbol) FILTER (s.role = 'producer')
        AS producers,
    list({'path': s.path, 'line': s.line, 'symbol': s.symbol} ORDER BY s.path, s.line, s.col)
        AS locations
FROM written AS w
JOIN sites AS s
    ON s.topic = w.topic
    AND s.transport = w.transport
GROUP BY w.topic, w.transport
ORDER BY w.topic
