"""The foreign agent alone (RFC 5944 2.3, 3.7; RFC 3024): advertisements, relaying, denials, visitors."""
from __future__ import annotations

import pytest

from mip4.core.actions import (
    Datagram,
    Icmp,
    Log,
    RouteDown,
    RouteUp,
    SendIcmp,
    SendUdp,
    SourceRoute,
    Tunnel,
    TunnelDown,
    TunnelUp,
)
from mip4.core.config import ConfigError, ForeignAgentConfig, SecurityAssociation
from mip4.core.foreign_agent import ForeignAgent
from mip4.wire import (
    AgentAdvertisement,
    AgentSolicitation,
    Authentication,
    RawExtension,
    RegistrationReply,
    RegistrationRequest,
    TrustedNetworksConfigured,
    codec,
    codes,
)
from mip4.wire.extensions import FOREIGN_HOME_AUTH, MOBILE_FOREIGN_AUTH, MOBILE_HOME_AUTH, UdpTunnelReply
from mip4.wire.icmp import ADV_B, ADV_F, ADV_H, ADV_R, ADV_T, CODE_MOBILITY_ONLY, CODE_ROUTES
from mip4.wire.registration import FLAG_D, FLAG_G, FLAG_M, FLAG_S, FLAG_T

from .replies import I_SA, NOW, X_SA, rng

I_HA, I_HOA, X_HA, X_HOA = "10.1.0.1", "10.1.0.10", "198.51.100.1", "198.51.100.10"
COA, COA2, FA_ADDR = "203.0.113.1", "203.0.114.1", "192.0.2.50"
FA_SA = SecurityAssociation(3000, bytes(range(40, 56)))
MN_PORT = 49152
IDENT = 0xE0000000_12345678


def fa(**overrides) -> ForeignAgent:
    base: dict = dict(links={"acc": COA}, address=FA_ADDR)
    base.update(overrides)
    return ForeignAgent(ForeignAgentConfig(**base), rng())


def request(hoa: str = X_HOA, ha: str = X_HA, sa: SecurityAssociation = X_SA, coa: str = COA, lifetime: int = 1800,
            flags: int = 0, ident: int = IDENT, before_auth: list | None = None, after_auth: list | None = None,
            iface: str = "acc", src: str | None = None, sport: int = MN_PORT) -> Datagram:
    """What a mobile node sends to the FA (RFC 5944 3.6.1.1): from its home address, MN-HA authenticated."""
    rq = RegistrationRequest(hoa, ha, coa, ident, lifetime, flags, list(before_auth or []))
    rq.authenticate(MOBILE_HOME_AUTH, sa.spi, sa.key)
    rq.extensions += list(after_auth or [])
    return Datagram(iface, src or hoa, sport, coa, 434, rq.encode())


def reply_to(relayed: Datagram, sa: SecurityAssociation = X_SA, code: int = 0, lifetime: int | None = None,
             tnc: bool = False, extra: list | None = None, fa_ha: SecurityAssociation | None = None,
             iface: str = "core") -> Datagram:
    """The home agent's reply to a relayed request: TNC (and `extra`) before MN-HA auth, FA-HA auth after."""
    rq = codec.decode_udp(relayed.payload)
    exts = list(extra or []) + ([TrustedNetworksConfigured()] if tnc else [])
    rp = RegistrationReply(code, rq.home_address, rq.home_agent, rq.identification,
                           rq.lifetime if lifetime is None else lifetime, exts)
    rp.authenticate(MOBILE_HOME_AUTH, sa.spi, sa.key)
    if fa_ha is not None:
        rp.authenticate(FOREIGN_HOME_AUTH, fa_ha.spi, fa_ha.key)
    return Datagram(iface, relayed.dst, 434, relayed.src, relayed.sport, rp.encode())


def sent(actions: list) -> list[Datagram]:
    return [a.datagram for a in actions if isinstance(a, SendUdp)]


def relayed(actions: list) -> Datagram:
    (d,) = [d for d in sent(actions) if d.iface == "core"]
    return d


def to_mn(actions: list) -> Datagram:
    (d,) = [d for d in sent(actions) if d.iface != "core"]
    return d


def adverts(actions: list) -> list[tuple[Icmp, AgentAdvertisement]]:
    return [(a.message, AgentAdvertisement.decode(a.message.payload)) for a in actions if isinstance(a, SendIcmp)]


def reasons(actions: list) -> list[str]:
    return [a.reason for a in actions if isinstance(a, Log)]


def registered(agent: ForeignAgent, now: float = NOW, **kw) -> tuple[Datagram, list]:
    """Relay a request and its accepted reply; (the reply the MN got, the actions of the reply)."""
    up = relayed(agent.receive_udp(request(**{k: v for k, v in kw.items() if k != "reply"}), now))
    actions = agent.receive_udp(reply_to(up, sa=kw.get("sa", X_SA), **kw.get("reply", {})), now + 0.1)
    return to_mn(actions), actions


# -- agent advertisements (RFC 5944 2.3) ---------------------------------------------------------------


def test_start_advertises_on_every_access_link():
    """RFC 5944 2.1, 2.3.1: ICMP type 9 code 16 to 224.0.0.1, router and care-of = the link's address."""
    agent = fa(links={"acc": COA, "acc2": COA2})
    actions = agent.start(NOW)
    ads = adverts(actions)
    assert [(m.iface, m.src, m.dst) for m, _ in ads] == [("acc", COA, "224.0.0.1"), ("acc2", COA2, "224.0.0.1")]
    for (_, adv), coa in zip(ads, (COA, COA2), strict=True):
        mob = adv.mobility
        assert adv.code == CODE_MOBILITY_ONLY and adv.lifetime == 9 and adv.router_addresses == [(coa, 0)]
        assert mob.care_of_addresses == [coa] and mob.sequence_number == 0 and mob.registration_lifetime == 1800
        assert mob.has(ADV_F) and mob.has(ADV_R) and mob.has(ADV_T)
        assert not mob.has(ADV_H) and not mob.has(ADV_B)
    assert "advertised" in reasons(actions)


def test_advertisements_are_periodic_with_rising_sequence_numbers():
    """RFC 5944 2.3.1-2.3.2: one per interval via get_timer/handle_timer; sequence 0, 1, 2, ..."""
    agent = fa()
    assert agent.get_timer() is None  # nothing before start
    agent.start(NOW)
    seen = []
    for n in range(1, 5):
        t = agent.get_timer()
        assert t == NOW + 3.0 * n
        assert agent.handle_timer(t - 0.5) == []  # not yet due
        seen += [adv.mobility.sequence_number for _, adv in adverts(agent.handle_timer(t))]
    assert seen == [1, 2, 3, 4]


def test_late_timer_does_not_burst():
    agent = fa()
    agent.start(NOW)
    assert len(adverts(agent.handle_timer(NOW + 30))) == 1
    assert agent.get_timer() == NOW + 33


def test_sequence_number_wraps_to_256_not_0():
    """RFC 5944 2.3.2: after 0xffff comes 256, so that 0..255 always mean a reboot."""
    agent = fa()
    agent.sequence["acc"] = 0xFFFF
    agent.start(NOW)
    seq = [adv.mobility.sequence_number for _, adv in adverts(agent.handle_timer(NOW + 3))]
    assert agent.status()["next_sequence"]["acc"] == 257 and seq == [256]


def test_flags_and_code_follow_the_configuration():
    agent = fa(registration_required=False, reverse_tunnel=False, routes_common_traffic=True,
               registration_lifetime=600)
    ((_, adv),) = adverts(agent.start(NOW))
    assert adv.code == CODE_ROUTES and adv.mobility.flags == ADV_F and adv.mobility.registration_lifetime == 600


def test_busy_bit_when_the_visitor_list_is_full():
    """RFC 5944 2.1.1: B, no registrations from additional mobile nodes."""
    agent = fa(max_visitors=1)
    agent.start(NOW)
    registered(agent)
    ((_, adv),) = adverts(agent.handle_timer(NOW + 3))
    assert adv.mobility.has(ADV_B)


def test_solicitation_answered_at_once_unicast():
    """RFC 5944 2.3: a solicitation from an addressed host gets a unicast advertisement at once."""
    agent = fa()
    agent.start(NOW)
    actions = agent.receive_icmp(Icmp("acc", "203.0.113.77", "224.0.0.2", AgentSolicitation().encode()), NOW + 1)
    ((msg, adv),) = adverts(actions)
    assert (msg.iface, msg.src, msg.dst) == ("acc", COA, "203.0.113.77")
    assert adv.mobility.sequence_number == 1 and adv.mobility.care_of_addresses == [COA]
    assert "solicited" in reasons(actions)
    assert agent.get_timer() == NOW + 3  # the periodic schedule is unchanged


def test_solicitation_from_unspecified_source_answered_to_all_systems():
    agent = fa()
    actions = agent.receive_icmp(Icmp("acc", "0.0.0.0", "224.0.0.2", AgentSolicitation().encode()), NOW)
    ((msg, _),) = adverts(actions)
    assert msg.dst == "224.0.0.1"


@pytest.mark.parametrize("msg,reason", [
    (Icmp("core", "10.9.9.9", "224.0.0.2", AgentSolicitation().encode()), "not-access-link"),
    (Icmp("acc", "0.0.0.0", "224.0.0.2", b"\x0a\x00\x00\x00"), "malformed"),
    (Icmp("acc", "203.0.113.9", "224.0.0.1", AgentAdvertisement(9, [("203.0.113.9", 0)]).encode()), "ignored-icmp"),
])
def test_other_icmp_is_logged_and_ignored(msg, reason):
    actions = fa().receive_icmp(msg, NOW)
    assert not adverts(actions) and reasons(actions) == [reason]


# -- relaying requests (RFC 5944 3.7.2.2) -----------------------------------------------------------------


def test_request_relayed_from_fa_address_with_fa_coa_and_d_clear():
    """R-2.2-c, R-2.4-b: the HA sees the RRQ from the FA address, CoA = FA-CoA, D = 0, octets unchanged."""
    agent = fa()
    rq_dgram = request()
    actions = agent.receive_udp(rq_dgram, NOW)
    up = relayed(actions)
    assert (up.iface, up.src, up.sport, up.dst, up.dport) == ("core", FA_ADDR, 434, X_HA, 434)
    assert up.payload == rq_dgram.payload
    rq = codec.decode_udp(up.payload)
    assert rq.care_of_address == COA and not rq.has(FLAG_D)
    assert rq.verify(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key)
    assert "relayed-request" in reasons(actions)
    (p,) = agent.status(NOW)["pending"]
    assert (p["home_address"], p["home_agent"], p["iface"], p["mn_address"], p["mn_port"]) == (
        X_HOA, X_HA, "acc", X_HOA, MN_PORT)
    assert p["remaining"] == 7.0


def test_relay_source_defaults_to_the_first_care_of_and_core_iface_is_configurable():
    agent = ForeignAgent(ForeignAgentConfig(links={"acc": COA}, core_iface="wan"), rng())
    (up,) = sent(agent.receive_udp(request(), NOW))
    assert (up.iface, up.src) == ("wan", COA)


def test_fa_bound_extensions_after_the_mn_ha_authenticator_are_removed():
    """RFC 5944 3.7.2.2: the FA processes and removes what follows the MN-HA auth; the rest is untouched."""
    plain = request()
    with_fa_part = request(after_auth=[Authentication(MOBILE_FOREIGN_AUTH, 4000, bytes(16)), RawExtension(130, b"")])
    up = relayed(fa().receive_udp(with_fa_part, NOW))
    assert up.payload == plain.payload
    assert codec.decode_udp(up.payload).verify(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key)


def test_fa_ha_authenticator_appended_when_sharing_an_sa():
    """RFC 5944 3.5.4, 3.7.2.2: Foreign-Home auth over the whole relayed request; the MN's octets stay."""
    rq_dgram = request()
    up = relayed(fa(fa_ha={X_HA: FA_SA}).receive_udp(rq_dgram, NOW))
    assert up.payload.startswith(rq_dgram.payload) and len(up.payload) == len(rq_dgram.payload) + 22
    rq = codec.decode_udp(up.payload)
    assert rq.extensions[-1].type == FOREIGN_HOME_AUTH
    assert rq.verify(FOREIGN_HOME_AUTH, FA_SA.spi, FA_SA.key) and rq.verify(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key)


def test_no_fa_ha_authenticator_for_a_home_agent_without_sa():
    up = relayed(fa(fa_ha={I_HA: FA_SA}).receive_udp(request(), NOW))
    assert codec.decode_udp(up.payload).find(FOREIGN_HOME_AUTH) < 0


def test_duplicate_request_relayed_again_with_one_pending_entry():
    agent = fa()
    agent.receive_udp(request(), NOW)
    actions = agent.receive_udp(request(), NOW + 0.01)
    assert relayed(actions) and "duplicate-request" in reasons(actions)
    assert len(agent.status()["pending"]) == 1


# -- denials by the FA (RFC 5944 3.7.2.1, 3.7.2.3; RFC 3024) ----------------------------------------------


@pytest.mark.parametrize("config,kw,code,reason", [
    ({}, dict(before_auth=[RawExtension(100, b"??")]), codes.FA_POORLY_FORMED_REQUEST, "unknown-extension"),
    ({}, dict(after_auth=[RawExtension(101, b"")]), codes.FA_POORLY_FORMED_REQUEST, "unknown-extension"),
    ({}, dict(lifetime=1801), codes.FA_LIFETIME_TOO_LONG, "lifetime-too-long"),
    ({}, dict(lifetime=0xFFFF), codes.FA_LIFETIME_TOO_LONG, "lifetime-too-long"),
    ({"reverse_tunnel": False}, dict(flags=FLAG_T), codes.FA_REVERSE_TUNNEL_UNAVAILABLE, "reverse-tunnel-unavailable"),
    ({}, dict(coa="203.0.113.99"), codes.FA_INVALID_CARE_OF, "invalid-care-of"),
    ({"links": {"acc": COA, "acc2": COA2}}, dict(coa=COA2), codes.FA_INVALID_CARE_OF, "invalid-care-of"),
    ({}, dict(flags=FLAG_M), codes.FA_ENCAPSULATION_UNAVAILABLE, "encapsulation-unavailable"),
    ({}, dict(flags=FLAG_G), codes.FA_ENCAPSULATION_UNAVAILABLE, "encapsulation-unavailable"),
    ({}, dict(hoa="0.0.0.0", src="0.0.0.0"), codes.FA_NONZERO_HOME_ADDRESS_REQUIRED, "no-home-address"),
    ({}, dict(ha="0.0.0.0"), codes.FA_MISSING_HOME_AGENT, "no-home-agent"),
])
def test_denied_by_the_fa_itself(config, kw, code, reason):
    """Each denial: our own reply to the MN's source address and port, identification copied, no MN-HA auth."""
    agent = fa(**config)
    dgram = request(**kw)
    actions = agent.receive_udp(dgram, NOW)
    (back,) = sent(actions)  # nothing relayed
    assert (back.iface, back.src, back.sport, back.dst, back.dport) == ("acc", COA, 434, dgram.src, MN_PORT)
    rp = codec.decode_udp(back.payload)
    assert isinstance(rp, RegistrationReply) and rp.code == code and codes.denied_by(code) == "FA"
    assert (rp.home_address, rp.home_agent, rp.identification) == (kw.get("hoa", X_HOA), kw.get("ha", X_HA), IDENT)
    assert rp.extensions == []  # RFC 5944 3.7.2.3: the FA holds no MN-HA key
    assert rp.lifetime == (1800 if code == codes.FA_LIFETIME_TOO_LONG else 0)  # 69: our maximum
    (line,) = [a for a in actions if isinstance(a, Log)]
    assert line.reason == reason and codes.describe(code) in line.message
    assert not agent.status()["pending"]


def test_too_many_visitors_denied_with_66_but_renewals_still_pass():
    agent = fa(max_visitors=1)
    registered(agent)
    actions = agent.receive_udp(request(hoa=I_HOA, ha=I_HA, sa=I_SA), NOW + 1)
    rp = codec.decode_udp(to_mn(actions).payload)
    assert rp.code == codes.FA_INSUFFICIENT_RESOURCES and "too-many-visitors" in reasons(actions)
    assert relayed(agent.receive_udp(request(ident=IDENT + 1), NOW + 2))  # the visitor renews
    assert relayed(agent.receive_udp(request(hoa=I_HOA, ha=I_HA, sa=I_SA, lifetime=0), NOW + 3))  # dereg


def test_pending_registrations_count_towards_the_limit():
    agent = fa(max_visitors=1)
    agent.receive_udp(request(), NOW)
    rp = codec.decode_udp(to_mn(agent.receive_udp(request(hoa=I_HOA, ha=I_HA, sa=I_SA), NOW)).payload)
    assert rp.code == codes.FA_INSUFFICIENT_RESOURCES


@pytest.mark.parametrize("payload", [b"\x01\x00", request().payload[:23], b"\x63junk"])
def test_what_is_not_even_a_request_header_is_dropped_with_a_log(payload):
    agent = fa()
    actions = agent.receive_udp(Datagram("acc", X_HOA, MN_PORT, COA, 434, payload), NOW)
    assert sent(actions) == [] and reasons(actions) == ["malformed"] and not agent.pending


@pytest.mark.parametrize("payload", [b"\x01" + bytes(23) + b"\x83\x05ab", request().payload[:30],
                                     request().payload + b"\x26\x00"])
def test_a_request_whose_extensions_do_not_decode_is_answered_70(payload):
    """RFC 5944 3.7.2.1, 3.7.2.3: the fixed part reads as a request, its extensions do not: the FA denies
    it itself with 70 (poorly formed Request), from its care-of on that link, relays nothing, keeps nothing."""
    agent = fa()
    actions = agent.receive_udp(Datagram("acc", X_HOA, MN_PORT, COA, 434, payload), NOW)
    d = to_mn(actions)
    rp = codec.decode_udp(d.payload)
    header = RegistrationRequest.decode(payload[:24])
    assert (d.src, d.sport, d.dst, d.dport) == (COA, 434, X_HOA, MN_PORT)
    assert (rp.code, rp.home_address, rp.home_agent, rp.identification) == (
        codes.FA_POORLY_FORMED_REQUEST, header.home_address, header.home_agent, header.identification)
    assert reasons(actions) == ["poorly-formed-request"] and not agent.pending and not len(agent.visitors)
    assert agent.status()["counters"]["poorly-formed-request"] == 1


def test_a_flood_from_one_source_on_an_access_link_is_rate_limited():
    """Past the burst, a source's requests beyond its rate are dropped before decoding: nothing relayed,
    no reply, no pending entry; counted and logged (limited); another source is not held back."""
    agent = fa(rate_limit=1.0, rate_burst=2)
    outcomes = [len(sent(agent.receive_udp(request(ident=IDENT + k), NOW))) for k in range(4)]
    assert outcomes == [1, 1, 0, 0]
    flood = agent.receive_udp(request(ident=IDENT + 9, lifetime=0), NOW)
    assert sent(flood) == [] and reasons(flood) == ["rate-limited"] and len(agent.pending) == 2
    assert agent.status()["counters"]["rate-limited"] == 3
    assert relayed(agent.receive_udp(request(hoa=I_HOA, ha=I_HA, sa=I_SA), NOW))  # another source
    assert relayed(agent.receive_udp(request(ident=IDENT + 10), NOW + 1))  # a second later: one more token


def test_fa_logs_of_what_anyone_can_send_are_limited_but_all_counted():
    agent = fa()
    lines = []
    for k in range(200):
        lines += reasons(agent.receive_udp(Datagram("acc", X_HOA, MN_PORT, COA, 434, b"\x63" + bytes(k)), NOW))
        lines += reasons(agent.receive_icmp(Icmp("acc", X_HOA, COA, b"\x0a"), NOW))
    assert lines == ["malformed"] * 5
    assert agent.status()["counters"]["malformed"] == 400 and agent.status()["counters"]["log-suppressed"] == 395


@pytest.mark.parametrize("dgram,reason", [
    (Datagram("acc", X_HOA, MN_PORT, COA, 435, b"\x01"), "wrong-port"),
    (Datagram("other", X_HOA, MN_PORT, COA, 434, b"\x01"), "not-our-interface"),
    (Datagram("core", X_HA, 5000, FA_ADDR, 434, b"\x03"), "wrong-port"),
])
def test_wrong_interface_or_port_ignored(dgram, reason):
    actions = fa().receive_udp(dgram, NOW)
    assert sent(actions) == [] and reasons(actions) == [reason]


def test_reply_on_the_access_link_and_request_from_the_core_are_dropped():
    agent = fa()
    up = relayed(agent.receive_udp(request(), NOW))
    fake = reply_to(up, iface="acc")
    assert reasons(agent.receive_udp(Datagram("acc", X_HOA, MN_PORT, COA, 434, fake.payload), NOW)) == [
        "unexpected-message"]
    assert reasons(agent.receive_udp(Datagram("core", X_HA, 434, FA_ADDR, 434, up.payload), NOW)) == [
        "unexpected-message"]


# -- pending timeout (RFC 5944 3.7.1) ---------------------------------------------------------------------


def test_pending_timeout_sends_code_78_and_forgets_the_request():
    agent = fa()
    up = relayed(agent.receive_udp(request(), NOW))
    assert agent.get_timer() == NOW + 7
    assert agent.handle_timer(NOW + 6.9) == []
    actions = agent.handle_timer(NOW + 7)
    back = to_mn(actions)
    rp = codec.decode_udp(back.payload)
    assert (back.dst, back.dport, rp.code, rp.identification) == (X_HOA, MN_PORT, 78, IDENT)
    assert "pending-timeout" in reasons(actions) and agent.status()["pending"] == []
    assert agent.get_timer() is None
    late = agent.receive_udp(reply_to(up), NOW + 8)
    assert sent(late) == [] and reasons(late) == ["unmatched-reply"]


def test_answered_retransmissions_do_not_time_out():
    """A reply settles the older requests of the same binding: no stale code 78 for them."""
    agent = fa()
    agent.receive_udp(request(ident=IDENT), NOW)
    up2 = relayed(agent.receive_udp(request(ident=IDENT + 1), NOW + 1))
    agent.receive_udp(reply_to(up2), NOW + 1.1)
    assert agent.status()["pending"] == []
    assert not sent(agent.handle_timer(NOW + 8))


# -- relaying replies (RFC 5944 3.7.3) -----------------------------------------------------------------


def test_reply_relayed_unchanged_with_tnc_and_mn_ha_still_verifies():
    """R-3.4-b: the i-HA reply's octets reach the MN unchanged up to and including the MN-HA auth."""
    agent = fa()
    up = relayed(agent.receive_udp(request(hoa=I_HOA, ha=I_HA, sa=I_SA, sport=1234), NOW))
    answer = reply_to(up, sa=I_SA, tnc=True)
    actions = agent.receive_udp(answer, NOW + 0.1)
    back = to_mn(actions)
    assert (back.iface, back.src, back.sport, back.dst, back.dport) == ("acc", COA, 434, I_HOA, 1234)
    assert back.payload == answer.payload
    rp = codec.decode_udp(back.payload)
    assert rp.verify(MOBILE_HOME_AUTH, I_SA.spi, I_SA.key)
    assert any(isinstance(e, TrustedNetworksConfigured) for e in rp.protected_extensions(MOBILE_HOME_AUTH, I_SA.spi))
    assert "relayed-reply" in reasons(actions)


def test_fa_ha_authenticator_verified_and_removed_from_the_reply():
    """R-3.4-b, RFC 5944 3.7.3.1-3.7.3.2: FA-HA auth checked, then stripped; the MN's part byte-identical."""
    agent = fa(fa_ha={I_HA: FA_SA})
    up = relayed(agent.receive_udp(request(hoa=I_HOA, ha=I_HA, sa=I_SA), NOW))
    bare = reply_to(up, sa=I_SA, tnc=True)
    answer = reply_to(up, sa=I_SA, tnc=True, fa_ha=FA_SA)
    assert answer.payload.startswith(bare.payload) and answer.payload != bare.payload
    back = to_mn(agent.receive_udp(answer, NOW + 0.1))
    assert back.payload == bare.payload
    rp = codec.decode_udp(back.payload)
    assert rp.find(FOREIGN_HOME_AUTH) < 0 and rp.verify(MOBILE_HOME_AUTH, I_SA.spi, I_SA.key)


def _two_fa_ha(payload: bytes) -> bytes:
    rp = codec.decode_udp(payload)
    rp.extensions.append(Authentication(FOREIGN_HOME_AUTH, FA_SA.spi, rp.extensions[-1].authenticator))
    return rp.encode()


@pytest.mark.parametrize("spoil", [
    lambda up: reply_to(up, fa_ha=None).payload,  # missing
    lambda up: reply_to(up, fa_ha=SecurityAssociation(FA_SA.spi, b"wrong key......."),).payload,  # bad
    lambda up: reply_to(up, fa_ha=SecurityAssociation(FA_SA.spi + 1, FA_SA.key)).payload,  # other SPI
    lambda up: _two_fa_ha(reply_to(up, fa_ha=FA_SA).payload),  # repeated
], ids=["missing", "bad", "other-spi", "repeated"])
def test_reply_failing_fa_ha_authentication_is_replaced_by_code_68(spoil):
    """RFC 5944 3.7.3.1: discard, log a security exception, tell the MN 68 (home agent failed authentication)."""
    agent = fa(fa_ha={X_HA: FA_SA})
    up = relayed(agent.receive_udp(request(), NOW))
    actions = agent.receive_udp(Datagram("core", X_HA, 434, FA_ADDR, 434, spoil(up)), NOW + 0.1)
    rp = codec.decode_udp(to_mn(actions).payload)
    assert (rp.code, rp.identification, rp.extensions) == (codes.FA_HA_AUTH_FAILED, IDENT, [])
    assert "ha-auth-failed" in reasons(actions)
    assert agent.status()["pending"] == [] and agent.status()["visitors"] == []
    assert not any(isinstance(a, RouteUp) for a in actions)


def test_reply_with_unknown_critical_extension_becomes_code_71():
    agent = fa()
    up = relayed(agent.receive_udp(request(), NOW))
    actions = agent.receive_udp(reply_to(up, extra=[RawExtension(99, b"x")]), NOW + 0.1)
    rp = codec.decode_udp(to_mn(actions).payload)
    assert rp.code == codes.FA_POORLY_FORMED_REPLY and "poorly-formed-reply" in reasons(actions)
    assert agent.status()["visitors"] == []


def test_unmatched_reply_dropped():
    """RFC 5944 3.7.3.1: the low 32 bits of the identification, home address and home agent must match."""
    agent = fa()
    up = relayed(agent.receive_udp(request(), NOW))
    rp = codec.decode_udp(reply_to(up).payload)
    rp.identification ^= 1
    actions = agent.receive_udp(Datagram("core", X_HA, 434, FA_ADDR, 434, rp.encode()), NOW)
    assert sent(actions) == [] and reasons(actions) == ["unmatched-reply"]
    assert len(agent.status()["pending"]) == 1


def test_reply_matches_on_the_low_32_bits_of_the_identification():
    """RFC 5944 3.7.3.1: the HA may put its own time in the high bits (code 133)."""
    agent = fa()
    up = relayed(agent.receive_udp(request(), NOW))
    rp = codec.decode_udp(reply_to(up, code=codes.HA_IDENTIFICATION_MISMATCH).payload)
    rp.identification = (0xE1111111 << 32) | (IDENT & 0xFFFFFFFF)
    rp.extensions = []
    rp.authenticate(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key)
    actions = agent.receive_udp(Datagram("core", X_HA, 434, FA_ADDR, 434, rp.encode()), NOW)
    assert to_mn(actions).payload == rp.encode() and agent.status()["visitors"] == []


X_HA_BROADCAST, X_HA_OTHER = "198.51.100.255", "198.51.100.2"  # not the x-HA's home agent address


def reply_136(relayed: Datagram, src: str, named: str = X_HA, ident: int | None = None,
              fa_ha: SecurityAssociation | None = None) -> Datagram:
    """RFC 5944 3.8.3.2: the x-HA denies a request for another home agent address with 136, naming its
    own unicast address in the Home Agent field; MN-HA authenticated (and FA-HA if `fa_ha`)."""
    rq = codec.decode_udp(relayed.payload)
    rp = RegistrationReply(codes.HA_UNKNOWN_HA_ADDRESS, rq.home_address, named,
                           rq.identification if ident is None else ident, 0)
    rp.authenticate(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key)
    if fa_ha is not None:
        rp.authenticate(FOREIGN_HOME_AUTH, fa_ha.spi, fa_ha.key)
    return Datagram("core", src, 434, relayed.src, relayed.sport, rp.encode())


@pytest.mark.parametrize("asked, src", [
    (X_HA_BROADCAST, X_HA),  # RFC 5944 3.8.3.1: a broadcast request is answered from the HA's unicast address
    (X_HA_OTHER, X_HA_OTHER),  # a unicast request is answered from the address it went to
], ids=["broadcast", "other-address"])
def test_136_naming_the_home_agents_own_address_reaches_the_mn(asked, src):
    """R-2.4-d, RFC 5944 3.7.3.1, 3.8.3.2: the 136 reply names the HA's unicast address, not the one the
    request went to; it is relayed (byte for byte, MN-HA still verifies), the pending entry goes, no 78 follows."""
    agent = fa()
    up = relayed(agent.receive_udp(request(ha=asked), NOW))
    assert up.dst == asked
    answer = reply_136(up, src)
    actions = agent.receive_udp(answer, NOW + 0.1)
    back = to_mn(actions)
    assert (back.iface, back.src, back.dst, back.dport) == ("acc", COA, X_HOA, MN_PORT)
    assert back.payload == answer.payload
    rp = codec.decode_udp(back.payload)
    assert (rp.code, rp.home_agent) == (codes.HA_UNKNOWN_HA_ADDRESS, X_HA)
    assert rp.verify(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key)
    assert "relayed-reply" in reasons(actions)
    assert agent.status()["pending"] == [] and agent.status()["visitors"] == []
    assert not sent(agent.handle_timer(NOW + 8))  # no code 78 for it


def test_136_from_an_address_the_request_did_not_go_to_is_dropped():
    """A 136 matches only from where the request went, or from the unicast address it names: a third
    source (an outsider who knows the identification) cancels nothing; nor does another identification."""
    agent = fa()
    up = relayed(agent.receive_udp(request(ha=X_HA_OTHER), NOW))
    for forged in (reply_136(up, "198.51.100.66"),  # from neither the request's destination nor X_HA
                   reply_136(up, X_HA_OTHER, ident=IDENT + 1),  # another identification
                   reply_136(up, X_HA_OTHER, named="255.255.255.255")):  # names no unicast address
        actions = agent.receive_udp(forged, NOW + 0.1)
        assert sent(actions) == [] and reasons(actions) == ["unmatched-reply"]
    assert len(agent.status()["pending"]) == 1
    # another code naming another home agent still matches nothing (RFC 5944 3.7.3.1)
    rp = codec.decode_udp(reply_136(up, X_HA_OTHER).payload)
    rp.code = codes.HA_MN_AUTH_FAILED
    actions = agent.receive_udp(Datagram("core", X_HA_OTHER, 434, FA_ADDR, 434, rp.encode()), NOW + 0.1)
    assert sent(actions) == [] and len(agent.status()["pending"]) == 1


def test_136_that_could_answer_two_pending_bindings_is_dropped():
    """R-3.5-a: requests to the i-HA and the x-HA with one home address and identification; a 136 from a
    third address naming itself could be either's: dropped. One from where a request went is that one's."""
    agent = fa()
    agent.receive_udp(request(ha=I_HA), NOW)
    up = relayed(agent.receive_udp(request(ha=X_HA_BROADCAST), NOW))
    actions = agent.receive_udp(reply_136(up, X_HA), NOW + 0.1)
    assert sent(actions) == [] and reasons(actions) == ["unmatched-reply"]
    assert len(agent.status()["pending"]) == 2
    actions = agent.receive_udp(reply_136(up, I_HA, named="10.1.0.2"), NOW + 0.2)
    assert codec.decode_udp(to_mn(actions).payload).code == codes.HA_UNKNOWN_HA_ADDRESS
    assert [p["home_agent"] for p in agent.status()["pending"]] == [X_HA_BROADCAST]


def test_136_without_the_fa_ha_authenticator_is_dropped_and_stays_pending():
    """RFC 5944 3.7.3.1 with an FA-HA SA: a 136 that fails it is discarded, and (unlike a reply that matches
    exactly, denied with 68) cancels nothing; one that verifies is relayed without our authenticator."""
    agent = fa(fa_ha={X_HA_OTHER: FA_SA})
    up = relayed(agent.receive_udp(request(ha=X_HA_OTHER), NOW))
    for bad in (None, SecurityAssociation(FA_SA.spi, b"wrong key.......")):
        actions = agent.receive_udp(reply_136(up, X_HA_OTHER, fa_ha=bad), NOW + 0.1)
        assert sent(actions) == [] and reasons(actions) == ["ha-auth-failed"]
        assert len(agent.status()["pending"]) == 1
    actions = agent.receive_udp(reply_136(up, X_HA_OTHER, fa_ha=FA_SA), NOW + 0.2)
    rp = codec.decode_udp(to_mn(actions).payload)
    assert (rp.code, rp.home_agent) == (codes.HA_UNKNOWN_HA_ADDRESS, X_HA) and rp.find(FOREIGN_HOME_AUTH) < 0
    assert agent.status()["pending"] == []


def test_home_agent_denial_relayed_and_no_visitor():
    agent = fa()
    up = relayed(agent.receive_udp(request(), NOW))
    actions = agent.receive_udp(reply_to(up, code=codes.HA_MN_AUTH_FAILED), NOW)
    assert codec.decode_udp(to_mn(actions).payload).code == 131
    assert agent.status()["visitors"] == [] and not any(isinstance(a, RouteUp) for a in actions)


# -- visitor list and data plane (RFC 5944 3.7.1, 4.2.2; RFC 3024) -------------------------------------------


def test_accepted_reply_adds_a_visitor_and_an_on_link_route():
    agent = fa()
    _, actions = registered(agent, reply={"lifetime": 600})
    assert RouteUp(X_HOA + "/32", ("acc",)) in actions
    assert not any(isinstance(a, TunnelUp) for a in actions)  # no T bit, no reverse tunnel
    assert "visitor-added" in reasons(actions) and "data-plane" in reasons(actions)
    (v,) = agent.status(NOW + 100)["visitors"]
    assert (v["home_address"], v["home_agent"], v["iface"], v["care_of"]) == (X_HOA, X_HA, "acc", COA)
    assert v["expires_at"] == NOW + 600 and v["remaining"] == 500  # from when we relayed the request
    assert agent.status()["routes"] == {X_HOA + "/32": ["acc"]}


def test_granted_lifetime_is_at_most_what_was_requested():
    agent = fa()
    registered(agent, lifetime=300, reply={"lifetime": 1800})
    assert agent.status()["visitors"][0]["expires_at"] == NOW + 300


def test_visitor_expiry_removes_the_route():
    agent = fa()
    agent.start(NOW)
    registered(agent, reply={"lifetime": 20})
    assert agent.visitors.next_expiry() == NOW + 20
    for t in (NOW + 3, NOW + 6, NOW + 9, NOW + 12, NOW + 15, NOW + 18):
        assert agent.get_timer() == t
        agent.handle_timer(t)
    assert agent.get_timer() == NOW + 20
    actions = agent.handle_timer(NOW + 20)
    assert RouteDown(X_HOA + "/32") in actions and "visitor-expired" in reasons(actions)
    assert agent.status()["visitors"] == [] and agent.status()["routes"] == {}


def test_renewal_refreshes_the_visitor_without_new_data_plane_actions():
    agent = fa()
    registered(agent, reply={"lifetime": 100})
    up = relayed(agent.receive_udp(request(ident=IDENT + 7), NOW + 80))
    actions = agent.receive_udp(reply_to(up), NOW + 80.1)
    assert "visitor-refreshed" in reasons(actions)
    assert not any(isinstance(a, RouteUp | RouteDown | TunnelUp | TunnelDown) for a in actions)
    assert agent.status()["visitors"][0]["expires_at"] == NOW + 80 + 1800


def test_reverse_tunnel_set_up_for_t_and_torn_down_on_deregistration():
    """R-2.4-c: T advertised; a T registration gets an IP-in-IP tunnel from the FA-CoA to the x-HA."""
    agent = fa()
    ((_, adv),) = adverts(agent.start(NOW))
    assert adv.mobility.has(ADV_T)
    up = relayed(agent.receive_udp(request(flags=FLAG_T), NOW))
    assert codec.decode_udp(up.payload).has(FLAG_T)  # relayed unchanged, T included
    actions = agent.receive_udp(reply_to(up), NOW + 0.1)
    tunnel = Tunnel("rt0-c6336401", COA, X_HA, visitors_only=True)
    assert TunnelUp(tunnel) in actions and RouteUp(X_HOA + "/32", ("acc",)) in actions
    assert actions.index(TunnelUp(tunnel)) < actions.index(RouteUp(X_HOA + "/32", ("acc",)))
    # RFC 3024 5.2: the visitor's packets are steered into the reverse tunnel by their source address
    assert actions.index(TunnelUp(tunnel)) < actions.index(SourceRoute(X_HOA, tunnel.name))
    # and before the route that lets replies reach it: its first packets never leave by the FA's own routes
    assert actions.index(SourceRoute(X_HOA, tunnel.name)) < actions.index(RouteUp(X_HOA + "/32", ("acc",)))
    assert agent.status()["reverse_tunnelled"] == {X_HOA: tunnel.name}
    assert len(tunnel.name) <= 15 and agent.status()["visitors"][0]["reverse_tunnel"]
    dereg = relayed(agent.receive_udp(request(flags=FLAG_T, lifetime=0, ident=IDENT + 1), NOW + 10))
    actions = agent.receive_udp(reply_to(dereg), NOW + 10.1)
    assert RouteDown(X_HOA + "/32") in actions and TunnelDown(tunnel) in actions
    assert actions.index(RouteDown(X_HOA + "/32")) < actions.index(TunnelDown(tunnel))
    assert actions.index(SourceRoute(X_HOA, None)) < actions.index(TunnelDown(tunnel))
    assert "visitor-removed" in reasons(actions) and agent.status()["tunnels"] == []


@pytest.mark.parametrize("nat", [False, True], ids=["ipip", "udp-tunnel"])
def test_accepted_reply_with_t_leaves_only_after_the_visitors_reverse_tunnel_is_in(nat):
    """RFC 3024 5.2, R-2.4-c: the adapter applies actions in order, so the reply that lets the MN send
    through us comes after its reverse tunnel, the rule steering its packets into it, and its route:
    none of its packets meets the FA's own (default) routes, not even the first ones."""
    agent = fa(nat_traversal=nat)
    up = relayed(agent.receive_udp(request(flags=FLAG_T), NOW))
    answer = reply_to(up, extra=[])
    if nat:  # RFC 3519 3.2: the x-HA accepts the UDP tunnel (in the FA's part, after MN-HA auth)
        rp = codec.decode_udp(answer.payload)
        rp.extensions.append(UdpTunnelReply())
        answer = Datagram("core", X_HA, 434, FA_ADDR, 434, rp.encode())
    actions = agent.receive_udp(answer, NOW + 0.1)
    plane = [a for a in actions if isinstance(a, TunnelUp | SourceRoute | RouteUp)]
    (tunnel_up,) = [a for a in plane if isinstance(a, TunnelUp)]
    assert bool(tunnel_up.tunnel.udp_port) == nat
    assert plane == [tunnel_up, SourceRoute(X_HOA, tunnel_up.tunnel.name), RouteUp(X_HOA + "/32", ("acc",))]
    reply = next(a for a in actions if isinstance(a, SendUdp))
    assert reply.datagram.dst == X_HOA and codec.decode_udp(reply.datagram.payload).code == 0
    assert all(actions.index(a) < actions.index(reply) for a in plane)


def test_reverse_tunnel_shared_by_visitors_of_one_home_agent_goes_down_with_the_last():
    agent = fa()
    registered(agent, flags=FLAG_T, reply={"lifetime": 100})
    _, actions = registered(agent, hoa="198.51.100.11", flags=FLAG_T, reply={"lifetime": 200})
    assert not any(isinstance(a, TunnelUp) for a in actions)  # already up
    first = agent.handle_timer(NOW + 100)
    assert RouteDown(X_HOA + "/32") in first and not any(isinstance(a, TunnelDown) for a in first)
    last = agent.handle_timer(NOW + 200)
    assert TunnelDown(Tunnel("rt0-c6336401", COA, X_HA, visitors_only=True)) in last


def test_reverse_tunnel_names_differ_per_access_link():
    agent = fa(links={"acc": COA, "acc2": COA2})
    _, a1 = registered(agent, flags=FLAG_T)
    _, a2 = registered(agent, hoa="198.51.100.11", flags=FLAG_T, coa=COA2, iface="acc2")
    (t1,) = [a.tunnel for a in a1 if isinstance(a, TunnelUp)]
    (t2,) = [a.tunnel for a in a2 if isinstance(a, TunnelUp)]
    assert (t1.local, t2.local) == (COA, COA2) and t1.name != t2.name
    assert RouteUp("198.51.100.11/32", ("acc2",)) in a2


def test_co_located_request_relayed_without_data_plane():
    """RFC 5944 3.1: a co-located MN registering via an FA (R bit); its CoA is its own, the HA tunnels to it."""
    agent = fa()
    _, actions = registered(agent, coa="203.0.113.55", flags=FLAG_D | FLAG_T, src="203.0.113.55")
    assert not any(isinstance(a, RouteUp | TunnelUp) for a in actions)
    assert agent.status()["visitors"][0]["co_located"]


# -- RFC 5265 3.5: one MN, two home agents ---------------------------------------------------------------


@pytest.mark.parametrize("same_hoa", [True, False], ids=["same-hoa", "i-hoa-and-x-hoa"])
def test_concurrent_registrations_to_i_ha_and_x_ha_both_relayed_and_answered(same_hoa):
    """R-3.5-a: two registrations from one MN towards different HAs, both relayed, each reply delivered."""
    agent = fa()
    i_hoa = X_HOA if same_hoa else I_HOA
    to_x = request(hoa=X_HOA, ha=X_HA, sa=X_SA, ident=IDENT, flags=FLAG_T, src=X_HOA)
    to_i = request(hoa=i_hoa, ha=I_HA, sa=I_SA, ident=IDENT, flags=FLAG_S, src=X_HOA, sport=MN_PORT + 1)
    up_x = relayed(agent.receive_udp(to_x, NOW))
    up_i = relayed(agent.receive_udp(to_i, NOW + 0.01))
    assert (up_x.dst, up_i.dst) == (X_HA, I_HA)
    assert (up_x.payload, up_i.payload) == (to_x.payload, to_i.payload)
    assert len(agent.status()["pending"]) == 2
    reply_i = reply_to(up_i, sa=I_SA, tnc=True)
    reply_x = reply_to(up_x, sa=X_SA)
    back_i = to_mn(agent.receive_udp(reply_i, NOW + 0.2))  # replies in the other order
    back_x = to_mn(agent.receive_udp(reply_x, NOW + 0.3))
    assert (back_i.payload, back_i.dport) == (reply_i.payload, MN_PORT + 1)
    assert (back_x.payload, back_x.dport) == (reply_x.payload, MN_PORT)
    assert codec.decode_udp(back_i.payload).verify(MOBILE_HOME_AUTH, I_SA.spi, I_SA.key)
    assert codec.decode_udp(back_x.payload).verify(MOBILE_HOME_AUTH, X_SA.spi, X_SA.key)
    status = agent.status()
    assert status["pending"] == []
    assert sorted((v["home_address"], v["home_agent"]) for v in status["visitors"]) == sorted(
        [(X_HOA, X_HA), (i_hoa, I_HA)])


def test_same_home_address_with_two_home_agents_keeps_the_route_until_both_leave():
    """R-3.5-a: visitor entries per (home address, home agent); one route per home address."""
    agent = fa()
    _, first = registered(agent, reply={"lifetime": 100})
    _, second = registered(agent, ha=I_HA, sa=I_SA, flags=FLAG_T, reply={"lifetime": 200})
    assert RouteUp(X_HOA + "/32", ("acc",)) in first
    assert not any(isinstance(a, RouteUp) for a in second)
    assert TunnelUp(Tunnel("rt0-0a010001", COA, I_HA, visitors_only=True)) in second
    assert not any(isinstance(a, RouteDown) for a in agent.handle_timer(NOW + 100))
    last = agent.handle_timer(NOW + 200)
    assert RouteDown(X_HOA + "/32") in last
    assert TunnelDown(Tunnel("rt0-0a010001", COA, I_HA, visitors_only=True)) in last


# -- a plain RFC 5944 FA (R-2.4-d, R-5.1-a) --------------------------------------------------------------


def test_fa_passes_tnc_and_unknown_skippable_extensions_untouched():
    """R-2.4-d, R-5.1-a: no RFC 5265 code path: TNC (or a malformed 149) and unknown skippable
    extensions pass in both directions, and the FA behaves the same with or without them."""
    odd = [RawExtension(200, b"vendor"), RawExtension(149, b"\x01\x00")]
    plain, extended = fa(), fa()
    up_plain = relayed(plain.receive_udp(request(), NOW))
    rq_dgram = request(before_auth=odd)
    up = relayed(extended.receive_udp(rq_dgram, NOW))
    assert up.payload == rq_dgram.payload
    answer = reply_to(up, tnc=True, extra=odd)
    actions = extended.receive_udp(answer, NOW + 0.1)
    assert to_mn(actions).payload == answer.payload
    baseline = plain.receive_udp(reply_to(up_plain), NOW + 0.1)
    assert reasons(actions) == reasons(baseline)
    assert [a for a in actions if not isinstance(a, SendUdp)] == [a for a in baseline if not isinstance(a, SendUdp)]
    assert extended.status() == plain.status()
    assert "tnc" not in repr(extended.status()).lower()


def test_every_event_is_logged():
    agent = fa()
    for actions in (agent.start(NOW), agent.receive_udp(request(), NOW), agent.handle_timer(NOW + 3),
                    agent.handle_timer(NOW + 7)):
        assert reasons(actions)
    assert agent.status()["counters"]["relayed-request"] == 1
    assert agent.status()["counters"]["pending-timeout"] == 1


# -- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [dict(registration_lifetime=0), dict(registration_lifetime=0x10000),
                                dict(fa_ha={"not-an-address": FA_SA})])
def test_config_rejects_impossible_values(kw):
    with pytest.raises(ConfigError):
        ForeignAgentConfig(links={"acc": COA}, **kw)
