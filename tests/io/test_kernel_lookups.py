"""KernelDataPlane's device lookups leave nothing behind (issue 25): pyroute2 0.9.7's link_lookup() and
link("get") left the kernel's ACK in the socket's root queue, which nothing reads, so a mobile router
grew by 1.7 to 3.2 KB per lookup (6 to 12 per move). Read-only, on the host's loopback device."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pyroute2 import AsyncIPRoute

from mip4.io.kernel import KernelDataPlane


def test_index_and_mtu_answer_and_leave_no_message_queued():
    async def run() -> tuple[int, int, int]:
        ipr = AsyncIPRoute()
        try:
            kernel = KernelDataPlane(ipr)
            assert [link async for link in await ipr.get_links()]  # the socket in use, as in mip4d
            for _ in range(50):
                index, mtu = await kernel.index("lo"), await kernel.mtu("lo")
            await asyncio.sleep(0.05)  # a late ACK would be queued by now
            with pytest.raises(LookupError):
                await kernel.index("no-such-dev0")
            with pytest.raises(LookupError):
                await kernel.mtu("no-such-dev0")
            return index, mtu, ipr.msg_queue.root.qsize()
        finally:
            ipr.close()

    index, mtu, queued = asyncio.run(run())
    assert index == int(Path("/sys/class/net/lo/ifindex").read_text())
    assert mtu == int(Path("/sys/class/net/lo/mtu").read_text())
    assert queued == 0
