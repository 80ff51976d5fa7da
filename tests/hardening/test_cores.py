"""Bad input at the Sans-IO cores, drawn by hypothesis (tests/wire/strategies.py, cut and mutated): whatever
arrives on UDP 434, a core never raises, counts the datagram exactly once, answers at most with a denial
to its source, and changes no binding, visitor or verdict. The daemon tests (test_bad_input.py) feed the
same cores through real sockets; these reach corners a fixed feed may miss, in a fraction of the time."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mip4.core.actions import Datagram, Log, SendUdp
from mip4.core.mobile_node import MobileNode
from mip4.wire import CodecError, RegistrationReply, RegistrationRequest, codes, decode_udp
from tests.core import test_foreign_agent as fa_tests
from tests.core import test_home_agent as ha_tests
from tests.core.replies import NOW, mn_config, requests, rng
from tests.wire import strategies as s

I_HA, I_HOA, CO_COA = ha_tests.I_HA, ha_tests.I_HOA, ha_tests.CO_COA
MESSAGES = st.one_of(s.registration_request, s.registration_reply, s.tunnel_data, s.agent_advertisement,
                     s.agent_solicitation)


@st.composite
def bad_payloads(draw, home_agent: str = I_HA, home_address: str = I_HOA) -> bytes:  # noqa: ANN001
    """Random octets; any message cut short or with octets changed; or one addressed to us (our home
    agent and home address in it, so that it gets past the first checks) cut or changed."""
    how = draw(st.sampled_from(("octets", "cut", "changed", "ours-cut", "ours-changed", "ours-extended")))
    if how == "octets":
        return draw(st.binary(max_size=300))
    msg = draw(MESSAGES)
    if how.startswith("ours"):
        msg = draw(st.one_of(s.registration_request, s.registration_reply))
        msg.home_agent, msg.home_address = home_agent, home_address
    try:
        data = msg.encode()
    except CodecError:  # a drawn field the encoder refuses: send its fixed part instead
        data = bytes(24)
    if how.endswith("cut"):
        return data[:draw(st.integers(0, max(len(data) - 1, 0)))]
    if how.endswith("extended"):
        return data + draw(st.binary(min_size=1, max_size=40))
    edits = draw(st.lists(st.tuples(st.integers(0, max(len(data) - 1, 0)), st.integers(0, 255)), min_size=1,
                          max_size=4))
    out = bytearray(data or b"\x00")
    for at, value in edits:
        out[min(at, len(out) - 1)] = value
    return bytes(out)


def _sent(actions: list) -> list[tuple[Datagram, object]]:
    return [(a.datagram, decode_udp(a.datagram.payload)) for a in actions if isinstance(a, SendUdp)]


HA_OUTCOMES = ("malformed", "unexpected-message", "rate-limited", "denied", "dropped-untrusted", "accepted")


@settings(max_examples=400)
@given(payload=bad_payloads(), trusted=st.booleans())
def test_home_agent_counts_each_bad_datagram_once_and_keeps_its_bindings(payload, trusted):
    agent = ha_tests.i_ha()
    ha_tests.send(agent, ha_tests.request())  # a real binding, which nothing below may change
    before = agent.status(NOW)
    src = CO_COA if trusted else ha_tests.EXT_COA
    actions = agent.receive_udp(Datagram("lan", src, 40000, I_HA, 434, payload), NOW)
    after = agent.status(NOW)
    assert after["bindings"] == before["bindings"]
    grew = {k: after["counters"][k] - before["counters"][k] for k in HA_OUTCOMES}
    assert sum(grew.values()) == 1 and grew["accepted"] == 0, grew
    assert all(isinstance(a, SendUdp | Log) for a in actions)
    for d, reply in _sent(actions):  # only a denial, and only back to a trusted source (R-4.3-d)
        assert trusted and (d.dst, d.dport) == (src, 40000)
        assert isinstance(reply, RegistrationReply) and codes.denied_by(reply.code) == "HA"


# what an FA counts for each datagram on an access link (RFC 5944 3.7.2.1 denials included)
FA_ACCESS = ("malformed", "unexpected-message", "rate-limited", "poorly-formed-request", "relayed-request",
             "duplicate-request", "unknown-extension", "no-home-address", "no-home-agent", "lifetime-too-long",
             "encapsulation-unavailable", "reverse-tunnel-unavailable", "invalid-care-of", "too-many-visitors")


@settings(max_examples=400)
@given(payload=bad_payloads(fa_tests.X_HA, fa_tests.X_HOA), access=st.booleans())
def test_foreign_agent_counts_each_bad_datagram_once_and_keeps_its_visitor(payload, access):
    """On the access link: counted once, then a denial back to the sender or a well-formed request relayed;
    on the core side (as if from the home agent): nothing matches a pending request, so nothing goes out."""
    agent = fa_tests.fa()
    fa_tests.registered(agent, hoa=fa_tests.I_HOA, ha=fa_tests.I_HA, sa=fa_tests.I_SA)
    before = agent.status(NOW)
    if access:
        d = Datagram("acc", "198.51.100.77", 40000, fa_tests.COA, 434, payload)
    else:
        d = Datagram("core", fa_tests.X_HA, 434, fa_tests.FA_ADDR, 434, payload)
    actions = agent.receive_udp(d, NOW + 1)
    after = agent.status(NOW)
    assert after["visitors"] == before["visitors"] and after["routes"] == before["routes"]
    assert all(isinstance(a, SendUdp | Log) for a in actions)
    if access:
        grew = sum(after["counters"].get(k, 0) - before["counters"].get(k, 0) for k in FA_ACCESS)
        assert grew == 1
        for out, msg in _sent(actions):
            if out.iface == "core":  # relayed: it decoded, and it is what the FA relays (RFC 5944 3.7.2.2)
                assert isinstance(msg, RegistrationRequest) and out.dst == msg.home_agent
            else:
                assert (out.dst, out.dport) == (d.src, d.sport) and codes.denied_by(msg.code) == "FA"
    else:
        assert not _sent(actions)


@settings(max_examples=400)
@given(payload=bad_payloads())
def test_mobile_node_counts_each_bad_datagram_once_and_garbage_changes_nothing(payload):
    """R-3-c, R-3.2.3-a: only an authenticated reply to a request in flight counts; bad octets (even ones
    naming our home agent and home address) leave the uplink where it was and send nothing."""
    mn = MobileNode(mn_config(uplinks={"wan": 1}), rng())
    mn.link_up("wan", NOW)
    in_flight = requests(mn.address_acquired("wan", "10.2.0.5", NOW))
    assert in_flight  # i-HA and x-HA requests outstanding: what a forged reply would try to match
    before = mn.status(NOW)
    actions = mn.receive_udp(Datagram("wan", I_HA, 434, "10.2.0.5", 434, payload), NOW + 0.1)
    after = mn.status(NOW)
    assert after["interfaces"] == before["interfaces"] and after["mode"] == before["mode"]
    assert all(isinstance(a, Log) for a in actions)
    assert sum(after["counters"].values()) - sum(before["counters"].values()) == 1
