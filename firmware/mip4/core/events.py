"""What an agent or the mobile node counts and logs, Sans-IO (one place for "count, then log with a
rate limit" in the MN, the FA and the HA).

Every event is counted. The log lines of what anyone on a link can make us say (bad packets, floods,
requests we deny) are rate limited per reason (ratelimit.LogLimiter); what goes unlogged is counted as
log-suppressed.
"""
from __future__ import annotations

from .actions import Log, log
from .ratelimit import LogLimiter


class Events:
    """A machine's counters and log lines; `counters` may start with names shown even at zero."""

    def __init__(self, counters: dict[str, int] | None = None) -> None:
        self.counters: dict[str, int] = counters if counters is not None else {}
        self.log_limiter = LogLimiter()

    def count(self, reason: str) -> None:
        self.counters[reason] = self.counters.get(reason, 0) + 1

    def event(self, level: str, reason: str, message: str, **fields) -> Log:
        """Counted and always logged: what follows from our own and the home agents' decisions."""
        self.count(reason)
        return log(level, reason, message, **fields)

    def limited(self, now: float, level: str, reason: str, message: str, counter: str | None = None,
                **fields) -> list:
        """Counted (as `counter`, by default `reason`), and logged unless `reason` has filled its share
        of the log lately."""
        self.count(counter or reason)
        text = self.log_limiter.admit(reason, message, now)
        if text is None:
            self.count("log-suppressed")
            return []
        return [log(level, reason, text, **fields)]
