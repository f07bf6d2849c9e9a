-- graphsvc schema 0007: queues and topics. Extraction keeps each file's channel facts (the calls
-- that may carry a topic, topic constants, attributes, parameters, in-process collections); the
-- channel pass after linking turns them into channel sites with the rules (graphsvc/rules/*.toml
-- and the user's), the linker's callees and the wrappers it derives. Sites, channels and
-- wrappers are owned by one file each; producers are matched to consumers in SQL at query time
-- (channel_links), with each transport's semantics.

CREATE TABLE channel_facts (
    file_id INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    scope VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    detail VARCHAR NOT NULL,
    data VARCHAR NOT NULL
);
COMMENT ON TABLE channel_facts IS 'Inputs of channel recognition, per file: calls that may carry a topic, topic constants, self attributes, parameters of wrappers, in-process collections and their uses (see graphsvc/extract/channels.py)';
COMMENT ON COLUMN channel_facts.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN channel_facts.kind IS 'call | const | attr | param | decl | use | deco';
COMMENT ON COLUMN channel_facts.line IS '1-based line';
COMMENT ON COLUMN channel_facts.col IS '1-based byte column';
COMMENT ON COLUMN channel_facts.scope IS 'qualname of the enclosing function, class or module';
COMMENT ON COLUMN channel_facts.name IS 'call: the callee as this file infers it (dotted, F() for the result of a call); const: its qualname; attr/use: Class.attribute; decl: Class.attribute or the qualname of a module or class name; deco: the decorated function; param: the parameter';
COMMENT ON COLUMN channel_facts.detail IS 'call: the callee as written; param: position:kind:bound; decl: the constructor; deco: the decorator; use: write:op or read:op';
COMMENT ON COLUMN channel_facts.data IS 'JSON: call, decl, deco: the arguments as [key, topic expression]; const/attr: a topic expression; param: its default';

CREATE TABLE channel_sites (
    file_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    symbol VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    transport VARCHAR NOT NULL,
    expression VARCHAR NOT NULL,
    topic VARCHAR,
    match_kind VARCHAR NOT NULL,
    regex VARCHAR,
    sample VARCHAR,
    strategy VARCHAR NOT NULL,
    confidence DOUBLE NOT NULL,
    rule VARCHAR NOT NULL,
    via VARCHAR,
    catch_all BOOLEAN NOT NULL,
    in_test BOOLEAN NOT NULL
);
COMMENT ON TABLE channel_sites IS 'Every place code produces, consumes or declares a channel (a bus topic, a broker queue, an in-process queue or collection); owned by the file of the site';
COMMENT ON COLUMN channel_sites.file_id IS 'File of the site (files.file_id); the row is owned by it';
COMMENT ON COLUMN channel_sites.line IS '1-based line of the call or use';
COMMENT ON COLUMN channel_sites.col IS '1-based byte column of the call or use';
COMMENT ON COLUMN channel_sites.symbol IS 'qualname of the function, class body or module holding the site';
COMMENT ON COLUMN channel_sites.role IS 'producer | consumer | declaration';
COMMENT ON COLUMN channel_sites.transport IS 'redis, redis-list, redis-stream, zmq, mqtt, nats, kafka, amqp, pypubsub, queue, asyncio.queue, multiprocessing.queue, deque, list, or a user rule''s transport';
COMMENT ON COLUMN channel_sites.expression IS 'The topic as written (rendered from the recorded expression: names, parameters, f-string parts)';
COMMENT ON COLUMN channel_sites.topic IS 'Resolved topic; for a pattern, the pattern as the transport writes it (a producer''s unknown parts are *); NULL when dynamic';
COMMENT ON COLUMN channel_sites.match_kind IS 'exact | prefix (ZeroMQ) | subtree (PyPubSub) | glob (Redis) | wildcard (MQTT, NATS, AMQP) | regex (Kafka) | pattern (a producer with unknown parts) | dynamic';
COMMENT ON COLUMN channel_sites.regex IS 'The topic or pattern as a regular expression with the transport''s semantics (wildcards, regex subscriptions, a producer''s unknown parts)';
COMMENT ON COLUMN channel_sites.sample IS 'A producer pattern with each unknown part replaced by x, matched against consumer patterns';
COMMENT ON COLUMN channel_sites.strategy IS 'How the topic was found: literal, constant, enum, fstring, concat, local, wrapper, receiver, dynamic (joined with + along the way)';
COMMENT ON COLUMN channel_sites.confidence IS '0..1: 1 for literals and constants, lower for patterns and derived wrappers';
COMMENT ON COLUMN channel_sites.rule IS 'The rule that matched: <rules file>:<n>, collection:<transport>, or derived:<wrapper qualname>';
COMMENT ON COLUMN channel_sites.via IS 'The chain of wrappers the call went through to reach the transport (a > b > c), NULL for a direct call';
COMMENT ON COLUMN channel_sites.catch_all IS 'A subscription to everything (ZeroMQ empty prefix, MQTT #, NATS >, Redis *): a historian or bridge, not the component that acts on a message';
COMMENT ON COLUMN channel_sites.in_test IS 'The file matches GRAPHSVC_CHANNEL_TEST_GLOBS: counts as neither producer nor consumer, but is listed in evidence';

CREATE TABLE channels (
    file_id INTEGER NOT NULL,
    transport VARCHAR NOT NULL,
    name VARCHAR,
    match_kind VARCHAR NOT NULL
);
COMMENT ON TABLE channels IS 'The channels (or subscription patterns) each file names, one row per (file, transport, name, match kind); the whole set is SELECT DISTINCT transport, name, match_kind';
COMMENT ON COLUMN channels.file_id IS 'File naming the channel (files.file_id); the row is owned by it';
COMMENT ON COLUMN channels.transport IS 'Transport of the channel (see channel_sites.transport)';
COMMENT ON COLUMN channels.name IS 'Topic, queue or pattern; NULL for a dynamic topic';
COMMENT ON COLUMN channels.match_kind IS 'exact | prefix | subtree | glob | wildcard | regex | pattern | dynamic';

CREATE TABLE channel_wrappers (
    file_id INTEGER NOT NULL,
    wrapper VARCHAR NOT NULL,
    param VARCHAR NOT NULL,
    position INTEGER,
    role VARCHAR NOT NULL,
    transport VARCHAR NOT NULL,
    template VARCHAR NOT NULL,
    base_rule VARCHAR NOT NULL,
    depth INTEGER NOT NULL,
    evidence VARCHAR[] NOT NULL
);
COMMENT ON TABLE channel_wrappers IS 'Wrappers found without configuration: functions (and constructors) whose parameter reaches a transport rule''s topic; owned by the wrapper''s file';
COMMENT ON COLUMN channel_wrappers.file_id IS 'File defining the wrapper (files.file_id); the row is owned by it';
COMMENT ON COLUMN channel_wrappers.wrapper IS 'qualname of the wrapper function or method (a constructor: Class.__init__)';
COMMENT ON COLUMN channel_wrappers.param IS 'The parameter that carries the topic';
COMMENT ON COLUMN channel_wrappers.position IS 'Its position in a call (self and cls not counted); NULL for keyword-only';
COMMENT ON COLUMN channel_wrappers.role IS 'producer | consumer | declaration';
COMMENT ON COLUMN channel_wrappers.transport IS 'Transport of the rule it reaches';
COMMENT ON COLUMN channel_wrappers.template IS 'The topic the transport sees, as a JSON expression of the parameter (["p", name] inside prefixes, suffixes, encodings)';
COMMENT ON COLUMN channel_wrappers.base_rule IS 'The shipped or user rule at the end of the chain';
COMMENT ON COLUMN channel_wrappers.depth IS 'Wrappers between this one and the transport call (1: calls it directly)';
COMMENT ON COLUMN channel_wrappers.evidence IS 'The chain, one step a line: path:line what flows where';

CREATE TABLE channel_state (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
COMMENT ON TABLE channel_state IS 'Channel pass bookkeeping: the fingerprint of the inputs (channel facts, linked callees, re-exports, rules, settings) the channel tables were computed from; a batch that changes none of them skips the pass';
COMMENT ON COLUMN channel_state.key IS 'inputs';
COMMENT ON COLUMN channel_state.value IS 'Fingerprint';

CREATE VIEW derived_rules AS
SELECT w.wrapper, w.param, w.position, w.role, w.transport, w.template, w.base_rule, w.depth,
       w.evidence, f.path
FROM channel_wrappers AS w JOIN files AS f USING (file_id);
COMMENT ON VIEW derived_rules IS 'Rules derived from wrappers (the project''s own bus): a call that resolves to wrapper is a site of transport, its param argument the topic';
COMMENT ON COLUMN derived_rules.wrapper IS 'qualname of the wrapper';
COMMENT ON COLUMN derived_rules.param IS 'Parameter carrying the topic';
COMMENT ON COLUMN derived_rules.position IS 'Position of the parameter in a call (self not counted)';
COMMENT ON COLUMN derived_rules.role IS 'producer | consumer | declaration';
COMMENT ON COLUMN derived_rules.transport IS 'Transport reached';
COMMENT ON COLUMN derived_rules.template IS 'Topic as a JSON expression of the parameter';
COMMENT ON COLUMN derived_rules.base_rule IS 'Rule at the end of the chain';
COMMENT ON COLUMN derived_rules.depth IS 'Wrappers down to the transport call';
COMMENT ON COLUMN derived_rules.evidence IS 'The chain of evidence, one step a line';
COMMENT ON COLUMN derived_rules.path IS 'File defining the wrapper';

CREATE VIEW channel_site_paths AS
SELECT s.*, f.path
FROM channel_sites AS s JOIN files AS f USING (file_id);
COMMENT ON VIEW channel_site_paths IS 'channel_sites with the path of each site''s file';
COMMENT ON COLUMN channel_site_paths.path IS 'File of the site';
COMMENT ON COLUMN channel_site_paths.file_id IS 'File of the site (files.file_id); the row is owned by it';
COMMENT ON COLUMN channel_site_paths.line IS '1-based line of the call or use';
COMMENT ON COLUMN channel_site_paths.col IS '1-based byte column of the call or use';
COMMENT ON COLUMN channel_site_paths.symbol IS 'qualname of the function, class body or module holding the site';
COMMENT ON COLUMN channel_site_paths.role IS 'producer | consumer | declaration';
COMMENT ON COLUMN channel_site_paths.transport IS 'redis, redis-list, redis-stream, zmq, mqtt, nats, kafka, amqp, pypubsub, queue, asyncio.queue, multiprocessing.queue, deque, list, or a user rule''s transport';
COMMENT ON COLUMN channel_site_paths.expression IS 'The topic as written (rendered from the recorded expression: names, parameters, f-string parts)';
COMMENT ON COLUMN channel_site_paths.topic IS 'Resolved topic; for a pattern, the pattern as the transport writes it (a producer''s unknown parts are *); NULL when dynamic';
COMMENT ON COLUMN channel_site_paths.match_kind IS 'exact | prefix (ZeroMQ) | subtree (PyPubSub) | glob (Redis) | wildcard (MQTT, NATS, AMQP) | regex (Kafka) | pattern (a producer with unknown parts) | dynamic';
COMMENT ON COLUMN channel_site_paths.regex IS 'The topic or pattern as a regular expression with the transport''s semantics (wildcards, regex subscriptions, a producer''s unknown parts)';
COMMENT ON COLUMN channel_site_paths.sample IS 'A producer pattern with each unknown part replaced by x, matched against consumer patterns';
COMMENT ON COLUMN channel_site_paths.strategy IS 'How the topic was found: literal, constant, enum, fstring, concat, local, wrapper, receiver, dynamic (joined with + along the way)';
COMMENT ON COLUMN channel_site_paths.confidence IS '0..1: 1 for literals and constants, lower for patterns and derived wrappers';
COMMENT ON COLUMN channel_site_paths.rule IS 'The rule that matched: <rules file>:<n>, collection:<transport>, or derived:<wrapper qualname>';
COMMENT ON COLUMN channel_site_paths.via IS 'The chain of wrappers the call went through to reach the transport (a > b > c), NULL for a direct call';
COMMENT ON COLUMN channel_site_paths.catch_all IS 'A subscription to everything (ZeroMQ empty prefix, MQTT #, NATS >, Redis *): a historian or bridge, not the component that acts on a message';
COMMENT ON COLUMN channel_site_paths.in_test IS 'The file matches GRAPHSVC_CHANNEL_TEST_GLOBS: counts as neither producer nor consumer, but is listed in evidence';

CREATE VIEW channel_links AS
SELECT
    p.transport,
    p.topic AS produced,
    c.topic AS consumed,
    c.match_kind,
    c.catch_all,
    p.path AS producer_path,
    p.line AS producer_line,
    p.symbol AS producer,
    p.in_test AS producer_in_test,
    c.path AS consumer_path,
    c.line AS consumer_line,
    c.symbol AS consumer,
    c.in_test AS consumer_in_test
FROM channel_site_paths AS p
JOIN channel_site_paths AS c
    ON p.transport = c.transport
    AND p.role = 'producer'
    AND c.role = 'consumer'
    AND p.match_kind IN ('exact', 'pattern')
    AND c.match_kind <> 'dynamic'
    AND CASE
        WHEN p.match_kind = 'pattern' AND c.match_kind IN ('exact', 'pattern')
            THEN regexp_full_match(c.topic, p.regex)
        WHEN c.match_kind = 'exact' THEN p.topic = c.topic
        WHEN c.match_kind = 'prefix' THEN starts_with(coalesce(p.sample, p.topic), c.topic)
        WHEN c.match_kind = 'subtree'
            THEN coalesce(p.sample, p.topic) = c.topic
                OR starts_with(coalesce(p.sample, p.topic), c.topic || '.')
        WHEN c.match_kind = 'glob' THEN coalesce(p.sample, p.topic) GLOB c.topic
        ELSE regexp_full_match(coalesce(p.sample, p.topic), c.regex)
    END;
COMMENT ON VIEW channel_links IS 'Producer -> consumer pairs whose topics match with the transport''s semantics: exact, ZeroMQ prefix, PyPubSub subtree, Redis glob, MQTT/NATS/AMQP wildcards and Kafka regexes (as channel_sites.regex), producer patterns by their regex or sample';
COMMENT ON COLUMN channel_links.transport IS 'Transport of both sites';
COMMENT ON COLUMN channel_links.produced IS 'Topic (or pattern) the producer writes';
COMMENT ON COLUMN channel_links.consumed IS 'Topic or subscription pattern the consumer reads';
COMMENT ON COLUMN channel_links.match_kind IS 'The consumer''s match kind';
COMMENT ON COLUMN channel_links.catch_all IS 'The consumer subscribes to everything';
COMMENT ON COLUMN channel_links.producer_path IS 'File of the producer';
COMMENT ON COLUMN channel_links.producer_line IS 'Line of the producer';
COMMENT ON COLUMN channel_links.producer IS 'Symbol holding the producer';
COMMENT ON COLUMN channel_links.producer_in_test IS 'The producer is in a test file';
COMMENT ON COLUMN channel_links.consumer_path IS 'File of the consumer';
COMMENT ON COLUMN channel_links.consumer_line IS 'Line of the consumer';
COMMENT ON COLUMN channel_links.consumer IS 'Symbol holding the consumer';
COMMENT ON COLUMN channel_links.consumer_in_test IS 'The consumer is in a test file';
