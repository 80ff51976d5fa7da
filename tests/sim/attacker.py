"""An on-path attacker: sees every packet offered to a link, drops what it likes, injects and replays."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .trace import Packet

if TYPE_CHECKING:
    from .simulator import Simulator

Predicate = Callable[[Packet, str], bool]


@dataclass(frozen=True)
class Captured:
    """A packet seen on `link` (a link name, or "vpn" for the gateway's inside) at `time`."""

    time: float
    link: str
    packet: Packet
    sender: str
    injected: bool = False


class Attacker:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.captured: list[Captured] = []
        self.rules: list[Predicate] = []

    def drop_if(self, predicate: Predicate) -> Callable[[], None]:
        """Drop packets in flight for which predicate(packet, link_name) holds; returns a function undoing it.

        The attacker's own injected packets are never dropped.
        """
        self.rules.append(predicate)
        return lambda: self.rules.remove(predicate)

    def stop_dropping(self) -> None:
        self.rules.clear()

    def drops(self, packet: Packet, link: str) -> bool:
        return any(rule(packet, link) for rule in self.rules)

    def inject(self, where: str | tuple[Any, str], packet: Packet, delay: float = 0.0) -> None:
        """Send a forged packet (its iface is ignored) after `delay`.

        `where` is a link name (as if sent by a host on that link: on-link delivery or routed normally),
        "vpn" (as if it left the VPN gateway into the intranet) or (node, iface) (straight to that interface).
        """
        if delay:
            self.sim.at(self.sim.now + delay, lambda: self.sim.inject(where, packet))
        else:
            self.sim.inject(where, packet)

    def replay(self, entry: Captured, delay: float = 0.0) -> None:
        """Offer a captured packet again on the link it was captured on."""
        self.inject(entry.link, entry.packet, delay)
