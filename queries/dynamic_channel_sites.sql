-- name: dynamic_channel_sites
-- title: Channel sites whose topic could not be resolved
-- description: Producer and consumer sites of a known transport whose topic stays unknown
--   (a value from outside the function, a computed string), with the expression as written:
--   never dropped, reported here rather than as orphans. Producers with partly known topics
--   (patterns) are in channel_topology, not here.
-- param: $transport text = NULL (only this transport)
SELECT
    path,
    line,
    symbol,
    role,
    transport,
    expression,
    rule,
    via
FROM channel_site_paths
WHERE match_kind = 'dynamic'
    AND ($transport IS NULL OR transport = $transport)
ORDER BY path, line, col
