-- graphsvc schema 0004: value flow expressions as marshal (format version 0) bytes instead of
-- JSON text: encoding and decoding them was most of the cost of value flow outside the solver.
-- The rows are rebuilt by re-indexing (INDEXER_VERSION 3), so the old table is dropped.

DROP TABLE flows;
CREATE TABLE flows (
    file_id INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    target VARCHAR NOT NULL,
    place BLOB,
    value BLOB NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL
);
COMMENT ON TABLE flows IS 'Where values may go: assignments, parameters, returns, yields, call sites and arguments, as expressions the linker evaluates (marshal format 0 of the lists described in graphsvc/extract/flow.py)';
COMMENT ON COLUMN flows.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN flows.scope IS 'qualname of the scope of the statement (the function, for param/return/yield)';
COMMENT ON COLUMN flows.kind IS 'assign | param | return | yield | call | arg';
COMMENT ON COLUMN flows.target IS 'param: the parameter name; call: line:col:callee of the call; arg: line:col:key:callee with key a position, =keyword, * or **; assign, return, yield: empty';
COMMENT ON COLUMN flows.place IS 'assign: the receiving expression (marshal); NULL for the other kinds';
COMMENT ON COLUMN flows.value IS 'The expression (marshal; param: [position, kind, default])';
COMMENT ON COLUMN flows.line IS '1-based line';
COMMENT ON COLUMN flows.col IS '1-based byte column';
