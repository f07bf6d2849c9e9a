-- name: uninitialized_components
-- title: Components defined but never instantiated
-- description: Module-level classes that look like components (a method named like a
--   service's entry: start, run, serve, ... from the methods parameter; or a method that
--   consumes a bus or broker channel, see Queues and topics; reading its own in-process
--   collection does not count) that nothing in the tree ever creates or hands on: no
--   constructor call, no call of a classmethod or staticmethod on it (a factory), no reference
--   passing the class (an argument, a container, an alias, a decorator), no import of it from
--   another module, no unresolved or ambiguous callee, reference or import whose last name
--   part is its name (a path the linker could not follow), no assignment of it to an
--   attribute (obj.handler = Handler), no string literal ending in its name as a call's first
--   argument or shaped like a path to code or a class name in a container, argument or
--   assignment ("pkg.mod:Handler" or "Handler" in a registry or settings table: name_strings),
--   no getattr with its name, no value of a configuration file naming it
--   (worker_class = "pkg.workers:Worker"). Left out: classes that are a base of another class of the tree (the subclass is the
--   component), abstract classes (an ABC or Protocol base, or an abstractmethod), classes
--   listed in __all__ (a library's public API), classes with a decorator other than dataclass
--   (decorators register), a metaclass, or a base that is neither object, a class of the tree,
--   nor one of the bases parameter (outside frameworks instantiate their subclasses
--   themselves), and files with syntax errors.
-- param: $methods text = 'start,run,serve,serve_forever,run_forever,loop,listen,consume,poll,main,work,spin' (comma-separated method names that make a class a component)
-- param: $bases text = 'Thread,Process,BaseServer,TCPServer,UDPServer,ThreadingTCPServer,BaseRequestHandler,StreamRequestHandler' (comma-separated outside base classes, by last name part, that do not instantiate their subclasses)
-- partition: pkeys
-- partition_keys: SELECT file_id, k.key, k.anchor, h FROM (SELECT s.file_id, unnest(
--   [{'key': hash(string_split(s.parent, '.')[-1]), 'anchor': false}] || CASE WHEN s.kind = 'class'
--   THEN [{'key': hash(s.name), 'anchor': e.qualname IS NOT NULL}] || list_transform(s.bases,
--   lambda b: {'key': hash(trim(string_split(string_split(b, '[')[1], '.')[-1])),
--   'anchor': e.qualname IS NOT NULL}) ELSE [] END) AS k,
--   hash(s.qualname, s.name, s.kind, s.parent, s.bases, s.decorators, s.in_all, CASE WHEN
--   s.kind = 'class' THEN [s.line::VARCHAR, f.status, f.path] END) AS h
--   FROM symbols AS s JOIN files AS f ON f.file_id = s.file_id
--   LEFT JOIN (SELECT DISTINCT file_id, parent AS qualname FROM symbols
--   WHERE list_contains($files, file_id) AND kind IN ('method', 'function')
--   AND name IN (SELECT trim(unnest(string_split($methods, ','))))
--   UNION SELECT file_id, regexp_replace(symbol, '\.[^.]+$', '') FROM channel_sites
--   WHERE list_contains($files, file_id) AND role = 'consumer' AND NOT in_test
--   AND NOT starts_with(rule, 'collection:')) AS e
--   ON e.file_id = s.file_id AND e.qualname = s.qualname
--   WHERE s.parent IS NOT NULL AND list_contains($files, s.file_id) AND (s.kind = 'class'
--   OR s.name IN (SELECT trim(unnest(string_split($methods, ','))))
--   OR contains(array_to_string(s.decorators, ' '), 'abstractmethod')))
--   UNION ALL SELECT file_id, unnest([CASE WHEN named IS NOT NULL
--   THEN hash(string_split(named, '.')[-1]) END, CASE WHEN starts_with(target, target_module || '.')
--   THEN hash(string_split(substr(target, length(target_module) + 2), '.')[1]) END,
--   CASE WHEN status IN ('unresolved', 'ambiguous')
--   THEN hash(string_split(replace(expression, ':', '.'), '.')[-1]) END]), false,
--   hash(named, target_module, target, status, expression, scope) FROM links
--   WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(string_split(regexp_replace(symbol, '\.[^.]+$', ''), '.')[-1]),
--   false, hash(symbol, transport, topic, rule, in_test) FROM channel_sites
--   WHERE role = 'consumer' AND list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(string_split(value, '.')[-1]), false, hash('w', value, scope)
--   FROM attribute_writes WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(string_split(replace(value, ':', '.'), '.')[-1]), false,
--   hash('s', value) FROM name_strings WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(string_split(replace(first_arg, ':', '.'), '.')[-1]), false,
--   hash('a', first_arg) FROM calls WHERE first_arg IS NOT NULL AND list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(context), false, hash('g', context) FROM "references"
--   WHERE kind = 'getattr' AND list_contains($files, file_id)
-- file_guard: SELECT file_id, hash(qualname, name, kind, parent, bases, decorators, in_all,
--   line) AS h FROM symbols WHERE list_contains($files, file_id) AND parent IS NOT NULL
--   AND (kind = 'class' OR name IN (SELECT trim(unnest(string_split($methods, ','))))
--   OR contains(array_to_string(decorators, ' '), 'abstractmethod'))
--   UNION ALL SELECT file_id, hash(status, path) FROM files WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(named, target_module, target, status, expression, scope)
--   FROM links WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(symbol, transport, topic, rule, in_test) FROM channel_sites
--   WHERE role = 'consumer' AND list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash('w', value, scope) FROM attribute_writes
--   WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash('s', value) FROM name_strings WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash('a', first_arg) FROM calls
--   WHERE first_arg IS NOT NULL AND list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash('g', context) FROM "references"
--   WHERE kind = 'getattr' AND list_contains($files, file_id)
-- kind: uninitialized_component
-- id: uninitialized_component_{qualname}
-- hypothesis: UNINITIALIZED_COMPONENT_{qualname}
-- question: Who should create and start {qualname} ({why}), which nothing in the tree instantiates?
-- evidence: qualname, defined_in, why
-- locations: locations
-- metadata: entry_methods, consumed
-- severity: medium
-- confidence: 0.7
-- action: investigate
-- autonomy: 1
-- value: 0.6
-- cost: 0.3
-- capability_key: wiring.components
WITH
-- every class of the tree, read once (three scans of the symbols were a tenth of the query)
class_rows AS MATERIALIZED (
    SELECT file_id, qualname, name, parent, line, decorators, bases, in_all
    FROM symbols
    WHERE kind = 'class'
),
-- last name part of every base as written ('pkg.Base[T]' -> 'Base'; keywords kept whole)
written_bases AS (
    SELECT
        s.qualname,
        b.base AS written,
        trim(string_split(string_split(b.base, '[')[1], '.')[-1]) AS last
    FROM class_rows AS s,
        unnest(s.bases) AS b(base)
),
classes AS (
    -- module-level classes not in __all__, each with its partitions (see partition_keys):
    -- its name's and each of its bases' last names' (whether a class of that name exists
    -- decides whether the class is judged); with $partition those of its partitions only
    SELECT *
    FROM (
        SELECT
            s.file_id,
            s.qualname,
            s.name,
            s.line,
            s.decorators,
            m.name AS module,
            -- the bases' last names as written_bases takes them, without its rows: a run
            -- for a few partitions reads no base of a class outside them
            list_sort(list_distinct([hash(s.name)] || coalesce(list_transform(
                s.bases,
                lambda b: hash(trim(string_split(string_split(b, '[')[1], '.')[-1]))
            ), []))) AS pkeys
        FROM class_rows AS s
        JOIN modules AS m
            ON m.file_id = s.file_id
            AND m.name = s.parent
        WHERE NOT coalesce(s.in_all, false)
    )
    WHERE $partition IS NULL OR list_has_any(pkeys, $partition::UBIGINT[])
),
entry_names AS (
    SELECT DISTINCT trim(unnest(string_split($methods, ','))) AS name
),
allowed_bases AS (
    SELECT DISTINCT trim(unnest(string_split($bases, ','))) AS name
    UNION
    SELECT 'object'
),
entries AS (
    SELECT
        c.file_id,
        c.qualname,
        list_sort(list_distinct(list(me.name))) AS entry_methods
    FROM classes AS c
    JOIN symbols AS me
        ON me.file_id = c.file_id
        AND me.parent = c.qualname
    WHERE me.name IN (SELECT name FROM entry_names)
        AND me.kind IN ('method', 'function')
    GROUP BY ALL
),
consumers AS (
    SELECT
        c.file_id,
        c.qualname,
        list_sort(list_distinct(list(cs.transport || ':' || coalesce(cs.topic, '?')))) AS consumed
    FROM classes AS c
    JOIN channel_sites AS cs
        ON cs.file_id = c.file_id
        AND regexp_replace(cs.symbol, '\.[^.]+$', '') = c.qualname
    WHERE cs.role = 'consumer'
        AND NOT cs.in_test
        AND NOT starts_with(cs.rule, 'collection:')
    GROUP BY ALL
),
components AS MATERIALIZED (
    SELECT
        c.*,
        coalesce(e.entry_methods, []) AS entry_methods,
        coalesce(k.consumed, []) AS consumed
    FROM classes AS c
    JOIN files AS f
        ON f.file_id = c.file_id
    LEFT JOIN entries AS e
        ON e.file_id = c.file_id
        AND e.qualname = c.qualname
    LEFT JOIN consumers AS k
        ON k.file_id = c.file_id
        AND k.qualname = c.qualname
    WHERE (e.qualname IS NOT NULL OR k.qualname IS NOT NULL)
        AND f.status = 'ok'
        AND len(list_filter(c.decorators, lambda d: NOT regexp_matches(d, '^(dataclasses\.)?dataclass\b'))) = 0
),
tree_class_names AS (
    SELECT DISTINCT name
    FROM class_rows
),
-- a base nobody can vouch for, a metaclass, or an abstract class
opaque AS (
    SELECT w.qualname
    FROM written_bases AS w
    SEMI JOIN components AS c
        ON c.qualname = w.qualname
    WHERE contains(w.written, '=')
        OR w.last IN ('ABC', 'Protocol', 'Generic')
        OR (
            w.last NOT IN (SELECT name FROM allowed_bases)
            AND w.last NOT IN (SELECT name FROM tree_class_names)
        )
    UNION ALL
    SELECT c.qualname
    FROM components AS c
    JOIN symbols AS me
        ON me.file_id = c.file_id
        AND me.parent = c.qualname
    WHERE len(me.decorators) > 0
        AND contains(array_to_string(me.decorators, ' '), 'abstractmethod')
),
subclassed AS (
    SELECT c.qualname
    FROM components AS c
    SEMI JOIN written_bases AS w
        ON w.last = c.name
),
-- the class used anywhere outside its own body: by a link whose resolved target is it or one
-- of its members (a factory classmethod) or that names it as a constructor; by an unresolved
-- or ambiguous callee, reference or import whose last name part is its name (an alias or a
-- path the linker could not follow); or as the value of an attribute assignment
used AS (
    SELECT c.qualname, l.scope
    FROM components AS c
    JOIN links AS l
        ON l.named = c.qualname
    UNION ALL
    SELECT c.qualname, l.scope
    FROM components AS c
    JOIN links AS l
        ON l.target_module = c.module
        AND (l.target = c.qualname OR starts_with(l.target, c.qualname || '.'))
    UNION ALL
    SELECT c.qualname, l.scope
    FROM (
        SELECT
            scope,
            regexp_extract(expression, '[^.:]*$') AS last
        FROM links
        WHERE status IN ('unresolved', 'ambiguous')
    ) AS l
    JOIN components AS c
        ON l.last = c.name
    UNION ALL
    SELECT c.qualname, w.scope
    FROM components AS c
    JOIN attribute_writes AS w
        ON regexp_extract(w.value, '[^.]*$') = c.name
),
used_outside AS (
    SELECT u.qualname
    FROM used AS u
    WHERE u.scope <> u.qualname
        AND NOT starts_with(u.scope, u.qualname || '.')
),
named_in_strings AS (
    SELECT c.qualname
    FROM name_strings AS n
    JOIN components AS c
        ON regexp_extract(n.value, '[^.:]*$') = c.name
    UNION ALL
    SELECT c.qualname
    FROM calls AS k
    JOIN components AS c
        ON regexp_extract(k.first_arg, '[^.:]*$') = c.name
    WHERE k.first_arg IS NOT NULL
    UNION ALL
    SELECT c.qualname
    FROM "references" AS r
    JOIN components AS c
        ON r.context = c.name
    WHERE r.kind = 'getattr'
    UNION ALL
    -- a configuration file names it (worker_class: pkg.workers.Worker): something the tree
    -- does not show creates it
    SELECT c.qualname
    FROM entry_rules AS r
    JOIN components AS c
        ON r.pattern = c.qualname
    WHERE r.kind = 'config'
),
-- every component left out, once or more: each part is only read by this NOT IN list, so
-- none is made distinct (a DISTINCT per part and a NOT IN per part were a fifth of the query)
left_out AS (
    SELECT qualname FROM opaque
    UNION ALL
    SELECT qualname FROM subclassed
    UNION ALL
    SELECT qualname FROM used_outside
    UNION ALL
    SELECT qualname FROM named_in_strings
)
SELECT
    c.qualname,
    f.path AS defined_in,
    CASE
        WHEN len(c.entry_methods) > 0 AND len(c.consumed) > 0
            THEN 'has ' || array_to_string(c.entry_methods, ', ') || ' and consumes '
                || array_to_string(c.consumed, ', ')
        WHEN len(c.entry_methods) > 0 THEN 'has ' || array_to_string(c.entry_methods, ', ')
        ELSE 'consumes ' || array_to_string(c.consumed, ', ')
    END AS why,
    c.entry_methods,
    c.consumed,
    [{'path': f.path, 'line': c.line, 'symbol': c.qualname}] AS locations,
    c.pkeys
FROM components AS c
JOIN files AS f
    ON f.file_id = c.file_id
WHERE c.qualname NOT IN (SELECT qualname FROM left_out)
ORDER BY c.qualname
