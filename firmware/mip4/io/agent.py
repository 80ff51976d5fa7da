"""The agents' roles in mip4d: a home agent (RFC 5944 3.8) or a foreign agent (3.7), whose data plane
actions (tunnels, routes, source rules, proxy and gratuitous ARP) AgentPlane applies to the backend.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..core.config import ForeignAgentConfig, HomeAgentConfig
from ..core.foreign_agent import ForeignAgent
from ..core.home_agent import HomeAgent
from .driver import BatchDone
from .endpoints import IcmpEndpoint
from .plane import SOURCE_BLACKHOLE_PRIORITY, SOURCE_TABLE_BASE, AgentPlane
from .role import Role
from .settings import Settings

if TYPE_CHECKING:  # imported only with a store configured: urllib pulls in ssl and hashlib (issue 25)
    from .store import BindingStore
    from .vrrp import VrrpFifo

ALL_ROUTERS = "224.0.0.2"
log = logging.getLogger("mip4d")


def _nothing(item: object) -> None:
    pass


class AgentRole(Role):
    """An agent: its plane performs the data plane actions of its core."""

    # its status file lists every binding or visitor: written every second (at most), never per registration
    # (issue 25: after every drained batch it cost 20 ms at 1k bindings, 167 ms at 10k)
    status_after_batch = False

    def __init__(self, settings: Settings, machine: HomeAgent | ForeignAgent, home_iface: str | None = None) -> None:
        super().__init__(settings, machine)
        self.plane = AgentPlane(self.backend, home_iface=home_iface)
        self.handlers.update(self.plane.handlers)
        self.driver.immediate[BatchDone] = _nothing  # no status file, no after_batch: a batch ends with its items


class HomeAgentRole(AgentRole):
    def __init__(self, settings: Settings) -> None:
        m: HomeAgentConfig = settings.machine  # type: ignore[assignment]
        super().__init__(settings, HomeAgent(m, self.rng(settings)), home_iface=m.home_iface)
        self.machine: HomeAgent
        self.driver.early_timer = True  # HomeAgent.handle_timer expires only what is due
        self.machine.set_wall_clock(self.wall_clock.offset + self.now(), self.now())
        self.store: BindingStore | None = None
        self.vrrp: VrrpFifo | None = None
        if m.store_endpoints:  # issue 27: one of a redundant pair
            from .store import BindingStore

            self.store = BindingStore(m.store_endpoints, "mip4/%s/%s/" % (m.role, m.address), self._memory)
            self.handlers.update(self.store.handlers)
            self.control_methods["ha"] = self.ha

    async def start_role(self) -> None:
        await self.backend.kernel.sweep((), local=self.machine.config.address)  # one host may hold both HAs
        if self.store is not None:  # a killed predecessor's proxy ARP would pull the home link's traffic here
            try:
                await self.backend.kernel.sweep_proxies(list(self.machine.config.mobile_nodes),
                                                        self.machine.config.home_iface)
            except LookupError:
                log.warning("no home interface %s: no proxy ARP to sweep", self.machine.config.home_iface)
        # Our own address only: an i-HA and an x-HA may run on one host (RFC 5265 2, R-2-b) on distinct
        # addresses (3.5, R-3.5-b); on the wildcard, the later one's socket took both HAs' requests. Bound
        # before the address is here: a redundant pair's standby gets it from keepalived later (issue 27).
        self.udp[""] = self.endpoint(None, address=self.machine.config.address, freebind=True)
        if self.store is not None and self.machine.active:  # a restarted home agent: its bindings back
            self.feed(self.machine.activate(await self.store.load(), self.now()))
        if self.machine.config.vrrp_fifo is not None:  # keepalived's notify_fifo: no process per transition
            from .vrrp import VrrpFifo

            self.vrrp = VrrpFifo(self.loop, self.machine.config.vrrp_fifo, self.machine.config.vrrp_instance,
                                 self.go)

    async def go(self, state: str) -> None:
        """Become the pair's active home agent (the bindings read from the store) or its standby."""
        was = "active" if self.machine.active else "standby"
        if state == "active":
            self.feed(self.machine.activate(await self.store.load(), self.now()))  # type: ignore[union-attr]
        elif state == "standby":
            self.feed(self.machine.standby(self.now()))
        else:
            raise ValueError("state: %r is not active or standby" % (state,))
        await self.driver.join()
        log.info("ha: %s -> %s, %d binding(s)", was, state, len(self.machine.bindings))

    async def ha(self, args: dict) -> dict:
        """The control socket's `ha` method (keepalived's notify script: `mip4 ha active|standby`)."""
        state = args.get("state")
        if state is not None:
            await self.go(state)
        else:
            await self.driver.join()
        return {"state": "active" if self.machine.active else "standby", "bindings": len(self.machine.bindings)}

    def _memory(self) -> tuple[list, dict[str, int], float] | None:
        """What to write back to a store that answers again (and `now`, for their time left): nothing while
        standby."""
        if not self.machine.active:
            return None
        table = self.machine.bindings
        ids = {h: i for h in self.machine.config.mobile_nodes if (i := table.last_identification(h)) is not None}
        return list(table), ids, self.now()

    def role_status(self) -> dict:
        return {"store": self.store.status()} if self.store is not None else {}

    async def close_role(self) -> None:
        if self.vrrp is not None:
            self.vrrp.close()
        if self.store is not None:
            self.store.close()

    def set_wall_clock(self, wall: float, now: float) -> list:
        return self.machine.set_wall_clock(wall, now)


class ForeignAgentRole(AgentRole):
    def __init__(self, settings: Settings) -> None:
        self.config: ForeignAgentConfig = settings.machine  # type: ignore[assignment]
        super().__init__(settings, ForeignAgent(self.config, self.rng(settings)))
        self.machine: ForeignAgent

    async def start_role(self) -> None:
        k, m = self.backend.kernel, self.config
        await k.sweep(tuple(range(SOURCE_TABLE_BASE, SOURCE_TABLE_BASE + 64)), visitors_only=True,
                      blackholes=(SOURCE_BLACKHOLE_PRIORITY,))
        try:  # RFC 5944 4.2.2: decapsulate
            await self.ipr.link("set", index=await k.index("tunl0"), state="up")
        except LookupError:  # as an HA's tunnels fail on such a kernel: registrations go on, data cannot
            log.error("no tunl0 (this kernel has no ipip): tunnelled packets for visitors cannot be decapsulated")
        await self.backend.visitors_only("tunl0", True)  # and deliver to visitors only, never route on
        for iface in m.links:
            self.udp[iface] = self.endpoint(iface)
            self.icmp[iface] = IcmpEndpoint(self.loop, iface, self._icmp, groups=(ALL_ROUTERS,))
        self.udp[m.core_iface] = self.endpoint(m.core_iface)
        self.feed(self.machine.start(self.now()))

    def default_iface(self) -> str:
        return self.config.core_iface

    def tunnel_heard(self, iface: str, peer: str, now: float) -> list:
        return self.machine.tunnel_heard(iface, peer, now)
