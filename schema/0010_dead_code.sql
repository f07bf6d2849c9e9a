-- graphsvc schema 0010: dead code. Name mentions per file (the evidence of uses the linker
-- could not resolve: `x.m` on an unknown x, getattr(obj, "m"), registries that list
-- "pkg.mod.func" as a string, names built as "visit_" + kind), and the entry-point rules the
-- dead-code queries start from.

CREATE TABLE mentions (
    file_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    count INTEGER NOT NULL
);
COMMENT ON TABLE mentions IS 'How often each file reads a name or an attribute, or names code in a string literal (definitions, imported names, keyword argument names and assignment targets are not mentions); see graphsvc/extract/mentions.py';
COMMENT ON COLUMN mentions.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN mentions.name IS 'The identifier (name, attribute), the string''s text when it looks like a name or dotted path (string: f, pkg.mod.f, pkg.mod:f), or the literal head of a name built at run time (prefix: visit_ of "visit_" + x or f"visit_{x}")';
COMMENT ON COLUMN mentions.kind IS 'name (a bare identifier read) | attribute (the b of a.b, read) | string (a literal that looks like a name) | prefix (the literal start of a computed name) | store (a name something is put into: R[k] = v, R.append(v) as a statement; also counted as name)';
COMMENT ON COLUMN mentions.count IS 'Number of such mentions in the file';

CREATE TABLE entry_rules (
    source VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    framework VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    pattern VARCHAR NOT NULL,
    entry BOOLEAN NOT NULL,
    keep BOOLEAN NOT NULL,
    tests BOOLEAN NOT NULL,
    members VARCHAR[] NOT NULL,
    kinds VARCHAR[] NOT NULL,
    paths VARCHAR[] NOT NULL,
    description VARCHAR NOT NULL
);
COMMENT ON TABLE entry_rules IS 'Where dead-code reachability starts: the entry-point rules (graphsvc/entrypoints/*.toml and GRAPHSVC_ENTRYPOINT_RULES, one row per pattern), the targets of the tree''s packaging files, its test files and the analysis mode; rewritten after a batch when any of them changed';
COMMENT ON COLUMN entry_rules.source IS 'Rule file name, pyproject.toml / setup.cfg / setup.py, or settings';
COMMENT ON COLUMN entry_rules.rule IS 'Rule id (<file stem>:<kind>:<n>), or where a packaging target is declared';
COMMENT ON COLUMN entry_rules.framework IS 'What calls the code (fastapi, pytest, ...); empty when not said';
COMMENT ON COLUMN entry_rules.kind IS 'decorator | transparent | base | name | constructor (rules); script (a packaging target) | test_file | mode';
COMMENT ON COLUMN entry_rules.pattern IS 'Glob over the dotted name the kind looks at (decorator target, base class, symbol name, called constructor); the qualname of a script; the path of a test file; library or application for mode';
COMMENT ON COLUMN entry_rules.entry IS 'base: the deriving class itself is an entry point';
COMMENT ON COLUMN entry_rules.keep IS 'transparent: never report what it decorates (overloads, abstract methods)';
COMMENT ON COLUMN entry_rules.tests IS 'name: only in test files';
COMMENT ON COLUMN entry_rules.members IS 'base: globs of the method names the framework calls';
COMMENT ON COLUMN entry_rules.kinds IS 'name: the symbol kinds the rule applies to';
COMMENT ON COLUMN entry_rules.paths IS 'name: globs of the file paths the rule applies to (empty: all)';
COMMENT ON COLUMN entry_rules.description IS 'What the rule is for';

CREATE TABLE entry_state (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
COMMENT ON TABLE entry_state IS 'Entry-point bookkeeping: the fingerprint of the inputs entry_rules was written from';
COMMENT ON COLUMN entry_state.key IS 'inputs';
COMMENT ON COLUMN entry_state.value IS 'Fingerprint of the rule files, packaging targets, test files and mode';
