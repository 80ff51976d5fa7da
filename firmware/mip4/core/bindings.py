"""The home agent's mobility binding list (RFC 5944 3.8.1): pure data, no protocol decisions.

Per home address: up to `limit` care-of bindings (RFC 5944 3.3, S bit), in registration order, and
the identification of the last accepted registration for replay protection (RFC 5944 5.7).
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass


class BindingLimit(ValueError):
    """add() would give a home address more simultaneous bindings than the table allows."""


# slots: an HA holds one per mobile node (issue 25: at most 1 KiB each). Not frozen, though never changed
# (a refresh replaces it): a frozen dataclass sets each field through object.__setattr__, six times the
# cost of making one per refresh (issue 25); unsafe_hash keeps it hashable as a frozen one was.
@dataclass(slots=True, unsafe_hash=True)
class Binding:
    """One mobility binding: home address -> care-of address, for a granted lifetime; never changed."""

    home_address: str
    care_of: str
    lifetime: int  # granted, seconds; 0xffff is infinite (RFC 5944 3.3)
    registered_at: float  # when the registration that set it up or renewed it was accepted
    expires_at: float  # math.inf for an infinite lifetime
    identification: int  # of that registration
    reverse_tunnel: bool = False  # T bit, RFC 3024
    source: str = ""  # IP source address of the request as received (after any NAT)
    source_port: int = 0  # its UDP source port
    udp_tunnel: bool = False  # RFC 3519: tunnel over UDP to source:source_port, not IP-in-IP to care_of
    co_located: bool = True  # D bit: the MN decapsulates itself; clear when the care-of is an FA's

    def remaining(self, now: float) -> float:
        return max(0.0, self.expires_at - now)


class BindingTable:
    """Bindings keyed by home address, at most `limit` care-of addresses each."""

    def __init__(self, limit: int = 1) -> None:
        self.limit = limit
        self._by_home: dict[str, list[Binding]] = {}
        self._last_id: dict[str, int] = {}
        self._expiries: list[tuple[float, str]] = []  # heap of (expiry, home address); stale entries skipped

    # -- reading ---------------------------------------------------------------------------------

    def lookup(self, home_address: str) -> list[Binding]:
        """The bindings of `home_address` in registration order ([] when it is at home or unknown)."""
        return list(self._by_home.get(home_address, ()))

    def get(self, home_address: str, care_of: str) -> Binding | None:
        for b in self._by_home.get(home_address, ()):
            if b.care_of == care_of:
                return b
        return None

    def has_room(self, home_address: str, care_of: str) -> bool:
        """Whether add() would succeed: `care_of` is already bound or there is a free slot."""
        return self.get(home_address, care_of) is not None or len(self._by_home.get(home_address, ())) < self.limit

    def home_addresses(self) -> list[str]:
        return list(self._by_home)

    def __iter__(self) -> Iterator[Binding]:
        for bindings in self._by_home.values():
            yield from bindings

    def __len__(self) -> int:
        return sum(len(b) for b in self._by_home.values())

    def next_expiry(self) -> float | None:
        """The earliest finite expiry time, or None."""
        heap = self._expiries
        while heap and not self._expires(*heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def due(self, now: float) -> list[str]:
        """The home addresses with a binding whose lifetime is over by `now`, each once."""
        out: list[str] = []
        heap = self._expiries
        while heap and heap[0][0] <= now:
            t, hoa = heapq.heappop(heap)
            if hoa not in out and self._expires(t, hoa):
                out.append(hoa)
        return out

    def _expires(self, t: float, home_address: str) -> bool:
        for b in self._by_home.get(home_address, ()):  # a loop, not any(): asked once per request
            if b.expires_at == t:
                return True
        return False

    def _schedule(self, binding: Binding) -> None:
        if binding.expires_at != math.inf:
            heapq.heappush(self._expiries, (binding.expires_at, binding.home_address))

    # -- changing --------------------------------------------------------------------------------

    def add(self, binding: Binding) -> Binding | None:
        """Add a binding beside the others (S bit), or renew the one with the same care-of in place.

        Returns the binding it renewed, if any; raises BindingLimit when there is no room.
        """
        bindings = self._by_home.setdefault(binding.home_address, [])
        for i, old in enumerate(bindings):
            if old.care_of == binding.care_of:
                bindings[i] = binding
                self._schedule(binding)
                return old
        if len(bindings) >= self.limit:
            if not bindings:
                del self._by_home[binding.home_address]
            raise BindingLimit("%s already has %d bindings" % (binding.home_address, len(bindings)))
        bindings.append(binding)
        self._schedule(binding)
        return None

    def replace(self, binding: Binding) -> list[Binding]:
        """Make `binding` the only one of its home address (no S bit); returns those it displaced."""
        old = self._by_home.get(binding.home_address, [])
        self._by_home[binding.home_address] = [binding]
        self._schedule(binding)
        return old

    def remove(self, home_address: str, care_of: str | None = None) -> list[Binding]:
        """Remove one care-of binding, or every binding of `home_address` when care_of is None."""
        bindings = self._by_home.get(home_address, [])
        gone = [b for b in bindings if care_of is None or b.care_of == care_of]
        self._keep(home_address, [b for b in bindings if b not in gone])
        return gone

    def expire(self, now: float, home_address: str | None = None) -> list[Binding]:
        """Remove and return the bindings (of one home address, or all) whose lifetime is over."""
        gone = []
        for hoa in [home_address] if home_address is not None else self.home_addresses():
            bindings = self._by_home.get(hoa, [])
            due = [b for b in bindings if b.expires_at <= now]
            self._keep(hoa, [b for b in bindings if b not in due])
            gone += due
        return gone

    def _keep(self, home_address: str, bindings: list[Binding]) -> None:
        if bindings:
            self._by_home[home_address] = bindings
        else:
            self._by_home.pop(home_address, None)

    # -- replay protection (RFC 5944 5.7) -------------------------------------------------------

    def last_identification(self, home_address: str) -> int | None:
        """The identification of the last registration accepted for `home_address`, kept after removal."""
        return self._last_id.get(home_address)

    def accept_identification(self, home_address: str, identification: int) -> None:
        self._last_id[home_address] = identification
