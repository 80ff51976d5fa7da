"""A crashed charon's leftovers: the SAs and policies it installed between the x-HoA and the VPN
gateway stay in the kernel with nobody to re-key or remove them (a restarted charon knows nothing
of them). mip4d removes them before it brings IKE up again: its guards keep user data blocked
meanwhile, and a stale CHILD_SA must not carry anything (issue 10: no stale SA after a crash).

XFRM through xfrm.py (`ip xfrm`: pyroute2 has no XFRM), the VPN-TIA's address through rtnetlink."""
from __future__ import annotations

import logging

from . import xfrm
from .rtnl import IPRoute, NetlinkError

log = logging.getLogger("mip4.ike")


def stale_xfrm(policies: str, states: str, local: str, remote: str) -> list[str]:
    """`ip -batch` lines deleting every ESP state and every policy whose template joins `local` and
    `remote`, from `ip xfrm policy` and `ip xfrm state` output. Guards (no template) stay."""
    ends = {(local, remote), (remote, local)}
    lines = []
    for block in _blocks(states):
        head = block[0].split()  # src A dst B
        proto = next((ln.split() for ln in block[1:] if ln.split()[:1] == ["proto"]), [])
        if (head[1], head[3]) in ends and len(proto) >= 4 and proto[2] == "spi":
            lines.append("xfrm state delete src %s dst %s proto %s spi %s" % (head[1], head[3], proto[1], proto[3]))
    for block in _blocks(policies):
        head = block[0].split()  # src S dst D [dev X]
        tmpl = next((ln.split() for ln in block[1:] if ln.split()[:1] == ["tmpl"]), [])
        where = next((ln.split() for ln in block[1:] if ln.split()[:1] == ["dir"]), [])
        if len(tmpl) >= 5 and (tmpl[2], tmpl[4]) in ends and len(where) >= 2:
            lines.append("xfrm policy delete src %s dst %s dir %s" % (head[1], head[3], where[1]))
    return lines


def _blocks(text: str) -> list[list[str]]:
    """`ip xfrm` output: one block per entry, its first line starting with "src"."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("src "):
            blocks.append([line])
        elif blocks and line.strip():
            blocks[-1].append(line.strip())
    return blocks


def remove(local: str, remote: str, vip: str | None) -> int:
    """Delete a dead charon's SAs and policies (and its VPN-TIA on lo); how many entries went."""
    lines = stale_xfrm(xfrm.show("policy"), xfrm.show("state"), local, remote)
    if lines:
        errors = xfrm.force_batch(lines)
        if errors:
            log.debug("removing a dead charon's leftovers: %s", errors)
    if vip:
        _address_del(vip, "lo")
    if lines or vip:
        log.warning("charon restarted: removed %d SAs/policies it left behind%s", len(lines),
                    " and its VPN-TIA %s" % vip if vip else "")
    return len(lines)


def _address_del(address: str, iface: str) -> None:
    """rtnetlink: `address`/32 off `iface`, if it is there."""
    with IPRoute() as ipr:
        try:
            ipr.addr("del", index=ipr.link_lookup(ifname=iface)[0], address=address, prefixlen=32)
        except (NetlinkError, IndexError) as e:
            log.debug("VPN-TIA %s on %s: %s", address, iface, e)
