"""What one findings refresh did (:class:`RefreshResult`): the counts /status and the log
report, per-query times and which queries were reused, deferred, stopped or failed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RefreshResult:
    """What one refresh did."""

    as_of: int
    events: dict[str, int] = field(default_factory=dict[str, int])  # event kind -> count
    open: int = 0
    suppressed: int = 0
    rewritten: int = 0  # rows written (events plus silent updates)
    last_seq: int = 0  # the feed's position after the refresh
    query_ms: dict[str, float] = field(default_factory=dict[str, float])
    failed: dict[str, str] = field(default_factory=dict[str, str])  # query -> error
    reused: list[str] = field(default_factory=list[str])  # queries whose rows were reused
    deferred: list[str] = field(default_factory=list[str])  # slow queries not run this time
    # queries stopped midway for a batch (their findings stay; the next refresh runs them)
    interrupted: list[str] = field(default_factory=list[str])
    ms: float = 0.0

    def line(self) -> str:
        """``findings open=3 suppressed=1 +1 ~0 -2 reopened=0 in 4.1 ms``."""
        e = self.events
        return (
            f"findings open={self.open} suppressed={self.suppressed} new={e.get('new', 0)}"
            f" changed={e.get('changed', 0)} fixed={e.get('fixed', 0)}"
            f" reopened={e.get('reopened', 0)} in {self.ms:.1f} ms"
            + (f" ({len(self.failed)} queries failed)" if self.failed else "")
        )
