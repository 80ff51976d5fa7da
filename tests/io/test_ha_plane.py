"""The home agent's data plane actions applied (io/plane.py), on a stand-in kernel: what reaches the home
link when a mobile node leaves and when it returns (RFC 5944 4.6). No namespace needed.

Requirement proved: RFC 5944 4.6 (issue 28 item 7): a gratuitous ARP carrying our MAC for a home
address goes out only while we proxy for it (the node is away), never when the node is back home.
"""
from __future__ import annotations

import asyncio

import pytest

from mip4.core.actions import GratuitousArp, Log, ProxyArp, SendUdp
from mip4.io import plane as plane_module
from mip4.io.plane import AgentPlane

from ..core.test_home_agent import CO_COA, I_HOA, NOW, i_ha, request, send


class StandinKernel:
    """Only what AgentPlane calls for proxy ARP; tunnels and routes are recorded and otherwise ignored."""

    def __init__(self) -> None:
        self.proxies: set[str] = set()
        self.tunnels: dict = {}
        self.calls: list[str] = []

    async def proxy_arp(self, address: str, iface: str, enable: bool) -> None:
        (self.proxies.add if enable else self.proxies.discard)(address)

    def __getattr__(self, name: str):
        async def record(*args, **kwargs) -> None:
            self.calls.append(name)
        return record


@pytest.fixture
def announced(monkeypatch) -> list[str]:
    """The gratuitous ARPs that would have been broadcast: (address, iface)."""
    out: list = []
    monkeypatch.setattr(plane_module, "gratuitous_arp", lambda address, iface, count=1: out.append((address, iface)))
    return out


def apply(ap: AgentPlane, actions: list) -> None:
    async def run() -> None:
        for a in actions:
            if not isinstance(a, (SendUdp, Log)):
                await ap.handlers[type(a)](a)  # every data plane action has its handler
    asyncio.run(run())


def test_the_home_agent_announces_our_mac_when_the_node_leaves_and_not_when_it_returns(announced):
    agent, kernel = i_ha(), StandinKernel()
    ap = AgentPlane(kernel, home_iface="home")  # type: ignore[arg-type]
    apply(ap, send(agent, request()))
    assert announced == [(I_HOA, "home")] and kernel.proxies == {I_HOA}
    apply(ap, send(agent, request(coa=I_HOA, lifetime=0, at=NOW + 1), src=I_HOA, now=NOW + 1))
    assert announced == [(I_HOA, "home")] and kernel.proxies == set()
    apply(ap, send(agent, request(at=NOW + 2, lifetime=300), src=CO_COA, now=NOW + 2))
    apply(ap, agent.handle_timer(NOW + 302))  # expiry: back to the home link's own ARP as well
    assert announced == [(I_HOA, "home")] * 2 and kernel.proxies == set()


def test_a_gratuitous_arp_for_an_address_we_do_not_proxy_is_not_sent(announced):
    """Fail closed at io too: whatever a core asks, our MAC is announced only for a proxied address."""
    ap = AgentPlane(StandinKernel(), home_iface="home")  # type: ignore[arg-type]
    apply(ap, [ProxyArp(I_HOA, True), ProxyArp(I_HOA, False), GratuitousArp(I_HOA, "home")])
    apply(ap, [GratuitousArp("10.1.0.99", "home")])
    assert announced == []
    apply(ap, [ProxyArp(I_HOA, True), GratuitousArp(I_HOA, "home")])
    assert announced == [(I_HOA, "home")]
