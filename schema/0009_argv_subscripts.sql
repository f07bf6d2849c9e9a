-- graphsvc schema 0009: argv-style first arguments (subprocess.run(["git", "status"])) and
-- reads of imported objects by a string key (os.environ["HOME"]). Facts of older files have
-- NULL here until they are re-indexed (the indexer version changed, so they are).

ALTER TABLE calls ADD COLUMN first_arg_from VARCHAR;
COMMENT ON COLUMN calls.first_arg_from IS 'Where first_arg comes from: literal (the first positional argument is a string, bytes or number literal) | sequence (the first element of a list or tuple literal first argument, an argv such as ["git", "status"]); NULL when first_arg is NULL';
COMMENT ON COLUMN calls.first_arg IS 'Value of the first positional argument when it is a string, bytes or number literal, or of the first element of a list or tuple literal first argument (see first_arg_from)';
COMMENT ON COLUMN "references".kind IS 'argument | container | decorator | assignment | getattr | hasattr | setattr | subscript (an imported object read by a string key: os.environ["HOME"])';
COMMENT ON COLUMN "references".context IS 'The called function (argument), the dict key (container), the decorated qualname (decorator), the target name (assignment), the attribute name (getattr), the key (subscript)';
