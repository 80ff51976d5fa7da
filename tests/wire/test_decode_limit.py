"""The decoding limit for registration messages, in the codec (one place for the HA, FA and MN cores):
a datagram longer than MAX_REGISTRATION is a CodecError before any extension is decoded (RFC 5944 1.9:
bad messages are discarded; the cost of decoding a 64 KiB run of extensions is never paid)."""
import time

import pytest

from mip4.wire import MAX_REGISTRATION, CodecError, RegistrationRequest, decode_registration, decode_udp
from mip4.wire.extensions import RawExtension


def test_a_registration_up_to_the_limit_decodes_as_decode_udp():
    rq = RegistrationRequest("10.1.0.10", "10.1.0.1", "10.2.0.5", 7, 600,
                             extensions=[RawExtension(200, b"x" * 250)] * 5)
    data = rq.encode()
    assert len(data) <= MAX_REGISTRATION
    assert decode_registration(data).encode() == decode_udp(data).encode() == data


def test_one_octet_past_the_limit_is_refused_without_decoding():
    head = RegistrationRequest("10.1.0.10", "10.1.0.1", "10.2.0.5", 7, 600).encode()
    data = head + b"\x83\x00" * ((MAX_REGISTRATION - len(head)) // 2 + 1)  # well-formed 2-octet extensions
    assert len(data) > MAX_REGISTRATION
    decode_udp(data)  # decodable: refused for its length alone
    with pytest.raises(CodecError, match="%d octets, more than the %d we decode" % (len(data), MAX_REGISTRATION)):
        decode_registration(data)
    flood = head + b"\x83\x00" * 32000
    start = time.process_time()
    with pytest.raises(CodecError):
        decode_registration(flood)
    assert time.process_time() - start < 0.01  # not the tenth of a second decoding it takes
