-- name: orphaned_queues
-- title: Channels produced but never consumed
-- description: Topics and broker queues (Redis, ZeroMQ, MQTT, NATS, Kafka, RabbitMQ, PyPubSub,
--   a user rule's transport, and the project's own bus through derived wrappers) that some code
--   produces and no consumer receives, matched with each transport's semantics (channel_links).
--   Catch-all subscribers (ZeroMQ empty prefix, MQTT #, NATS >, Redis *) are historians and
--   bridges: they do not make a channel consumed unless count_catch_all, and are listed in the
--   evidence. Sites in test files count as neither producer nor consumer and are listed too.
--   In-process collections are in write_only_collections; dynamic topics in
--   dynamic_channel_sites.
-- param: $transport text = NULL (only this transport)
-- param: $count_catch_all bool = false (a catch-all subscription consumes every channel)
-- file_inputs: SELECT file_id, hash(path) AS h FROM files WHERE list_contains($files, file_id)
-- kind: orphaned_queue
-- id: orphaned_queue_{channel}
-- hypothesis: ORPHANED_QUEUE_{channel:upper}
-- question: Which component should consume {channel} ({transport}), which {producers} produce but nothing receives?
-- evidence: "Channel type", "Produced in", "Catch-all subscribers", "Test sites"
-- locations: locations
-- metadata: transport, producers
-- severity: high
-- confidence: 0.85
-- action: propose_fix
-- autonomy: 3
-- value: 0.95
-- cost: 0.2
-- capability_key: integration.{channel}
WITH producers AS (
    SELECT *
    FROM channel_site_paths
    WHERE role = 'producer'
        AND match_kind IN ('exact', 'pattern')
        AND NOT starts_with(rule, 'collection:')
        AND ($transport IS NULL OR transport = $transport)
),
consumed AS (
    SELECT DISTINCT transport, produced
    FROM channel_links
    WHERE NOT consumer_in_test
        AND ($count_catch_all OR NOT catch_all)
),
orphans AS (
    SELECT p.transport, p.topic
    FROM producers AS p
    WHERE NOT p.in_test
        AND NOT EXISTS (
            SELECT 1
            FROM consumed AS c
            WHERE c.transport = p.transport
                AND c.produced = p.topic
        )
    GROUP BY ALL
),
catch_all AS (
    SELECT DISTINCT o.topic, l.consumer_path || ':' || l.consumer_line AS site
    FROM orphans AS o
    JOIN channel_links AS l
        ON l.transport = o.transport
        AND l.produced = o.topic
    WHERE l.catch_all
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
    list(DISTINCT p.path || ':' || p.line ORDER BY p.path || ':' || p.line) AS "Produced in",
    string_agg(DISTINCT p.symbol, ', ' ORDER BY p.symbol) AS producers,
    (SELECT list(site ORDER BY site) FROM catch_all AS c WHERE c.topic = o.topic)
        AS "Catch-all subscribers",
    (SELECT list(site ORDER BY site) FROM tests AS t WHERE t.topic = o.topic) AS "Test sites",
    list({'path': p.path, 'line': p.line, 'symbol': p.symbol} ORDER BY p.path, p.line, p.col)
        AS locations
FROM orphans AS o
JOIN producers AS p
    ON p.transport = o.transport
    AND p.topic = o.topic
    AND NOT p.in_test
GROUP BY o.topic
ORDER BY o.topic
