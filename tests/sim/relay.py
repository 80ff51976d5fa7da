"""An outsider with a VPN account of his own who runs the mobile node's access network (RFC 5265 3.1).

The enterprise firewall keeps him from the i-HA, but his VPN session does not: the i-HA trusts the
VPN pool (R-4.3-h). He takes the mobile node's clear i-HA requests off the access link, sends them to
the i-HA through his own IPsec tunnel from his VPN-TIA, and puts the i-HA's replies back on the access
link as if they came from the i-HA directly, both ways, for as long as the mobile node keeps asking.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from mip4.core.actions import VPN, Datagram, IkeUp, SendUdp
from mip4.wire import codec

if TYPE_CHECKING:
    from .simulator import Simulator

PORT = 434
RELAY_PORT = 40434  # his own source port through the VPN


class VpnRelay:
    """The attacker's machine: one interface on the access link, one VPN session."""

    def __init__(self, i_ha: str, access_iface: str = "acc") -> None:
        self.i_ha = i_ha
        self.access_iface = access_iface
        self.vpn_tia: str | None = None
        self.waiting: dict[int, tuple[str, int]] = {}  # low 32 bits of the identification -> the MN's address, port
        self.relayed: list[Datagram] = []  # requests sent on through the VPN
        self.returned: list[Datagram] = []  # replies put back on the access link

    def get_timer(self) -> float | None:
        return None

    def ike_established(self, vpn_tia: str, now: float) -> list:
        self.vpn_tia = vpn_tia
        return []

    def relay(self, request: Datagram, now: float) -> list:
        """The mobile node's request to the i-HA, taken off the access link: on through the VPN."""
        if self.vpn_tia is None:
            return []
        rq = codec.decode_udp(request.payload)
        self.waiting[rq.identification & 0xFFFFFFFF] = (request.src, request.sport)
        out = Datagram(VPN, self.vpn_tia, RELAY_PORT, self.i_ha, PORT, request.payload)
        self.relayed.append(out)
        return [SendUdp(out)]

    def receive_udp(self, dgram: Datagram, now: float) -> list:
        """The i-HA's reply through his VPN: back to the mobile node, from the i-HA's address."""
        if dgram.iface != VPN or dgram.src != self.i_ha:
            return []
        rp = codec.decode_udp(dgram.payload)
        peer = self.waiting.get(rp.identification & 0xFFFFFFFF)
        if peer is None:
            return []
        back = Datagram(self.access_iface, self.i_ha, PORT, peer[0], peer[1], dgram.payload)
        self.returned.append(back)
        return [SendUdp(back)]


def add_relay(sim: Simulator, link: str, address: str, vpn_tia: str, i_ha: str, gateway: str,
              victim: str = "mn") -> VpnRelay:
    """Put the attacker on `link` (his access network) with a VPN session from `vpn_tia`; from now on every
    clear request `victim` sends to `i_ha` on that link is his to relay (the firewall would have dropped it)."""
    relay = VpnRelay(i_ha)
    node = sim.add_node("relay", relay)
    sim.attach(node, relay.access_iface, link, addresses=[address])
    sim.add_vpn(node, gateway=gateway, vpn_tia=vpn_tia, ike_delay=0.0)
    sim.vpns["relay"].ike_up(IkeUp(address, gateway))

    def take(packet, on: str) -> bool:
        if (on == link and isinstance(packet, Datagram) and packet.dst == i_ha and packet.dport == PORT
                and any(packet.src in ep.addresses for ep in sim.nodes[victim].ifaces.values())):
            sim.after(0.0, lambda: sim.call(node, "relay", packet))
            return True
        return False

    sim.attacker.drop_if(take)
    return relay
