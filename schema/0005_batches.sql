-- graphsvc schema 0005: one row per committed update of the graph (an `index` run, a watcher
-- batch, a reconcile). batch_id is the `as_of` every answer of the service carries.

CREATE TABLE batches (
    batch_id BIGINT PRIMARY KEY,
    kind VARCHAR NOT NULL,
    reason VARCHAR,
    started_at TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at TIMESTAMP WITH TIME ZONE NOT NULL,
    ms DOUBLE NOT NULL,
    paths INTEGER NOT NULL,
    parsed INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    failed INTEGER NOT NULL
);
COMMENT ON TABLE batches IS 'Committed updates of the graph, newest last; max(batch_id) is the as_of of every answer';
COMMENT ON COLUMN batches.batch_id IS 'Sequence number, increasing by one per committed update';
COMMENT ON COLUMN batches.kind IS 'index (graphsvc index) | watch (files the watcher saw change) | reconcile (stat walk of the whole tree: start-up, queue overflow, dead watcher, pause, ignore rules or package markers changed, sync fallback)';
COMMENT ON COLUMN batches.reason IS 'Why a reconcile ran (null for other kinds)';
COMMENT ON COLUMN batches.started_at IS 'When the update started';
COMMENT ON COLUMN batches.finished_at IS 'When its facts and links were committed';
COMMENT ON COLUMN batches.ms IS 'Wall time of the update in milliseconds';
COMMENT ON COLUMN batches.paths IS 'Files and directories the update looked at (for a watch batch: the dirty paths; otherwise files seen by the walk)';
COMMENT ON COLUMN batches.parsed IS 'Files read and parsed';
COMMENT ON COLUMN batches.unchanged IS 'Files found unchanged (same size and mtime, or same hash)';
COMMENT ON COLUMN batches.removed IS 'Files whose rows were removed (deleted, moved away, now ignored)';
COMMENT ON COLUMN batches.failed IS 'Files recorded as failed';
