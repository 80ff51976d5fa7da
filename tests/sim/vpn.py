"""The VPN gateway, modelled from the MN's side: IKE succeeds after a delay if `possible()`; no IKE on the wire."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mip4.core.actions import IkeDown, IkeUp

from .nat import Nat
from .network import Node

if TYPE_CHECKING:
    from .simulator import Simulator


class Vpn:
    """One MN's IPsec tunnel to `gateway`; while up, traffic to `vpn_tia` reaches the MN on iface VPN."""

    def __init__(self, sim: Simulator, node: Node, gateway: str, vpn_tia: str, ike_delay: float,
                 possible: Callable[[], bool], delay: float) -> None:
        self.sim, self.node, self.gateway, self.vpn_tia = sim, node, gateway, vpn_tia
        self.ike_delay, self.possible, self.delay = ike_delay, possible, delay
        self.state = "down"  # down, connecting, up
        self.attempt = 0  # bumped by every IkeUp/IkeDown: an older pending attempt is void
        self.nat: Nat | None = None  # the gateway source-NATs VPN-TIAs into the intranet (RFC 5265 2.5)

    @property
    def established(self) -> bool:
        return self.state == "up"

    def ike_up(self, action: IkeUp) -> None:
        self.attempt += 1
        self.state = "connecting"
        attempt = self.attempt
        self.sim.at(self.sim.now + self.ike_delay, lambda: self._complete(attempt, action))

    def ike_down(self, action: IkeDown) -> None:
        self.attempt += 1
        self.state = "down"
        self.sim.note("ike-down", self.node, action.reason)

    def close(self, reason: str = "deleted by the gateway") -> None:
        """The gateway side ends the SA (DPD, delete): the MN hears ike_closed."""
        self.attempt += 1
        self.state = "down"
        self.sim.note("ike-closed", self.node, reason)
        self.sim.call(self.node, "ike_closed", reason)

    def _complete(self, attempt: int, action: IkeUp) -> None:
        if attempt != self.attempt:
            return
        if action.remote != self.gateway:
            why = "IKE to %s, but the gateway is %s" % (action.remote, self.gateway)
        elif not self.possible():
            why = "gateway unreachable from %s" % action.local
        else:
            self.state = "up"
            self.sim.note("ike-up", self.node, self.vpn_tia)
            self.sim.call(self.node, "ike_established", self.vpn_tia)
            return
        self.state = "down"
        self.sim.note("ike-failed", self.node, why)
        self.sim.call(self.node, "ike_failed", why)
