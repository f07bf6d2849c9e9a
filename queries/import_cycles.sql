-- name: import_cycles
-- title: Modules of the tree that import each other
-- description: Strongly connected components of the module import graph (two or more
--   modules), over imports that resolve inside the tree. Imports inside functions are left out
--   unless in_functions (a function-level import is the usual way to break a cycle at import
--   time), and so are imports under if TYPE_CHECKING unless type_checking. The id hashes the
--   sorted members, so a cycle that gains or loses a module is a new finding. The suggested
--   cut is grimp's nominate_cycle_breakers over the component: an approximately minimal set of
--   module-to-module dependencies whose removal leaves no cycle, each with its import sites,
--   the one with the fewest sites first.
-- param: $in_functions bool = false (also count imports inside functions)
-- param: $type_checking bool = false (also count imports under if TYPE_CHECKING)
-- finder: cycles
-- depends_on: internal_imports
-- kind: import_cycle
-- id: import_cycle_{members:hash12}
-- hypothesis: IMPORT_CYCLE_{size}_MODULES_FROM_{first}
-- question: Which import should be removed, moved or made lazy so that {members} stop importing each other (cheapest cut: {cut_first})?
-- evidence: members, edges, cut
-- locations: locations
-- metadata: size, cut_size
-- severity: medium
-- confidence: 1.0
-- action: investigate
-- autonomy: 1
-- value: 0.4
-- cost: 0.4
-- capability_key: architecture.imports
SELECT DISTINCT
    m.name AS source,
    l.target_module AS target,
    f.path,
    l.line,
    l.scope AS symbol
FROM links AS l
JOIN modules AS m
    ON m.file_id = l.file_id
JOIN files AS f
    ON f.file_id = l.file_id
-- one row per import statement (its names share the flags): joining every name of a
-- `from m import a, b, c` would multiply the links ten-fold before DISTINCT
JOIN (SELECT DISTINCT file_id, line, col, in_function, type_checking FROM imports) AS i
    ON i.file_id = l.file_id
    AND i.line = l.line
    AND i.col = l.col
WHERE l.site = 'import'
    AND l.status IN ('internal', 'ambiguous')
    AND l.target_module IS NOT NULL
    AND ($in_functions OR NOT i.in_function)
    AND ($type_checking OR NOT i.type_checking)
