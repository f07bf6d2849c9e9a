"""Libraries a serving process does not need at steady state load only where they are used (#5):
import-linter and grimp (import contracts, cycle breakers), rich (tables, the progress bar).
Each test runs in a fresh interpreter, so what an earlier test imported cannot hide a load."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

LAZY = ("grimp", "importlinter", "rich")


def _run(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object, returned here."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_serving_modules_leave_the_lazy_libraries_unloaded() -> None:
    found = _run(
        f"""
        import json, sys
        import graphsvc.api, graphsvc.cli, graphsvc.link, graphsvc.service
        print(json.dumps({{"loaded": [m for m in {LAZY!r} if m in sys.modules]}}))
        """
    )
    assert found == {"loaded": []}


def test_a_table_loads_rich_where_it_renders() -> None:
    found = _run(
        """
        import json, sys
        from graphsvc.formats import Format, render
        before = "rich" in sys.modules
        text = render(["name", "n"], [("alpha", 1), ("beta", None)], Format.table)
        print(json.dumps({"before": before, "after": "rich" in sys.modules, "text": text}))
        """
    )
    assert found["before"] is False
    assert found["after"] is True
    text = str(found["text"])
    assert "alpha" in text
    assert "NULL" in text


def test_cycle_breakers_load_grimp_when_no_single_cut_breaks_the_cycle() -> None:
    # every module imports both others: no dependency is the only way out of its importer
    found = _run(
        """
        import json, sys
        from graphsvc.queries.finders import cycle_breakers, strongly_connected
        pairs = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("a", "c"), ("c", "a")]
        cut = cycle_breakers([{"source": s, "target": t} for s, t in pairs])
        left = strongly_connected(p for p in pairs if p not in cut)
        print(json.dumps({"grimp": "grimp" in sys.modules, "cut": cut, "left": left}))
        """
    )
    assert found["grimp"] is True
    assert found["left"] == []
    assert found["cut"]
