-- name: missing_programs
-- title: External programs the code runs that are not on PATH
-- description: Programs started through subprocess (run, call, check_call, check_output,
--   Popen, getoutput, getstatusoutput), os.system, os.popen, os.exec*/spawn*, shutil.which or
--   asyncio.create_subprocess_exec/_shell, named by a string literal first argument (the first
--   word of a shell command line, after NAME=value assignments), that the service cannot find
--   on its PATH (shell builtins such as cd or echo count as found). A command given as a list
--   is not recorded by the extractor yet and is not checked. The check runs against the
--   environment of the process that refreshes the findings (the service, or graphsvc index).
-- finder: not_on_path
-- kind: missing_capability
-- id: capability.program.{program:hash12}
-- hypothesis: MISSING_CAPABILITY_PROGRAM_{program}
-- question: The code runs {program} (in {run_in}) but it is not on this machine's PATH: install it, or find a substitute?
-- evidence: type, category, program, run_in, reason
-- locations: locations
-- severity: medium
-- confidence: 0.7
-- action: find_substitute
-- autonomy: 2
-- value: 0.5
-- cost: 0.3
-- capability_key: capability.program.{program}
WITH runners AS (
    SELECT unnest([
        'subprocess.run', 'subprocess.call', 'subprocess.check_call', 'subprocess.check_output',
        'subprocess.Popen', 'subprocess.getoutput', 'subprocess.getstatusoutput', 'os.system',
        'os.popen', 'os.execv', 'os.execve', 'os.execvp', 'os.execvpe', 'os.execl',
        'os.execle', 'os.execlp', 'os.execlpe', 'os.spawnlp', 'os.spawnvp', 'shutil.which',
        'asyncio.create_subprocess_exec', 'asyncio.create_subprocess_shell'
    ]) AS target
),
sites AS (
    SELECT
        f.path,
        c.line,
        c.col,
        c.scope,
        regexp_extract(c.first_arg, '^\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*([^\s;|&<>()]+)', 1)
            AS program
    FROM calls AS c
    JOIN links AS l
        ON l.file_id = c.file_id
        AND l.line = c.line
        AND l.col = c.col
        AND l.site = 'call'
    JOIN files AS f
        ON f.file_id = c.file_id
    WHERE l.target IN (SELECT target FROM runners)
        AND c.first_arg IS NOT NULL
)
SELECT
    program,
    list(DISTINCT path ORDER BY path) AS run_in,
    list({'path': path, 'line': line, 'symbol': scope} ORDER BY path, line, col) AS locations
FROM sites
WHERE program <> ''
GROUP BY program
ORDER BY program
