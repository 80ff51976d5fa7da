"""Identifications across the NTP era boundary, 2036-02-07 06:28:16 UTC (issue 28 item 9).

RFC 5944 5.7.1 has identifications be timestamps, NTP format: the seconds wrap from 0xffffffff to 0 at
that instant (era 1, RFC 4330 3). "Greater than the last" is a comparison of times, so it is serial
number arithmetic (RFC 1982), not raw 64-bit numbers: the home agent keeps accepting across the
boundary and still refuses replays; the mobile node's sequence continues into era 1.
"""
from __future__ import annotations

import random

import pytest

from mip4.core.identification import RANDOM_BITS, Identifications, later
from mip4.wire import codes, ident

from .test_home_agent import I_HOA, i_ha, logs, reply_of, request, send

ERA_1 = float((1 << 32) - ident.NTP_UNIX_OFFSET)  # Unix time of NTP second 0 of era 1
MASK64 = (1 << 64) - 1


def test_the_boundary_is_where_the_ntp_seconds_wrap():
    assert ident.timestamp_identification(ERA_1 - 1, 0, 0) >> 32 == 0xFFFFFFFF
    assert ident.timestamp_identification(ERA_1, 0, 0) >> 32 == 0


def test_later_is_serial_number_arithmetic():
    """RFC 1982 3.2, SERIAL_BITS 64: up to half the space ahead is later, wrapping past 2**64."""
    last_of_era_0 = ident.timestamp_identification(ERA_1 - 0.5, 7, clock_bits=8)
    first_of_era_1 = ident.timestamp_identification(ERA_1 + 0.5, 7, clock_bits=8)
    assert first_of_era_1 < last_of_era_0  # as raw numbers: what the old code compared
    assert later(first_of_era_1, last_of_era_0) and not later(last_of_era_0, first_of_era_1)
    assert not later(last_of_era_0, last_of_era_0)
    assert later(5, 3) and not later(3, 5) and later(2, MASK64) and not later(1 << 63, 0)


def test_the_home_agent_accepts_across_the_boundary_and_still_refuses_replays():
    """RFC 5944 5.7.1 at 2036-02-07 06:28:16: the first request of era 1 is accepted (before: refused as
    a replay of every era-0 one, until the daemon restarted); an era-0 request replayed after it, and
    the era-1 one replayed, are refused (133, "replay")."""
    agent = i_ha()
    before = request(at=ERA_1 - 2)
    assert reply_of(send(agent, before, now=ERA_1 - 2)).code == codes.ACCEPTED
    after = request(at=ERA_1 + 1)
    actions = send(agent, after, now=ERA_1 + 1)
    assert reply_of(actions).code == codes.ACCEPTED, logs(actions)
    for replayed in (before, after):
        actions = send(agent, replayed, now=ERA_1 + 2)
        assert reply_of(actions).code == codes.HA_IDENTIFICATION_MISMATCH
        assert logs(actions)[0].reason == "replay"
    later_on = request(at=ERA_1 + 3)
    assert reply_of(send(agent, later_on, now=ERA_1 + 3)).code == codes.ACCEPTED
    assert agent.bindings.last_identification(I_HOA) == later_on.identification


@pytest.mark.parametrize("start", [ERA_1 - 0.5, ERA_1 - 0.001])
def test_the_mobile_nodes_sequence_continues_into_era_1(start):
    """A node's identifications stay 64-bit, each later than the one before, and follow the clock into
    era 1 (before: the slot after era 0's last one outgrew 64 bits, or the clock's era-1 slot lost to
    the era-0 one and every request was stale at the home agent)."""
    ids, rng = Identifications(), random.Random(5)
    walls = [start] * 300 + [ERA_1 + 0.5, ERA_1 + 2]  # 300 at once run 1.2 s ahead of the clock
    drawn = [ids.draw(w, rng, set()) for w in walls]
    assert all(0 <= d <= MASK64 for d in drawn)
    assert all(later(b, a) for a, b in zip(drawn, drawn[1:], strict=False))
    assert drawn[0] >> 32 == 0xFFFFFFFF and drawn[-2] >> 32 in (0, 1) and drawn[-1] >> 32 == 2
    assert abs(ident.identification_time(drawn[-1]) - (ERA_1 + 2)) < 0.01
    assert ids.last == drawn[-1] and ids.last >> RANDOM_BITS == drawn[-1] >> RANDOM_BITS


def test_a_mobile_node_registers_across_the_boundary_with_the_home_agent():
    """The two sides together: a node's identifications drawn from 06:28:14 to 06:38:16 are all accepted."""
    agent, ids, rng = i_ha(), Identifications(), random.Random(9)
    for t in (ERA_1 - 2, ERA_1 - 0.3, ERA_1, ERA_1 + 0.2, ERA_1 + 2, ERA_1 + 10, ERA_1 + 600):
        rq = request(at=t, identification=ids.draw(t, rng, set()))
        actions = send(agent, rq, now=t)
        assert reply_of(actions).code == codes.ACCEPTED, logs(actions)


def test_a_resync_into_era_1_follows_the_home_agents_time():
    """A 133 carrying the HA's era-1 time, ours far ahead of it: we follow it down, without going
    below zero at its second 0 (before: last became -1)."""
    ids, rng = Identifications(), random.Random(1)
    ids.draw(ERA_1 + 3600, rng, set())
    theirs = ident.timestamp_identification(ERA_1, 0, 0)
    ids.resync(theirs, ERA_1 + 3600)
    assert ids.last == MASK64  # era 0's last instant: the next slot is the HA's second 0
    nxt = ids.draw(ERA_1 + 3600, rng, set())
    assert nxt >> 32 == 0 and abs(ident.identification_time(nxt) - ERA_1) < 0.01
