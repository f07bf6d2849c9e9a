-- graphsvc schema 0002: cross-file links. A link row is derived from one file's site (a call, a
-- reference or an import) plus the modules its resolution consulted (link_deps). It is owned by
-- the site's file and recomputed when that file or any module it consulted changes, so a change
-- in one file never rewrites another file's fact rows.

CREATE TABLE links (
    file_id INTEGER NOT NULL,
    site VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    expression VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    target VARCHAR,
    target_kind VARCHAR,
    target_module VARCHAR,
    named VARCHAR,
    status VARCHAR NOT NULL,
    strategy VARCHAR NOT NULL,
    reason VARCHAR,
    origin VARCHAR,
    distribution VARCHAR
);
COMMENT ON TABLE links IS 'Cross-file resolution of every call, reference and import: one row per (site, target); an unresolved site has one row with target NULL and a reason';
COMMENT ON COLUMN links.file_id IS 'File of the site (files.file_id); the row is owned by it';
COMMENT ON COLUMN links.site IS 'call | reference | import';
COMMENT ON COLUMN links.line IS '1-based line of the site';
COMMENT ON COLUMN links.col IS '1-based byte column of the site';
COMMENT ON COLUMN links.scope IS 'qualname of the scope holding the site: the caller of a call';
COMMENT ON COLUMN links.expression IS 'The site as written: callee, referenced expression, or imported module (with the name for from-imports: mod:name)';
COMMENT ON COLUMN links.kind IS 'call; the reference kind (argument, container, decorator, ...); or the import kind (import, from, star, future)';
COMMENT ON COLUMN links.target IS 'What the site points at: qualname of a symbol or module of the tree, a dotted name outside it (os.path.join), <builtin>.name; NULL when unresolved';
COMMENT ON COLUMN links.target_kind IS 'Symbol kind of an internal target (function, method, class, module, variable, ...); external | builtin otherwise';
COMMENT ON COLUMN links.target_module IS 'Module that holds the target (the target itself for a module; the top-level dotted prefix that was imported for an outside target)';
COMMENT ON COLUMN links.named IS 'What the site names when the target is reached through it: the class whose constructor call runs target (an __init__)';
COMMENT ON COLUMN links.status IS 'calls and references: resolved | ambiguous | unresolved | external | builtin; imports: internal | stdlib | external | unresolved | ambiguous';
COMMENT ON COLUMN links.strategy IS 'How the target was found: lexical, import, self, cls, super, instance, self_attr, builtin, plus +mro / +constructor / +reexport / +star steps';
COMMENT ON COLUMN links.reason IS 'Why a site is unresolved or ambiguous (always set for those), or a note (a module shadowing the standard library)';
COMMENT ON COLUMN links.origin IS 'Where an outside target lives: stdlib | external | builtin; NULL for targets in the tree';
COMMENT ON COLUMN links.distribution IS 'Installed distribution providing an external top-level package (importlib.metadata), if known';

CREATE TABLE link_deps (
    file_id INTEGER NOT NULL,
    module VARCHAR NOT NULL,
    name VARCHAR NOT NULL
);
COMMENT ON TABLE link_deps IS 'What the links of a file consulted: (module, top-level name) pairs, existing or not; a change to any of them re-links the file';
COMMENT ON COLUMN link_deps.file_id IS 'File whose links depend on the pair (files.file_id)';
COMMENT ON COLUMN link_deps.module IS 'Dotted module name looked up while resolving, including names that did not exist';
COMMENT ON COLUMN link_deps.name IS 'Top-level name of the module that was read; empty: the module''s existence (and its files); *: its star imports and __all__';

CREATE TABLE link_names (
    module VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    signature VARCHAR NOT NULL
);
COMMENT ON TABLE link_names IS 'Fingerprint of what each module binds to each top-level name, as of the last link: the linker diffs it to find the names a change really touched';
COMMENT ON COLUMN link_names.module IS 'Dotted module name';
COMMENT ON COLUMN link_names.name IS 'Top-level name ('''' = the module''s files, * = star imports and __all__)';
COMMENT ON COLUMN link_names.signature IS 'Hash of the definitions and imports under the name (line numbers left out)';

CREATE SEQUENCE link_pending_seq;
CREATE TABLE link_pending (
    seq BIGINT NOT NULL DEFAULT nextval('link_pending_seq'),
    module VARCHAR,
    file_id INTEGER
);
COMMENT ON TABLE link_pending IS 'Work left for the linker, written in the same transaction as the facts it follows: changed modules and files to re-link';
COMMENT ON COLUMN link_pending.seq IS 'Order of writing; the linker clears the entries up to the last one it read';
COMMENT ON COLUMN link_pending.module IS 'Module name whose definitions changed (added, replaced or removed); NULL for a file-only entry';
COMMENT ON COLUMN link_pending.file_id IS 'File whose own sites must be re-linked; NULL for a module-only entry';

CREATE TABLE link_state (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
COMMENT ON TABLE link_state IS 'Linker bookkeeping: the environment fingerprint the links were computed against';
COMMENT ON COLUMN link_state.key IS 'environment (fingerprint of the target interpreter), linker_version';
COMMENT ON COLUMN link_state.value IS 'Value for the key';

CREATE VIEW call_edges AS
SELECT l.scope AS caller, l.target AS callee, l.named, l.status, l.strategy, f.path, l.line, l.col,
       l.expression, l.site, l.kind, l.target_kind, l.origin
FROM links AS l JOIN files AS f USING (file_id)
WHERE (l.site = 'call' OR (l.site = 'reference' AND l.kind = 'decorator')) AND l.target IS NOT NULL;
COMMENT ON VIEW call_edges IS 'Caller -> callee edges of every call (and decorator application, which calls the decorator) whose target is known: status resolved, ambiguous, external or builtin';

CREATE VIEW import_edges AS
SELECT m.name AS importer, l.target_module AS imported_module, l.target AS imported,
       l.status, l.strategy, l.reason, l.distribution, f.path, l.line, l.col, l.kind,
       l.expression, l.scope
FROM links AS l JOIN files AS f USING (file_id) JOIN modules AS m USING (file_id)
WHERE l.site = 'import';
COMMENT ON VIEW import_edges IS 'Module -> imported module or name, with the import status (internal, stdlib, external, unresolved, ambiguous)';

CREATE VIEW symbol_refs AS
SELECT l.target AS symbol, l.site, l.kind, l.scope AS used_in, f.path, l.line, l.col,
       l.expression, l.status, l.strategy
FROM links AS l JOIN files AS f USING (file_id)
WHERE l.target IS NOT NULL;
COMMENT ON VIEW symbol_refs IS 'Every place a symbol or module is used: calls, references (callbacks, containers, decorators, getattr) and imports';

COMMENT ON COLUMN call_edges.caller IS 'qualname of the calling function, lambda, class body or module';
COMMENT ON COLUMN call_edges.callee IS 'Target of the call (links.target)';
COMMENT ON COLUMN call_edges.named IS 'The class a constructor call instantiates when callee is its __init__';
COMMENT ON COLUMN call_edges.status IS 'resolved | ambiguous (one row per candidate) | external | builtin';
COMMENT ON COLUMN call_edges.strategy IS 'How the target was found (links.strategy)';
COMMENT ON COLUMN call_edges.path IS 'File of the call site';
COMMENT ON COLUMN call_edges.line IS '1-based line of the call';
COMMENT ON COLUMN call_edges.col IS '1-based byte column of the call';
COMMENT ON COLUMN call_edges.expression IS 'Callee as written';
COMMENT ON COLUMN call_edges.site IS 'call, or reference for a decorator application';
COMMENT ON COLUMN call_edges.kind IS 'call | decorator';
COMMENT ON COLUMN call_edges.target_kind IS 'Kind of the callee (function, method, class, external, builtin, ...)';
COMMENT ON COLUMN call_edges.origin IS 'stdlib | external | builtin for outside callees';

COMMENT ON COLUMN import_edges.importer IS 'Module holding the import';
COMMENT ON COLUMN import_edges.imported_module IS 'Module the import leads to (for a from-import of a name: the module defining it)';
COMMENT ON COLUMN import_edges.imported IS 'Module or symbol the import binds, after re-exports; NULL when unresolved';
COMMENT ON COLUMN import_edges.status IS 'internal | stdlib | external | unresolved | ambiguous';
COMMENT ON COLUMN import_edges.strategy IS 'import, plus +reexport / +star when followed through other modules';
COMMENT ON COLUMN import_edges.reason IS 'Why unresolved or ambiguous, or a note';
COMMENT ON COLUMN import_edges.distribution IS 'Installed distribution of an external import';
COMMENT ON COLUMN import_edges.path IS 'File of the import';
COMMENT ON COLUMN import_edges.line IS '1-based line of the import';
COMMENT ON COLUMN import_edges.col IS '1-based byte column of the import';
COMMENT ON COLUMN import_edges.kind IS 'import | from | star | future';
COMMENT ON COLUMN import_edges.expression IS 'Module as written, with :name for from-imports';
COMMENT ON COLUMN import_edges.scope IS 'Scope holding the import (module or function)';

COMMENT ON COLUMN symbol_refs.symbol IS 'The symbol, module or outside name used';
COMMENT ON COLUMN symbol_refs.site IS 'call | reference | import';
COMMENT ON COLUMN symbol_refs.kind IS 'call, the reference kind, or the import kind';
COMMENT ON COLUMN symbol_refs.used_in IS 'qualname of the scope where it is used';
COMMENT ON COLUMN symbol_refs.path IS 'File of the use';
COMMENT ON COLUMN symbol_refs.line IS '1-based line of the use';
COMMENT ON COLUMN symbol_refs.col IS '1-based byte column of the use';
COMMENT ON COLUMN symbol_refs.expression IS 'The use as written';
COMMENT ON COLUMN symbol_refs.status IS 'Link status (resolved, ambiguous, external, builtin; internal, stdlib for imports)';
COMMENT ON COLUMN symbol_refs.strategy IS 'How the link was found';
