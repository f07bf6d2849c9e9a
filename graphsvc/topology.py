"""Channel topology for readers (a ``/channels`` endpoint, the CLI): every channel with its
producers and consumers, matched with each transport's semantics by the ``channel_links`` view.
"""

from __future__ import annotations

from typing import Any

from graphsvc.store import QueryResult, Store


def _site(path: str, line: int, symbol: str, in_test: bool) -> dict[str, Any]:
    return {"path": path, "line": line, "symbol": symbol, "in_test": in_test}


def channel_topology(store: Store, transport: str | None = None) -> list[dict[str, Any]]:
    """One entry per (transport, topic or pattern) that some site names: its producers, the
    consumers whose subscription matches it (catch-all ones flagged), and its own sites.

    Dynamic topics are left out (see :func:`dynamic_sites`).
    """
    params = {"transport": transport}
    channels: dict[tuple[str, str], dict[str, Any]] = {}
    for t, topic, role, kind, path, line, symbol, in_test, catch_all in store.con.execute(
        "SELECT transport, topic, role, match_kind, path, line, symbol, in_test, catch_all"
        " FROM channel_site_paths WHERE match_kind <> 'dynamic'"
        " AND ($transport IS NULL OR transport = $transport) ORDER BY ALL",
        params,
    ).fetchall():
        entry = channels.setdefault(
            (t, topic),
            {
                "transport": t,
                "channel": topic,
                "match_kind": kind,
                "producers": [],
                "consumers": [],
                "declarations": [],
                "catch_all": catch_all,
            },
        )
        entry[f"{role}s" if role != "declaration" else "declarations"].append(
            _site(path, line, symbol, in_test)
        )
    for t, produced, path, line, symbol, in_test, catch_all in store.con.execute(
        "SELECT DISTINCT transport, produced, consumer_path, consumer_line, consumer,"
        " consumer_in_test, catch_all FROM channel_links"
        " WHERE $transport IS NULL OR transport = $transport ORDER BY ALL",
        params,
    ).fetchall():
        entry = channels.get((t, produced))
        if entry is None:
            continue
        site = {**_site(path, line, symbol, in_test), "catch_all": catch_all}
        matched = entry.setdefault("matched_consumers", [])
        if site not in matched:
            matched.append(site)
    return [channels[k] for k in sorted(channels, key=lambda k: (k[0], k[1] or ""))]


def dynamic_sites(store: Store, transport: str | None = None) -> QueryResult:
    """Sites whose topic stayed unknown, with the expression as written."""
    return store.query(
        "SELECT path, line, symbol, role, transport, expression, rule, via"
        " FROM channel_site_paths WHERE match_kind = 'dynamic'"
        " AND ($1 IS NULL OR transport = $1) ORDER BY path, line, col",
        [transport],
    )


def derived_rules(store: Store) -> QueryResult:
    """The wrappers found without configuration, with their evidence chains."""
    return store.query(
        "SELECT wrapper, param, position, role, transport, base_rule, depth, evidence, path"
        " FROM derived_rules ORDER BY wrapper, param"
    )
