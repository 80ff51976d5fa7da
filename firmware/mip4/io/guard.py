"""The leak guard: XFRM block policies so that nothing of the enterprise leaves in clear outside.

On Linux a packet that matches no IPsec policy leaves in clear. So the MR installs, at the lowest
priority, `block` policies (RFC 5265 1.1, 3.2.2: outside, user data only through the VPN):
- on every uplink (selector `dev`), for the mobile networks and the i-HoA as source: lifted on an
  uplink only while its gate is "plain", that is, while that uplink is proven inside (R-3.2.3-a);
- for the VPN-TIA as source, on every device: packets from it leave only through the CHILD_SA,
  whose policies charon installs at a higher priority, so while IKE is down or re-keying they drop.
The registration sockets bypass IPsec per socket (endpoints.py), as charon's IKE sockets do.
XFRM policies go through xfrm.py (`ip xfrm`: pyroute2 has no XFRM); every change is one `ip -batch`.
"""
from __future__ import annotations

import logging
import socket

from .xfrm import batch as _ip

GUARD_PRIORITY = 0x7FFFFFF0  # lower number wins in XFRM; charon's own policies stay far below this
# Two halves rather than 0.0.0.0/0: XFRM keys policies by selector, and charon's CHILD_SA policy for a
# full-tunnel VPN (remote_ts 0.0.0.0/0) must never replace, or be replaced by, a guard.
GUARD_DST = ("0.0.0.0/1", "128.0.0.0/1")
log = logging.getLogger("mip4.guard")


def _policy(verb: str, src: str, dev: str | None) -> list[str]:
    where = " dev %s" % dev if dev else ""
    if verb == "delete":
        return ["xfrm policy delete src %s dst %s%s dir out" % (src, dst, where) for dst in GUARD_DST]
    return ["xfrm policy update src %s dst %s%s dir out action block priority %d" % (src, dst, where, GUARD_PRIORITY)
            for dst in GUARD_DST]


def _policies(verb: str, keys: list[tuple[str, str | None]]) -> list[str]:
    return [line for s, d in keys for line in _policy(verb, s, d)]


class LeakGuard:
    """backend.Guard on XFRM."""

    def __init__(self, sources: tuple[str, ...], uplinks: list[str]) -> None:
        self.sources = sources  # prefixes that may leave an uplink only when it is inside
        self.uplinks = uplinks
        self.installed: set[tuple[str, str | None]] = set()  # (source, device or None for all)

    async def start(self) -> list[str]:
        """Remove a killed predecessor's guards, then close every uplink (fail closed from the start).
        XFRM takes a `dev` selector only for a device that exists: the missing uplinks are returned,
        and shut() when they appear (before anything else is done on them)."""
        await self.sweep()
        present = [d for d in self.uplinks if device_exists(d)]
        await self._add([(s, d) for d in present for s in self.sources])
        return [d for d in self.uplinks if d not in present]

    def forget(self, iface: str) -> None:
        """`iface` is gone, and with it the kernel's policies on it: shut() installs them anew."""
        self.installed.difference_update([k for k in self.installed if k[1] == iface])

    def shut_on(self, iface: str) -> bool:
        """Whether every source is blocked in clear on `iface`."""
        return all((s, iface) in self.installed for s in self.sources)

    async def shut(self, iface: str) -> None:
        await self._add([(s, iface) for s in self.sources])

    async def lift(self, iface: str) -> None:
        """The uplink is proven inside (gate "plain"): its plain traffic may flow."""
        gone = [(s, d) for s, d in self.installed if d == iface]
        await self._remove(gone)
        if gone:
            log.info("guard lifted on %s (inside)", iface)

    async def only_through_ipsec(self, address: str) -> None:
        """The VPN-TIA: no device at all may carry it in clear (RFC 5265 2.3). One VPN-TIA at a time:
        when IKE comes up with a different one, the old one's guard goes, but only after the new one
        is in (fail closed: at no moment is the current VPN-TIA unguarded), so guards never pile up."""
        key = (address + "/32", None)
        await self._add([key])
        old = sorted(k for k in self.installed if k[1] is None and k != key)
        if old:
            await self._remove(old)
            log.info("guard: %s released (no longer the VPN-TIA)", ", ".join(s for s, _ in old))

    async def release(self, address: str) -> None:
        await self._remove([k for k in [(address + "/32", None)] if k in self.installed])

    async def _remove(self, keys: list[tuple[str, str | None]]) -> None:
        await _ip(_policies("delete", keys))
        self.installed.difference_update(keys)

    async def _add(self, keys: list[tuple[str, str | None]]) -> None:
        new = [k for k in keys if k not in self.installed]
        await _ip(_policies("update", new))
        self.installed.update(new)
        for s, d in new:
            log.info("guard: %s blocked in clear on %s", s, d or "every device")

    async def sweep(self) -> None:
        """Our guards are the only out policies with this priority and action."""
        await _ip(["xfrm policy deleteall dir out action block priority %d" % GUARD_PRIORITY])

    async def close(self) -> None:
        await _ip(_policies("delete", sorted(self.installed, key=str)))
        self.installed.clear()

    def status(self) -> dict:
        return {"blocked": sorted("%s on %s" % (s, d or "all") for s, d in self.installed)}


def device_exists(iface: str) -> bool:
    try:
        socket.if_nametoindex(iface)
    except OSError:
        return False
    return True
