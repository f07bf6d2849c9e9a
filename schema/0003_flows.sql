-- graphsvc schema 0003: value flow facts, per file (see graphsvc/extract/flow.py for the
-- expression language of target and value). Read by the linker's flow solver.

CREATE TABLE flows (
    file_id INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    target VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL
);
COMMENT ON TABLE flows IS 'Where values may go: assignments, parameters, returns, yields, call sites and arguments, as JSON expressions the linker evaluates';
COMMENT ON COLUMN flows.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN flows.scope IS 'qualname of the scope of the statement (the function, for param/return/yield)';
COMMENT ON COLUMN flows.kind IS 'assign | param | return | yield | call | arg';
COMMENT ON COLUMN flows.target IS 'assign: the receiving expression (JSON); param: the parameter name; call: line:col:callee of the call; arg: line:col:key:callee with key a position, =keyword, * or **';
COMMENT ON COLUMN flows.value IS 'The expression (JSON; param: [position, kind, default])';
COMMENT ON COLUMN flows.line IS '1-based line';
COMMENT ON COLUMN flows.col IS '1-based byte column';
