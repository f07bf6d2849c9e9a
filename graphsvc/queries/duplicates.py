"""The ``duplicates`` finder: clone pairs in, one row per group of duplicates out.

The query (queries/duplicate_code.sql) hands over edges between definitions: each member of a
group of equal hashes linked to the group's first member, and near-duplicate pairs found by
LSH and checked by their estimated similarity. Groups are the connected components of those
edges, after two clean-ups:

- an edge between two definitions whose enclosing definitions are themselves in one group is
  dropped: when two classes are copies, their methods are reported with them, not again;
- an edge between two definitions of the same name in the same file (``if``/``else``
  variants of one function) is dropped: they are alternatives, not duplicates.

A group is as strong as its weakest edge: ``exact`` (same tokens), ``renamed`` (same shape:
names or constants differ) or ``near`` (similar shingles).
"""

from __future__ import annotations

from typing import Any

Rows = list[dict[str, Any]]
Node = tuple[str, str]  # (qualname, path)

INPUTS = (
    "source",
    "source_path",
    "source_line",
    "source_parent",
    "target",
    "target_path",
    "target_line",
    "target_parent",
    "kind",
    "how",
    "similarity",
)
OUTPUTS = (
    "members",
    "size",
    "first",
    "kind",
    "how",
    "found_by",
    "similarity",
    "files",
    "severity",
    "confidence",
    "locations",
)
_STRENGTH = {"exact": 0, "renamed": 1, "near": 2}
_FOUND_BY = {
    "exact": "identical tokens (layout, comments, docstrings, decorators and the definitions' "
    "own names aside)",
    "renamed": "identical token shape (local names renamed consistently, literals differ)",
    "near": "near duplicates: MinHash of 4-token shingles, LSH candidates, estimated Jaccard "
    "similarity",
}
_SEVERITY = {"exact": "medium", "renamed": "medium", "near": "low"}
_CONFIDENCE = {"exact": 0.95, "renamed": 0.85, "near": 0.7}


class _Components:
    """Union-find over nodes."""

    def __init__(self) -> None:
        self.parent: dict[Node, Node] = {}

    def find(self, node: Node) -> Node:
        root = self.parent.setdefault(node, node)
        while root != self.parent[root]:
            root = self.parent[root]
        while node != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: Node, b: Node) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _components(edges: Rows) -> _Components:
    found = _Components()
    for e in edges:
        found.union((e["source"], e["source_path"]), (e["target"], e["target_path"]))
    return found


def _nested_in_group(edge: dict[str, Any], first: _Components) -> bool:
    """Both ends sit in enclosing definitions that are duplicates of each other."""
    sp, tp = edge["source_parent"], edge["target_parent"]
    if sp is None or tp is None:
        return False
    a, b = (sp, edge["source_path"]), (tp, edge["target_path"])
    if a == b or a not in first.parent or b not in first.parent:
        return False
    return first.find(a) == first.find(b)


def duplicate_groups(rows: Rows) -> Rows:
    """One row per group of duplicate definitions (see the module docstring)."""
    edges = [
        r for r in rows if not (r["source"] == r["target"] and r["source_path"] == r["target_path"])
    ]
    first = _components(edges)
    edges = [e for e in edges if not _nested_in_group(e, first)]
    groups = _components(edges)
    by_root: dict[Node, Rows] = {}
    for e in edges:
        by_root.setdefault(groups.find((e["source"], e["source_path"])), []).append(e)
    # (two groups' first members may share a qualname in different files: their files decide)
    return sorted(
        (_group(group) for group in by_root.values()),
        key=lambda r: (-r["size"], r["first"], r["files"]),
    )


def _group(edges: Rows) -> dict[str, Any]:
    where: dict[Node, int] = {}
    for e in edges:
        where[(e["source"], e["source_path"])] = e["source_line"]
        where[(e["target"], e["target_path"])] = e["target_line"]
    how = max((e["how"] for e in edges), key=_STRENGTH.__getitem__)
    similarity = min(float(e["similarity"]) for e in edges)
    nodes = sorted(where)
    members = sorted(q for q, _ in nodes)
    return {
        "members": members,
        "size": len(members),
        "first": members[0],
        "kind": edges[0]["kind"],
        "how": how,
        "found_by": _FOUND_BY[how],
        "similarity": f"{similarity:.2f}",
        "files": sorted({p for _, p in nodes}),
        "severity": _SEVERITY[how],
        "confidence": _CONFIDENCE[how] if how != "near" else round(min(0.9, similarity), 2),
        "locations": [{"path": p, "line": where[(q, p)], "symbol": q} for q, p in nodes],
    }
