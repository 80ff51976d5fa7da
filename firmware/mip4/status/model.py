"""StatusModel: the machine's own status() (per uplink its verdict, registrations with their lifetimes,
T_MONITOR) plus what people ask about: the verdict's reason in words, the recent log and a handoff
timeline.

Pure: the owner passes the actions it fed and the clock; nothing here does I/O.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from ..core.actions import Log

LOG_LINES = 500
HANDOFFS = 20


class StatusModel:
    def __init__(self, machine: Any, log_lines: int = LOG_LINES, levels: frozenset[str] | None = None) -> None:
        self.machine = machine
        # the levels kept in the recent log (None: all): the daemon's own, so that a busy HA's refreshes at
        # debug (thousands a second) neither cost a line each nor push every other line out (issue 25)
        self.levels = levels
        self.lines: deque[dict] = deque(maxlen=log_lines)
        self.seq = 0  # log line numbers: `log` callers ask for lines after the last one they saw
        self.reasons: dict[str, str] = {}  # iface -> message of its last state transition
        self.handoffs: deque[dict] = deque(maxlen=HANDOFFS)
        self._stable: tuple[str | None, str | None] = (None, None)  # (primary, mode) last seen with data flowing
        self._lost_at: float | None = None  # wall time data stopped (a handoff in progress)
        self._handoffs = hasattr(machine, "uplinks")  # a mobile node's: it hands off

    def record(self, actions: list, now: float, wall: float) -> None:
        """Keep the log lines of a batch the machine returned, then note any handoff it made."""
        levels = self.levels
        for a in actions:
            if not isinstance(a, Log):
                continue
            if levels is None or a.level in levels:
                self.seq += 1
                self.lines.append({"seq": self.seq, "time": wall, "level": a.level, "reason": a.reason,
                                   "message": a.message})
            if a.reason == "state":  # the verdict's reason, whatever the level kept
                iface = a.fields.get("iface")
                if iface:
                    self.reasons[iface] = a.message
        if self._handoffs:
            self._observe(self.machine.status(now), wall)

    def _observe(self, s: dict, wall: float) -> None:
        """A handoff runs from the moment user data stops (or the primary changes) until it flows again."""
        current = (s["primary"], s["mode"])
        if current == self._stable and self._lost_at is None:
            return
        if current[1] is None:
            if self._lost_at is None and self._stable[1] is not None:
                self._lost_at = wall
            return
        if current != self._stable or self._lost_at is not None:
            start = self._lost_at if self._lost_at is not None else wall
            self.handoffs.append({"at": start, "from": _name(self._stable), "to": _name(current),
                                  "duration": wall - start, "reason": self.reasons.get(current[0] or "", "")})
        self._stable, self._lost_at = current, None

    def status(self, now: float) -> dict:
        s = self.machine.status(now)
        if not hasattr(self.machine, "uplinks"):
            return s
        for iface, u in s["interfaces"].items():
            u["verdict_reason"] = self.reasons.get(iface, "")
        primary = s["interfaces"].get(s["primary"] or "")
        state = primary["state"] if primary else None
        # tentatively outside: the x-HA accepted, the i-HA may still answer (RFC 5265 3.3); data only as ESP
        s["verdict"] = state if state in ("inside", "tentative-outside", "outside") else "none"
        s["verdict_reason"] = (primary["verdict_reason"] if primary else "no uplink carries user data")
        s["child_sa"] = "up" if s["ike"] == "up" and s["vpn_tia"] else ("connecting" if s["ike"] == "connecting"
                                                                         else "down")
        s["handoffs"] = list(self.handoffs)
        return s

    def log(self, since: int = 0, limit: int = 100) -> list[dict]:
        out = [line for line in self.lines if line["seq"] > since]
        return out[-limit:]


def _name(pm: tuple[str | None, str | None]) -> str:
    return "%s/%s" % pm if pm[1] else "none"
