"""The event heap: (time, sequence, callback); the sequence number makes equal times run in insertion order."""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class SimulationError(RuntimeError):
    """The simulation cannot go on (for example a machine that keeps asking for a timer at the same instant)."""


class EventQueue:
    """A deterministic priority queue of callbacks."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._seq = itertools.count()

    def push(self, time: float, fn: Callable[[], object]) -> None:
        heapq.heappush(self._heap, (time, next(self._seq), fn))

    def peek(self) -> float | None:
        """Time of the next event, or None when empty."""
        return self._heap[0][0] if self._heap else None

    def pop(self) -> tuple[float, Callable[[], object]]:
        time, _, fn = heapq.heappop(self._heap)
        return time, fn

    def __len__(self) -> int:
        return len(self._heap)
