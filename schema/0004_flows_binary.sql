-- graphsvc schema 0004: a file's value flow rows are one value (zlib of marshal), not a row
-- each with JSON expressions. The linker reads a file's flow at once; writing, reading and
-- decoding 240k small rows cost more than all the other fact tables of the stdlib together.
-- The rows are rebuilt by re-indexing (INDEXER_VERSION 3), so the old table is dropped.

DROP TABLE flows;
CREATE TABLE flows (
    file_id INTEGER NOT NULL,
    row_count INTEGER NOT NULL,
    data BLOB NOT NULL
);
COMMENT ON TABLE flows IS 'Where values may go, one row per file: its assignments, parameters, returns, yields, call sites and arguments, as expressions the linker evaluates (see graphsvc/extract/flow.py)';
COMMENT ON COLUMN flows.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN flows.row_count IS 'Number of flow rows in data';
COMMENT ON COLUMN flows.data IS 'zlib-compressed marshal (format 4) of a list of (scope, kind, target, place, value, line, col) in solve order; place and value are expressions, themselves marshal format 0 bytes';
