"""Identifications grow (RFC 5944 5.7.1): one sequence per home agent and home address, shared by all
of a node's registration clients (identification.py), and what the mobile node sends with it."""
from __future__ import annotations

import random

from mip4.core.identification import RANDOM_BITS, RESYNC_SLACK, Identifications
from mip4.core.mobile_node import MobileNode
from mip4.wire import ident

from .replies import NOW, mn_config, requests

LOW = 0xFFFFFFFF


def test_every_draw_is_greater_than_the_last_at_one_instant_and_after_the_clock_went_back():
    """RFC 5944 5.7.1: greater than any identification used before, whatever the clock does."""
    ids, rng, taken = Identifications(), random.Random(7), set()
    walls = [NOW] * 50 + [NOW - 0.5] * 20 + [NOW - 3600.0] * 5 + [NOW + 0.001 * i for i in range(50)]
    drawn = [ids.draw(w, rng, taken) for w in walls]
    assert all(b > a for a, b in zip(drawn, drawn[1:], strict=False))
    assert ids.last == drawn[-1]
    # a burst runs ahead of the clock by one 4 ms slot per request: far inside any replay window
    assert ident.identification_time(drawn[49]) - NOW < 50 * 2 ** -8 + 1e-6
    assert len({d & ((1 << RANDOM_BITS) - 1) for d in drawn}) == len(drawn)  # the low bits stay random


def test_the_clock_decides_when_it_is_ahead_of_the_last_one():
    ids, rng = Identifications(), random.Random(1)
    first = ids.draw(NOW, rng, set())
    later = ids.draw(NOW + 10, rng, set())
    assert abs(ident.identification_time(first) - NOW) < 0.005
    assert abs(ident.identification_time(later) - (NOW + 10)) < 0.005


def test_low_32_bits_in_flight_are_not_reused():
    """RFC 5944 3.6.2.1: a reply matches one request by the low 32 bits."""
    ids = Identifications()
    seq = random.Random(3)
    first_low = Identifications().draw(NOW, random.Random(3), set()) & LOW
    got = ids.draw(NOW, seq, {first_low})
    assert got & LOW != first_low


def test_a_replay_133_keeps_us_above_the_last_one():
    """The HA refused a replay (its time is about ours): what follows is still greater than every one sent."""
    ids, rng = Identifications(), random.Random(1)
    sent = [ids.draw(NOW + 0.9, rng, set()) for _ in range(3)]
    ha_time = ident.timestamp_identification(NOW - 0.2, 0, 0)  # its whole second is behind ours
    offset = ids.resync(ha_time | (sent[-1] & LOW), NOW + 0.9)
    assert offset == -1  # int(NOW - 0.2) - int(NOW + 0.9): the whole-second resync is off by up to 1 s
    assert ids.draw(NOW + 0.9, rng, set()) > max(sent)


def test_a_133_far_behind_the_last_one_follows_the_home_agents_time():
    """The HA's clock went back (or ours had run ahead): staying above our last one would be stale forever."""
    ids, rng = Identifications(), random.Random(1)
    sent = ids.draw(NOW, rng, set())
    ha_time = ident.timestamp_identification(NOW - 3600, 0, 0)
    assert ids.resync(ha_time | (sent & LOW), NOW) == -3600
    after = ids.draw(NOW, rng, set())
    assert after < sent and abs(ident.identification_time(after) - (NOW - 3600)) < 1
    # just within the slack it stays above
    ids2 = Identifications()
    sent2 = ids2.draw(NOW, rng, set())
    ids2.resync(ident.timestamp_identification(NOW - RESYNC_SLACK + 1, 0, 0), NOW)
    assert ids2.draw(NOW, rng, set()) > sent2


def _mn(seed: int) -> MobileNode:
    return MobileNode(mn_config(uplinks={"wan": 1, "wwan": 2}), random.Random(seed))


def _i_ha_identifications(actions: list) -> list[int]:
    return [rq.identification for _, rq in requests(actions) if rq.home_agent == "10.1.0.1"]


def test_two_uplinks_at_one_instant_send_the_i_ha_growing_identifications():
    """Both uplinks' i-HA clients (and the i-MIP client) share one sequence: in send order, each
    identification is greater than every one before."""
    mn = _mn(2)
    sent: list[int] = []
    for iface, coa in (("wan", "10.2.0.5"), ("wwan", "10.3.0.7")):
        mn.link_up(iface, NOW)
        sent += _i_ha_identifications(mn.address_acquired(iface, coa, NOW))
    sent += _i_ha_identifications(mn.reregister(NOW))
    assert len(sent) == 4
    assert all(b > a for a, b in zip(sent, sent[1:], strict=False))
    i_clients = [up.i_client for up in mn.uplinks.values()] + [mn.vpn_client]
    assert len({id(c.ids) for c in i_clients}) == 1
    assert {id(up.x_client.ids) for up in mn.uplinks.values()} != {id(mn.vpn_client.ids)}  # R-5.1-b: x-MIP apart


def test_after_our_time_of_day_steps_back_a_little_identifications_still_grow():
    """An NTP step of half a second back: without a floor the next request would be a replay to the HA."""
    mn = _mn(1)
    mn.link_up("wan", NOW)
    before = _i_ha_identifications(mn.address_acquired("wan", "10.2.0.5", NOW))
    mn.set_wall_clock(NOW + 0.1 - 0.5, NOW + 0.1)  # 100 ms later the time of day reads 400 ms earlier
    after = _i_ha_identifications(mn.reregister(NOW + 0.1))
    assert before and after and min(after) > max(before)
