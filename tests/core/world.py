"""RFC 5265 figure 1 in the simulator: intranet, DMZ gateway, external networks, HAs, FAs, one MN.

Addresses (the lab uses the same plan):
  intranet 10/8: i-HA 10.1.0.1 (i-HoA 10.1.0.10), subnets lan1 10.2/16, lan2 10.3/16, i-FA 10.4.0.1
  external: x-HA 198.51.100.1 (x-HoA 198.51.100.10), ext1 198.18/16, ext2 198.19/16, x-FA 203.0.113.1
  DMZ: VPN gateway 192.0.2.1, pool 10.255/16 (routed inside towards the gateway)
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from mip4.core.actions import Gate, IkeDown, IkeUp, SendUdp
from mip4.core.config import ForeignAgentConfig, HomeAgentConfig, MobileNodeEntry
from mip4.core.foreign_agent import ForeignAgent
from mip4.core.home_agent import HomeAgent
from mip4.core.mobile_node import MobileNode
from mip4.wire import RegistrationRequest, codec
from tests.sim import Simulator

from .replies import I_SA, X_SA, mn_config

I_HA, I_HOA, X_HA, X_HOA = "10.1.0.1", "10.1.0.10", "198.51.100.1", "198.51.100.10"
I_FA, X_FA, VPN_TIA = "10.4.0.1", "203.0.113.1", "10.255.0.2"
INTRANET = ("10.0.0.0/8",)
WITH_POOL = INTRANET  # 10.255/16 is inside 10/8: the VPN pool is trusted (R-4.3-h)


@dataclass
class World:
    sim: Simulator
    mn: MobileNode
    i_ha: HomeAgent
    x_ha: HomeAgent
    i_fa: ForeignAgent
    x_fa: ForeignAgent

    @property
    def now(self) -> float:
        return self.sim.now

    def connect(self, iface: str, link: str, address: str | None = None) -> None:
        """Attach an uplink; the MN answers on-link to its home addresses too (FA delivery)."""
        self.sim.connect(self.sim.nodes["mn"], iface, link, address=address)
        self.sim.set_addresses(self.sim.nodes["mn"], iface, [I_HOA, X_HOA])

    def disconnect(self, iface: str) -> None:
        self.sim.disconnect(self.sim.nodes["mn"], iface)

    def run(self, seconds: float) -> None:
        self.sim.run_for(seconds)

    # -- what the MN did -----------------------------------------------------------------------

    def actions(self, kind=None, since: float | None = None) -> list:
        return self.sim.actions("mn", kind, since=since)

    def timed(self, kind=None, since: float | None = None) -> list:
        """(time, action) pairs from the trace."""
        return [(e.time, e.action) for e in self.sim.trace
                if getattr(e, "node", None) == "mn" and hasattr(e, "action")
                and (kind is None or isinstance(e.action, kind)) and (since is None or e.time >= since)]

    def requests(self, to: str | None = None, since: float | None = None) -> list[tuple[float, RegistrationRequest]]:
        """Registration requests the MN sent (to the HA named in the request), with send times."""
        out = []
        for t, a in self.timed(SendUdp, since):
            msg = codec.decode_udp(a.datagram.payload)
            if isinstance(msg, RegistrationRequest) and (to is None or msg.home_agent == to):
                out.append((t, msg))
        return out

    def gate(self, iface: str) -> str | None:
        gates = [a for a in self.actions(Gate) if a.iface == iface]
        return gates[-1].path if gates else None

    def gate_opened_at(self, iface: str, path: str, since: float | None = None) -> float | None:
        for t, a in self.timed(Gate, since):
            if a.iface == iface and a.path == path:
                return t
        return None

    def ike_events(self) -> list:
        return [a for a in self.actions() if isinstance(a, (IkeUp, IkeDown))]

    def mode(self) -> str | None:
        return self.mn.status(self.now)["mode"]

    def state(self, iface: str) -> str:
        return self.mn.uplinks[iface].state

    def logs(self, reason: str) -> list:
        return self.sim.logs("mn", reason)

    def nat_rebound(self, link: str, seconds: float) -> tuple:
        """RFC 3519 4.10: the NAT on `link` forgets its mappings; (x-HA binding before, after `seconds`,
        the time of the rebinding)."""
        (before,) = self.x_ha.bindings.lookup(X_HOA)
        self.sim.nat_rebind(link)
        t0 = self.now
        self.run(seconds)
        (after,) = self.x_ha.bindings.lookup(X_HOA)
        return before, after, t0


def build(seed: int = 1, trusted: tuple[str, ...] = WITH_POOL, i_ha_kw: dict | None = None,
          x_ha_kw: dict | None = None, core_delay: float = 0.005, i_fa_kw: dict | None = None,
          x_fa_kw: dict | None = None, **mn_kw) -> World:
    sim = Simulator(seed)
    rng = random.Random(seed)
    # core links first: routed packets for an FA address go to its core side
    for name in ("core", "lan1", "lan2", "home", "ifa"):
        sim.add_link(name, "intranet", delay=core_delay if name == "core" else 0.001)
    for name in ("xcore", "ext1", "ext2", "xfa"):
        sim.add_link(name, "external", delay=0.01)
    i_ha = HomeAgent(HomeAgentConfig(address=I_HA, role="i-ha", mobile_nodes={I_HOA: MobileNodeEntry(I_SA)},
                                     trusted_networks=trusted, **(i_ha_kw or {})), rng)
    x_ha = HomeAgent(HomeAgentConfig(address=X_HA, role="x-ha", mobile_nodes={X_HOA: MobileNodeEntry(X_SA)},
                                     **(x_ha_kw or {})), rng)
    i_fa = ForeignAgent(ForeignAgentConfig(links={"acc": I_FA}, **(i_fa_kw or {})), rng)
    x_fa = ForeignAgent(ForeignAgentConfig(links={"acc": X_FA}, **(x_fa_kw or {})), rng)
    sim.attach(sim.add_node("i-ha", i_ha), "core", "core", addresses=[I_HA])
    sim.attach(sim.add_node("x-ha", x_ha), "core", "xcore", addresses=[X_HA])
    for name, fa, acc, core, addr in (("i-fa", i_fa, "ifa", "core", I_FA), ("x-fa", x_fa, "xfa", "xcore", X_FA)):
        node = sim.add_node(name, fa)
        sim.attach(node, "acc", acc, addresses=[addr])
        sim.attach(node, "core", core, addresses=[addr])
    mn = MobileNode(mn_config(**mn_kw), rng)
    node = sim.add_node("mn", mn)
    sim.add_vpn(node, gateway="192.0.2.1", vpn_tia=VPN_TIA, ike_delay=0.2,
                possible=lambda: bool(x_ha.bindings.lookup(X_HOA)))
    return World(sim, mn, i_ha, x_ha, i_fa, x_fa)
