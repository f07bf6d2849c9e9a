-- name: missing_env_vars
-- title: Environment variables read without a default and not set
-- description: os.getenv(NAME) and os.environ.get(NAME) with a string literal name and no
--   default, where NAME is not set in the environment of the process that refreshes the
--   findings (the service, or graphsvc index): the code gets None there. Reported as low
--   severity: the variable may be set where the code really runs. os.environ[NAME] is not
--   recorded by the extractor yet and is not checked.
-- finder: unset_env
-- kind: missing_capability
-- id: capability.env.{variable:hash12}
-- hypothesis: MISSING_CAPABILITY_ENV_{variable}
-- question: The code reads the environment variable {variable} without a default (in {read_in}) and it is not set here: should it be set, or given a default?
-- evidence: type, category, variable, read_in, reason
-- locations: locations
-- severity: low
-- confidence: 0.6
-- action: find_substitute
-- autonomy: 1
-- value: 0.3
-- cost: 0.1
-- capability_key: capability.env.{variable}
WITH sites AS (
    SELECT
        f.path,
        c.line,
        c.col,
        c.scope,
        c.first_arg AS variable
    FROM calls AS c
    JOIN links AS l
        ON l.file_id = c.file_id
        AND l.line = c.line
        AND l.col = c.col
        AND l.site = 'call'
    JOIN files AS f
        ON f.file_id = c.file_id
    WHERE l.target IN ('os.getenv', 'os.environ.get')
        AND c.arg_count = 1
        AND len(c.keywords) = 0
        AND c.first_arg IS NOT NULL
)
SELECT
    variable,
    list(DISTINCT path ORDER BY path) AS read_in,
    list({'path': path, 'line': line, 'symbol': scope} ORDER BY path, line, col) AS locations
FROM sites
GROUP BY variable
ORDER BY variable
