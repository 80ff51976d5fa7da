"""The foreign agent's tables (RFC 5944 3.7.1): pending registrations and the visitor list.

Pure data with no protocol logic: the foreign agent decides what goes in and what an entry
leaving means for the data plane.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

LOW32 = 0xFFFFFFFF

PendingKey = tuple[str, str, int]  # home address, home agent, low 32 bits of the identification
VisitorKey = tuple[str, str]  # home address, home agent


@dataclass
class Pending:
    """A request relayed to a home agent, awaiting its reply (RFC 5944 3.7.1)."""

    home_address: str
    home_agent: str
    identification: int
    iface: str  # the access link the request came in on
    care_of: str  # our address on that link: the reply's source
    mn_address: str  # IP source of the request: the reply's destination (RFC 5944 3.7.3.2)
    mn_port: int  # UDP source port of the request
    lifetime: int  # requested lifetime
    reverse_tunnel: bool  # T bit, RFC 3024
    co_located: bool  # D bit: the MN decapsulates itself; we only relay (RFC 5944 3.1)
    relayed_at: float
    expires_at: float
    udp_request: bool = False  # we added a UDP Tunnel Request (RFC 3519 3.1, 4.5)

    @property
    def key(self) -> PendingKey:
        # RFC 5265 3.5, R-3.5-a: the home agent is part of the key, so one MN (even with one
        # home address) can have a registration pending with the i-HA and one with the x-HA
        return pending_key(self.home_address, self.home_agent, self.identification)


def pending_key(home_address: str, home_agent: str, identification: int) -> PendingKey:
    """RFC 5944 3.7.3.1: a reply matches on the low-order 32 bits of the identification."""
    return (home_address, home_agent, identification & LOW32)


class PendingList:
    """Pending registrations by (home address, home agent, low 32 bits of identification)."""

    def __init__(self) -> None:
        self._entries: dict[PendingKey, Pending] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Pending]:
        return iter(list(self._entries.values()))

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def add(self, entry: Pending) -> None:
        self._entries[entry.key] = entry

    def get(self, key: PendingKey) -> Pending | None:
        return self._entries.get(key)

    def pop(self, key: PendingKey) -> Pending | None:
        return self._entries.pop(key, None)

    def for_binding(self, home_address: str, home_agent: str) -> list[Pending]:
        return [p for p in self._entries.values() if (p.home_address, p.home_agent) == (home_address, home_agent)]

    def for_identification(self, home_address: str, identification: int) -> list[Pending]:
        """Entries of `home_address` whose identification has the same low 32 bits, whatever their home agent."""
        low = identification & LOW32
        return [p for p in self._entries.values()
                if p.home_address == home_address and p.identification & LOW32 == low]

    def supersede(self, answered: Pending) -> list[Pending]:
        """Drop entries of the same binding relayed no later than `answered` (retransmissions
        the reply makes moot), so that their timeouts send no stale code 78."""
        gone = [p for p in self.for_binding(answered.home_address, answered.home_agent)
                if p.relayed_at <= answered.relayed_at]
        for p in gone:
            del self._entries[p.key]
        return gone

    def expire(self, now: float) -> list[Pending]:
        """Remove and return the entries whose time is up."""
        gone = [p for p in self._entries.values() if p.expires_at <= now]
        for p in gone:
            del self._entries[p.key]
        return gone

    def next_expiry(self) -> float | None:
        return min((p.expires_at for p in self._entries.values()), default=None)


@dataclass
class Visitor:
    """An accepted registration through us (RFC 5944 3.7.1 visitor list entry)."""

    home_address: str
    home_agent: str
    iface: str
    care_of: str
    mn_address: str
    mn_port: int
    reverse_tunnel: bool
    co_located: bool
    registered_at: float
    expires_at: float | None  # None: infinite lifetime (0xffff, RFC 5944 3.3)
    udp_tunnel: bool = False  # the home agent tunnels to us over UDP (RFC 3519 3.2)

    @property
    def key(self) -> VisitorKey:
        # RFC 5265 3.5, R-3.5-a: one entry per (home address, home agent)
        return (self.home_address, self.home_agent)


class VisitorList:
    """Visitors by (home address, home agent)."""

    def __init__(self) -> None:
        self._entries: dict[VisitorKey, Visitor] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Visitor]:
        return iter(list(self._entries.values()))

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: VisitorKey) -> Visitor | None:
        return self._entries.get(key)

    def put(self, visitor: Visitor) -> Visitor | None:
        """Add or replace; returns the entry replaced, if any. The entry goes last: the list is in
        the order registrations were accepted, which settles a tie in `current`."""
        old = self._entries.pop(visitor.key, None)
        self._entries[visitor.key] = visitor
        return old

    def current(self) -> dict[str, Visitor]:
        """Per home address, the entry of its current registration: the one whose request we relayed
        last (RFC 5265 3.5 lets one home address register with two home agents at once, R-3.5-a; the
        mobile node's latest request says which one it uses now). Not the one accepted last: a reply
        to an older request may come after a newer request's reply."""
        out: dict[str, Visitor] = {}
        for v in self._entries.values():
            c = out.get(v.home_address)
            if c is None or v.registered_at >= c.registered_at:
                out[v.home_address] = v
        return out

    def remove(self, key: VisitorKey) -> Visitor | None:
        return self._entries.pop(key, None)

    def expire(self, now: float) -> list[Visitor]:
        gone = [v for v in self._entries.values() if v.expires_at is not None and v.expires_at <= now]
        for v in gone:
            del self._entries[v.key]
        return gone

    def next_expiry(self) -> float | None:
        return min((v.expires_at for v in self._entries.values() if v.expires_at is not None), default=None)
