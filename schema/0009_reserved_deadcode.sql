-- Placeholder on the knowledge branch only: 0009 is reserved for the deadcode branch (#8). Drop this
-- file when merging after that branch (migrations must be numbered without gaps).
SELECT 1;
