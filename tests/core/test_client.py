"""The registration client alone (RFC 5944 3.6): backoff, replies, reply codes, resync."""
from __future__ import annotations

import pytest

from mip4.core.client import Accepted, Denied, RegistrationClient, Route
from mip4.core.config import Timing
from mip4.wire import codes, ident
from mip4.wire.registration import FLAG_D, FLAG_S, FLAG_T

from .replies import I_SA, NOW, X_SA, answer, requests, rng

ROUTE = Route("wan", "10.2.0.5", "10.1.0.1", "10.2.0.5", FLAG_D | FLAG_T)
FA_ROUTE = Route("wan", "10.1.0.10", "10.4.0.1", "10.4.0.1", FLAG_T)  # through a foreign agent


def client(**kw) -> RegistrationClient:
    return RegistrationClient("i-ha", "10.1.0.10", "10.1.0.1", I_SA, Timing(), rng(), **kw)


def test_request_fields_and_authenticator():
    c = client()
    (dgram, rq), = requests(c.register(ROUTE, NOW))
    assert (dgram.src, dgram.dst, dgram.dport) == ("10.2.0.5", "10.1.0.1", 434)
    assert (rq.home_address, rq.home_agent, rq.care_of_address, rq.lifetime) == ("10.1.0.10", "10.1.0.1",
                                                                                 "10.2.0.5", 1800)
    assert rq.verify(32, I_SA.spi, I_SA.key)
    assert abs(ident.identification_time(rq.identification) - NOW) < 0.005  # RFC 5944 5.7.1 timestamp


def test_retransmission_backs_off_exponentially_to_a_ceiling():
    """RFC 5944 3.6.3: each retransmission waits twice as long, up to retransmit_max."""
    c = client()
    c.register(ROUTE, NOW)
    times, t = [], NOW
    for _ in range(8):
        t = c.get_timer()
        times.append(t - NOW)
        assert requests(c.handle_timer(t))
    gaps = [b - a for a, b in zip([0.0] + times, times, strict=False)]
    assert gaps == [1, 2, 4, 8, 16, 16, 16, 16]


def test_new_identification_per_retransmission_and_late_reply_to_first_still_counts():
    c = client()
    (first, rq1), = requests(c.register(ROUTE, NOW))
    (_, rq2), = requests(c.handle_timer(NOW + 1))
    assert rq1.identification != rq2.identification
    result, _ = c.receive(codec_reply(first), NOW + 1.5)
    assert isinstance(result, Accepted) and result.sent_at == NOW  # lifetime counts from the first send
    assert c.expires_at == NOW + 1800 and c.renew_at == NOW + 1800 * 0.8
    assert c.get_timer() == c.renew_at


def codec_reply(dgram, **kw):
    from mip4.wire import codec
    return codec.decode_udp(answer(dgram, I_SA, **kw).payload)


def test_renewal_before_expiry():
    c = client()
    (d, _), = requests(c.register(ROUTE, NOW))
    c.receive(codec_reply(d, lifetime=100), NOW + 0.1)
    assert c.get_timer() == NOW + 80
    (_, rq), = requests(c.handle_timer(NOW + 80))
    assert rq.lifetime == 1800  # asks for the configured lifetime again


def test_granted_lifetime_never_exceeds_the_request():
    c = client()
    (d, _), = requests(c.register(ROUTE, NOW))
    result, _ = c.receive(codec_reply(d, lifetime=9999), NOW)
    assert result.lifetime == 1800


def test_code_133_resyncs_the_clock_and_resends_at_once():
    """RFC 5944 5.7.1: the HA's time is in the high 32 bits of the 133 reply."""
    c = client()
    (d, rq), = requests(c.register(ROUTE, NOW))
    ha_time = ident.timestamp_identification(NOW + 500, 0) & ~0xFFFFFFFF | (rq.identification & 0xFFFFFFFF)
    result, actions = c.receive(codec_reply(d, code=133, identification=ha_time), NOW)
    assert isinstance(result, Denied) and result.code == 133
    assert c.clock_offset == 500
    (_, again), = requests(actions)
    assert abs(ident.identification_time(again.identification) - (NOW + 500)) < 1
    assert any("133" in a.message for a in actions if hasattr(a, "message"))


def test_unauthenticated_133_changes_nothing():
    c = client()
    (d, rq), = requests(c.register(ROUTE, NOW))
    reply = codec_reply(d, code=133)
    reply.extensions[-1].authenticator = bytes(16)
    result, actions = c.receive(reply, NOW)
    assert result is None and c.clock_offset == 0 and not requests(actions)


def test_resync_on_x_mip_leaves_i_mip_untouched():
    """R-5.1-b: two independent client instances, each with its own identification state."""
    from mip4.core.config import Timing as T
    i = client()
    x = RegistrationClient("x-ha", "198.51.100.10", "198.51.100.1", X_SA, T(), rng())
    i.register(ROUTE, NOW)
    (d, rq), = requests(x.register(Route("wan", "10.2.0.5", "198.51.100.1", "10.2.0.5", FLAG_D), NOW))
    from mip4.wire import codec
    ha_time = ident.timestamp_identification(NOW - 300, 0) & ~0xFFFFFFFF | (rq.identification & 0xFFFFFFFF)
    x.receive(codec.decode_udp(answer(d, X_SA, code=133, identification=ha_time).payload), NOW)
    assert x.clock_offset == -300 and i.clock_offset == 0
    (_, irq), = requests(i.handle_timer(i.get_timer()))
    assert abs(ident.identification_time(irq.identification) - (NOW + 1)) < 1


@pytest.mark.parametrize("code", sorted(c for c in codes.NAMES if not codes.is_accepted(c)))
def test_every_denial_code_is_logged_by_number(code):
    """RFC 5944 3.6.2.3: each reply code handled, with a log line naming it."""
    c = client()
    by_fa = codes.denied_by(code) == "FA"
    (d, _), = requests(c.register(FA_ROUTE if by_fa else ROUTE, NOW))
    result, actions = c.receive(codec_reply(d, code=code) if not by_fa else fa_denial(d, code), NOW)
    assert isinstance(result, Denied) and result.code == code
    assert any(codes.describe(code) in a.message for a in actions if hasattr(a, "message"))


def fa_denial(dgram, code):
    from mip4.wire import codec
    return codec.decode_udp(answer(dgram, None, code=code).payload)


def test_too_many_bindings_is_not_answered_by_dropping_s():
    """RFC 5944 3.4 (issue 28.1): a request without S replaces every binding, the one that carries too;
    135 goes to the owner (the mobile node decides), the client sends nothing."""
    c = client()
    (d, _), = requests(c.register(Route("wan", "10.2.0.5", "10.1.0.1", "10.2.0.5", FLAG_D | FLAG_S), NOW))
    result, actions = c.receive(codec_reply(d, code=codes.HA_TOO_MANY_BINDINGS), NOW)
    assert isinstance(result, Denied) and result.code == codes.HA_TOO_MANY_BINDINGS and not requests(actions)


@pytest.mark.parametrize("code,flags_before,flag,present", [
    (codes.HA_REVERSE_TUNNEL_MANDATORY, FLAG_D, FLAG_T, True),
    (codes.FA_REVERSE_TUNNEL_MANDATORY, FLAG_D, FLAG_T, True),
])
def test_denials_that_say_what_to_change_are_retried_at_once(code, flags_before, flag, present):
    c = client()
    if codes.denied_by(code) == "FA":
        route = Route("wan", "10.1.0.10", "10.4.0.1", "10.4.0.1", flags_before & ~FLAG_D)
    else:
        route = Route("wan", "10.2.0.5", "10.1.0.1", "10.2.0.5", flags_before)
    (d, _), = requests(c.register(route, NOW))
    reply = codec_reply(d, code=code) if codes.denied_by(code) == "HA" else fa_denial(d, code)
    _, actions = c.receive(reply, NOW)
    (_, again), = requests(actions)
    assert bool(again.flags & flag) == present


def test_i_mip_keeps_reverse_tunnelling_when_denied_but_x_mip_may_drop_it():
    """R-2.3-f (i-MIP SHOULD use T) vs R-2.3-b (x-MIP T is a MAY)."""
    for may_drop, resent in ((False, False), (True, True)):
        c = client(may_drop_t=may_drop)
        (d, _), = requests(c.register(ROUTE, NOW))
        _, actions = c.receive(codec_reply(d, code=codes.HA_REVERSE_TUNNEL_UNAVAILABLE), NOW)
        assert bool(requests(actions)) == resent
        if resent:
            assert not requests(actions)[0][1].flags & FLAG_T


def test_lifetime_too_long_from_fa_retries_with_the_fa_maximum():
    c = client()
    (d, _), = requests(c.register(FA_ROUTE, NOW))
    _, actions = c.receive(fa_denial_lifetime(d, 600), NOW)
    (_, again), = requests(actions)
    assert again.lifetime == 600


def fa_denial_lifetime(dgram, lifetime):
    from mip4.wire import codec
    return codec.decode_udp(answer(dgram, None, code=codes.FA_LIFETIME_TOO_LONG, lifetime=lifetime).payload)


@pytest.mark.parametrize("tamper", ["bad-authenticator", "unmatched-reply", "wrong-home-agent"])
def test_rejected_replies_change_nothing(tamper):
    """R-6.1-a: forged or replayed replies are rejected and logged; no state change."""
    from mip4.wire import codec
    c = client()
    (d, rq), = requests(c.register(ROUTE, NOW))
    reply = codec.decode_udp(answer(d, I_SA).payload)
    if tamper == "bad-authenticator":
        reply.extensions[-1].authenticator = bytes(16)
    elif tamper == "unmatched-reply":
        reply.identification ^= 1
        reply.authenticate(32, I_SA.spi, I_SA.key)
        reply.extensions.pop(0)
    else:
        reply.home_agent = "10.9.9.9"
        reply.extensions = []
        reply.authenticate(32, I_SA.spi, I_SA.key)
    before = (c.expires_at, c.retransmit_at)
    result, actions = c.receive(reply, NOW)
    assert result is None and (c.expires_at, c.retransmit_at) == before
    assert [a.reason for a in actions] == [tamper]


def test_fa_denial_without_an_fa_in_the_path_is_forged():
    """A co-located registration has no FA that could deny it: an unsigned FA code is rejected."""
    c = client()
    (d, _), = requests(c.register(ROUTE, NOW))
    result, actions = c.receive(fa_denial(d, codes.FA_REVERSE_TUNNEL_UNAVAILABLE), NOW)
    assert result is None and [a.reason for a in actions] == ["unauthenticated-denial"]
    assert c.route.flags & FLAG_T


def test_late_reply_to_a_registration_is_not_taken_for_the_deregistration():
    """A reply answers the request it matches; deregistering forgets the registrations before it."""
    c = client()
    (reg, _), = requests(c.register(ROUTE, NOW))
    (dereg, _), = requests(c.deregister(ROUTE, NOW + 0.1))
    result, actions = c.receive(codec_reply(reg), NOW + 0.2)
    assert result is None and c.pending  # still waiting for the deregistration's own reply
    result, _ = c.receive(codec_reply(dereg), NOW + 0.3)
    assert result.deregistration and not c.pending


def test_unanswered_deregistration_stops_after_a_few_tries():
    c = client()
    requests(c.deregister(ROUTE, NOW))
    sent = 1
    while c.get_timer() is not None:
        sent += len(requests(c.handle_timer(c.get_timer())))
    assert sent == Timing().deregister_attempts


def test_identifications_are_unique_across_clients_sharing_a_set():
    taken: set = set()
    a = RegistrationClient("i-ha", "10.1.0.10", "10.1.0.1", I_SA, Timing(), rng(), taken=taken)
    b = RegistrationClient("i-ha", "10.1.0.10", "10.1.0.1", I_SA, Timing(), rng(), taken=taken)  # same seed
    (_, ra), = requests(a.register(ROUTE, NOW))
    (_, rb), = requests(b.register(ROUTE, NOW))
    assert ra.identification & 0xFFFFFFFF != rb.identification & 0xFFFFFFFF
