"""Which saved query the incremental ``dead_code`` stands for, and its small statements.

- :data:`SPEC_SHA256`: the digest of the text of ``queries/dead_code.sql`` that deadsql.py,
  deadfacts.py and deadparts.py were written against. When the saved query changes, the
  refresh runs it as SQL instead (:func:`follows`), and tests/test_dead_incremental.py fails
  until the engine follows it again.
- :data:`STATE_SQL`, :data:`MODE_SQL`: what the engine reads before each batch.
- :data:`CHECK_SQL`: the well-formedness check in SQL (the engine checks it from its own
  state, deadgraph.py; tests/test_dead_incremental.py compares the two).
"""

from __future__ import annotations

import hashlib

from graphsvc.queries import SavedQuery

# sha256 of the statement of queries/dead_code.sql (SavedQuery.sql) the engine follows
SPEC_SHA256 = "a25afd10ab40bab36ba0a70cbef4ed54fdab034ab41040599c624af02c864b93"

# Whether the rows of the files of $files (as they are now) keep every lookup of PARTS_SQL
# inside one file: no qualname defined in two files, no parent defined in another
# file unless it is a module (a package), no link scope or decorated name defined in another
# file, no decorator without its decorated name.
CHECK_SQL = """
WITH
fl AS (
    SELECT file_id FROM files
    WHERE $files IS NULL OR file_id IN (SELECT unnest($files::INTEGER[]))
),
fs AS MATERIALIZED (
    SELECT file_id, qualname, parent, kind FROM symbols WHERE file_id IN (SELECT file_id FROM fl)
)
SELECT
    (SELECT count(*) FROM symbols AS b
        JOIN fs AS a ON a.qualname = b.qualname AND a.file_id <> b.file_id)
    + (SELECT count(*) FROM fs AS s
        JOIN symbols AS p ON p.qualname = s.parent AND p.file_id <> s.file_id
        WHERE p.kind <> 'module')
    + (SELECT count(*) FROM symbols AS s
        JOIN fs AS p ON p.qualname = s.parent AND p.file_id <> s.file_id
        WHERE p.kind <> 'module')
    + (SELECT count(*) FROM links AS l
        JOIN symbols AS s ON s.qualname = l.scope AND s.file_id <> l.file_id
        WHERE l.file_id IN (SELECT file_id FROM fl))
    + (SELECT count(*) FROM links AS l
        JOIN fs AS s ON s.qualname = l.scope AND s.file_id <> l.file_id)
    + (SELECT count(*) FROM "references" AS r
        JOIN symbols AS s ON s.qualname = r.context AND s.file_id <> r.file_id
        WHERE r.kind = 'decorator' AND r.file_id IN (SELECT file_id FROM fl))
    + (SELECT count(*) FROM "references" AS r
        JOIN fs AS s ON s.qualname = r.context AND s.file_id <> r.file_id
        WHERE r.kind = 'decorator')
    + (SELECT count(*) FROM "references" WHERE kind = 'decorator' AND context IS NULL)
"""

# the analysis mode the saved query binds when $mode is NULL
MODE_SQL = (
    "SELECT coalesce((SELECT max(pattern) FROM entry_rules WHERE kind = 'mode'), 'application')"
)

# What the engine reads first, in one statement: the digest of entry_rules (rules, packaging
# targets, test files, mode: r), the newest batch (b), the files (f), and the channel consumers,
# which are seeds (c: channel_sites changes with the files' calls and the channel rules)
STATE_SQL = """
SELECT 'r' AS part, count(*) AS n, sum(hash(t)) AS digest, NULL::UBIGINT AS node
FROM entry_rules AS t
UNION ALL BY NAME
SELECT 'b' AS part, coalesce(max(batch_id), 0) AS n FROM batches
UNION ALL BY NAME
SELECT 'f' AS part, file_id AS n FROM files
UNION ALL BY NAME
SELECT 'c' AS part, hash(symbol) AS node
FROM (SELECT DISTINCT symbol FROM channel_sites WHERE role = 'consumer')
"""


def follows(query: SavedQuery) -> bool:
    """Whether ``query`` is the saved ``dead_code`` query this engine computes (its statement
    unchanged and its ``mode`` defaulting to the configured one); other queries (a user's
    edited copy) run as SQL."""
    mode = next((p for p in query.params if p.name == "mode"), None)
    return (
        query.finder == "dead_code"
        and mode is not None
        and mode.default is None
        and hashlib.sha256(query.sql.encode()).hexdigest() == SPEC_SHA256
    )


def min_confidence(query: SavedQuery) -> float:
    """The default ``min_confidence`` of ``query`` (what the refresh binds)."""
    param = next((p for p in query.params if p.name == "min_confidence"), None)
    value = param.default if param is not None else None
    return float(value) if isinstance(value, int | float) else 0.0
