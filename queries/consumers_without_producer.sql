-- name: consumers_without_producer
-- title: Channels consumed but never produced
-- description: Subscriptions and reads (exact topics and patterns; in-process queues and
--   collections read but never written) that no producer in the tree feeds, matched with each
--   transport's semantics (channel_links). Catch-all subscriptions are left out (they expect
--   whatever comes), as are dynamic topics (dynamic_channel_sites) and receivers of a library's
--   own signals (Django's post_save: strategy external, produced by the library). Sites in test files count
--   as neither producer nor consumer and are listed in the evidence.
-- param: $transport text = NULL (only this transport)
-- file_inputs: SELECT file_id, hash(path) AS h FROM files WHERE list_contains($files, file_id)
-- kind: consumer_without_producer
-- id: consumer_without_producer_{channel}
-- hypothesis: CONSUMER_WITHOUT_PRODUCER_{channel:upper}
-- question: What should produce {channel} ({transport}), which {consumers} wait for but nothing sends?
-- evidence: "Channel type", "Consumed in", "Test sites"
-- locations: locations
-- metadata: transport, consumers
-- severity: high
-- confidence: 0.8
-- action: propose_fix
-- autonomy: 3
-- value: 0.95
-- cost: 0.2
-- capability_key: integration.{channel}
WITH consumers AS (
    SELECT *
    FROM channel_site_paths
    WHERE role = 'consumer'
        AND match_kind <> 'dynamic'
        AND NOT catch_all
        AND strategy <> 'external'
        AND ($transport IS NULL OR transport = $transport)
),
fed AS (
    SELECT DISTINCT transport, consumed
    FROM channel_links
    WHERE NOT producer_in_test
),
orphans AS (
    SELECT c.transport, c.topic
    FROM consumers AS c
    WHERE NOT c.in_test
        AND NOT EXISTS (
            SELECT 1
            FROM fed AS f
            WHERE f.transport = c.transport
                AND f.consumed = c.topic
        )
    GROUP BY ALL
),
tests AS (
    SELECT DISTINCT o.topic, s.path || ':' || s.line AS site
    FROM orphans AS o
    JOIN channel_site_paths AS s
        ON s.transport = o.transport
        AND s.topic = o.topic
    WHERE s.in_test
)
SELECT
    o.topic AS channel,
    string_agg(DISTINCT o.transport, ', ' ORDER BY o.transport) AS transport,
    list(DISTINCT o.transport ORDER BY o.transport) AS "Channel type",
    list(DISTINCT c.path || ':' || c.line ORDER BY c.path || ':' || c.line) AS "Consumed in",
    string_agg(DISTINCT c.symbol, ', ' ORDER BY c.symbol) AS consumers,
    (SELECT list(site ORDER BY site) FROM tests AS t WHERE t.topic = o.topic) AS "Test sites",
    list({'path': c.path, 'line': c.line, 'symbol': c.symbol} ORDER BY c.path, c.line, c.col)
        AS locations
FROM orphans AS o
JOIN consumers AS c
    ON c.transport = o.transport
    AND c.topic = o.topic
    AND NOT c.in_test
GROUP BY o.topic
ORDER BY o.topic
