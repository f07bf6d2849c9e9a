"""The one hierarchy of errors graphsvc raises on purpose.

Every message says what went wrong, where, and what to do. Fields are kept as attributes and
every class pickles (errors cross the process pool of a cold index).
"""

from __future__ import annotations


class GraphsvcError(Exception):
    """Base of every error graphsvc raises on purpose."""


class DatabaseError(GraphsvcError):
    """The database file cannot be opened, migrated or written."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"database {path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[DatabaseError], tuple[str, str]]:
        return (type(self), (self.path, self.reason))


class SchemaTooNew(DatabaseError):
    """The database was written by a newer graphsvc than this one."""

    def __init__(self, path: str, found: int, known: int) -> None:
        super().__init__(
            path,
            f"schema version {found} is newer than this graphsvc knows ({known}); "
            "upgrade graphsvc or point --db at another file",
        )
        self.found = found
        self.known = known

    def __reduce__(self) -> tuple[type[SchemaTooNew], tuple[str, int, int]]:  # type: ignore[override]
        return (type(self), (self.path, self.found, self.known))


class MigrationError(DatabaseError):
    """A schema migration file is malformed or failed to apply."""


class QueryError(GraphsvcError):
    """An ad-hoc or saved SQL query was rejected or failed."""

    outcome = "failed"

    def __init__(self, sql: str, reason: str) -> None:
        short = " ".join(sql.split())[:120]
        super().__init__(f"query {self.outcome}: {reason} (query: {short})")
        self.sql = sql
        self.reason = reason

    def __reduce__(self) -> tuple[type[QueryError], tuple[str, str]]:
        return (type(self), (self.sql, self.reason))


class TreeError(GraphsvcError):
    """The tree to index does not exist or is not a directory."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot index {path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[TreeError], tuple[str, str]]:
        return (type(self), (self.path, self.reason))


class ConfigError(GraphsvcError):
    """The configuration (flags, GRAPHSVC_* variables, [tool.graphsvc]) is invalid."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid configuration: {reason}")
        self.reason = reason

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str]]:
        return (type(self), (self.reason,))


class NotFoundError(GraphsvcError):
    """A symbol or module named on the command line is not in the graph."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason

    def __reduce__(self) -> tuple[type[NotFoundError], tuple[str, str]]:
        return (type(self), (self.name, self.reason))


class ServiceError(GraphsvcError):
    """A running ``graphsvc serve`` could not be reached or refused a request."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"service {url}: {reason}")
        self.url = url
        self.reason = reason

    def __reduce__(self) -> tuple[type[ServiceError], tuple[str, str]]:
        return (type(self), (self.url, self.reason))


class QueryForbidden(QueryError):
    """Ad-hoc SQL asked for something the sandbox does not allow (a write, a setting, a file)."""

    outcome = "refused"


class QueryTimeout(QueryError):
    """Ad-hoc SQL ran past its time limit and was interrupted."""

    def __init__(self, sql: str, timeout_s: float) -> None:
        super().__init__(
            sql,
            f"interrupted after {timeout_s:g} s (the time limit); narrow the query, add a LIMIT,"
            " or raise GRAPHSVC_SQL_TIMEOUT_S",
        )
        self.timeout_s = timeout_s

    def __reduce__(self) -> tuple[type[QueryTimeout], tuple[str, float]]:  # type: ignore[override]
        return (type(self), (self.sql, self.timeout_s))


class DatabaseLocked(DatabaseError):
    """Another process (a running ``graphsvc serve`` or ``index``) holds the database's lock."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "in use by another graphsvc process (it holds the write lock)")

    def __reduce__(self) -> tuple[type[DatabaseLocked], tuple[str]]:  # type: ignore[override]
        return (type(self), (self.path,))


class SnapshotError(GraphsvcError):
    """A read-only snapshot of the database could not be published or found."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"snapshot {path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[SnapshotError], tuple[str, str]]:
        return (type(self), (self.path, self.reason))


class QueryFileError(GraphsvcError):
    """A saved query file (queries/*.sql) is malformed: the message names the file and line."""

    def __init__(self, path: str, line: int | None, reason: str, name: str | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason
        self.name = name  # the query's name when the header got that far

    def __reduce__(
        self,
    ) -> tuple[type[QueryFileError], tuple[str, int | None, str, str | None]]:
        return (type(self), (self.path, self.line, self.reason, self.name))


class QueryNotFound(NotFoundError):
    """No saved query has the name asked for."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name, f"no saved query {name!r}; known: {', '.join(known) or 'none'}")
        self.known = known

    def __reduce__(self) -> tuple[type[QueryNotFound], tuple[str, list[str]]]:  # type: ignore[override]
        return (type(self), (self.name, self.known))


class ParamError(GraphsvcError):
    """A saved query's parameter is unknown, missing or of the wrong type."""

    def __init__(self, query: str, param: str, reason: str) -> None:
        super().__init__(f"query {query}: parameter {param}: {reason}")
        self.query = query
        self.param = param
        self.reason = reason

    def __reduce__(self) -> tuple[type[ParamError], tuple[str, str, str]]:
        return (type(self), (self.query, self.param, self.reason))


class RuleError(GraphsvcError):
    """A channel rule file (shipped or the user's) is malformed: the message names the file,
    the rule and what is wrong."""

    def __init__(self, path: str, where: str, reason: str) -> None:
        super().__init__(f"{path}: {where}: {reason}")
        self.path = path
        self.where = where
        self.reason = reason

    def __reduce__(self) -> tuple[type[RuleError], tuple[str, str, str]]:
        return (type(self), (self.path, self.where, self.reason))
