-- Per-batch bookkeeping made cheap. The channel pass's input fingerprint is kept per file:
-- the pass skips a batch whose inputs are those of its last run, and summing a whole-tree scan
-- of channel facts, links and re-exports for that took ~50 ms of every one-file batch. The
-- per-file digests are rewritten with the file's links (same transaction), so the fingerprint is
-- a sum over this small table.

CREATE TABLE channel_inputs (
    file_id INTEGER NOT NULL,
    digest HUGEINT NOT NULL,
    facts BIGINT NOT NULL
);
COMMENT ON TABLE channel_inputs IS 'Per file, a digest of what the channel pass reads from it: its channel facts (with its path), the linked callees of their calls, and its from-imports with their link targets; written with the file''s links, so it is owned and removed like them';
COMMENT ON COLUMN channel_inputs.file_id IS 'File (files.file_id); the row is owned by it';
COMMENT ON COLUMN channel_inputs.digest IS 'Sum of the row hashes of the three inputs (order-independent; the file id is not hashed, so a cold index gives the same digest)';
COMMENT ON COLUMN channel_inputs.facts IS 'Number of the file''s channel_facts rows';

-- Databases indexed before this migration get their digests from one full re-link, which the
-- missing linker version asks for.
DELETE FROM link_state WHERE key = 'linker_version';

-- entry_rules gets the same treatment: a cheap digest of its inputs (rule files, packaging
-- targets, configuration names, the set of stored paths, settings) is checked first, so an
-- edit of a Python file no longer matches every path against the test globs.
COMMENT ON COLUMN entry_state.key IS 'inputs (the fingerprint the rows were written from) | precheck (a digest of the inputs as last checked: stored paths as count and hash sum, not the test files themselves)';
