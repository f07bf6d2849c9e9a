-- doc_mention_status, rewritten from the mentions' side (#8: stale_knowledge runs it whole
-- every time): a name mention is looked up among modules by its name, among re-exports and
-- class attributes by its head (module or class) and last part, and among the definitions
-- once by its last part (the symbols' name column): the exact match and the suffix match
-- (Class.method, a bare identifier) are one join. Before, code_entities (every module,
-- definition, re-export and attribute with its dotted name built) was joined once and the
-- symbols again. The same rows: a definition's qualname ends with its name, and neither an
-- import's name or alias nor an attribute's name holds a dot.

CREATE OR REPLACE VIEW doc_mention_status AS
WITH tops AS (
    SELECT DISTINCT string_split(name, '.')[1] AS top
    FROM modules
),
known_paths AS (
    SELECT path, 'file' AS entity_kind
    FROM files
    UNION ALL
    SELECT path, 'file'
    FROM doc_files
),
known_dirs AS (
    SELECT DISTINCT unnest(
        list_transform(
            range(1, len(string_split(path, '/'))),
            lambda i: array_to_string(string_split(path, '/')[1:i], '/')
        )
    ) AS path
    FROM known_paths
),
known AS (
    SELECT path, entity_kind
    FROM known_paths
    UNION ALL
    SELECT path, 'folder'
    FROM known_dirs
),
suffixes AS (
    SELECT DISTINCT lower(regexp_extract(path, '\.([A-Za-z0-9]+)$', 1)) AS suffix
    FROM known_paths
),
mention AS (
    SELECT
        m.*,
        d.path AS doc_path,
        d.sha256 AS doc_sha256,
        string_split(m.target, '.')[1] IN (SELECT top FROM tops) AS in_tree
    FROM doc_mentions AS m
    JOIN doc_files AS d
        ON d.doc_id = m.doc_id
    WHERE m.kind IN ('name', 'path', 'link')
),
name_hits AS (
    -- a dotted name split once: everything before its last part (head), and its last part
    WITH said AS (
        SELECT
            doc_id,
            line,
            kind,
            target,
            in_tree,
            bare,
            CASE
                WHEN contains(target, '.')
                    THEN left(target, length(target) - length(string_split(target, '.')[-1]) - 1)
            END AS head,
            string_split(target, '.')[-1] AS last
        FROM mention
        WHERE kind = 'name'
    )
    -- modules by their name
    SELECT n.doc_id, n.line, n.kind, n.target, m.name AS entity, 'module' AS entity_kind, m.file_id
    FROM said AS n
    JOIN modules AS m
        ON m.name = n.target
    UNION ALL
    -- re-exports (a module-level from-import) and class attributes by module or class and
    -- name (neither name holds a dot), instead of every one's dotted name built and compared
    SELECT n.doc_id, n.line, n.kind, n.target, n.target, 'import', i.file_id
    FROM said AS n
    JOIN modules AS m
        ON m.name = n.head
    JOIN imports AS i
        ON i.file_id = m.file_id
        AND coalesce(i.alias, i.name) = n.last
    WHERE i.kind = 'from'
        AND i.name <> '*'
        AND NOT i.in_function
    UNION ALL
    SELECT n.doc_id, n.line, n.kind, n.target, n.target, 'attribute', a.file_id
    FROM said AS n
    JOIN attributes AS a
        ON a.class_qualname = n.head
        AND a.name = n.last
    UNION ALL
    -- definitions, read once by their last name: the full name, or (Class.method, a bare
    -- identifier outside the tree) any definition whose qualified name ends so
    SELECT n.doc_id, n.line, n.kind, n.target, s.qualname, s.kind, s.file_id
    FROM said AS n
    JOIN symbols AS s
        ON s.name = n.last
    WHERE s.kind <> 'module'
        AND (s.qualname = n.target OR (NOT n.in_tree AND (n.bare OR ends_with(s.qualname, '.' || n.target))))
),
name_first AS (
    -- several matches (a bare name defined twice): the first by name, deterministically
    SELECT
        doc_id,
        line,
        kind,
        target,
        arg_min(entity, (entity, entity_kind, file_id)) AS entity,
        arg_min(entity_kind, (entity, entity_kind, file_id)) AS entity_kind,
        arg_min(file_id, (entity, entity_kind, file_id)) AS file_id
    FROM name_hits
    GROUP BY doc_id, line, kind, target
),
name_best AS (
    SELECT h.*, f.path AS entity_path
    FROM name_first AS h
    JOIN files AS f
        ON f.file_id = h.file_id
),
path_matches AS (
    SELECT p.doc_id, p.line, p.kind, p.target, k.path, k.entity_kind, 0 AS rank
    FROM mention AS p
    JOIN known AS k
        ON k.path = p.target
    WHERE p.kind IN ('path', 'link')
    UNION ALL
    SELECT p.doc_id, p.line, p.kind, p.target, k.path, k.entity_kind, 1 AS rank
    FROM mention AS p
    JOIN known AS k
        ON k.path = p.alt_target
    WHERE p.kind IN ('path', 'link')
),
path_hits AS (
    SELECT
        doc_id,
        line,
        kind,
        target,
        arg_min(path, (rank, path)) AS entity,
        arg_min(entity_kind, (rank, path)) AS entity_kind,
        arg_min(path, (rank, path)) AS entity_path
    FROM path_matches
    GROUP BY doc_id, line, kind, target
),
resolved AS (
    SELECT doc_id, line, kind, target, entity, entity_kind, entity_path, file_id
    FROM name_best
    UNION ALL
    SELECT doc_id, line, kind, target, entity, entity_kind, entity_path, NULL
    FROM path_hits
),
prefixes AS (
    SELECT
        n.doc_id,
        n.line,
        n.kind,
        n.target,
        unnest(
            list_transform(
                range(1, len(string_split(n.target, '.'))),
                lambda i: array_to_string(string_split(n.target, '.')[1:i], '.')
            )
        ) AS prefix
    FROM mention AS n
    ANTI JOIN resolved AS r
        ON r.doc_id = n.doc_id AND r.line = n.line AND r.kind = n.kind AND r.target = n.target
    WHERE n.kind = 'name'
        AND n.in_tree
        AND NOT n.bare
),
parent_hits AS (
    SELECT p.doc_id, p.line, p.kind, p.target, e.name, e.kind AS name_kind
    FROM prefixes AS p
    JOIN code_entities AS e
        ON e.name = p.prefix
),
parent_first AS (
    -- the longest existing prefix
    SELECT
        doc_id,
        line,
        kind,
        target,
        arg_max(name, (length(name), name_kind)) AS parent,
        arg_max(name_kind, (length(name), name_kind)) AS parent_kind
    FROM parent_hits
    GROUP BY doc_id, line, kind, target
),
class_bases AS (
    SELECT
        qualname,
        max(len(list_filter(bases, lambda b: b <> 'object' AND NOT contains(b, '=')))) AS bases
    FROM symbols
    WHERE kind = 'class'
        AND qualname IN (SELECT parent FROM parent_first)
    GROUP BY qualname
),
parents AS (
    SELECT pf.*, coalesce(cb.bases, 0) AS parent_bases
    FROM parent_first AS pf
    LEFT JOIN class_bases AS cb
        ON cb.qualname = pf.parent
),
fingerprints AS (
    SELECT
        r.doc_id,
        r.line,
        r.kind,
        r.target,
        md5(concat_ws('|',
            s.kind,
            s.end_line - s.line,
            array_to_string(s.decorators, ','),
            array_to_string(s.bases, ','),
            coalesce(s.docstring, ''),
            s.is_async,
            coalesce((
                SELECT string_agg(c.callee || '/' || c.arg_count || '/' || array_to_string(c.keywords, ','), ';'
                    ORDER BY c.callee, c.arg_count, array_to_string(c.keywords, ','))
                FROM calls AS c
                WHERE c.file_id = s.file_id
                    AND (c.scope = s.qualname OR starts_with(c.scope, s.qualname || '.'))
            ), '')
        )) AS fingerprint
    FROM resolved AS r
    JOIN symbols AS s
        ON s.qualname = r.entity
        AND s.file_id = r.file_id
    WHERE r.entity_kind IN ('class', 'function', 'method', 'staticmethod', 'classmethod', 'property')
)
SELECT
    n.doc_id,
    n.doc_path,
    n.doc_sha256,
    n.line,
    n.col,
    n.kind,
    n.context,
    n.text,
    n.target,
    n.bare,
    n.in_tree,
    r.entity IS NOT NULL AS resolved,
    r.entity,
    r.entity_kind,
    r.entity_path,
    fp.fingerprint,
    pa.parent,
    pa.parent_kind,
    CASE
        WHEN r.entity IS NOT NULL THEN NULL
        WHEN n.kind = 'name' AND n.in_tree AND NOT n.bare AND pa.parent IS NULL
            THEN 'nothing of the tree is named ' || n.target
        WHEN n.kind = 'name' AND n.in_tree AND NOT n.bare AND pa.parent_kind = 'module'
            THEN 'module ' || pa.parent || ' defines no ' || n.target[length(pa.parent) + 2:]
        WHEN n.kind = 'name' AND n.in_tree AND NOT n.bare AND pa.parent_kind = 'class' AND pa.parent_bases = 0
            THEN 'class ' || pa.parent || ' has no ' || n.target[length(pa.parent) + 2:]
        WHEN n.kind IN ('path', 'link')
            AND lower(regexp_extract(n.target, '\.([A-Za-z0-9]+)$', 1)) IN (SELECT suffix FROM suffixes)
            AND (NOT contains(n.target, '/') OR string_split(n.target, '/')[1] IN (SELECT path FROM known_dirs))
            THEN 'no file ' || n.target || coalesce(' (nor ' || n.alt_target || ')', '')
    END AS missing_reason
FROM mention AS n
LEFT JOIN resolved AS r
    ON r.doc_id = n.doc_id AND r.line = n.line AND r.kind = n.kind AND r.target = n.target
LEFT JOIN fingerprints AS fp
    ON fp.doc_id = n.doc_id AND fp.line = n.line AND fp.kind = n.kind AND fp.target = n.target
LEFT JOIN parents AS pa
    ON pa.doc_id = n.doc_id AND pa.line = n.line AND pa.kind = n.kind AND pa.target = n.target;
COMMENT ON VIEW doc_mention_status IS 'Each name, path and link mention of the docs with what it resolves to now, and why it is missing when its shape says it must be of the tree';
COMMENT ON COLUMN doc_mention_status.doc_id IS 'The doc (doc_files.doc_id)';
COMMENT ON COLUMN doc_mention_status.doc_path IS 'The doc''s path';
COMMENT ON COLUMN doc_mention_status.doc_sha256 IS 'The doc''s current version';
COMMENT ON COLUMN doc_mention_status.line IS '1-based line of the mention';
COMMENT ON COLUMN doc_mention_status.col IS '1-based column of the mention';
COMMENT ON COLUMN doc_mention_status.kind IS 'name | path | link';
COMMENT ON COLUMN doc_mention_status.context IS 'Where it was written (doc_mentions.context)';
COMMENT ON COLUMN doc_mention_status.text IS 'As written';
COMMENT ON COLUMN doc_mention_status.target IS 'Normalised target (doc_mentions.target)';
COMMENT ON COLUMN doc_mention_status.bare IS 'A single identifier';
COMMENT ON COLUMN doc_mention_status.in_tree IS 'name: its first part is a top-level module or package of the tree';
COMMENT ON COLUMN doc_mention_status.resolved IS 'It names something that exists now';
COMMENT ON COLUMN doc_mention_status.entity IS 'What it resolves to (a qualified name, module, file or folder); the first by name when several match';
COMMENT ON COLUMN doc_mention_status.entity_kind IS 'Kind of the entity (code_entities.kind, file or folder)';
COMMENT ON COLUMN doc_mention_status.entity_path IS 'File defining the entity';
COMMENT ON COLUMN doc_mention_status.fingerprint IS 'For a class, function or method: the fingerprint doc_baselines compares with';
COMMENT ON COLUMN doc_mention_status.parent IS 'Unresolved dotted name of the tree: its longest prefix that exists';
COMMENT ON COLUMN doc_mention_status.parent_kind IS 'Kind of that prefix';
COMMENT ON COLUMN doc_mention_status.missing_reason IS 'Unresolved, and its shape says it must be of the tree (a dotted name under a top-level package of the tree whose longest existing prefix is a module or a class without bases; a path with an indexed suffix under an existing top folder): why. NULL otherwise';
