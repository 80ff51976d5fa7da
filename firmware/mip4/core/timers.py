"""The one timer rule every machine shares: wake at the earliest of its deadlines."""
from __future__ import annotations


def earliest(*times: float | None) -> float | None:
    """The smallest of `times` that is set, or None when none is (what get_timer() returns)."""
    due = [t for t in times if t is not None]
    return min(due) if due else None
