"""Round-trip properties for every message and extension: decode(encode(m)) == m and back to the same octets."""
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mip4.wire import CodecError, decode, decode_icmp, decode_udp, jsonmap
from tests.wire import strategies as S


@given(S.message)
@settings(max_examples=600)
def test_decode_of_encode_is_the_message(m):
    wire = m.encode()
    back = decode(wire)
    assert back == m
    assert back.encode() == wire


@given(st.one_of(S.registration_request, S.registration_reply, S.tunnel_data))
def test_udp_messages_decode_with_decode_udp(m):
    assert decode_udp(m.encode()) == m


@given(st.one_of(S.agent_advertisement, S.agent_solicitation))
def test_icmp_messages_decode_with_decode_icmp(m):
    assert decode_icmp(m.encode()) == m


@given(S.message)
@settings(max_examples=300)
def test_json_round_trip_reproduces_the_octets(m):
    wire = m.encode()
    text = json.dumps(jsonmap.to_dict(decode(wire)))
    assert jsonmap.from_dict(json.loads(text)).encode() == wire


@given(st.one_of(S.registration_request, S.registration_reply), st.binary(min_size=1, max_size=64), st.data())
def test_authenticators_verify_only_under_their_own_key(m, key, data):
    spi = data.draw(st.integers(256, 0xFFFFFFFF))  # 0..255 are reserved (RFC 5944 1.6)
    kind = data.draw(st.sampled_from([32, 33, 34]))
    # verify() checks the first extension of that type and SPI, so none may precede ours
    m.extensions = [e for e in m.extensions if e.type not in (32, 33, 34)]
    m.authenticate(kind, spi, key)
    got = decode(m.encode())
    assert got.verify(kind, spi, key)
    # HMAC pads short keys with zeros (RFC 2104), so keys differing only there are the same key
    other = data.draw(st.binary(min_size=1, max_size=64).filter(lambda k: k.rstrip(b"\0") != key.rstrip(b"\0")))
    assert not got.verify(kind, spi, other)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(obj, prefix=()):
    """Every (path) to a value inside nested dicts and lists."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


@given(S.message, st.data())
@settings(max_examples=1500)
def test_any_json_gives_a_message_or_a_codec_error(m, data):
    """What `mip4 wire encode` reads from a person: one wrong value anywhere gives a CodecError, never a crash."""
    obj = json.loads(json.dumps(jsonmap.to_dict(m)))
    path = data.draw(st.sampled_from(list(_paths(obj))))
    value = data.draw(json_value)
    if path:
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = value
    else:
        obj = value
    try:
        jsonmap.from_dict(obj).encode()
    except CodecError as e:
        assert str(e)
