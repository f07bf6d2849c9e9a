-- graphsvc schema 0006: findings (what the saved finding queries report, keyed by a
-- deterministic id) and their change feed. The findings refresh after every committed batch
-- diffs the queries' rows against `findings` and appends one `finding_events` row per new,
-- changed, fixed or reopened finding; finding_events.seq is the feed's cursor.

CREATE TABLE findings (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    query VARCHAR NOT NULL,
    hypothesis VARCHAR NOT NULL,
    question VARCHAR NOT NULL,
    evidence VARCHAR[] NOT NULL,
    evidence_hash VARCHAR NOT NULL,
    locations STRUCT(path VARCHAR, line INTEGER, symbol VARCHAR)[] NOT NULL,
    severity VARCHAR NOT NULL,
    confidence DOUBLE NOT NULL,
    action_class VARCHAR NOT NULL,
    autonomy INTEGER NOT NULL,
    value_estimate DOUBLE NOT NULL,
    cost DOUBLE NOT NULL,
    capability_key VARCHAR NOT NULL,
    metadata VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    suppressed_by VARCHAR,
    first_seen STRUCT(seq BIGINT, "at" TIMESTAMP WITH TIME ZONE) NOT NULL,
    last_changed STRUCT(seq BIGINT, "at" TIMESTAMP WITH TIME ZONE) NOT NULL,
    fixed_at STRUCT(seq BIGINT, "at" TIMESTAMP WITH TIME ZONE),
    as_of BIGINT NOT NULL
);
COMMENT ON TABLE findings IS 'One row per finding ever reported by a saved finding query (queries/*.sql with a kind), open, suppressed or fixed; the finding contract of DESIGN section 5';
COMMENT ON COLUMN findings.id IS 'Deterministic id built from the analysed entity by the query''s id template (missing_wiring_<name>_<module>, import_cycle_<hash12>); a changed finding keeps its id';
COMMENT ON COLUMN findings.kind IS 'Finding kind (the query''s kind: missing_wiring, import_cycle, ...)';
COMMENT ON COLUMN findings.query IS 'Name of the saved query that reports it';
COMMENT ON COLUMN findings.hypothesis IS 'UPPER_SNAKE statement with a stable prefix per kind (MISSING_WIRING_, IMPORT_CYCLE_)';
COMMENT ON COLUMN findings.question IS 'One plain sentence a human or agent can act on';
COMMENT ON COLUMN findings.evidence IS 'key: value lines (the query''s evidence columns)';
COMMENT ON COLUMN findings.evidence_hash IS 'First 16 hex digits of sha256 of the sorted evidence lines joined by |; changes when the evidence changes';
COMMENT ON COLUMN findings.locations IS 'Where the finding is in the code: path (relative to the tree), 1-based line, symbol (qualname of the scope)';
COMMENT ON COLUMN findings.severity IS 'critical | high | medium | low';
COMMENT ON COLUMN findings.confidence IS 'How sure the query is, 0..1';
COMMENT ON COLUMN findings.action_class IS 'investigate | propose_fix | find_substitute | experiment | explore | explain_and_soft_fallback';
COMMENT ON COLUMN findings.autonomy IS 'How far an agent may act on its own, 1..3';
COMMENT ON COLUMN findings.value_estimate IS 'Estimated value of resolving it, 0..1';
COMMENT ON COLUMN findings.cost IS 'Estimated cost of resolving it, 0..1';
COMMENT ON COLUMN findings.capability_key IS 'Capability the finding is about (groups findings for the consumer)';
COMMENT ON COLUMN findings.metadata IS 'JSON object of the query''s metadata columns';
COMMENT ON COLUMN findings.status IS 'open | suppressed (reported, but ignored in code or config) | fixed (no longer reported)';
COMMENT ON COLUMN findings.suppressed_by IS 'What suppresses it: code: path:line of a # graphsvc: ignore[kind] comment, or config: the GRAPHSVC_SUPPRESS entry; NULL otherwise';
COMMENT ON COLUMN findings.first_seen IS 'Event seq (finding_events.seq) and time of the new event';
COMMENT ON COLUMN findings.last_changed IS 'Event seq and time of the latest event (new, changed, fixed or reopened)';
COMMENT ON COLUMN findings.fixed_at IS 'Event seq and time of the fixed event; NULL while open or suppressed';
COMMENT ON COLUMN findings.as_of IS 'Batch (batches.batch_id) of the refresh that last wrote the row';

CREATE TABLE finding_events (
    seq BIGINT PRIMARY KEY,
    finding_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    event VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    evidence_hash VARCHAR NOT NULL,
    "at" TIMESTAMP WITH TIME ZONE NOT NULL,
    as_of BIGINT NOT NULL
);
COMMENT ON TABLE finding_events IS 'Append-only change feed of findings; seq is the cursor (GET /findings?since=seq)';
COMMENT ON COLUMN finding_events.seq IS 'Sequence number, increasing by one per event, across restarts';
COMMENT ON COLUMN finding_events.finding_id IS 'The finding (findings.id)';
COMMENT ON COLUMN finding_events.kind IS 'The finding''s kind';
COMMENT ON COLUMN finding_events.event IS 'new | changed (evidence_hash or status open/suppressed changed) | fixed | reopened (reported again after fixed)';
COMMENT ON COLUMN finding_events.status IS 'The finding''s status after the event (open, suppressed, fixed)';
COMMENT ON COLUMN finding_events.evidence_hash IS 'The finding''s evidence_hash after the event';
COMMENT ON COLUMN finding_events."at" IS 'When the refresh wrote the event';
COMMENT ON COLUMN finding_events.as_of IS 'Batch (batches.batch_id) whose refresh produced the event';
