"""Path assembly of a mobile router (RFC 5265 5.6): per uplink, its mode, its layer stack and whether
user data may cross it. Pure functions of the uplink's state; the mobile node announces the result
(Gate, SetPath) and remembers what it announced on the Uplink.
"""
from __future__ import annotations

from .actions import Gate, SetPath, Tunnel
from .client import PORT, RegistrationClient
from .config import MobileNodeConfig
from .uplink import EXTERNAL, INSIDE, Uplink


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
             inner: Tunnel | None) -> list:
    """Announce the gate ("plain", "vpn" or None) and the path of `up` where they changed. R-2.3-c:
    outside, the x-MIP layer is assembled before IKE, which runs through it; user data still waits
    for the gate."""
    gate: list = []
    m = mode(up, config.i_hoa)
    if path != up.gate:
        up.gate = path
        gate.append(Gate(up.iface, path, "mode %s" % m if path else "not ready"))
    wanted = (m, up.care_of, tunnels(up, config, inner)) if path or outside else None
    if wanted == up.path:
        return gate
    up.path = wanted
    set_path = SetPath(up.iface, *wanted) if wanted else SetPath(up.iface, None)
    if path is None:  # R-3.2.2-a: the gate closes before its path changes
        return gate + [set_path]
    return [set_path] + gate  # the path is in place before the gate opens on it


def block(up: Uplink, reason: str) -> list:
    """Close the gate and tear the path down at once (RFC 5265 3.2.2, R-3.2.2-a)."""
    if up.gate is None and up.path is None:
        return []
    up.gate, up.path = None, None
    return [Gate(up.iface, None, reason), SetPath(up.iface, None)]
