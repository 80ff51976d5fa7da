"""Two of mip4d's tasks dumping on its one rtnetlink socket at once (an uplink's Attach reading its
table's route while the DHCP hook's lease reads the addresses): the kernel runs one dump per socket
and refused the second with EBUSY, which failed an Attach in the lab's carrier storm. rtnl.dump() reads
each dump to its end before the next starts. In a namespace of its own, with a table long enough that a
dump takes several reads (a short one finishes inside the request and never meets another)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import asyncio, json
from mip4.io.rtnl import AsyncIPRoute, NetlinkError, dump

async def raw(ipr):
    return [r async for r in await ipr.route("dump", table=100)]

async def main():
    out = {}
    ipr = AsyncIPRoute()
    try:
        got = await asyncio.gather(raw(ipr), raw(ipr), return_exceptions=True)
        out["raw"] = [g.code if isinstance(g, NetlinkError) else len(g) for g in got]
    finally:
        ipr.close()
    ipr = AsyncIPRoute()
    try:
        got = await asyncio.gather(*(dump(ipr, "route", "dump", table=100) for _ in range(3)),
                                   dump(ipr, "addr", "dump", family=2), return_exceptions=True)
        out["locked"] = [repr(g) if isinstance(g, BaseException) else len(g) for g in got]
    finally:
        ipr.close()
    print(json.dumps(out))

asyncio.run(main())
"""
ROUTES = 2000


def test_concurrent_dumps_on_one_socket_all_complete():
    ns = "mip4t-dump-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        batch = ["link set lo up", "link add d0 type veth peer name d1", "link set d0 up", "link set d1 up",
                 "addr add 10.9.0.1/16 dev d0"]
        batch += ["route add 10.%d.%d.0/24 dev d0 table 100" % (20 + i // 256, i % 256) for i in range(ROUTES)]
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(batch) + "\n", text=True, check=True)
        env = dict(os.environ, PYTHONPATH="%s/firmware" % ROOT)
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", PROBE], capture_output=True, text=True,
                           env=env, timeout=120, check=True)
        out = json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert 16 in out["raw"], out  # the failure: without the lock, the kernel refuses the second dump (EBUSY)
    assert out["locked"] == [ROUTES, ROUTES, ROUTES, 2], out  # lo's 127.0.0.1 and d0's address
