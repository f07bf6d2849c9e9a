-- Each import joined to its link rows, written once: a link row names an import by its position
-- and by the expression the linker records for it (mod for `import mod`, mod:name for from-imports).
CREATE VIEW import_links AS
SELECT
    i.*,
    l.status,
    l.strategy,
    l.target AS resolved,
    l.target_module,
    l.reason,
    l.distribution
FROM imports AS i
LEFT JOIN links AS l
    ON l.file_id = i.file_id
    AND l.site = 'import'
    AND l.line = i.line
    AND l.col = i.col
    AND l.expression = CASE
        WHEN i.kind IN ('from', 'star', 'future') THEN i.module || ':' || i.name
        ELSE i.module
    END;
COMMENT ON VIEW import_links IS 'Every imported name with its resolution (one row per candidate target when ambiguous; NULL link columns for an import not linked yet)';
COMMENT ON COLUMN import_links.file_id IS 'File of the import (files.file_id)';
COMMENT ON COLUMN import_links.line IS '1-based line of the import';
COMMENT ON COLUMN import_links.col IS '1-based byte column of the import';
COMMENT ON COLUMN import_links.scope IS 'qualname of the scope holding the import';
COMMENT ON COLUMN import_links.module IS 'The module as written (dots of a relative import included)';
COMMENT ON COLUMN import_links.level IS 'Leading dots of a relative import; 0 for absolute';
COMMENT ON COLUMN import_links.target IS 'Absolute module after resolving relative dots (imports.target); NULL when the dots climb above the top package';
COMMENT ON COLUMN import_links.name IS 'Imported name of a from-import (''*'' for a star import); NULL for import a.b';
COMMENT ON COLUMN import_links.alias IS 'The as-name, if any';
COMMENT ON COLUMN import_links.kind IS 'import | from | star | future';
COMMENT ON COLUMN import_links.in_try IS 'Inside a try: whose handlers catch ImportError (or broader)';
COMMENT ON COLUMN import_links.type_checking IS 'Inside if TYPE_CHECKING';
COMMENT ON COLUMN import_links.in_function IS 'Inside a function body';
COMMENT ON COLUMN import_links.status IS 'internal | stdlib | external | unresolved | ambiguous (links.status)';
COMMENT ON COLUMN import_links.strategy IS 'How the linker resolved it (links.strategy)';
COMMENT ON COLUMN import_links.resolved IS 'The module or symbol the import resolves to (links.target); NULL when unresolved';
COMMENT ON COLUMN import_links.target_module IS 'Module of the resolved target (links.target_module)';
COMMENT ON COLUMN import_links.reason IS 'Why it is unresolved or ambiguous (links.reason)';
COMMENT ON COLUMN import_links.distribution IS 'Distribution providing an external import (links.distribution)';
