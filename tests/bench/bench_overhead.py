"""Bytes per packet and path MTU per mode, as the product computes them, next to RFC 5265 5.2.

The tunnel stack of each mode comes from the real MobileNode in the simulator's RFC 5265 world
(tests/core/world.py: SetPath actions); the MTUs from the real RouterPaths (core/paths.py's rules)
setting them on a 1500-octet uplink (netlink_standin.py's data plane instead of a kernel). Baseline:
the direct path (MTU 1500), and RFC 5265 5.2's figures for the octets the MN adds on its own link.
"""
from __future__ import annotations

import asyncio
import dataclasses

from mip4.core.actions import SetPath
from mip4.core.paths import ESP_OVERHEAD, FA_MODES, IPIP_HEADER
from mip4.io.paths import RouterPaths
from mip4.io.settings import RouterOptions
from mip4.wire.tunnel import TunnelData
from tests.core.world import VPN_TIA, WITH_POOL, X_HOA, build

from .netlink_standin import StandinPlane
from .report import Column, Figure

UPLINK_MTU = 1500
UDP_HEADER = 8
# RFC 5265 5.2 (64-bit block cipher, 96-bit ICV: ESP 57; IP-in-IP 20; +12 per RFC 3519 layer, +8 ESP-in-UDP)
RFC = {"c": 20, "c, i-MIP UDP": 32, "f": 0, "cvc": 97, "cvc, x-MIP UDP": 109, "cvc, both UDP": 121, "fvc": 77}
RFC_CVC_WORST = 129  # 12 + 8 + 12 over cvc: both MIP layers in UDP and ESP-in-UDP


def _scenario(link: str, address: str | None, mode: str, nat: str | None = None) -> SetPath:
    """The MN's last SetPath for `mode` after attaching wan to `link` in the simulator."""
    inside_nat = nat is not None and nat.startswith("10.")
    # behind a NAT inside, the i-HA trusts the NAT's inside prefix: TNC needs a trusted care-of (R-3.1-c)
    w = build(trusted=WITH_POOL + ("192.168.1.0/24",)) if inside_nat else build()
    if nat:
        zone = "intranet" if inside_nat else "external"
        w.sim.add_link(link, zone, delay=0.01, nat=nat)
    w.connect("wan", link, address)
    w.run(15)
    paths = [a for a in w.actions(SetPath) if a.mode == mode]
    if not paths:
        raise RuntimeError("%s: mode %s never reached (now %s)" % (link, mode, w.mode()))
    return paths[-1]


def scenarios() -> dict[str, SetPath]:
    out = {
        "c": _scenario("lan1", "10.2.0.5", "c"),
        "c, i-MIP UDP": _scenario("natlan", "192.168.1.20", "c", nat="10.6.0.1"),
        "f": _scenario("ifa", None, "f"),
        "cvc": _scenario("ext1", "198.18.0.5", "cvc"),
        "cvc, x-MIP UDP": _scenario("hotel", "192.168.1.20", "cvc", nat="198.18.9.1"),
        "fvc": _scenario("xfa", None, "fvc"),
    }
    # the VPN gateway source-NATs VPN tunnel addresses: the i-HA grants UDP on the i-MIP layer too
    # (RFC 3519 via the VPN); the simulator's gateway does not NAT, so this stack is built from the one above
    x_udp = out["cvc, x-MIP UDP"]
    out["cvc, both UDP"] = dataclasses.replace(x_udp, tunnels=(
        x_udp.tunnels[0], dataclasses.replace(x_udp.tunnels[1], udp_port=434)))
    return out


async def product_mtu(path: SetPath) -> int:
    """The MTU RouterPaths gives the innermost tunnel (the LAN's device) on a 1500-octet uplink."""
    plane = StandinPlane({"wan": UPLINK_MTU})
    paths = RouterPaths(plane, RouterOptions(networks=("192.168.77.0/24",)), ["wan"])
    await paths.start(X_HOA)
    if path.mode in ("cvc", "fvc"):
        await paths.vpn_source(VPN_TIA)
    await paths.set_path(path)
    return plane.mtus[path.tunnels[-1].name]


def _layers(path: SetPath) -> str:
    names = []
    for t in path.tunnels:
        kind = "UDP" if t.udp_port else "IPIP"
        names.append("%s %s %d" % ("i-MIP" if t.local == VPN_TIA or path.mode in ("c", "f") else "x-MIP", kind,
                                   t.overhead))
    if path.mode in ("cvc", "fvc"):
        names.insert(len(names) - 1, "ESP %d" % ESP_OVERHEAD)
    if path.mode in FA_MODES:
        names.insert(0, "(FA: IPIP %d)" % IPIP_HEADER)
    return " > ".join(names)


def run(quick: bool) -> list[Figure]:
    fig = Figure("overhead", "Per-packet overhead and path MTU per mode (1500-octet uplink)",
                 "the direct path (MTU 1500); RFC 5265 5.2's octets on the MN's link", [
                     Column("mode", "mode", left=True), Column("layers", "layers, outer > inner (octets)", left=True),
                     Column("mtu", "path MTU", "{}"), Column("mtu_vs_direct", "MTU vs direct", "{:.3f}"),
                     Column("overhead", "octets/packet", "{}"), Column("on_link", "on MN link", "{}"),
                     Column("rfc", "RFC 5265 5.2", "{}"), Column("delta", "vs RFC", "{:+d}")])
    for mode, path in scenarios().items():
        mtu = asyncio.run(product_mtu(path))
        overhead = UPLINK_MTU - mtu
        on_link = overhead - (IPIP_HEADER if path.mode in FA_MODES else 0)  # the FA adds its tunnel to the HA
        fig.rows.append({"mode": mode, "layers": _layers(path), "mtu": mtu, "mtu_vs_direct": mtu / UPLINK_MTU,
                         "overhead": overhead, "on_link": on_link, "rfc": RFC[mode], "delta": on_link - RFC[mode]})
    udp_header = len(TunnelData(b"").encode()) + UDP_HEADER
    fig.notes += [
        "path MTU: what mip4's RouterPaths sets on the LAN's tunnel device (io/paths.py), for the stack the "
        "MobileNode core builds in each mode (simulator); octets/packet = 1500 - path MTU",
        "on MN link: without the FA's own tunnel to the HA (modes f, fvc), which is what RFC 5265 5.2 counts",
        "ESP: mip4 reserves %d octets (core/paths.py ESP_OVERHEAD); the RFC's example cipher needs 57, as does the "
        "lab's aes128gcm16 at worst (R-5.2-c); AES-CBC with HMAC-SHA2-256-128 needs up to 77" % ESP_OVERHEAD,
        "f: RFC 5265 counts a mobile node (0); a mobile router's networks ride the MR-HA tunnel (RFC 5177 3.2)",
        "RFC 3519 layer from the codec: tunnel data header %d + UDP %d = %d octets over IP-in-IP's 20"
        % (udp_header - UDP_HEADER, UDP_HEADER, udp_header),
        "mip4 never uses ESP-in-UDP (IKE encap off: ESP rides inside x-MIP, whose UDP layer crosses the NAT); "
        "the RFC's cvc worst case with it is %d" % RFC_CVC_WORST,
        "cvc, both UDP: the stack when the VPN gateway NATs the i-MIP layer too, built from the x-MIP UDP one",
    ]
    return [fig]
