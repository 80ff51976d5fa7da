"""Path assembly of a mobile router (RFC 5265 5.6): per uplink, its mode, its layer stack and whether
user data may cross it. Pure functions of the uplink's state; the mobile node announces the result
(Gate, SetPath) and remembers what it announced on the Uplink.
"""
from __future__ import annotations

from .actions import Gate, SetPath, Tunnel
from .client import PORT, RegistrationClient
from .config import MobileNodeConfig
from .uplink import EXTERNAL, INSIDE, Uplink

PARKED_S = 30.0  # how long a closed path's layers wait for the next path (a move: DHCP, the x-HA's reply)


def mode(up: Uplink, i_hoa: str) -> str | None:
    """RFC 5265 2: c and f inside, cvc and fvc outside (tentatively too, EXTERNAL: only ESP goes there); "home"
    on the home link itself."""
    if up.state == INSIDE:
        if up.care_of == i_hoa and not up.using_fa:
            return "home"
        return "f" if up.using_fa else "c"
    if up.state in EXTERNAL:
        return "fvc" if up.using_fa else "cvc"
    return None


def udp_port(client: RegistrationClient) -> int:
    """RFC 3519: the HA's port 434 when the layer's binding is UDP tunnelled, 0 for IP-in-IP."""
    return PORT if client.udp_tunnel else 0


def tunnels(up: Uplink, config: MobileNodeConfig, inner: Tunnel | None) -> tuple[Tunnel, ...]:
    """RFC 5265 5.6, R-5.6-b: the layer stack of this uplink, outermost first. `inner` is the i-MIP
    layer inside IPsec when this uplink carries the IKE SA."""
    c, coa, m = config, up.care_of, mode(up, config.i_hoa)
    vpn = (inner,) if inner is not None else ()
    if m == "c":
        return (Tunnel(up.tunnel_name("i"), coa or "", c.i_ha, udp_port(up.i_client)),)
    if m == "cvc":
        return (Tunnel(up.tunnel_name("x"), coa or "", c.x_ha, udp_port(up.x_client)),) + vpn
    if m == "f":  # RFC 5177 3.2: a mobile router's networks use the MR-HA tunnel from its home address
        return (Tunnel(up.tunnel_name("i"), c.i_hoa, c.i_ha),)
    if m == "fvc":
        return vpn
    return ()


def assemble(up: Uplink, config: MobileNodeConfig, path: str | None, outside: bool,
             inner: Tunnel | None, now: float) -> list:
    """Announce the gate ("plain", "vpn" or None) and the path of `up` where they changed. R-2.3-c:
    outside, the x-MIP layer is assembled before IKE, which runs through it; user data still waits
    for the gate. A new path takes the parked layers of the last one (close()) by their names."""
    gate: list = []
    m = mode(up, config.i_hoa)
    if path != up.gate:
        up.gate = path
        gate.append(Gate(up.iface, path, "mode %s" % m if path else "not ready"))
    wanted = (m, up.care_of, tunnels(up, config, inner)) if path or outside else None
    if wanted == up.path:
        return gate
    if wanted is None:  # R-3.2.2-a: the gate closes before its path changes
        return gate + [close(up, now)]
    up.path, up.parked, up.parked_until = wanted, (), None
    return [SetPath(up.iface, *wanted)] + gate  # the path is in place before the gate opens on it


def close(up: Uplink, now: float | None) -> SetPath:
    """No path on `up` any more: nothing is routed into its layers (R-3.2.2-a). They stay parked for
    PARKED_S (`now` None: they go at once), so that the path after a move changes them in place: the
    x-MIP layer's care-of only, the VPN layer not at all (RFC 5265 5.6: its VPN-TIA and i-HA do not
    change with the uplink's network)."""
    kept: tuple = () if now is None else up.path[2] if up.path is not None else up.parked
    up.path = None
    up.parked, up.parked_until = kept, (now + PARKED_S if kept and now is not None else None)
    return SetPath(up.iface, None, None, kept)


def release(up: Uplink, now: float) -> list:
    """The parked layers of `up` go when no path took them in PARKED_S (the uplink stayed away)."""
    if up.parked_until is None or now < up.parked_until:
        return []
    up.parked, up.parked_until = (), None
    return [SetPath(up.iface, None)]


def block(up: Uplink, reason: str, now: float | None) -> list:
    """Close the gate and the path at once (RFC 5265 3.2.2, R-3.2.2-a); its layers stay parked (close())."""
    if up.gate is None and up.path is None:
        return []
    up.gate = None
    return [Gate(up.iface, None, reason), close(up, now)]
