-- name: duplicate_purposes
-- title: Classes and functions whose docstrings state the same purpose
-- description: Classes and module-level functions whose docstring summaries (first line) are
--   equal once normalised (lower case; punctuation, the articles a, an, the, this, that and
--   a final s of words of four letters or more dropped) and have at least min_words words. A subclass whose docstring repeats its base
--   class's (as written in its bases), copies in byte-identical files (duplicate_files reports
--   those), groups whose members all have the same token shape (duplicate_code reports
--   those), methods (overrides repeat their interface's docstring) and test files (unless
--   include_tests) are left out, and so are groups within one file (siblings such as
--   bisect_left and bisect_right share a summary and differ on purpose). A member is its
--   qualname, or path:qualname where several files define that qualname (two scripts named
--   tool.py outside any package).
-- param: $min_words int = 4 (shorter summaries are too generic to compare)
-- param: $include_tests bool = false (also compare test files)
-- file_inputs: SELECT s.file_id, s.qualname, s.name, s.kind, s.line, s.bases, s.docstring,
--   s.parent, m.name AS module, c.shape FROM symbols AS s JOIN modules AS m ON m.file_id = s.file_id
--   LEFT JOIN clones AS c ON c.file_id = s.file_id AND c.qualname = s.qualname
--   WHERE list_contains($files, s.file_id) AND s.docstring IS NOT NULL
--   AND (s.kind = 'class' OR (s.kind = 'function' AND s.parent = m.name))
-- global_inputs: SELECT sha256, list(path ORDER BY path) AS paths FROM files
--   WHERE sha256 IS NOT NULL GROUP BY sha256 HAVING count(*) > 1
-- file_guard: SELECT file_id, hash(qualname, name, kind, line, bases, docstring, parent) AS h
--   FROM symbols WHERE list_contains($files, file_id) AND docstring IS NOT NULL
--   AND kind IN ('class', 'function')
--   UNION ALL SELECT file_id, hash(name) FROM modules WHERE list_contains($files, file_id)
--   UNION ALL SELECT c.file_id, hash(c.qualname, c.shape) FROM clones AS c
--   SEMI JOIN (SELECT file_id, qualname FROM symbols WHERE list_contains($files, file_id)
--   AND docstring IS NOT NULL) AS s ON s.file_id = c.file_id AND s.qualname = c.qualname
--   WHERE list_contains($files, c.file_id)
-- kind: duplicate_responsibility
-- id: duplicate_responsibility_purpose_{members:hash12}
-- hypothesis: DUPLICATE_PURPOSE_{first}
-- question: Do {members} do the same job, since their docstrings all say "{purpose}"?
-- evidence: members, purpose, found_by
-- locations: locations
-- metadata: size
-- severity: low
-- confidence: 0.5
-- action: investigate
-- autonomy: 1
-- value: 0.4
-- cost: 0.5
-- capability_key: architecture.duplicates
WITH copies AS (
    SELECT sha256, min(path) AS first_path
    FROM files
    WHERE sha256 IS NOT NULL
    GROUP BY sha256
),
plain AS (
    SELECT
        s.file_id,
        s.qualname,
        s.name,
        s.kind,
        s.line,
        s.bases,
        f.path,
        lower(s.docstring) AS low
    FROM symbols AS s
    JOIN files AS f
        ON f.file_id = s.file_id
    JOIN modules AS m
        ON m.file_id = s.file_id
    JOIN copies AS k
        ON k.sha256 = f.sha256
    WHERE s.docstring IS NOT NULL
        AND (s.kind = 'class' OR (s.kind = 'function' AND s.parent = m.name))
        AND f.path = k.first_path
        AND ($include_tests OR NOT regexp_matches(
            f.path, '(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)'
        ))
),
-- the normalisation below (four regular expressions) was most of the query's time: only
-- summaries that may share a purpose with another are normalised. Normalising only drops
-- characters other than a-z and 0-9, the letters of the articles and a final s, so the
-- counts of the other letters are equal wherever purposes are; and every summary of a
-- qualname that several files define, for the member names (shared below)
coarse AS MATERIALIZED (
    SELECT
        *,
        hash(
            strlen(low) - strlen(replace(low, 'o', '')),
            strlen(low) - strlen(replace(low, 'l', '')),
            strlen(low) - strlen(replace(low, 'c', '')),
            strlen(low) - strlen(replace(low, 'd', '')),
            strlen(low) - strlen(replace(low, 'r', '')),
            strlen(low) - strlen(replace(low, 'u', '')),
            strlen(low) - strlen(replace(low, 'p', '')),
            strlen(low) - strlen(replace(low, 'm', '')),
            strlen(low) - strlen(replace(low, 'f', '')),
            strlen(low) - strlen(replace(low, 'g', ''))
        ) AS letters
    FROM plain
),
maybe AS (
    SELECT *
    FROM coarse
    WHERE letters IN (SELECT letters FROM coarse GROUP BY letters HAVING count(*) > 1)
        OR qualname IN (
            SELECT qualname FROM coarse GROUP BY qualname HAVING min(file_id) <> max(file_id)
        )
),
docs AS MATERIALIZED (
    SELECT
        file_id,
        qualname,
        name,
        kind,
        line,
        bases,
        path,
        -- non-alphanumeric runs become one space, and neither dropping an article (the
        -- spaces around it become one) nor a final s leaves two spaces in a row
        trim(regexp_replace(
            regexp_replace(
                regexp_replace(low, '[^a-z0-9]+', ' ', 'g'),
                '(^| )(a|an|the|this|that)( |$)', ' ', 'g'
            ),
            '([a-z]{3})s( |$)', '\1\2', 'g'
        )) AS purpose
    FROM maybe
),
worded AS (
    SELECT * FROM docs WHERE len(string_split(purpose, ' ')) >= $min_words
),
-- qualnames that several files define (two scripts both named tool.py; a file has one path)
shared AS (
    SELECT qualname FROM worded GROUP BY qualname HAVING min(file_id) <> max(file_id)
),
purposes AS (
    SELECT
        w.*,
        -- a member is its qualname, with its path when several files define that qualname:
        -- a finding's id must name one group only
        CASE WHEN h.qualname IS NOT NULL
            THEN w.path || ':' || w.qualname ELSE w.qualname END AS member
    FROM worded AS w
    LEFT JOIN shared AS h
        ON h.qualname = w.qualname
),
-- a subclass that repeats the docstring of a base in the same purpose group
subclasses AS (
    SELECT sub.file_id, sub.qualname
    FROM purposes AS sub
    JOIN purposes AS base
        ON base.purpose = sub.purpose
        AND base.qualname <> sub.qualname
    WHERE list_contains(
        list_transform(sub.bases, lambda b: regexp_replace(b, '^.*\.', '')), base.name
    )
),
groups AS (
    SELECT
        p.purpose,
        list_sort(list_distinct(list(p.member))) AS members,
        list_sort(list_distinct(list({'path': p.path, 'line': p.line, 'symbol': p.qualname})))
            AS locations,
        count(c.shape) > 0 AND min(c.shape) = max(c.shape) AS one_shape,
        count(c.shape) AS shaped
    FROM purposes AS p
    LEFT JOIN subclasses AS s
        ON s.file_id = p.file_id
        AND s.qualname = p.qualname
    LEFT JOIN clones AS c
        ON c.file_id = p.file_id
        AND c.qualname = p.qualname
    WHERE s.qualname IS NULL
    GROUP BY p.purpose
    -- siblings of one module documented with one sentence (bisect_left and bisect_right) are
    -- variants, not duplicates: a group needs two files
    HAVING min(p.member) <> max(p.member)
        AND min(p.path) <> max(p.path)
)
SELECT
    members,
    members[1] AS first,
    len(members) AS size,
    purpose,
    'same normalised docstring summary' AS found_by,
    locations
FROM groups
WHERE NOT (one_shape AND shaped = len(members))
ORDER BY first
