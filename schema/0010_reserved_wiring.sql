-- Placeholder on the knowledge branch only: 0010 is reserved for the wiring branch (#8). Drop this
-- file when merging after that branch (migrations must be numbered without gaps).
SELECT 1;
