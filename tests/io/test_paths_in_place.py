"""A move outside to outside on the kernel backend (issue 24): the path's layers are changed in place,
not deleted and made again. The x-MIP tunnel gets its new care-of in one RTM_NEWLINK, the VPN tunnel
(VPN-TIA to i-HA, RFC 5265 5.6) is not touched, and while the uplink has no path the LAN and IKE
tables prohibit (R-3.2.2-a). Afterwards the kernel holds exactly what a fresh start on the new network
installs. The host has no ipip (tests/io/test_host_kernel.py): rtnetlink is recorded here; the lab runs
the real thing (tests/lab)."""
from __future__ import annotations

import asyncio

from mip4.core.actions import Gate, SetPath, Tunnel
from mip4.io.kernel import KernelDataPlane
from mip4.io.paths import RouterPaths
from mip4.io.settings import RouterOptions

X_HA, I_HA, VPN_TIA, X_HOA = "198.51.100.1", "10.1.0.1", "10.5.0.1", "198.51.100.10"
VPN = Tunnel("mip4-vpn", VPN_TIA, I_HA)


def cvc(coa: str) -> SetPath:
    return SetPath("wan", "cvc", coa, (Tunnel("mip4-x-wan", coa, X_HA), VPN))


class Netlink:
    """rtnetlink as far as the kernel backend asks: every request recorded, devices by name."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.devices = {"wan": 2}

    async def link(self, command: str, **kw) -> None:  # noqa: ANN003
        self.calls.append(("link", command, kw))
        if command == "add":
            self.devices[kw["ifname"]] = max(self.devices.values()) + 1
        elif command == "del":
            self.devices = {n: i for n, i in self.devices.items() if i != kw["index"]}

    async def route(self, command: str, **kw) -> None:  # noqa: ANN003
        self.calls.append(("route", command, kw))

    async def rule(self, command: str, **kw) -> None:  # noqa: ANN003
        self.calls.append(("rule", command, kw))


class Kernel(KernelDataPlane):
    async def index(self, iface: str) -> int:
        try:
            return self.ipr.devices[iface]  # type: ignore[attr-defined]
        except KeyError:
            raise LookupError("no interface %r" % iface) from None

    async def mtu(self, iface: str) -> int:
        await self.index(iface)
        return 1500

    async def table_route(self, table: int, prefix: str = "0.0.0.0/0") -> dict | None:
        return {"gateway": None, "oif": 2, "type": 1}


async def router(path: SetPath | None = None) -> tuple[Netlink, Kernel, RouterPaths]:
    ipr = Netlink()
    kernel = Kernel(ipr)  # type: ignore[arg-type]
    paths = RouterPaths(kernel, RouterOptions(networks=("192.168.77.0/24",)), ["wan"])
    await paths.start(X_HOA)
    await paths.vpn_source(VPN_TIA)
    if path is not None:
        await open_path(paths, path)
    return ipr, kernel, paths


async def open_path(paths: RouterPaths, path: SetPath) -> None:
    await paths.set_path(path)
    await paths.gate(Gate("wan", "vpn", "mode cvc"))
    await paths.select("wan")


def links(ipr: Netlink) -> list[tuple]:
    return [(c[1], c[2].get("ifname") or c[2].get("index"), c[2].get("ipip_local"))
            for c in ipr.calls if c[0] == "link"]


def test_a_move_changes_the_x_mip_tunnel_in_place_and_leaves_the_vpn_tunnel_alone():
    async def run() -> None:
        ipr, kernel, paths = await router(cvc("198.18.1.174"))
        x, vpn = ipr.devices["mip4-x-wan"], ipr.devices["mip4-vpn"]
        ipr.calls.clear()
        # carrier lost: the gate closes, the path goes; nothing is routed into its layers, which stay
        await paths.gate(Gate("wan", None, "link down"))
        await paths.set_path(SetPath("wan", None, None, cvc("198.18.1.174").tunnels))
        assert paths.lan == ("prohibit",) and paths.ike == ("prohibit",)
        assert links(ipr) == [] and set(kernel.tunnels) == {"mip4-x-wan", "mip4-vpn"}
        await paths.select(None)
        ipr.calls.clear()
        # the new network's care-of: one change of the x-MIP tunnel, its MTU as it was; nothing else
        await open_path(paths, cvc("198.18.2.174"))
        assert links(ipr) == [("set", x, "198.18.2.174")], ipr.calls
        change = next(c[2] for c in ipr.calls if c[0] == "link")
        assert (change["kind"], change["ipip_remote"], change["ipip_link"], change["mtu"]) == ("ipip", X_HA, 2, 1480)
        assert (ipr.devices["mip4-x-wan"], ipr.devices["mip4-vpn"]) == (x, vpn)
        assert paths.lan == ("dev", "mip4-vpn") and paths.ike == ("dev", "mip4-x-wan")
        # exactly what a fresh start on the new network installs
        _, fresh, fresh_paths = await router(cvc("198.18.2.174"))
        assert (kernel.tunnels, kernel.links, kernel.mtus) == (fresh.tunnels, fresh.links, fresh.mtus)
        assert kernel.routes == fresh.routes and kernel.rules == fresh.rules
        assert (paths.lan, paths.ike, paths.parked) == (fresh_paths.lan, fresh_paths.ike, {})

    asyncio.run(run())


def test_parked_layers_no_path_takes_go_and_a_path_without_them_removes_them():
    async def run() -> None:
        ipr, kernel, paths = await router(cvc("198.18.1.174"))
        await paths.gate(Gate("wan", None, "link down"))
        await paths.set_path(SetPath("wan", None, None, cvc("198.18.1.174").tunnels))
        ipr.calls.clear()
        await paths.set_path(SetPath("wan", None))  # the core's release: nobody took them
        assert sorted(c[2]["index"] for c in ipr.calls if c[:2] == ("link", "del")) == [3, 4]
        assert kernel.tunnels == {} and paths.parked == {}
        # inside next: the parked outside layers go, the i-MIP tunnel is made
        ipr, kernel, paths = await router(cvc("198.18.1.174"))
        await paths.gate(Gate("wan", None, "status change"))
        await paths.set_path(SetPath("wan", None, None, cvc("198.18.1.174").tunnels))
        c = SetPath("wan", "c", "10.2.0.174", (Tunnel("mip4-i-wan", "10.2.0.174", I_HA),))
        await paths.set_path(c)
        assert set(kernel.tunnels) == {"mip4-i-wan"} and paths.parked == {}

    asyncio.run(run())


def test_a_tunnel_that_changes_link_or_kind_is_made_again():
    """In place only for an ipip device of ours on the same link: otherwise deleted and made anew."""
    async def run() -> None:
        ipr = Netlink()
        ipr.devices["wwan"] = 9
        kernel = Kernel(ipr)  # type: ignore[arg-type]
        await kernel.tunnel_up(Tunnel("mip4-x-wan", "198.18.1.174", X_HA), link="wan")
        await kernel.tunnel_up(Tunnel("mip4-x-wan", "198.18.2.174", X_HA), link="wwan")
        assert [(c[1], c[2].get("state")) for c in ipr.calls] == [("add", "up"), ("del", None), ("add", "up")]
        assert kernel.links["mip4-x-wan"] == "wwan"

    asyncio.run(run())
