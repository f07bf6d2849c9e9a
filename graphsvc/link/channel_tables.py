"""The channel pass's rows as Arrow tables (channel_sites, channels, channel_wrappers)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from graphsvc.link.channel_facts import Wrapper

_SITE_COLUMNS: dict[str, pa.DataType] = {
    "file_id": pa.int32(),
    "line": pa.int32(),
    "col": pa.int32(),
    "symbol": pa.string(),
    "role": pa.string(),
    "transport": pa.string(),
    "expression": pa.string(),
    "topic": pa.string(),
    "match_kind": pa.string(),
    "regex": pa.string(),
    "sample": pa.string(),
    "strategy": pa.string(),
    "confidence": pa.float64(),
    "rule": pa.string(),
    "via": pa.string(),
    "catch_all": pa.bool_(),
    "in_test": pa.bool_(),
}


def sites_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) or [() for _ in _SITE_COLUMNS]
    return pa.table(
        {k: pa.array(v, t) for (k, t), v in zip(_SITE_COLUMNS.items(), columns, strict=True)}
    )


def channels_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    distinct = sorted({(r[0], r[5], r[7], r[8]) for r in rows}, key=repr)
    return pa.table(
        {
            "file_id": pa.array([r[0] for r in distinct], pa.int32()),
            "transport": pa.array([r[1] for r in distinct], pa.string()),
            "name": pa.array([r[2] for r in distinct], pa.string()),
            "match_kind": pa.array([r[3] for r in distinct], pa.string()),
        }
    )


def wrappers_table(wrappers: list[Wrapper]) -> pa.Table:
    return pa.table(
        {
            "file_id": pa.array([w.file_id for w in wrappers], pa.int32()),
            "wrapper": pa.array([w.wrapper for w in wrappers], pa.string()),
            "param": pa.array([w.param for w in wrappers], pa.string()),
            "position": pa.array([w.position for w in wrappers], pa.int32()),
            "role": pa.array([w.rule.role for w in wrappers], pa.string()),
            "transport": pa.array([w.rule.transport for w in wrappers], pa.string()),
            "template": pa.array([json.dumps(w.template) for w in wrappers], pa.string()),
            "base_rule": pa.array([w.rule.id for w in wrappers], pa.string()),
            "depth": pa.array([w.depth for w in wrappers], pa.int32()),
            "evidence": pa.array([list(w.evidence) for w in wrappers], pa.list_(pa.string())),
        }
    )
