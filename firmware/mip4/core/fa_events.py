"""What the foreign agent counts and logs, Sans-IO.

Every event is counted. The log lines of what anyone on an access link can make us say (bad packets,
floods, requests we deny) are rate limited per reason (ratelimit.LogLimiter); what goes unlogged is
counted as log-suppressed.
"""
from __future__ import annotations

from .actions import Log, log
from .ratelimit import LogLimiter


class Events:
    """The foreign agent's counters and log lines."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.log_limiter = LogLimiter()

    def count(self, reason: str) -> None:
        self.counters[reason] = self.counters.get(reason, 0) + 1

    def event(self, level: str, reason: str, message: str, **fields) -> Log:
        """Counted and always logged: what follows from our own and the home agents' decisions."""
        self.count(reason)
        return log(level, reason, message, **fields)

    def limited(self, now: float, level: str, reason: str, message: str, **fields) -> list:
        """Counted, and logged unless `reason` has filled its share of the log lately."""
        self.count(reason)
        text = self.log_limiter.admit(reason, message, now)
        if text is None:
            self.count("log-suppressed")
            return []
        return [log(level, reason, text, **fields)]
