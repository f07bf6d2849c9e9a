-- graphsvc schema 0013: documentation files (the knowledge part of #9). Docs are files of their
-- own table, owned like Python files: their headings, mentions and problems are replaced as a
-- whole when the doc changes. file_history keeps the content versions of every file, and
-- doc_baselines what each version of a doc's mentions resolved to when it was first indexed,
-- so that "the code changed after the doc did" is decidable.

CREATE TABLE doc_files (
    doc_id INTEGER PRIMARY KEY,
    path VARCHAR NOT NULL UNIQUE,
    format VARCHAR NOT NULL,
    title VARCHAR,
    sha256 VARCHAR,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    line_count INTEGER NOT NULL,
    encoding VARCHAR,
    status VARCHAR NOT NULL,
    error_count INTEGER NOT NULL,
    skip_reason VARCHAR,
    indexer_version INTEGER NOT NULL,
    indexed_at TIMESTAMP NOT NULL
);
COMMENT ON TABLE doc_files IS 'One row per documentation file of the tree (GRAPHSVC_DOC_GLOBS: *.md, *.rst, *.txt), indexed or deliberately skipped';
COMMENT ON COLUMN doc_files.doc_id IS 'Owner key of the doc''s rows in doc_headings, doc_mentions and doc_problems';
COMMENT ON COLUMN doc_files.path IS 'POSIX path relative to the indexed tree';
COMMENT ON COLUMN doc_files.format IS 'markdown (markdown-it-py) | rst | text (line-based reader)';
COMMENT ON COLUMN doc_files.title IS 'Text of the first top-level heading (else the highest heading); NULL without headings';
COMMENT ON COLUMN doc_files.sha256 IS 'sha256 of the file bytes, hex; NULL when the file could not be read';
COMMENT ON COLUMN doc_files.size IS 'File size in bytes';
COMMENT ON COLUMN doc_files.mtime_ns IS 'Modification time in nanoseconds since the epoch';
COMMENT ON COLUMN doc_files.line_count IS 'Number of lines';
COMMENT ON COLUMN doc_files.encoding IS 'utf-8, utf-8-sig (BOM) or utf-16 (BOM)';
COMMENT ON COLUMN doc_files.status IS 'ok | partial (undecodable bytes, or mentions past the cap; see doc_problems) | failed (unreadable, reader bug) | skipped (binary, too large, not a regular file: see skip_reason)';
COMMENT ON COLUMN doc_files.error_count IS 'Number of rows in doc_problems';
COMMENT ON COLUMN doc_files.skip_reason IS 'Why the doc was skipped or failed; NULL when indexed';
COMMENT ON COLUMN doc_files.indexer_version IS 'Version of the doc reader that wrote the rows; a newer graphsvc re-reads older rows';
COMMENT ON COLUMN doc_files.indexed_at IS 'When the rows were last written';

CREATE TABLE doc_headings (
    doc_id INTEGER NOT NULL,
    level INTEGER NOT NULL,
    text VARCHAR NOT NULL,
    line INTEGER NOT NULL
);
COMMENT ON TABLE doc_headings IS 'Section headings of documentation files';
COMMENT ON COLUMN doc_headings.doc_id IS 'Owning doc (doc_files.doc_id)';
COMMENT ON COLUMN doc_headings.level IS '1 = top level (Markdown #, the first reST underline style)';
COMMENT ON COLUMN doc_headings.text IS 'Heading text, whitespace collapsed';
COMMENT ON COLUMN doc_headings.line IS '1-based line of the heading';

CREATE TABLE doc_mentions (
    doc_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    context VARCHAR NOT NULL,
    text VARCHAR NOT NULL,
    target VARCHAR NOT NULL,
    alt_target VARCHAR,
    bare BOOLEAN NOT NULL,
    heading VARCHAR
);
COMMENT ON TABLE doc_mentions IS 'What documentation files say about code: names, paths, commands and links';
COMMENT ON COLUMN doc_mentions.doc_id IS 'Owning doc (doc_files.doc_id)';
COMMENT ON COLUMN doc_mentions.line IS '1-based line of the mention';
COMMENT ON COLUMN doc_mentions.col IS '1-based character column of the mention in its line (0: not found verbatim)';
COMMENT ON COLUMN doc_mentions.kind IS 'name (dotted name or identifier) | path (file or folder) | command (shell command line) | link (relative link to a file)';
COMMENT ON COLUMN doc_mentions.context IS 'code_span | code_block | role (reST :func: etc.) | directive (reST automodule, include) | link | text (a path in prose)';
COMMENT ON COLUMN doc_mentions.text IS 'The mention as written (at most 200 characters)';
COMMENT ON COLUMN doc_mentions.target IS 'name: dotted name without () ; path and link: normalised path relative to the tree; command: program and first word (make test)';
COMMENT ON COLUMN doc_mentions.alt_target IS 'path: the other reading of a path (relative to the doc''s folder vs the tree root); NULL otherwise';
COMMENT ON COLUMN doc_mentions.bare IS 'name: a single identifier (no dot), never stale by its shape alone';
COMMENT ON COLUMN doc_mentions.heading IS 'Text of the enclosing section''s heading';

CREATE TABLE doc_problems (
    doc_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    message VARCHAR NOT NULL
);
COMMENT ON TABLE doc_problems IS 'What could not be read in a documentation file (first 50 a doc)';
COMMENT ON COLUMN doc_problems.doc_id IS 'Owning doc (doc_files.doc_id)';
COMMENT ON COLUMN doc_problems.line IS '1-based line';
COMMENT ON COLUMN doc_problems.col IS '1-based byte column';
COMMENT ON COLUMN doc_problems.kind IS 'encoding (invalid UTF-8) | read (unreadable, reader bug) | missing (mentions past the cap dropped)';
COMMENT ON COLUMN doc_problems.message IS 'What happened';

CREATE TABLE file_history (
    path VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL
);
COMMENT ON TABLE file_history IS 'Content versions of every indexed file (Python and docs): a row when a file''s sha256 is first written; the last 10 per path are kept, and only for paths that exist';
COMMENT ON COLUMN file_history.path IS 'POSIX path relative to the tree';
COMMENT ON COLUMN file_history.kind IS 'python | doc';
COMMENT ON COLUMN file_history.sha256 IS 'sha256 of the bytes of this version';
COMMENT ON COLUMN file_history.first_seen IS 'When graphsvc first indexed this version (UTC)';

CREATE TABLE doc_baselines (
    path VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    target VARCHAR NOT NULL,
    entity VARCHAR,
    entity_kind VARCHAR,
    entity_path VARCHAR,
    fingerprint VARCHAR,
    recorded_at TIMESTAMP NOT NULL
);
COMMENT ON TABLE doc_baselines IS 'What the mentions of each doc version resolved to when that version was first indexed (one row per resolved mention, plus one row with kind ''version'' per recorded version); kept while the doc has that sha256';
COMMENT ON COLUMN doc_baselines.path IS 'The doc (doc_files.path)';
COMMENT ON COLUMN doc_baselines.sha256 IS 'The doc version (doc_files.sha256) the rows belong to';
COMMENT ON COLUMN doc_baselines.line IS 'Line of the mention (doc_mentions.line; 0 for the version row)';
COMMENT ON COLUMN doc_baselines.kind IS 'Mention kind (doc_mentions.kind), or version';
COMMENT ON COLUMN doc_baselines.target IS 'Mention target (doc_mentions.target)';
COMMENT ON COLUMN doc_baselines.entity IS 'What it resolved to: a qualified name, module or path';
COMMENT ON COLUMN doc_baselines.entity_kind IS 'module | class | function | method | ... (symbols.kind) | import (a re-export) | attribute | file | folder';
COMMENT ON COLUMN doc_baselines.entity_path IS 'File defining the entity (files.path or doc_files.path)';
COMMENT ON COLUMN doc_baselines.fingerprint IS 'For classes, functions and methods: hash of kind, line span, decorators, bases, docstring, async and the calls inside, as then; NULL otherwise';
COMMENT ON COLUMN doc_baselines.recorded_at IS 'When the baseline was recorded (UTC)';

-- Everything a dotted name in a doc can resolve to: modules, definitions, names a module
-- re-exports by a module-level from-import, and class attributes.
CREATE VIEW code_entities AS
SELECT name, 'module' AS kind, file_id, 1 AS line
FROM modules
UNION ALL
SELECT qualname, kind, file_id, line
FROM symbols
WHERE kind <> 'module'
UNION ALL
SELECT m.name || '.' || coalesce(i.alias, i.name), 'import', i.file_id, i.line
FROM imports AS i
JOIN modules AS m
    ON m.file_id = i.file_id
WHERE i.kind = 'from'
    AND i.name <> '*'
    AND NOT i.in_function
UNION ALL
SELECT class_qualname || '.' || name, 'attribute', file_id, line
FROM attributes;
COMMENT ON VIEW code_entities IS 'Every name of the tree a doc can mention: modules, symbols, module-level re-exports (from-imports) and class attributes';
COMMENT ON COLUMN code_entities.name IS 'Dotted name (pkg.mod, pkg.mod.Class.method, pkg.Reexported, pkg.mod.Class.attr)';
COMMENT ON COLUMN code_entities.kind IS 'module | symbols.kind | import (a re-export) | attribute';
COMMENT ON COLUMN code_entities.file_id IS 'Defining file (files.file_id)';
COMMENT ON COLUMN code_entities.line IS '1-based line of the definition (1 for a module)';

-- The resolution of every name, path and link mention (commands are not resolved).
CREATE VIEW doc_mention_status AS
WITH tops AS (
    SELECT DISTINCT split_part(name, '.', 1) AS top
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
        split_part(m.target, '.', 1) IN (SELECT top FROM tops) AS in_tree
    FROM doc_mentions AS m
    JOIN doc_files AS d
        ON d.doc_id = m.doc_id
    WHERE m.kind IN ('name', 'path', 'link')
),
name_hits AS (
    SELECT n.doc_id, n.line, n.kind, n.target, e.name AS entity, e.kind AS entity_kind, e.file_id
    FROM mention AS n
    JOIN code_entities AS e
        ON e.name = n.target
    WHERE n.kind = 'name'
    UNION ALL
    -- Class.method, a bare identifier: any definition whose qualified name ends so
    SELECT n.doc_id, n.line, n.kind, n.target, s.qualname, s.kind, s.file_id
    FROM mention AS n
    JOIN symbols AS s
        ON s.name = split_part(n.target, '.', -1)
    WHERE n.kind = 'name'
        AND NOT n.in_tree
        AND s.kind <> 'module'
        AND (n.bare OR ends_with(s.qualname, '.' || n.target))
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
            AND (NOT contains(n.target, '/') OR split_part(n.target, '/', 1) IN (SELECT path FROM known_dirs))
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
