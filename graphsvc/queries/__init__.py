"""Saved queries: ``queries/*.sql`` files with a header that names, documents, parameterises
and (for finding queries) maps their rows to findings. See README, *Saved queries*."""

from graphsvc.queries.catalog import (
    Catalog,
    SavedQuery,
    default_queries_dir,
    load_queries,
    schema_connection,
    user_query_dirs,
)
from graphsvc.queries.finders import FINDERS, Finder
from graphsvc.queries.header import (
    ACTION_CLASSES,
    SEVERITIES,
    FindingSpec,
    Param,
    check_value,
)
from graphsvc.queries.run import bind_params, query_result, run_query, run_rows
from graphsvc.queries.templates import Template, apply_filter, upper_snake

__all__ = [
    "ACTION_CLASSES",
    "FINDERS",
    "SEVERITIES",
    "Catalog",
    "Finder",
    "FindingSpec",
    "Param",
    "SavedQuery",
    "Template",
    "apply_filter",
    "bind_params",
    "check_value",
    "default_queries_dir",
    "load_queries",
    "query_result",
    "run_query",
    "run_rows",
    "schema_connection",
    "upper_snake",
    "user_query_dirs",
]
