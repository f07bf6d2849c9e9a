-- graphsvc schema 0001: per-file facts. Every fact row is owned by one file (file_id) and is
-- replaced as a whole when that file changes. Never edit this file once released; add 0002_*.sql.

CREATE TABLE files (
    file_id INTEGER PRIMARY KEY,
    path VARCHAR NOT NULL UNIQUE,
    module VARCHAR,
    sha256 VARCHAR,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    line_count INTEGER NOT NULL,
    encoding VARCHAR,
    status VARCHAR NOT NULL,
    error_count INTEGER NOT NULL,
    skip_reason VARCHAR,
    indexer_version INTEGER NOT NULL,
    indexed_at TIMESTAMP NOT NULL
);
COMMENT ON TABLE files IS 'One row per Python file of the tree (indexed or deliberately skipped) and what happened to it';
COMMENT ON COLUMN files.file_id IS 'Owner key of every fact row of this file; stable while the path exists';
COMMENT ON COLUMN files.path IS 'POSIX path relative to the indexed tree';
COMMENT ON COLUMN files.module IS 'Dotted module name from the package layout (pkg/__init__.py is pkg)';
COMMENT ON COLUMN files.sha256 IS 'sha256 of the file bytes, hex; NULL when the file could not be read';
COMMENT ON COLUMN files.size IS 'File size in bytes';
COMMENT ON COLUMN files.mtime_ns IS 'Modification time in nanoseconds since the epoch';
COMMENT ON COLUMN files.line_count IS 'Number of lines';
COMMENT ON COLUMN files.encoding IS 'Source encoding from the BOM or PEP 263 cookie (utf-8 by default)';
COMMENT ON COLUMN files.status IS 'ok | partial (syntax or decoding errors; the rest was indexed) | failed (unreadable) | skipped (see skip_reason)';
COMMENT ON COLUMN files.error_count IS 'Number of syntax and decoding problems (parse_errors keeps the first 50)';
COMMENT ON COLUMN files.skip_reason IS 'Why the file was skipped or failed; NULL when indexed';
COMMENT ON COLUMN files.indexer_version IS 'Version of the extractors that wrote the facts; a newer graphsvc re-indexes older rows';
COMMENT ON COLUMN files.indexed_at IS 'When the facts were last written';

CREATE TABLE modules (
    file_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    is_package BOOLEAN NOT NULL,
    package_root VARCHAR NOT NULL,
    all_names VARCHAR[],
    all_dynamic BOOLEAN NOT NULL
);
COMMENT ON TABLE modules IS 'The module each Python file defines';
COMMENT ON COLUMN modules.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN modules.name IS 'Dotted module name, e.g. pkg.sub.mod';
COMMENT ON COLUMN modules.is_package IS 'True for __init__.py';
COMMENT ON COLUMN modules.package_root IS 'Directory the dotted name starts from, relative to the tree ('''' = tree root, ''src'', ...)';
COMMENT ON COLUMN modules.all_names IS 'String literals of __all__; NULL when the module has no __all__';
COMMENT ON COLUMN modules.all_dynamic IS 'True when __all__ is also built from non-literals (all_names is then a lower bound)';

CREATE TABLE symbols (
    file_id INTEGER NOT NULL,
    qualname VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    parent VARCHAR,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    end_col INTEGER NOT NULL,
    decorators VARCHAR[] NOT NULL,
    bases VARCHAR[] NOT NULL,
    docstring VARCHAR,
    in_all BOOLEAN,
    is_async BOOLEAN NOT NULL
);
COMMENT ON TABLE symbols IS 'Definitions: modules, classes, functions, methods, lambdas, module and class variables';
COMMENT ON COLUMN symbols.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN symbols.qualname IS 'Dotted qualified name: pkg.mod.Class.method, pkg.mod.f.inner, pkg.mod.<lambda1>';
COMMENT ON COLUMN symbols.name IS 'The last part of qualname';
COMMENT ON COLUMN symbols.kind IS 'module | class | function | method | staticmethod | classmethod | property | lambda | variable | constant';
COMMENT ON COLUMN symbols.parent IS 'qualname of the enclosing symbol (the package for a module)';
COMMENT ON COLUMN symbols.line IS '1-based line of the definition (the def/class keyword, not its decorators)';
COMMENT ON COLUMN symbols.col IS '1-based byte column of the start';
COMMENT ON COLUMN symbols.end_line IS '1-based line of the end';
COMMENT ON COLUMN symbols.end_col IS '1-based byte column just after the end';
COMMENT ON COLUMN symbols.decorators IS 'Decorator expressions as written, without @, outermost first';
COMMENT ON COLUMN symbols.bases IS 'Base class expressions as written (keyword arguments such as metaclass=M included)';
COMMENT ON COLUMN symbols.docstring IS 'First non-blank line of the docstring';
COMMENT ON COLUMN symbols.in_all IS 'For module-level names: listed in the module''s __all__; NULL when there is no __all__ or the symbol is not module-level';
COMMENT ON COLUMN symbols.is_async IS 'async def';

CREATE TABLE imports (
    file_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    module VARCHAR NOT NULL,
    level INTEGER NOT NULL,
    target VARCHAR,
    name VARCHAR,
    alias VARCHAR,
    kind VARCHAR NOT NULL,
    in_try BOOLEAN NOT NULL,
    type_checking BOOLEAN NOT NULL,
    in_function BOOLEAN NOT NULL
);
COMMENT ON TABLE imports IS 'One row per imported name';
COMMENT ON COLUMN imports.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN imports.line IS '1-based line of the import statement';
COMMENT ON COLUMN imports.col IS '1-based byte column of the import statement';
COMMENT ON COLUMN imports.scope IS 'qualname of the scope holding the import (the module, or a function)';
COMMENT ON COLUMN imports.module IS 'Module as written, with leading dots for relative imports (''..util'')';
COMMENT ON COLUMN imports.level IS 'Number of leading dots (0 = absolute)';
COMMENT ON COLUMN imports.target IS 'Absolute module after resolving relative dots; NULL when the dots climb above the top package';
COMMENT ON COLUMN imports.name IS 'Imported name of a from-import (''*'' for a star import); NULL for import a.b';
COMMENT ON COLUMN imports.alias IS 'The as-name, if any';
COMMENT ON COLUMN imports.kind IS 'import | from | star | future';
COMMENT ON COLUMN imports.in_try IS 'Inside a try: whose handlers catch ImportError (or broader)';
COMMENT ON COLUMN imports.type_checking IS 'Inside if TYPE_CHECKING:';
COMMENT ON COLUMN imports.in_function IS 'Inside a function or method body';

CREATE TABLE calls (
    file_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    callee VARCHAR NOT NULL,
    candidate VARCHAR,
    candidate_kind VARCHAR NOT NULL,
    arg_count INTEGER NOT NULL,
    keywords VARCHAR[] NOT NULL,
    first_arg VARCHAR
);
COMMENT ON TABLE calls IS 'Call expressions with the callee this file alone can name (cross-file resolution comes later)';
COMMENT ON COLUMN calls.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN calls.line IS '1-based line of the call';
COMMENT ON COLUMN calls.col IS '1-based byte column of the call';
COMMENT ON COLUMN calls.scope IS 'qualname of the innermost enclosing function, lambda, class body or module: the caller';
COMMENT ON COLUMN calls.callee IS 'Callee expression as written (whitespace collapsed, at most 300 characters)';
COMMENT ON COLUMN calls.candidate IS 'Dotted name the callee names as far as this file can tell; NULL when it cannot';
COMMENT ON COLUMN calls.candidate_kind IS 'Evidence for candidate: local | import | builtin | self | cls | super | instance | self_attr | variable | ambiguous | unknown';
COMMENT ON COLUMN calls.arg_count IS 'Number of arguments (positional, keyword, *args and **kwargs each count one)';
COMMENT ON COLUMN calls.keywords IS 'Keyword argument names; ''**'' for a **mapping';
COMMENT ON COLUMN calls.first_arg IS 'Value of the first positional argument when it is a string, bytes or number literal';

CREATE TABLE "references" (
    file_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    expression VARCHAR NOT NULL,
    candidate VARCHAR,
    candidate_kind VARCHAR NOT NULL,
    context VARCHAR
);
COMMENT ON TABLE "references" IS 'Non-call uses of code: callbacks passed as arguments, code stored in containers, decorators, aliases, getattr with a literal';
COMMENT ON COLUMN "references".file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN "references".line IS '1-based line of the reference';
COMMENT ON COLUMN "references".col IS '1-based byte column of the reference';
COMMENT ON COLUMN "references".scope IS 'qualname of the scope where the reference appears';
COMMENT ON COLUMN "references".kind IS 'argument | container | decorator | assignment | getattr | hasattr | setattr';
COMMENT ON COLUMN "references".expression IS 'The referring expression as written (obj.name for getattr(obj, "name"))';
COMMENT ON COLUMN "references".candidate IS 'Dotted name referred to as far as this file can tell (only resolvable ones are kept, except decorators and getattr)';
COMMENT ON COLUMN "references".candidate_kind IS 'Evidence for candidate, as in calls.candidate_kind';
COMMENT ON COLUMN "references".context IS 'The called function (argument), the dict key (container), the decorated qualname (decorator), the target name (assignment), the attribute name (getattr)';

CREATE TABLE attributes (
    file_id INTEGER NOT NULL,
    class_qualname VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    via VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    value_kind VARCHAR NOT NULL,
    value_candidate VARCHAR,
    candidate_kind VARCHAR
);
COMMENT ON TABLE attributes IS 'Attributes assigned on classes: self.x = ... in methods, cls.x = ... in classmethods, x = ... in the class body';
COMMENT ON COLUMN attributes.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN attributes.class_qualname IS 'qualname of the class the attribute belongs to';
COMMENT ON COLUMN attributes.name IS 'Attribute name';
COMMENT ON COLUMN attributes.line IS '1-based line of the assignment target';
COMMENT ON COLUMN attributes.col IS '1-based byte column of the assignment target';
COMMENT ON COLUMN attributes.scope IS 'qualname of the method (or class body) holding the assignment';
COMMENT ON COLUMN attributes.via IS 'self | cls | class (assigned in the class body)';
COMMENT ON COLUMN attributes.value IS 'Assigned expression as written ('''' for an annotation without value)';
COMMENT ON COLUMN attributes.value_kind IS 'call | name | literal | none | lambda | other | absent (annotation only)';
COMMENT ON COLUMN attributes.value_candidate IS 'For call and name values: the callee or name as far as this file can tell (the candidate type of a constructor call)';
COMMENT ON COLUMN attributes.candidate_kind IS 'Evidence for value_candidate, as in calls.candidate_kind';

CREATE TABLE parse_errors (
    file_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    message VARCHAR NOT NULL
);
COMMENT ON TABLE parse_errors IS 'What could not be parsed or decoded, per file (at most 50 rows a file; files.error_count has the total)';
COMMENT ON COLUMN parse_errors.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN parse_errors.line IS '1-based line';
COMMENT ON COLUMN parse_errors.col IS '1-based byte column';
COMMENT ON COLUMN parse_errors.kind IS 'syntax | missing (a token tree-sitter had to assume) | encoding | nul | read';
COMMENT ON COLUMN parse_errors.message IS 'What went wrong';
