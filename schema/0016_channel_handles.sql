-- Meanings added by #4/#7 (no table or column changes): receivers typed by annotations, and
-- channels carried by handles (multiprocessing.Pipe ends, typed ZeroMQ sockets, aio-pika
-- exchanges and queues), whose facts are new kinds of channel_facts rows.

COMMENT ON COLUMN calls.candidate_kind IS 'Evidence for candidate: local | import | builtin | self | cls | super | instance | self_attr | annotation (a receiver annotated with a class: a parameter, self.x: C, a local; A.m|B.m for a union of classes) | variable | ambiguous | unknown';
COMMENT ON COLUMN links.strategy IS 'How the target was found: lexical, import, self, cls, super, instance, self_attr, annotation, builtin, flow, plus +mro / +constructor / +reexport / +star / +subclass steps';

COMMENT ON COLUMN channel_facts.kind IS 'call | const | attr | param | decl | use | deco; handles (graphsvc/extract/handles.py): hmake (a factory call assigned to places) | huse (a handle method called on a place) | hcopy (a place copied to another) | harg (a place passed to a function) | hparam (a parameter that handle rows read)';
COMMENT ON COLUMN channel_facts.name IS 'call: the callee as this file infers it (dotted, F() for the result of a call); const: its qualname; attr/use: Class.attribute; decl: Class.attribute or the qualname of a module or class name; deco: the decorated function; param: the parameter; hmake: the factory as inferred (?.m when the receiver is untyped); huse: the place (JSON); hcopy: the destination place; harg: the function called; hparam: the function';
COMMENT ON COLUMN channel_facts.detail IS 'call: the callee as written; param: position:kind:bound; decl: the constructor; deco: the decorator; use: write:op or read:op; hmake: the places assigned, one per end (JSON); huse: the method; hcopy: the source place; harg: position:bound or =keyword:bound; hparam: the parameter';
COMMENT ON COLUMN channel_facts.data IS 'JSON: call, decl, deco, hmake, huse: the arguments as [key, topic expression] (huse adds ["@key", place] for arguments that are places); const/attr: a topic expression; param: its default; harg: the place passed; hparam: [index, bound]';

COMMENT ON COLUMN channel_sites.transport IS 'redis, redis-list, redis-stream, zmq, zmq-pipeline, zmq-reqrep, zmq-pair, mqtt, nats, kafka, amqp, pypubsub, queue, asyncio.queue, multiprocessing.queue, multiprocessing.pipe, deque, list, or a user rule''s transport';
COMMENT ON COLUMN channel_sites.strategy IS 'How the topic was found: literal, constant, enum, fstring, concat, local, wrapper, receiver, handle, address, dynamic (joined with + along the way)';
COMMENT ON COLUMN channel_sites.rule IS 'The rule that matched: <rules file>:<n>, collection:<transport>, object:<transport>, handle:<transport>, or derived:<wrapper qualname>';
COMMENT ON COLUMN channel_site_paths.strategy IS 'How the topic was found: literal, constant, enum, fstring, concat, local, wrapper, receiver, handle, address, dynamic (joined with + along the way)';
