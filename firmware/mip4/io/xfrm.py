"""The one place mip4 runs `ip xfrm`: the leak guard's block policies (guard.py) and a dead charon's
SAs and policies (orphans.py). pyroute2 (0.9) speaks rtnetlink, not NETLINK_XFRM: it has no message
classes for XFRM policies or states, so these go through iproute2, one `ip -batch` per change.
Links, addresses, routes and rules are rtnetlink (pyroute2) everywhere else.
"""
from __future__ import annotations

import asyncio
import subprocess


async def batch(lines: list[str]) -> str:
    """Run `ip -batch` lines (`xfrm policy ...`); RuntimeError when one fails."""
    if not lines:
        return ""
    proc = await asyncio.create_subprocess_exec("ip", "-batch", "-", stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(("\n".join(lines) + "\n").encode())
    if proc.returncode != 0:
        raise RuntimeError("ip xfrm: %s" % err.decode().strip())
    return out.decode()


def show(what: str) -> str:
    """`ip xfrm policy` or `ip xfrm state` output (blocking: for a worker thread)."""
    return subprocess.run(["ip", "xfrm", what], capture_output=True, text=True).stdout


def force_batch(lines: list[str]) -> str:
    """Run every line, whatever fails (`ip -force -batch`); the errors, or "" (blocking)."""
    r = subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True)
    return r.stderr.strip() if r.returncode else ""
