"""Answers to Agent Solicitations are rate limited (RFC 5944 2.3; RFC 1256 4.3; issue 28 item 8).

RFC 5944 2.3: a mobility agent MUST limit the rate at which it sends multicast Agent Advertisements.
A solicitation from 0.0.0.0 is answered to 224.0.0.1: at most one such answer a second on a link, the
rest held back (answered together when the second is over, or by the periodic advertisement) and
counted. Unicast answers are limited per solicitor and overall; the excess is dropped and counted.
"""
from __future__ import annotations

from mip4.core.actions import Icmp
from mip4.core.solicitations import MULTICAST_INTERVAL, UNICAST_BURST, UNICAST_TOTAL_BURST
from mip4.wire import AgentSolicitation

from .replies import NOW
from .test_foreign_agent import COA, COA2, adverts, fa, reasons

SOLICITATION = AgentSolicitation().encode()


def solicit(agent, now: float, src: str = "0.0.0.0", iface: str = "acc") -> list:
    return agent.receive_icmp(Icmp(iface, src, "224.0.0.11", SOLICITATION), now)


def destinations(actions: list) -> list[tuple[str, str]]:
    return [(m.iface, m.dst) for m, _ in adverts(actions)]


def test_a_flood_of_solicitations_from_0_0_0_0_gets_one_multicast_advertisement_a_second():
    """Issue 28 item 8: 100 solicitations a second from 0.0.0.0 gave 100 advertisements to 224.0.0.1.
    Now: one at once, one when the second is over for all those held back; each held back is counted,
    and the log says so a few times, not a hundred (its lines are rate limited too)."""
    agent = fa()
    sent: list = []
    logged: list = []
    for i in range(100):
        actions = solicit(agent, NOW + i * 0.01)
        sent += destinations(actions)
        logged += reasons(actions)
    assert sent == [("acc", "224.0.0.1")]
    assert agent.get_timer() == NOW + MULTICAST_INTERVAL
    held = agent.handle_timer(NOW + MULTICAST_INTERVAL)
    assert destinations(held) == [("acc", "224.0.0.1")] and "solicited" in reasons(held)
    assert agent.status()["counters"]["solicitation-rate-limited"] == 99
    assert 0 < logged.count("solicitation-rate-limited") <= 10
    assert agent.get_timer() is None  # nothing more held back: a quiet link gets nothing more


def test_a_held_back_solicitation_is_answered_by_the_periodic_advertisement_if_it_comes_first():
    """RFC 5944 2.3.1: the periodic advertisement goes to 224.0.0.1 too; it answers what was held back."""
    agent = fa(advertisement_interval=1.5)
    agent.start(NOW)
    assert destinations(solicit(agent, NOW + 0.2)) == []  # 0.2 s after the periodic one: held back
    assert agent.get_timer() == NOW + 1.0
    assert destinations(agent.handle_timer(NOW + 1.0)) == [("acc", "224.0.0.1")]
    assert destinations(solicit(agent, NOW + 1.2)) == []
    assert agent.get_timer() == NOW + 1.5  # the periodic one is due before the held-back answer
    assert destinations(agent.handle_timer(NOW + 1.5)) == [("acc", "224.0.0.1")]
    assert agent.get_timer() == NOW + 3.0  # the held-back answer went with it
    assert agent.status()["counters"]["solicitation-rate-limited"] == 2


def test_the_limit_is_per_access_link():
    agent = fa(links={"acc": COA, "acc2": COA2})
    assert destinations(solicit(agent, NOW)) == [("acc", "224.0.0.1")]
    assert destinations(solicit(agent, NOW + 0.1, iface="acc2")) == [("acc2", "224.0.0.1")]
    assert destinations(solicit(agent, NOW + 0.2)) == []


def test_unicast_answers_are_limited_per_solicitor_and_overall():
    """RFC 5944 2.4.1: a mobile node sends a few solicitations at most a second apart; a source that
    sends more is dropped (counted), another is still answered; spoofed sources share one limit."""
    agent = fa()
    one = [destinations(solicit(agent, NOW + i * 0.01, src="203.0.113.77")) for i in range(UNICAST_BURST + 5)]
    assert one[:UNICAST_BURST] == [[("acc", "203.0.113.77")]] * UNICAST_BURST
    assert one[UNICAST_BURST:] == [[]] * 5
    assert agent.status()["counters"]["solicitation-rate-limited"] == 5
    assert destinations(solicit(agent, NOW + 0.1, src="203.0.113.78")) == [("acc", "203.0.113.78")]
    assert destinations(solicit(agent, NOW + 1.5, src="203.0.113.77")) == [("acc", "203.0.113.77")]
    many = fa()
    answered = sum(len(adverts(solicit(many, NOW, src="203.0.113.%d" % i))) for i in range(1, 101))
    assert answered == UNICAST_TOTAL_BURST
    assert many.status()["counters"]["solicitation-rate-limited"] == 100 - UNICAST_TOTAL_BURST


def test_a_solicitation_from_a_multicast_or_broadcast_source_is_not_answered():
    """The same defect by another door: a forged multicast or broadcast source made the 'unicast' answer
    a multicast one, past the multicast limit. RFC 1122 3.2.1.3: no datagram has such a source."""
    agent = fa()
    for src in ("224.0.0.1", "255.255.255.255", "239.1.2.3"):
        actions = solicit(agent, NOW, src=src)
        assert destinations(actions) == [] and reasons(actions) == ["bad-source"]
    assert agent.status()["counters"]["bad-source"] == 3
