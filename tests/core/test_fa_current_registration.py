"""A visitor's data plane follows its current registration (RFC 3024 5.2; RFC 5265 3.5, R-3.5-a).

One home address may have visitor entries for two home agents (the i-HA and the x-HA, R-3.5-a), but
it has one route and one source rule at the FA: they follow the registration whose request we relayed
last, never the entry that comes last in a table (issue 28 item 4: after HA1 -> HA2 -> HA1, packets
went to HA2 until its entry expired). Denials, pending requests and a superseded home agent's
deregistration leave the working registration alone.
"""
from __future__ import annotations

from mip4.core.actions import RouteUp, SourceRoute, Tunnel, TunnelUp
from mip4.core.foreign_agent import ForeignAgent
from mip4.wire import codec, codes
from mip4.wire.registration import FLAG_T

from .replies import I_SA, NOW, X_SA
from .test_foreign_agent import COA, COA2, I_HA, IDENT, X_HA, X_HOA, fa, reasons, relayed, reply_to, request, to_mn

HA1, HA2 = X_HA, I_HA  # two home agents of one home address
SA = {HA1: X_SA, HA2: I_SA}
RT1 = Tunnel("rt0-c6336401", COA, HA1, visitors_only=True)
RT2 = Tunnel("rt0-0a010001", COA, HA2, visitors_only=True)


def ask(agent: ForeignAgent, ha: str, now: float, n: int, flags: int = FLAG_T, lifetime: int = 1800,
        iface: str = "acc", coa: str = COA):
    """The MN's request for X_HOA to `ha`, relayed at `now`; the relayed datagram."""
    return relayed(agent.receive_udp(request(ha=ha, sa=SA[ha], ident=IDENT + n, flags=flags, lifetime=lifetime,
                                             iface=iface, coa=coa), now))


def answer(agent: ForeignAgent, up, now: float, code: int = 0) -> list:
    return agent.receive_udp(reply_to(up, sa=SA[codec.decode_udp(up.payload).home_agent], code=code), now)


def register(agent: ForeignAgent, ha: str, now: float, n: int, **kw) -> list:
    return answer(agent, ask(agent, ha, now, n, **kw), now + 0.1)


def entries(agent: ForeignAgent) -> list[tuple[str, str]]:
    return sorted((v["home_address"], v["home_agent"]) for v in agent.status()["visitors"])


def test_reverse_tunnel_follows_the_current_home_agent_after_ha1_ha2_ha1():
    """Issue 28 item 4, RFC 3024 5.2: HA1, then HA2, then HA1 again: the MN's packets go to HA1 at once,
    not to HA2 until HA2's entry expires. HA2's entry stays (its binding is live, R-3.5-a), not current."""
    agent = fa()
    register(agent, HA1, NOW, 1)
    to_ha2 = register(agent, HA2, NOW + 10, 2)
    assert SourceRoute(X_HOA, RT2.name) in to_ha2 and agent.status()["reverse_tunnelled"] == {X_HOA: RT2.name}
    back = register(agent, HA1, NOW + 20, 3)
    assert SourceRoute(X_HOA, RT1.name) in back
    assert agent.status()["reverse_tunnelled"] == {X_HOA: RT1.name}
    assert entries(agent) == [(X_HOA, HA2), (X_HOA, HA1)]
    renewed_ha2_would_win = register(agent, HA2, NOW + 30, 4)  # and the MN may switch again
    assert SourceRoute(X_HOA, RT2.name) in renewed_ha2_would_win


def test_the_current_registrations_t_bit_decides_whether_packets_are_reverse_tunnelled():
    """RFC 3024 3.1: the FA reverse tunnels for a registration that asked (T). The MN's current
    registration, with another home agent and without T, takes its packets out of the old tunnel."""
    agent = fa()
    register(agent, HA1, NOW, 1)
    actions = register(agent, HA2, NOW + 10, 2, flags=0)
    assert SourceRoute(X_HOA, None) in actions and agent.status()["reverse_tunnelled"] == {}
    assert [t["name"] for t in agent.status()["tunnels"]] == [RT1.name]  # HA1 still tunnels to us


def test_a_reply_to_an_older_request_does_not_take_over_from_a_newer_registration():
    """R-3.5-a: requests to both home agents in flight; the reply to the older one comes last. The
    registration relayed last stays current; the late one is kept (logged as not current)."""
    agent = fa()
    up1 = ask(agent, HA1, NOW, 1)
    up2 = ask(agent, HA2, NOW + 0.01, 2)
    newer = answer(agent, up2, NOW + 0.2)
    assert SourceRoute(X_HOA, RT2.name) in newer
    late = answer(agent, up1, NOW + 0.3)
    assert codec.decode_udp(to_mn(late).payload).code == 0  # relayed all the same
    assert TunnelUp(RT1) in late and not any(isinstance(a, SourceRoute) for a in late)
    assert agent.status()["reverse_tunnelled"] == {X_HOA: RT2.name}
    assert entries(agent) == [(X_HOA, HA2), (X_HOA, HA1)]
    (added,) = [a for a in late if getattr(a, "reason", "") == "visitor-added"]
    assert "not its current registration" in added.message


def test_deregistering_the_current_home_agent_falls_back_to_the_other_live_registration():
    """RFC 5265 3.3, R-3.3-g with one home address: the i-HA accepts, the x-HA's request (relayed later)
    is accepted after it, then the MN deregisters the x-HA. The i-HA's entry was never dropped, so the
    data plane goes back to it; the deregistration of one home agent touches no other's entry."""
    agent = fa()
    register(agent, HA2, NOW, 1)
    register(agent, HA1, NOW + 0.01, 2)
    assert agent.status()["reverse_tunnelled"] == {X_HOA: RT1.name}
    gone = register(agent, HA1, NOW + 1, 3, lifetime=0)
    assert "visitor-removed" in reasons(gone) and SourceRoute(X_HOA, RT2.name) in gone
    assert entries(agent) == [(X_HOA, HA2)] and agent.status()["routes"] == {X_HOA + "/32": ["acc"]}


def test_the_route_takes_the_link_of_the_current_registration():
    """RFC 5944 4.2.2: the MN registered with HA2 through our other link: the route (whose first device
    the adapter uses) leads with that link, not with whichever name sorts first."""
    agent = fa(links={"acc": COA, "acc2": COA2})
    register(agent, HA1, NOW, 1)
    moved = register(agent, HA2, NOW + 10, 2, iface="acc2", coa=COA2)
    assert RouteUp(X_HOA + "/32", ("acc2", "acc")) in moved
    back = register(agent, HA1, NOW + 20, 3)
    assert RouteUp(X_HOA + "/32", ("acc", "acc2")) in back
    assert agent.status()["routes"] == {X_HOA + "/32": ["acc", "acc2"]}


def test_denials_and_pending_requests_leave_the_working_registration_alone():
    """A request to HA2 pending, denied by HA2, denied by the FA itself, or timed out: HA1 stays current
    and nothing in the data plane moves (RFC 5944 3.7.3.2: the visitor list follows accepted replies)."""
    agent = fa(links={"acc": COA, "acc2": COA2})
    register(agent, HA1, NOW, 1)
    before = agent.status()

    def unchanged(actions: list) -> None:
        assert not any(isinstance(a, SourceRoute | RouteUp | TunnelUp) for a in actions)
        after = agent.status()
        assert (after["reverse_tunnelled"], after["routes"], entries(agent)) == (
            before["reverse_tunnelled"], before["routes"], [(X_HOA, HA1)])

    up = ask(agent, HA2, NOW + 10, 2, iface="acc2", coa=COA2)
    unchanged([])
    unchanged(answer(agent, up, NOW + 10.1, code=codes.HA_PROHIBITED))
    unchanged(agent.receive_udp(request(ha=HA2, sa=I_SA, ident=IDENT + 3, lifetime=9999), NOW + 11))
    ask(agent, HA2, NOW + 12, 4)
    timed_out = agent.handle_timer(NOW + 12 + agent.config.pending_timeout)
    assert "pending-timeout" in reasons(timed_out)
    unchanged(timed_out)
