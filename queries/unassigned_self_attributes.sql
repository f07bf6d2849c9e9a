-- name: unassigned_self_attributes
-- title: self attributes used but assigned nowhere, or only ever assigned None
-- description: Calls through self.a (self.a.m() or self.a()) in a method of class C where no
--   class self can be (C, every class of its MRO across files, every subclass of C in the tree)
--   assigns a: no self.a = ... / cls.a = ... in any method, no definition, class-body
--   assignment or annotation (dataclass, attrs, pydantic and NamedTuple fields, properties),
--   no setattr/hasattr/getattr naming it. Also attributes whose every assignment in those
--   classes is None (self.a = None) and that are then used as an object: the call fails with
--   AttributeError on None unless something outside the class sets them. Nothing is reported
--   when any class on the way may grow attributes the tree does not show: an outside or
--   undefined base, __getattr__, __getattribute__, __slots__, a metaclass other than ABCMeta,
--   a class decorator other than dataclass and the like, setattr with a computed name,
--   __dict__ or vars(). The linker decides this (graphsvc/link/wiring.py) and records it as
--   the reason of the call's link; this query groups those links per (class, attribute).
--   An assignment of an attribute of that name to any other object anywhere in the tree
--   (obj.a = ..., Class.a = ...; attribute_writes) also counts as an assignment. A class that
--   the tree never instantiates (no constructor call of it or of a subclass) is left out: it
--   is a mixin or a base combined with classes the tree does not show (type(...) with it among
--   the bases, a framework), so its self is unknown. Not seen: plain reads of self.a that are
--   not calls, and guards: self.a = None then `if self.a: self.a.close()` is an optional part,
--   not a bug, and is still reported as only-None (hence severity low, confidence 0.3).
-- file_inputs: SELECT file_id, hash(line, col, scope, expression, reason) AS h FROM links
--   WHERE site = 'call' AND status = 'unresolved' AND starts_with(reason, 'class ')
--   AND list_contains($files, file_id)
--   UNION ALL SELECT DISTINCT file_id, hash('creates', named, target) FROM links
--   WHERE site = 'call' AND (named IS NOT NULL OR target_kind = 'class')
--   AND list_contains($files, file_id)
--   UNION ALL SELECT DISTINCT file_id, hash('writes', name) FROM attribute_writes
--   WHERE list_contains($files, file_id)
--   UNION ALL SELECT file_id, hash(status, path) FROM files WHERE list_contains($files, file_id)
-- kind: missing_wiring
-- id: missing_wiring_self.{attribute}_{class}
-- hypothesis: MISSING_WIRING_SELF_{attribute}_IN_{class}
-- question: {question}
-- evidence: attribute, class, what, used_in, reason
-- locations: locations
-- metadata: what, expressions, callers, receivers
-- severity: {severity}
-- confidence: {confidence}
-- action: propose_fix
-- autonomy: 2
-- value: 0.7
-- cost: 0.2
-- capability_key: wiring.self_attributes
WITH sites AS (
    SELECT
        l.file_id,
        l.line,
        l.col,
        l.scope,
        l.expression,
        l.reason,
        coalesce(
            nullif(regexp_extract(l.reason, '^class (\S+) has no attribute (\S+): ', 1), ''),
            regexp_extract(l.reason, '^class (\S+) attribute (\S+) is only ever', 1)
        ) AS class,
        coalesce(
            nullif(regexp_extract(l.reason, '^class (\S+) has no attribute (\S+): ', 2), ''),
            regexp_extract(l.reason, '^class (\S+) attribute (\S+) is only ever', 2)
        ) AS attribute,
        string_split(regexp_extract(l.reason, '\(receivers: ([^)]*)\)$', 1), ', ') AS receivers,
        CASE
            WHEN contains(l.reason, ' is only ever assigned None ') THEN 'only ever assigned None'
            ELSE 'assigned nowhere'
        END AS what
    FROM links AS l
    WHERE l.site = 'call'
        AND l.status = 'unresolved'
        AND starts_with(l.reason, 'class ')
        AND contains(l.reason, '(receivers: ')
        AND (
            contains(l.reason, ': assigned nowhere in the class')
            OR contains(l.reason, ' is only ever assigned None ')
        )
),
grouped AS (
    SELECT
        s.attribute,
        s.class,
        min(s.what) AS what,
        list(DISTINCT f.path ORDER BY f.path) AS used_in,
        list(DISTINCT s.expression ORDER BY s.expression) AS expressions,
        list(DISTINCT s.scope ORDER BY s.scope) AS callers,
        min(s.receivers) AS receivers,
        min(s.reason) AS reason,
        list({'path': f.path, 'line': s.line, 'symbol': s.scope} ORDER BY f.path, s.line, s.col)
            AS locations
    FROM sites AS s
    JOIN files AS f
        ON f.file_id = s.file_id
    WHERE f.status = 'ok'
        AND s.class <> ''
    GROUP BY s.attribute, s.class
),
receivers AS (
    SELECT DISTINCT unnest(receivers) AS class
    FROM grouped
),
-- receivers the tree creates (a constructor call, also through cls() or value flow)
instantiated AS (
    SELECT DISTINCT r.class
    FROM receivers AS r
    JOIN links AS l
        ON l.named = r.class
    WHERE l.site = 'call'
    UNION
    SELECT DISTINCT r.class
    FROM receivers AS r
    JOIN links AS l
        ON l.target = r.class
    WHERE l.site = 'call'
        -- the class itself, not a function of the same qualname (the file inputs above
        -- read these calls only)
        AND l.target_kind = 'class'
)
SELECT
    g.*,
    CASE
        WHEN g.what = 'assigned nowhere'
            THEN 'Where should self.' || g.attribute || ' of ' || g.class || ' be assigned, given'
                || ' its use in ' || array_to_string(g.callers, ', ')
                || ' and that no class on its MRO or below assigns it?'
        ELSE 'What should self.' || g.attribute || ' of ' || g.class || ' hold, given that it is'
            || ' only ever assigned None and called through in '
            || array_to_string(g.callers, ', ') || '?'
    END AS question,
    CASE WHEN g.what = 'assigned nowhere' THEN 'high' ELSE 'low' END AS severity,
    CASE WHEN g.what = 'assigned nowhere' THEN 0.8 ELSE 0.3 END AS confidence
FROM grouped AS g
WHERE g.attribute NOT IN (SELECT name FROM attribute_writes)
    AND EXISTS (
        SELECT 1
        FROM instantiated AS i
        WHERE list_contains(g.receivers, i.class)
    )
ORDER BY g.class, g.attribute
