-- graphsvc schema 0012: clone fingerprints for duplicate findings (#8). Extraction hashes every
-- function, method and class of a file (graphsvc/extract/clones.py); the rows are owned by the
-- file and replaced with it. The duplicate_* saved queries compare them across files in SQL.

CREATE TABLE clones (
    file_id INTEGER NOT NULL,
    qualname VARCHAR NOT NULL,
    parent VARCHAR,
    kind VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    exact VARCHAR NOT NULL,
    shape VARCHAR NOT NULL,
    boilerplate BOOLEAN NOT NULL,
    signature INTEGER[] NOT NULL,
    bands INTEGER[] NOT NULL
);
COMMENT ON TABLE clones IS 'Clone fingerprints of each function, method and class (not lambdas; not definitions with a syntax error inside), one row each, owned by its file. Hashes cover the tokens after the name: comments, whitespace, docstring and decorators are left out, nested definitions count by their own hashes';
COMMENT ON COLUMN clones.file_id IS 'Owning file (files.file_id)';
COMMENT ON COLUMN clones.qualname IS 'Qualified name of the definition (symbols.qualname)';
COMMENT ON COLUMN clones.parent IS 'qualname of the enclosing function or class, NULL for a definition at module level';
COMMENT ON COLUMN clones.kind IS 'function (also methods, properties) | class';
COMMENT ON COLUMN clones.line IS '1-based line of the def or class keyword';
COMMENT ON COLUMN clones.end_line IS '1-based last line of the definition';
COMMENT ON COLUMN clones.tokens IS 'Number of tokens hashed, nested definitions included (comments, docstring and decorators not counted)';
COMMENT ON COLUMN clones.exact IS '16 hex of blake2b over the tokens as written: equal for the same code whatever its layout, comments, docstring or name';
COMMENT ON COLUMN clones.shape IS '16 hex of blake2b over the tokens with local names renamed by first use and literals replaced by their type (keywords, builtins, self/cls and .attribute names kept): equal for renamed clones';
COMMENT ON COLUMN clones.boilerplate IS 'Body of only pass, ..., docstring, raise NotImplementedError, plain assignments of names or literals, super() calls and one simple return (a class: all its methods too); never reported as a duplicate';
COMMENT ON COLUMN clones.signature IS 'MinHash of the set of 4-token shingles of the shape tokens: 64 positions (one permutation hashing, densified), 31-bit values; the share of equal positions of two signatures estimates their Jaccard similarity. Empty below 20 tokens';
COMMENT ON COLUMN clones.bands IS 'LSH keys: the first 60 signature positions in 12 bands of 5, each band hashed with its number into 31 bits; definitions sharing a key are near-duplicate candidates. Empty without a signature';
