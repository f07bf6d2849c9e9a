-- name: stale_knowledge
-- title: Docs that mention code that no longer exists, or that changed after the doc did
-- description: One finding per documentation file (GRAPHSVC_DOC_GLOBS) with every stale
--   mention as evidence and location. A mention is stale when (1) it names something of the
--   tree that does not exist: a dotted name under a top-level package of the tree whose longest
--   existing prefix is a module or a class without bases (pkg.orders.process_order after a
--   rename), or a path or relative link with an indexed suffix under an existing top folder
--   (a moved file; the evidence says where a file of that name is now); (2) it resolved when
--   this version of the doc was first indexed and does not now (a bare process_order() too);
--   or (3) it names a class, function or method whose definition (line span, decorators, bases,
--   docstring, async, the calls inside) changed since this version of the doc was first
--   indexed. Editing the doc records a new baseline: a doc edited after the code changed is
--   not stale. Names outside the tree (stdlib, installed packages), English words in backticks
--   and shell commands never count.
-- depends_on: docs
-- file_inputs: WITH said AS (SELECT DISTINCT unnest(string_split(target, '.')
--   || string_split(target, '/') || string_split(coalesce(alt_target, ''), '/')) AS part
--   FROM doc_mentions WHERE kind IN ('name', 'path', 'link')),
--   mine AS (SELECT * FROM symbols WHERE list_contains($files, file_id) AND kind <> 'module'
--   AND name IN (SELECT part FROM said))
--   SELECT file_id, hash(qualname, name, kind, end_line - line, decorators, bases, docstring,
--   is_async) AS h FROM mine
--   UNION ALL SELECT s.file_id, hash(c.scope, c.callee, c.arg_count, c.keywords) FROM mine AS s
--   JOIN calls AS c ON c.file_id = s.file_id
--   AND (c.scope = s.qualname OR starts_with(c.scope, s.qualname || '.'))
--   UNION ALL SELECT file_id, hash(name) FROM modules WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(name, alias, in_function) FROM imports
--   WHERE list_contains($files, file_id) AND kind = 'from'
--   AND coalesce(alias, name) IN (SELECT part FROM said)
--   UNION ALL SELECT file_id, hash(class_qualname, name) FROM attributes
--   WHERE list_contains($files, file_id) AND name IN (SELECT part FROM said)
--   UNION ALL SELECT file_id, hash(path) FROM files WHERE list_contains($files, file_id)
-- input_terms: SELECT DISTINCT unnest(string_split(target, '.') || string_split(target, '/')
--   || string_split(coalesce(alt_target, ''), '/')) AS term
--   FROM doc_mentions WHERE kind IN ('name', 'path', 'link')
-- term_files: SELECT file_id FROM symbols WHERE kind <> 'module'
--   AND name IN (SELECT unnest($terms))
--   UNION SELECT file_id FROM imports WHERE kind = 'from'
--   AND coalesce(alias, name) IN (SELECT unnest($terms))
--   UNION SELECT file_id FROM attributes WHERE name IN (SELECT unnest($terms))
-- global_inputs: SELECT DISTINCT split_part(name, '.', 1) AS part FROM modules UNION
--   SELECT DISTINCT lower(regexp_extract(path, '\.([A-Za-z0-9]+)$', 1)) FROM files
-- kind: stale_knowledge
-- id: stale_knowledge_{doc_key}
-- hypothesis: STALE_KNOWLEDGE_{doc_path}
-- question: {doc_path} mentions {first} ({first_reason}){more}: update the doc?
-- evidence: file_path, stale
-- locations: locations
-- metadata: missing, changed, changed_files, doc_version_seen
-- severity: medium
-- confidence: {confidence}
-- action: propose_fix
-- autonomy: 2
-- value: 0.5
-- cost: 0.2
-- capability_key: knowledge.docs
WITH st AS (
    SELECT *
    FROM doc_mention_status
),
files_by_name AS (
    SELECT regexp_extract(path, '[^/]+$') AS name, path
    FROM files
    UNION ALL
    SELECT regexp_extract(path, '[^/]+$'), path
    FROM doc_files
),
moved AS (
    SELECT st.doc_path, st.line, st.kind, st.target, string_agg(f.path, ', ' ORDER BY f.path) AS now_at
    FROM st
    JOIN files_by_name AS f
        ON f.name = regexp_extract(st.target, '[^/]+$')
    WHERE st.kind IN ('path', 'link')
        AND NOT st.resolved
    GROUP BY ALL
),
stale AS (
    -- one join of the mentions with their baseline: unresolved by the mention's shape (no
    -- baseline row joins those, so two equal mentions on one line stay two rows), unresolved
    -- and gone since the doc's baseline, or resolved to a definition whose fingerprint moved
    SELECT
        st.doc_path,
        st.line,
        st.target,
        CASE WHEN st.resolved THEN 'changed' ELSE 'missing' END AS what,
        CASE
            WHEN st.resolved
                THEN st.entity_kind || ' ' || st.entity || ' (' || st.entity_path || ') changed after the doc was last edited'
            ELSE coalesce(
                st.missing_reason,
                b.entity_kind || ' ' || b.entity || ' (' || b.entity_path || ') existed when the doc was written, and is gone'
            ) || coalesce('; a file of that name is at ' || mv.now_at, '')
        END AS reason,
        CASE WHEN st.resolved THEN st.entity_path END AS changed_file
    FROM st
    LEFT JOIN doc_baselines AS b
        ON st.missing_reason IS NULL
        AND b.kind <> 'version'
        AND b.path = st.doc_path
        AND b.sha256 = st.doc_sha256
        AND b.line = st.line
        AND b.kind = st.kind
        AND b.target = st.target
    LEFT JOIN moved AS mv
        ON NOT st.resolved
        AND mv.doc_path = st.doc_path AND mv.line = st.line AND mv.kind = st.kind AND mv.target = st.target
    WHERE CASE
        WHEN st.resolved
            THEN st.entity = b.entity
                AND b.fingerprint IS NOT NULL
                AND st.fingerprint IS DISTINCT FROM b.fingerprint
        ELSE st.missing_reason IS NOT NULL OR b.path IS NOT NULL
    END
),
keys AS (
    SELECT
        path,
        regexp_replace(path, '[^A-Za-z0-9_.:-]', '_', 'g') AS key,
        count(*) OVER (PARTITION BY regexp_replace(path, '[^A-Za-z0-9_.:-]', '_', 'g')) AS shared
    FROM doc_files
),
per_doc AS (
    SELECT
        doc_path,
        list('line ' || line || ': ' || what || ': ' || target || ': ' || reason ORDER BY line, target) AS stale,
        list({'path': doc_path, 'line': line, 'symbol': target} ORDER BY line, target) AS locations,
        arg_min(target, (line, target)) AS first,
        arg_min(reason, (line, target)) AS first_reason,
        count(*) AS total,
        count(*) FILTER (WHERE what = 'missing') AS missing,
        count(*) FILTER (WHERE what = 'changed') AS changed,
        list_sort(list_distinct(list(changed_file))) AS changed_files
    FROM stale
    GROUP BY doc_path
)
SELECT
    p.doc_path,
    -- the path with what an id may not hold as _; two paths that collide get their hash too
    CASE
        WHEN k.shared > 1 THEN k.key || '_' || md5(p.doc_path)[:12]
        ELSE k.key
    END AS doc_key,
    p.doc_path AS file_path,
    p.stale,
    p.locations,
    p.first,
    p.first_reason,
    CASE WHEN p.total > 1 THEN ' and ' || (p.total - 1) || ' more' ELSE '' END AS more,
    p.missing,
    p.changed,
    coalesce(p.changed_files, []) AS changed_files,
    v.first_seen::VARCHAR AS doc_version_seen,
    CASE WHEN p.missing > 0 THEN 0.8 ELSE 0.6 END AS confidence
FROM per_doc AS p
JOIN keys AS k
    ON k.path = p.doc_path
LEFT JOIN (
    SELECT h.path, min(h.first_seen) AS first_seen
    FROM file_history AS h
    JOIN doc_files AS d
        ON d.path = h.path
        AND d.sha256 = h.sha256
    GROUP BY h.path
) AS v
    ON v.path = p.doc_path
ORDER BY p.doc_path
