-- Configuration files (TOML, YAML, INI/setup.cfg, JSON) are read beside the docs: doc_files
-- holds them with their own formats, their values that name code are doc_mentions
-- (context config_value), and a file that would not load is a doc_problems row (syntax).
COMMENT ON TABLE doc_files IS 'One row per documentation or configuration file of the tree (GRAPHSVC_DOC_GLOBS: *.md, *.rst, *.txt, *.toml, *.cfg, *.ini, *.yaml, *.yml, *.json), indexed or deliberately skipped';
COMMENT ON COLUMN doc_files.format IS 'markdown (markdown-it-py) | rst | text (line-based reader) | toml | yaml | ini (also setup.cfg) | json (configuration files: read line by line for values that name code; toml, ini and json also parsed to check they load)';
COMMENT ON COLUMN doc_mentions.context IS 'code_span | code_block | role (reST :func: etc.) | directive (reST automodule, include) | link | text (a path in prose) | config_value (a value of a configuration file: entry point pkg.mod:attr, dotted name, path)';
COMMENT ON COLUMN doc_problems.kind IS 'encoding (invalid UTF-8) | read (unreadable, reader bug) | missing (mentions past the cap dropped) | syntax (a TOML, JSON or INI file that would not load)';
