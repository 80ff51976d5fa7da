"""Keepalives of one RFC 3519 UDP tunnel endpoint (a co-located MN, or an FA), Sans-IO.

RFC 3519 4.9: an ICMP echo through the tunnel to the home agent every interval keeps the NAT
mapping open; 4.10: its echo, or any data from the HA, proves the mapping still works. The owner
sends `packet(now)` when `due_at` comes and decides what silence (`lost`) means: the MN registers
again, the FA makes its visitors do so.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..wire.tunnel import TunnelData, keepalive

SILENT_KEEPALIVES = 2  # RFC 3519 4.10: this many intervals (plus a second) of silence: the mapping is lost
SILENCE_MARGIN = 1.0


def interval(offered: int, ceiling: int) -> float:
    """RFC 3519 3.2, 4.9: the HA's interval from its UDP Tunnel Reply, or our ceiling if shorter
    (0 on either side: no say). 0.0: no keepalives."""
    every = [k for k in (offered, ceiling) if k > 0]
    return float(min(every)) if every else 0.0


@dataclass
class Keepalive:
    src: str  # the echo's source: our home address (MN) or our own address (FA)
    home_agent: str
    every: float  # 0: none sent
    heard_at: float
    due_at: float | None = None
    seq: int = 0

    @classmethod
    def start(cls, src: str, home_agent: str, every: float, now: float) -> Keepalive:
        return cls(src, home_agent, every, now, now + every if every else None)

    def heard(self, now: float) -> None:
        """Tunnel data from the HA arrived (data or a keepalive's echo)."""
        self.heard_at = now

    def silent_for(self, now: float) -> float:
        return now - self.heard_at

    def lost(self, now: float) -> bool:
        """RFC 3519 4.10: silent for too long. Each silent spell is reported once."""
        if not self.every or self.silent_for(now) <= SILENT_KEEPALIVES * self.every + SILENCE_MARGIN:
            return False
        self.heard_at = now
        return True

    def packet(self, now: float) -> bytes:
        """The next keepalive as MIP tunnel data (RFC 3519 3.3, 4.9); the one after is due an interval on."""
        self.due_at = now + self.every if self.every else None
        self.seq = (self.seq + 1) & 0xFFFF
        return TunnelData(keepalive(self.src, self.home_agent, self.seq)).encode()
