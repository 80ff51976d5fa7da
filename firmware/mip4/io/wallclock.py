"""Steps of the time of day, for the cores' timestamp identifications (RFC 5944 5.7.1).

The cores run on the monotonic clock; only identifications use the time of day, which NTP or an
RTC may step while mip4d runs. A step shows as a change of (time of day - monotonic time).
"""
from __future__ import annotations

from collections.abc import Callable

STEP = 1.0  # seconds: smaller changes are NTP slewing or scheduling noise, not worth telling the core


class WallClockWatch:
    """Compares time of day minus monotonic time with what the core was last told."""

    def __init__(self, wall: Callable[[], float], monotonic: Callable[[], float], step: float = STEP) -> None:
        self.wall, self.monotonic, self.step = wall, monotonic, step
        self.offset = wall() - monotonic()  # what the core was told last

    def check(self) -> tuple[float, float, float] | None:
        """(step in seconds, time of day, monotonic time) when the time of day moved by `step` or more
        against the monotonic clock since the core was last told (slow drift adds up to a step too)."""
        now = self.monotonic()
        wall = self.wall()
        moved = (wall - now) - self.offset
        if abs(moved) < self.step:
            return None
        self.offset = wall - now
        return moved, wall, now
