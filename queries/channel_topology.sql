-- name: channel_topology
-- title: Every channel with its producers and consumers
-- description: One row per (transport, topic or pattern): the sites that produce it, those that
--   consume it (directly, or through a pattern that matches it with the transport's semantics:
--   ZeroMQ prefix, MQTT +/#, NATS */>, Redis glob, AMQP */#, Kafka regex), the catch-all
--   subscribers among them, and whether the channel is only touched by tests. Dynamic topics
--   are in dynamic_channel_sites.
-- param: $transport text = NULL (only this transport)
WITH named AS (
    SELECT transport, topic, match_kind, role
    FROM channel_site_paths
    WHERE match_kind <> 'dynamic'
        AND ($transport IS NULL OR transport = $transport)
    GROUP BY ALL
),
producers AS (
    SELECT transport, topic, list(DISTINCT path || ':' || line ORDER BY path || ':' || line) AS sites
    FROM channel_site_paths
    WHERE role = 'producer'
        AND match_kind <> 'dynamic'
    GROUP BY ALL
),
consumers AS (
    SELECT
        transport,
        produced AS topic,
        list(DISTINCT consumer_path || ':' || consumer_line ORDER BY consumer_path || ':' || consumer_line) AS sites,
        list(DISTINCT consumer_path || ':' || consumer_line ORDER BY consumer_path || ':' || consumer_line)
            FILTER (catch_all) AS catch_all
    FROM channel_links
    GROUP BY ALL
),
direct AS (
    SELECT transport, topic, list(DISTINCT path || ':' || line ORDER BY path || ':' || line) AS sites
    FROM channel_site_paths
    WHERE role = 'consumer'
        AND match_kind <> 'dynamic'
    GROUP BY ALL
)
SELECT
    n.transport,
    n.topic AS channel,
    min(n.match_kind) AS match_kind,
    coalesce(any_value(p.sites), []) AS producers,
    coalesce(any_value(c.sites), any_value(d.sites), []) AS consumers,
    coalesce(any_value(c.catch_all), []) AS catch_all_consumers
FROM named AS n
LEFT JOIN producers AS p
    ON p.transport = n.transport
    AND p.topic = n.topic
LEFT JOIN consumers AS c
    ON c.transport = n.transport
    AND c.topic = n.topic
LEFT JOIN direct AS d
    ON d.transport = n.transport
    AND d.topic = n.topic
GROUP BY n.transport, n.topic
ORDER BY n.transport, n.topic
