"""Rate limits driven by `now`: registrations per source, and log lines per reason (Sans-IO).

A flood of requests from one source costs the agent a token bucket lookup each, not a decoding,
an HMAC and a reply; a flood of bad packets costs a counter each, not a log line. Every packet is
still counted: what is limited is the work and the log, never the accounting.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_SOURCES = 4096  # sources whose buckets are kept; the least recently seen goes first
LOG_BURST = 5  # log lines per reason per window
LOG_WINDOW = 10.0  # seconds


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; one token per request."""

    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> bool:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class SourceLimiter:
    """One token bucket per IP source address; rate 0 lets everything through.

    Keyed on the address alone (a flood may vary its port). At most `max_sources` buckets: a source
    not heard from for longest is forgotten first (it comes back with a full bucket, as a new one).
    """

    def __init__(self, rate: float, burst: int, max_sources: int = MAX_SOURCES) -> None:
        self.rate, self.burst, self.max_sources = rate, float(max(burst, 1)), max_sources
        self.buckets: dict[str, TokenBucket] = {}

    def allow(self, source: str, now: float) -> bool:
        if self.rate <= 0:
            return True
        bucket = self.buckets.pop(source, None)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.burst, self.burst, now)
            if len(self.buckets) >= self.max_sources:
                del self.buckets[next(iter(self.buckets))]
        self.buckets[source] = bucket  # last in the dict: the most recently seen
        return bucket.take(now)


class LogLimiter:
    """At most `burst` log lines per reason in each `window` seconds; the rest are counted, and the
    next line of that reason that is let through says how many went unlogged."""

    def __init__(self, burst: int = LOG_BURST, window: float = LOG_WINDOW) -> None:
        self.burst, self.window = burst, window
        self._windows: dict[str, list] = {}  # reason -> [window start, lines logged in it, suppressed]
        self.suppressed = 0  # lines not logged, all reasons, ever

    def admit(self, reason: str, message: str, now: float) -> str | None:
        """The message to log (with a note of what was held back), or None: count only."""
        w = self._windows.get(reason)
        if w is None or now - w[0] >= self.window:
            held = w[2] if w is not None else 0
            self._windows[reason] = [now, 1, 0]
            if held:
                return "%s (and %d more like it, not logged)" % (message, held)
            return message
        if w[1] < self.burst:
            w[1] += 1
            return message
        w[2] += 1
        self.suppressed += 1
        return None
