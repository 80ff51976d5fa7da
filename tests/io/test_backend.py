"""The data plane interface (io/backend.py, issue 22): the kernel backend, the userspace RFC 3519 UDP
backend composed over it, and the bench's stand-in offer the same calls; the UDP backend takes the
tunnels with a UDP port (RFC 3519 3.3) and hands everything else to the kernel."""
from __future__ import annotations

import asyncio
import inspect

from mip4.core.actions import Tunnel
from mip4.io.backend import DataPlane
from mip4.io.kernel import KernelDataPlane
from mip4.io.udp_tunnels import UdpTunnelPlane
from tests.bench.netlink_standin import StandinPlane

CALLS = [n for n, v in vars(DataPlane).items() if inspect.iscoroutinefunction(v)] + ["tunnels"]


def test_every_backend_offers_the_whole_data_plane_with_the_same_signatures():
    assert len(CALLS) >= 12
    for backend in (KernelDataPlane, UdpTunnelPlane, StandinPlane):
        for name in CALLS:
            if name == "tunnels":
                continue
            want = inspect.signature(getattr(DataPlane, name))
            got = inspect.signature(getattr(backend, name))
            assert list(got.parameters.values()) == list(want.parameters.values()), (backend.__name__, name)


class FakeKernel:
    def __init__(self) -> None:
        self.tunnels: dict[str, Tunnel] = {}
        self.calls: list[tuple] = []

    async def tunnel_up(self, t: Tunnel, link: str | None = None) -> None:
        self.calls.append(("ipip up", t.name, link))
        self.tunnels[t.name] = t

    async def tunnel_down(self, name: str) -> None:
        self.calls.append(("ipip down", name))
        self.tunnels.pop(name, None)

    async def adopt(self, t: Tunnel, mtu: int) -> None:
        self.calls.append(("adopt", t.name, mtu))
        self.tunnels[t.name] = t

    def forget(self, name: str) -> Tunnel | None:
        self.calls.append(("forget", name))
        return self.tunnels.pop(name, None)

    async def mtu(self, iface: str) -> int:
        return {"wan": 1400}[iface]

    async def close(self, tunnel_down=None) -> None:  # noqa: ANN001
        for name in list(self.tunnels):
            await (tunnel_down or self.tunnel_down)(name)


class FakeUdp:
    def __init__(self) -> None:
        self.devices: dict[str, Tunnel] = {}
        self.closed_all = False

    def open(self, t: Tunnel, link: str | None) -> None:
        self.devices[t.name] = t

    def close(self, name: str) -> bool:
        return self.devices.pop(name, None) is not None

    def close_all(self) -> None:
        self.closed_all = True


def test_udp_tunnels_are_the_userspace_backends_and_the_rest_the_kernels():
    kernel, udp = FakeKernel(), FakeUdp()
    plane = UdpTunnelPlane(kernel, udp)  # type: ignore[arg-type]
    ipip = Tunnel("mip4-wan", "10.2.0.5", "10.1.0.1")
    nat = Tunnel("mip4-wan", "10.2.0.5", "198.51.100.1", udp_port=434)

    async def run() -> None:
        await plane.tunnel_up(ipip, "wan")
        assert kernel.calls == [("ipip down", "mip4-wan"), ("ipip up", "mip4-wan", "wan")] and not udp.devices
        kernel.calls.clear()
        await plane.tunnel_up(ipip, "wan")  # unchanged: nothing
        assert kernel.calls == []
        moved = Tunnel("mip4-wan", "10.3.0.7", "10.1.0.1")  # ipip still, a new care-of: the kernel's to change in place
        await plane.tunnel_up(moved, "wan")
        assert kernel.calls == [("ipip up", "mip4-wan", "wan")]
        kernel.calls.clear()
        await plane.tunnel_up(ipip, "wan")
        kernel.calls.clear()
        # the same device name, now RFC 3519: the ipip device goes, a TUN device of the uplink's MTU less
        # IP, UDP and the tunnel data header (RFC 3519 3.3) takes its place
        await plane.tunnel_up(nat, "wan")
        assert kernel.calls == [("ipip down", "mip4-wan"), ("adopt", "mip4-wan", 1400 - 32)]
        assert udp.devices == {"mip4-wan": nat} and plane.tunnels == {"mip4-wan": nat}
        kernel.calls.clear()
        await plane.tunnel_down("mip4-wan")  # the TUN device closes; the kernel only forgets it
        assert kernel.calls == [("forget", "mip4-wan")] and not udp.devices
        await plane.tunnel_up(nat, None)  # no link: 1500 less the layer
        assert kernel.calls[-1] == ("adopt", "mip4-wan", 1500 - 32)
        kernel.calls.clear()
        await plane.close()  # the kernel's journal closes the TUN device through the UDP backend
        assert kernel.calls == [("forget", "mip4-wan")] and not udp.devices and udp.closed_all

    asyncio.run(run())


def test_the_kernel_backend_never_makes_an_ipip_device_for_a_udp_tunnel():
    """Fail closed: without the userspace backend a UDP tunnel is an error, not an ipip device the HA
    would never decapsulate (it expects RFC 3519 on port 434)."""
    class NoNetlink:
        async def link_lookup(self, ifname: str) -> list[int]:
            return []

        async def link(self, *args, **kw) -> None:  # noqa: ANN002, ANN003
            raise AssertionError("no device may be made")

    kernel = KernelDataPlane(NoNetlink())  # type: ignore[arg-type]
    try:
        asyncio.run(kernel.tunnel_up(Tunnel("mip4-wan", "10.2.0.5", "198.51.100.1", udp_port=434), "wan"))
    except LookupError as e:
        assert "userspace backend" in str(e)
    else:
        raise AssertionError("a UDP tunnel went to the kernel")
