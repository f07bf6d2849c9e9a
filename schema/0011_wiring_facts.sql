-- graphsvc schema 0011: facts for the wiring queries (#8), each owned by the file it comes from.
-- attribute_writes: attributes set from outside their class (obj.a = v, Class.a = v,
-- module.a = v); the attributes table holds only self.x / cls.x / class-body assignments, and
-- the wiring queries need the others to tell "assigned nowhere" from "assigned by someone else".
-- name_strings: string literals that name code ("pkg.mod:Class"), how registries refer to it.

CREATE TABLE attribute_writes (
    file_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    receiver VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);
COMMENT ON TABLE attribute_writes IS 'Attribute assignments on anything but the method''s own self or cls: obj.a = v, Class.a = v, module.a = v, obj.a += v, tuple targets';
COMMENT ON COLUMN attribute_writes.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN attribute_writes.line IS '1-based line of the assignment target';
COMMENT ON COLUMN attribute_writes.col IS '1-based byte column of the assignment target';
COMMENT ON COLUMN attribute_writes.scope IS 'qualname of the function, class body or module holding the assignment';
COMMENT ON COLUMN attribute_writes.receiver IS 'The object whose attribute is set, as written (obj, pkg.mod, self.child)';
COMMENT ON COLUMN attribute_writes.name IS 'The attribute name';
COMMENT ON COLUMN attribute_writes.value IS 'The assigned expression as written; empty for augmented assignments and tuple targets';

CREATE TABLE name_strings (
    file_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);
COMMENT ON TABLE name_strings IS 'String literals shaped like a dotted path to code ("pkg.mod:Class", "pkg.mod.func") or a CapWords class name ("Topic") in a container, an argument or an assignment: how registries, settings and plugin tables name what they import';
COMMENT ON COLUMN name_strings.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN name_strings.line IS '1-based line of the literal';
COMMENT ON COLUMN name_strings.col IS '1-based byte column of the literal';
COMMENT ON COLUMN name_strings.scope IS 'qualname of the scope holding the literal';
COMMENT ON COLUMN name_strings.value IS 'The string''s value';
