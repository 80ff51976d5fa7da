"""Codec tests that run unchanged under CPython (pytest) and MicroPython (tests/micropython/run.mjs).

Plain asserts only, no pytest import. Byte strings are written out from the RFC field layouts.
Requirement IDs proved here: R-3.4-a, R-3.4-c, R-6.2-c, R-7-a, R-7-b.
"""
from mip4.wire import (
    AgentAdvertisement,
    AgentSolicitation,
    Authentication,
    CodecError,
    MobilityAgentAdvertisement,
    Nai,
    Padding,
    PrefixLengths,
    RawExtension,
    RegistrationReply,
    RegistrationRequest,
    TrustedNetworksConfigured,
    TunnelData,
    UdpTunnelReply,
    UdpTunnelRequest,
    codes,
    decode,
    decode_icmp,
    decode_udp,
    ident,
    jsonmap,
)
from mip4.wire.addr import ip4_pack
from mip4.wire.auth import hmac_md5
from mip4.wire.icmp import ADV_F, ADV_R, ADV_T, ADV_U, checksum
from mip4.wire.md5 import md5_digest
from mip4.wire.registration import FLAG_D, FLAG_S, FLAG_T, request_extensions, request_header
from mip4.wire.tunnel import echo_reply, keepalive


def h(text):
    """Hex with spaces and newlines allowed, as the layouts are written below."""
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


def raises(fn, *args):
    """The CodecError `fn(*args)` raises; fails if it raises nothing or anything else."""
    try:
        fn(*args)
    except CodecError as e:
        return e
    raise AssertionError("no CodecError from %r" % (args,))


# ---- MD5 and HMAC-MD5 known answers --------------------------------------

def test_md5_rfc1321_vectors():
    vectors = (
        (b"", "d41d8cd98f00b204e9800998ecf8427e"),
        (b"a", "0cc175b9c0f1b6a831c399e269772661"),
        (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
        (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (b"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        (b"1234567890" * 8, "57edf4a22be3c955ac49da2e2107b67a"),
    )
    for data, digest in vectors:
        assert md5_digest(data).hex() == digest, data


def test_pure_md5_is_used_only_where_hashlib_lacks_md5():
    import sys

    from mip4.wire import auth, md5

    if sys.implementation.name == "micropython":
        assert auth.md5_digest is md5.md5_digest
    else:
        assert auth.md5_digest is not md5.md5_digest


def test_hmac_md5_rfc2202_vectors():
    """R-6.2-c: HMAC-MD5 known answers from RFC 2202 section 2."""
    vectors = (
        (b"\x0b" * 16, b"Hi There", "9294727a3638bb1c13f48ef8158bfc9d"),
        (b"Jefe", b"what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"),
        (b"\xaa" * 16, b"\xdd" * 50, "56be34521d144c88dbb8c733f0e8b3f6"),
        (bytes(range(1, 26)), b"\xcd" * 50, "697eaf0aca3a3aea3a75164746ffaa79"),
        (b"\x0c" * 16, b"Test With Truncation", "56461ef2342edc00f9bab995690efd4c"),
        (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First", "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"),
        (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
         "6f630fad67cda0ee1fb1f562db3aa53e"),
    )
    for key, data, digest in vectors:
        assert hmac_md5(key, data).hex() == digest, data


# ---- Registration Request / Reply, RFC 5944 3.3 / 3.4 ----------------------

RRQ_FIXED = h(
    "01"            # type 1
    "a2"            # flags S D T
    "0708"          # lifetime 1800
    "0a010005"      # home address 10.1.0.5
    "0a010001"      # home agent 10.1.0.1
    "c0000207"      # care-of address 192.0.2.7
    "1122334455667788"  # identification
)


def test_request_fixed_part_decodes_field_by_field():
    m = decode(RRQ_FIXED)
    assert isinstance(m, RegistrationRequest)
    assert m.flags == FLAG_S | FLAG_D | FLAG_T
    assert m.has(FLAG_T) and not m.has(0x40)
    assert m.lifetime == 1800
    assert (m.home_address, m.home_agent, m.care_of_address) == ("10.1.0.5", "10.1.0.1", "192.0.2.7")
    assert m.identification == 0x1122334455667788
    assert m.extensions == []
    assert m.encode() == RRQ_FIXED


def test_every_request_flag_has_its_bit():
    letters = ("S", "B", "D", "M", "G", "r", "T", "x")
    for i in range(8):
        data = bytearray(RRQ_FIXED)
        data[1] = 0x80 >> i
        d = jsonmap.to_dict(decode(bytes(data)))
        for j in range(8):
            assert d["flags"][letters[j]] == (i == j)


def test_request_with_nai_udp_tunnel_request_and_mn_ha_auth():
    key = b"0123456789abcdef"
    nai = h("83 0f") + b"mr1@example.com"
    udp = h("90 06 00 00 80 04 0000")  # type 144, len 6, sub-type 0, reserved, F, IP-in-IP, reserved
    head = RRQ_FIXED + nai + udp + h("20 14 00000100")  # MN-HA auth: type 32, len 20, SPI 256
    wire = head + hmac_md5(key, head)
    m = decode(wire)
    assert m.extensions[0] == Nai(b"mr1@example.com")
    assert m.extensions[1] == UdpTunnelRequest(4, 0x80)
    assert m.extensions[2].type == 32 and m.extensions[2].spi == 256
    assert m.verify(32, 256, key)
    assert not m.verify(32, 256, b"wrong key")
    assert not m.verify(32, 257, key)
    assert not m.verify(33, 256, key)
    # the encoder builds the same octets, authenticator included
    built = RegistrationRequest("10.1.0.5", "10.1.0.1", "192.0.2.7", 0x1122334455667788, 1800,
                                FLAG_S | FLAG_D | FLAG_T, [Nai(b"mr1@example.com"), UdpTunnelRequest(4, 0x80)])
    built.authenticate(32, 256, key)
    assert built.encode() == wire
    assert m.extensions[0].offset == 24 and m.extensions[2].offset == 24 + 17 + 8


def test_a_flipped_bit_anywhere_in_the_protected_part_fails_verification():
    key = b"k" * 16
    m = RegistrationRequest("10.1.0.5", "10.1.0.1", "192.0.2.7", 7, 60)
    m.authenticate(32, 300, key)
    wire = m.encode()
    for i in range(len(wire) - 16):
        bad = bytearray(wire)
        bad[i] ^= 0x01
        try:
            d = decode(bytes(bad))
        except CodecError:
            continue
        assert not d.verify(32, 300, key), i


RRP_TNC = h(
    "03"            # type 3
    "00"            # code 0
    "0258"          # lifetime 600
    "0a010005"      # home address
    "0a010001"      # home agent
    "1122334455667788"
    "95020000"      # TNC: type 149, length 2, sub-type 0, reserved 0
)


def test_reply_with_tnc_before_the_mn_ha_authenticator():
    """R-3.4-a, R-7-a: TNC is 95 02 00 00, a skippable extension."""
    key = b"i-ha secret key!"
    head = RRP_TNC + h("20 14 00001000")
    wire = head + hmac_md5(key, head)
    m = decode(wire)
    assert isinstance(m, RegistrationReply)
    assert m.code == 0 and codes.is_accepted(m.code)
    assert m.lifetime == 600 and m.identification == 0x1122334455667788
    assert m.extensions[0] == TrustedNetworksConfigured()
    assert m.extensions[0].skippable() and m.extensions[0].type == 149
    assert m.find(149) < m.find(32)
    assert m.verify(32, 0x1000, key)
    built = RegistrationReply(0, "10.1.0.5", "10.1.0.1", 0x1122334455667788, 600, [TrustedNetworksConfigured()])
    built.authenticate(32, 0x1000, key)
    assert built.encode() == wire


def test_tnc_reserved_octet_is_ignored_on_receipt():
    """R-3.4-a: 95 02 00 FF is still TNC, and round-trips."""
    wire = RRP_TNC[:-1] + h("ff")
    m = decode(wire)
    assert isinstance(m.extensions[0], TrustedNetworksConfigured)
    assert m.extensions[0].reserved == 0xFF
    assert m.encode() == wire


def test_tnc_with_other_sub_type_or_length_is_kept_raw_and_is_not_tnc():
    """R-3.4-c, R-7-b: only sub-type 0 with length 2 is TNC; others re-encode byte for byte."""
    for ext in (h("95 02 07 00"), h("95 03 00 00 00"), h("95 01 00"), h("95 00")):
        wire = RRP_TNC[:-4] + ext + h("83 01 61")
        m = decode(wire)
        assert isinstance(m.extensions[0], RawExtension), ext
        assert m.extensions[0].type == 149 and m.extensions[0].skippable()
        assert m.extension(149).__class__ is RawExtension
        assert isinstance(m.extensions[1], Nai)  # parsing continued past it
        assert m.encode() == wire


def test_reply_codes_have_rfc_names():
    assert codes.describe(0) == "0 (registration accepted)"
    assert codes.describe(133) == "133 (denied by HA: registration Identification mismatch)"
    assert codes.describe(136) == "136 (denied by HA: unknown home agent address)"
    assert codes.describe(78) == "78 (denied by FA: registration timeout)"
    assert codes.describe(77) == "77 (denied by FA: invalid care-of address)"
    assert codes.describe(142) == "142 (denied by HA: UDP encapsulation unavailable)"
    assert codes.denied_by(1) is None and codes.denied_by(64) == "FA" and codes.denied_by(255) == "HA"
    assert codes.is_accepted(1) and not codes.is_accepted(64)


def test_udp_tunnel_reply_layout():
    """RFC 3519 3.2: type 44, length 6, sub-type, reply code, F + reserved, keepalive."""
    wire = RRP_TNC[:-4] + h("2c 06 00 00 8000 001e")
    m = decode(wire)
    assert m.extensions[0] == UdpTunnelReply(0, 30, 0x8000)
    assert not m.extensions[0].skippable()
    assert m.encode() == wire


def test_a_field_changed_after_decoding_fails_verification():
    """Fail closed: verification covers the message as it stands, not stale received octets."""
    key = b"k" * 16
    m = RegistrationReply(0, "10.1.0.5", "10.1.0.1", 5, 600, [TrustedNetworksConfigured()])
    m.authenticate(32, 256, key)
    d = decode(m.encode())
    assert d.verify(32, 256, key)
    d.home_address = "10.1.0.6"
    assert not d.verify(32, 256, key)
    d = decode(m.encode())
    d.extensions.pop(0)  # an attacker-removed TNC would change the covered octets
    assert not d.verify(32, 256, key)


def test_foreign_home_and_mobile_foreign_authenticators():
    m = RegistrationRequest("10.1.0.5", "10.1.0.1", "10.2.0.1", 99, 300)
    m.authenticate(32, 256, b"mn-ha")
    m.authenticate(33, 257, b"mn-fa")
    m.authenticate(34, 258, b"fa-ha")
    d = decode(m.encode())
    assert d.verify(32, 256, b"mn-ha") and d.verify(33, 257, b"mn-fa") and d.verify(34, 258, b"fa-ha")
    assert not d.verify(34, 258, b"mn-ha")
    # each authenticator covers everything before its own SPI, including earlier authenticators
    wire = bytearray(d.encode())
    wire[30 + 6] ^= 0xFF  # inside the MN-HA authenticator
    d2 = decode(bytes(wire))
    assert not d2.verify(32, 256, b"mn-ha") and not d2.verify(33, 257, b"mn-fa") and not d2.verify(34, 258, b"fa-ha")


def test_unknown_extensions_round_trip_and_report_skippability():
    """RFC 5944 1.9: < 128 must be understood, 128..255 may be skipped."""
    wire = RRQ_FIXED + h("07 02 abcd") + h("c8 03 010203") + h("24 01 0005 0000010011")
    m = decode(wire)
    assert [e.type for e in m.extensions] == [7, 200, 36]
    assert not m.extensions[0].skippable() and m.extensions[1].skippable()
    assert m.extensions[2].sub_type == 1 and m.extensions[2].data == h("0000010011")  # long format
    assert [e.type for e in m.unknown_critical()] == [7, 36]
    assert m.encode() == wire


def test_udp_tunnel_extensions_with_other_sub_types_or_lengths_stay_raw():
    """RFC 3519 defines sub-type 0, length 6: 144 is then skipped, 44 makes the message one to discard."""
    wire = RRQ_FIXED + h("90 06 01 00 80 04 0000") + h("90 05 00 00 80 04 00") + h("2c 06 07 00 8000 001e")
    m = decode(wire)
    assert [type(e) for e in m.extensions] == [RawExtension, RawExtension, RawExtension]
    assert [e.type for e in m.unknown_critical()] == [44]
    assert m.encode() == wire


def test_protected_extensions_are_those_before_the_authenticator():
    """R-3.4-d: a TNC after the MN-HA authenticator is not covered by it."""
    key = b"k" * 16
    m = RegistrationReply(0, "10.1.0.5", "10.1.0.1", 5, 600, [Nai(b"a@b")])
    m.authenticate(32, 256, key)
    m.extensions.append(TrustedNetworksConfigured())  # appended by someone without the key
    d = decode(m.encode())
    assert d.verify(32, 256, key)
    assert d.find(149) > d.find(32)
    assert [e.type for e in d.protected_extensions(32, 256)] == [131]
    assert d.protected_extensions(32, 999) == [] and d.protected_extensions(33, 256) == []


def test_reserved_spis_are_never_used():
    """RFC 5944 1.6: SPI 0..255 are reserved; decoding shows them, authenticating refuses them."""
    m = RegistrationRequest("10.1.0.5", "10.1.0.1", "192.0.2.7", 5, 60)
    assert "SPI 255 is reserved" in str(raises(m.authenticate, 32, 255, b"k"))
    forged = RegistrationRequest("10.1.0.5", "10.1.0.1", "192.0.2.7", 5, 60)
    forged.authenticate(32, 256, b"k")
    forged.extensions[0].spi = 7
    wire = forged.encode()
    head = wire[:-16]
    d = decode(head + hmac_md5(b"k", head))
    assert d.extensions[0].spi == 7 and not d.verify(32, 7, b"k")


def test_tunnel_data_rfc3519():
    inner = h("4500 0014 0000 0000 4000 0000 0a010005 0a090002")
    wire = h("04 04 0000") + inner
    m = decode(wire)
    assert m == TunnelData(inner, 4) and m.encode() == wire


# ---- Agent Advertisement / Solicitation, RFC 5944 2.1 / 2.2 ---------------

def test_agent_advertisement_layout_and_checksum():
    body = h(
        "09 10 0000"        # ICMP type 9, code 16, checksum (filled below)
        "01 02 0708"        # num addrs 1, entry size 2, lifetime 1800
        "0a090001 00000000"  # router address, preference 0
        "10 0e 0003 0258 9180 0a090001 0a090002"  # MAA: seq 3, reg lifetime 600, R F T U, two CoAs
        "13 01 18"          # prefix lengths: 24
        "00"                # padding
    )
    c = checksum(body)
    wire = body[:2] + bytes((c >> 8, c & 0xFF)) + body[4:]
    assert checksum(wire) == 0
    m = decode(wire)
    assert isinstance(m, AgentAdvertisement)
    assert m.code == 16 and m.lifetime == 1800 and m.router_addresses == [("10.9.0.1", 0)]
    maa = m.mobility
    assert maa.sequence_number == 3 and maa.registration_lifetime == 600
    assert maa.flags == ADV_R | ADV_F | ADV_T | ADV_U and maa.has(ADV_F)
    assert maa.care_of_addresses == ["10.9.0.1", "10.9.0.2"]
    assert m.extensions[1] == PrefixLengths([24]) and m.extensions[2] == Padding()
    built = AgentAdvertisement(1800, [("10.9.0.1", 0)], [
        MobilityAgentAdvertisement(3, 600, ADV_R | ADV_F | ADV_T | ADV_U, ["10.9.0.1", "10.9.0.2"]),
        PrefixLengths([24]), Padding()])
    assert built.encode() == wire
    assert decode_icmp(wire) == m


def icmp_checksummed(body):
    """`body` with its ICMP checksum filled in."""
    c = checksum(body[:2] + b"\x00\x00" + body[4:])
    return body[:2] + bytes((c >> 8, c & 0xFF)) + body[4:]


def test_address_entries_wider_than_two_words_are_kept():
    """RFC 1256 5.2: receivers accept an entry size of 2 or more and ignore the extra words."""
    wire = icmp_checksummed(h(
        "09 10 0000 02 03 0708"           # two entries of three words each
        "0a090001 00000005 11111111"
        "0a090002 ffffffff 22222222"
        "10 06 0001 0258 1000"))          # MAA: seq 1, lifetime 600, F
    m = decode(wire)
    assert m.addr_entry_size == 3
    assert m.router_addresses == [("10.9.0.1", 5), ("10.9.0.2", -1)]
    assert m.router_extra == [h("11111111"), h("22222222")]
    assert m.mobility.sequence_number == 1
    assert m.encode() == wire
    narrow = icmp_checksummed(wire[:5] + b"\x01" + wire[6:])
    assert "address entry size 1, must be at least 2" in str(raises(decode, narrow))


def test_unknown_critical_extension_in_an_advertisement():
    """RFC 5944 1.9 covers advertisement extensions too: type < 128 unknown means discard."""
    adv = AgentAdvertisement(60, [], [MobilityAgentAdvertisement(1, 60), RawExtension(24, b"\x01\x02\x03\x04"),
                                      RawExtension(136, b"n")])
    d = decode(adv.encode())
    assert [e.type for e in d.unknown_critical()] == [24]


def test_negative_router_preference():
    m = AgentAdvertisement(60, [("10.9.0.1", -(1 << 31)), ("10.9.0.3", -1)], [MobilityAgentAdvertisement(0, 60)])
    d = decode(m.encode())
    assert d.router_addresses == [("10.9.0.1", -(1 << 31)), ("10.9.0.3", -1)]


def test_agent_solicitation():
    wire = h("0a 00 f5ff 00000000")
    m = decode(wire)
    assert m == AgentSolicitation() and m.encode() == wire


def test_checksum_zero_sent_as_all_ones_round_trips():
    """Ones' complement has two zeros: a checksum field of FFFF where 0000 is computed is valid."""
    wire = h("0a") + b"\xff" * 82 + h("00 f5ff 00000000")  # found by libFuzzer
    assert checksum(wire) == 0
    m = decode(wire)
    assert m.checksum_all_ones and m.encode() == wire
    assert jsonmap.from_dict(jsonmap.to_dict(m)).encode() == wire
    m.checksum_all_ones = False
    assert m.encode()[2:4] == h("0000") and decode(m.encode()) == m


# ---- Bad input -------------------------------------------------------------

def test_errors_say_what_and_where():
    e = raises(decode, b"")
    assert "empty" in str(e)
    e = raises(decode, RRQ_FIXED[:10])
    assert e.offset == 0 and "truncated" in str(e) and "registration request" in str(e)
    e = raises(decode, RRQ_FIXED + h("20 14 0000"))
    assert e.offset == 25 and "overruns" in str(e)
    e = raises(decode, RRQ_FIXED + h("20 02 0000"))
    assert "bad length 2" in str(e) and "extension type 32" in str(e)
    e = raises(decode, RRQ_FIXED + h("83"))
    assert "truncated" in str(e) and e.offset == 24
    e = raises(decode, RRQ_FIXED + h("24 00 ff"))
    assert "truncated" in str(e)
    e = raises(decode, h("0a 00 0000 00000000"))
    assert "bad ICMP checksum 0x0000, expected 0xf5ff" in str(e) and e.offset == 2
    e = raises(decode, h("07 00"))
    assert "unknown message type 7" in str(e)
    e = raises(decode_udp, h("0a 00 f5ff 00000000"))
    assert "unknown message type 10" in str(e)
    e = raises(decode_icmp, RRQ_FIXED)
    assert "unknown message type 1" in str(e)
    adv = AgentAdvertisement(60, [("10.9.0.1", 0)], [MobilityAgentAdvertisement(1, 60)]).encode()
    bad = bytearray(adv)
    bad[5] = 3  # address entry size
    e = raises(decode, bytes(bad))
    assert "checksum" in str(e) or "entry size" in str(e)


def test_encoder_rejects_bad_field_values():
    too_long = RegistrationRequest("1.2.3.4", "1.2.3.4", "1.2.3.4", 0, 70000)
    assert "lifetime must be 0..65535" in str(raises(too_long.encode))
    assert "dotted-quad" in str(raises(RegistrationRequest("1.2.3", "1.2.3.4", "1.2.3.4", 0).encode))
    assert "dotted-quad" in str(raises(RegistrationRequest("1.2.3.256", "1.2.3.4", "1.2.3.4", 0).encode))
    assert "identification" in str(raises(RegistrationReply(0, "1.2.3.4", "1.2.3.4", -1).encode))
    assert "spi" in str(raises(Authentication(32, 1 << 32).encode))


def _lcg(seed):
    state = [seed]

    def nxt(n):
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return state[0] % n

    return nxt


def test_mutated_messages_give_a_message_or_a_codec_error():
    """Portable mini-fuzzer: truncations and byte flips of valid messages, under both interpreters."""
    key = b"k" * 16
    rrq = RegistrationRequest("10.1.0.5", "10.1.0.1", "192.0.2.7", 5, 60, FLAG_D,
                              [Nai(b"a@b"), UdpTunnelRequest()])
    rrq.authenticate(32, 256, key)
    seeds = [rrq.encode(), RRP_TNC, AgentAdvertisement(60, [("10.0.0.1", 1)], [
        MobilityAgentAdvertisement(1, 60, ADV_F, ["10.0.0.1"]), PrefixLengths([24])]).encode(),
        AgentSolicitation().encode(), h("04 04 0000 45")]
    rnd = _lcg(5265)
    decoded = errors = 0
    for seed in seeds:
        for cut in range(len(seed) + 1):
            for data in (seed[:cut], seed[cut:]):
                try:
                    m = decode(data)
                    assert m.encode() == data
                    decoded += 1
                except CodecError:
                    errors += 1
        for _ in range(150):
            data = bytearray(seed)
            for _ in range(1 + rnd(3)):
                data[rnd(len(data))] = rnd(256)
            try:
                m = decode(bytes(data))
                assert m.encode() == bytes(data)
                decoded += 1
            except CodecError:
                errors += 1
    assert decoded > 100 and errors > 100


# ---- Identification, RFC 5944 5.7 -----------------------------------------

def test_ntp_timestamp_identification():
    t = 1700000000.5
    i = ident.timestamp_identification(t, 0)
    assert i >> 32 == 1700000000 + 2208988800
    assert i & 0xFFFFFFFF == 0x80000000
    assert abs(ident.identification_time(i) - t) < 1e-5
    j = ident.timestamp_identification(t, 0xFFFFFFFF)
    assert j != i and j >> 12 == i >> 12  # only the sub-microsecond bits are random
    assert ident.is_fresh(i, t + 3, 7) and not ident.is_fresh(i, t + 8, 7)


def test_code_133_resync_and_reply_matching():
    req = ident.timestamp_identification(1700000000.25, 77)
    # the HA's clock is 100 s ahead: it sends its time high and copies our low 32 bits
    reply = ((1700000100 + ident.NTP_UNIX_OFFSET) << 32) | (req & 0xFFFFFFFF)
    assert ident.reply_matches(req, reply)
    assert not ident.reply_matches(req, reply ^ 1)
    assert ident.clock_offset(reply, 1700000000.25) == 100


def test_identification_after_ntp_era_rollover_in_2036():
    t = 2200000000.5  # 2039: NTP seconds have wrapped past 2**32
    i = ident.timestamp_identification(t, 0)
    assert i >> 32 == (2200000000 + ident.NTP_UNIX_OFFSET) & 0xFFFFFFFF
    assert abs(ident.identification_time(i) - t) < 1e-5
    assert ident.clock_offset(i, t - 30) == 30


def test_whole_second_clock_gives_32_random_fraction_bits():
    i = ident.timestamp_identification(1700000000, 0xDEADBEEF, 0)
    assert i & 0xFFFFFFFF == 0xDEADBEEF and i >> 32 == 1700000000 + ident.NTP_UNIX_OFFSET


def test_nonce_identification():
    i = ident.nonce_identification(0xAABBCCDD, 0x11223344)
    assert i == 0xAABBCCDD11223344 and ident.split(i) == (0xAABBCCDD, 0x11223344)


# ---- JSON mapping ----------------------------------------------------------

def test_dict_mapping_round_trips_every_message():
    rrq = RegistrationRequest("10.1.0.5", "10.1.0.1", "192.0.2.7", 5, 60, FLAG_D | 0x01, [
        Nai(b"a@b"), Nai(b"\xff\xfe"), UdpTunnelRequest(4, 0xC3, 9, 7), RawExtension(200, b"xy"),
        RawExtension(36, b"\x00\x00\x01\x00", 1), RawExtension(149, b"\x07\x00")])
    rrq.authenticate(32, 256, b"k")
    rrp = RegistrationReply(133, "10.1.0.5", "10.1.0.1", 1 << 63, 0, [
        UdpTunnelReply(64, 20, 0x8001), TrustedNetworksConfigured(3)])
    adv = AgentAdvertisement(60, [("10.0.0.1", -5)], [MobilityAgentAdvertisement(1, 60, 0xFFFF, ["10.0.0.1"]),
                                                      PrefixLengths([24]), Padding(), RawExtension(136, b"n")])
    wide = AgentAdvertisement(60, [("10.0.0.1", 1), ("10.0.0.2", 2)], [], 16, 3, [b"abcd", b"efgh"])
    for m in (rrq, rrp, adv, wide, AgentSolicitation(0, 3, b"zz"), TunnelData(b"\x45", 4, 1)):
        d = jsonmap.to_dict(decode(m.encode()))
        back = jsonmap.from_dict(d)
        assert back == m, d
        assert back.encode() == m.encode()


def test_dict_mapping_errors_name_the_field():
    base = {"type": 1, "home_address": "10.1.0.5", "home_agent": "10.1.0.1", "care_of_address": "192.0.2.7",
            "identification": 5, "lifetime": 60}
    assert jsonmap.from_dict(base).encode()[:1] == b"\x01"
    for change, words in (
        ({"lifetime": "x"}, "lifetime must be an integer"),
        ({"flags": {"Q": True}}, "unknown flag 'Q'"),
        ({"flags": {"D": 1}}, "flag D must be true or false"),
        ({"colour": 1}, "unknown field 'colour'"),
        ({"extensions": [{"type": 32}]}, "missing field 'spi'"),
        ({"extensions": [{"type": 32, "spi": 1, "authenticator": "zz"}]}, "not valid hex"),
        ({"extensions": [{"type": 99}]}, "give its body as 'data'"),
        ({"type": 2}, "type must be 1, 3, 4, 9 or 10"),
    ):
        obj = dict(base)
        obj.update(change)
        assert words in str(raises(jsonmap.from_dict, obj)), words
    obj = dict(base)
    del obj["home_agent"]
    assert "missing field 'home_agent'" in str(raises(jsonmap.from_dict, obj))


def test_request_header_reads_the_fixed_part_and_its_home_address_packs_back():
    """An agent's fast path (issue 25): the fixed part alone, then the extensions, as decode() reads them."""
    rq = RegistrationRequest("10.1.2.3", "10.0.0.1", "192.168.255.4", 0x0102030405060708, 1800, FLAG_D | FLAG_T,
                             [UdpTunnelRequest()])
    rq.authenticate(32, 300, b"k" * 16)
    data = rq.encode()
    header = request_header(data)
    assert (header.home_address, header.home_agent, header.care_of_address, header.identification,
            header.lifetime, header.flags) == ("10.1.2.3", "10.0.0.1", "192.168.255.4", 0x0102030405060708, 1800,
                                               FLAG_D | FLAG_T)
    assert request_extensions(header, data) == RegistrationRequest.decode(data)
    assert ip4_pack("w", "n", header.home_address) == h("0a 01 02 03")
    assert request_header(data[:23]) is None and request_header(b"\x03" + data[1:]) is None


def run():
    """MicroPython entry point: runs every test_ function, prints one line each and a summary."""
    names = sorted(n for n in globals() if n.startswith("test_"))
    failed = 0
    for n in names:
        try:
            globals()[n]()
            print("PASS", n)
        except Exception as e:  # report and go on, so one failure does not hide others
            failed += 1
            print("FAIL", n, type(e).__name__, e)
    print("SUMMARY passed=%d failed=%d" % (len(names) - failed, failed))


def test_udp_tunnel_keepalive_is_an_icmp_echo_request_from_the_home_address():
    """RFC 3519 4.9: the keepalive tunnelled to the HA; both checksums verify (sum to zero)."""
    p = keepalive("198.51.100.10", "198.51.100.1", 7)
    assert p[:4] == h("45 00 00 20") and p[8:10] == h("40 01")  # IPv4, 32 octets, TTL 64, ICMP
    assert p[12:20] == h("c6 33 64 0a  c6 33 64 01")
    assert checksum(p[:20]) == 0 and checksum(p[20:]) == 0
    assert p[20:22] == h("08 00") and p[26:28] == h("00 07") and p[28:] == b"mip4"  # echo request, seq 7
    wrapped = decode_udp(TunnelData(p).encode())
    assert wrapped.next_header == 4 and wrapped.payload == p
    assert raises(keepalive, "198.51.100.10", "198.51.100.1", 70000)


def test_udp_tunnel_keepalive_echo_reply_comes_back_to_the_sender():
    """RFC 3519 4.9: the HA answers a keepalive through the tunnel it came by; anything else is no keepalive."""
    p = keepalive("192.168.100.5", "198.51.100.1", 9)
    r = echo_reply(p, "198.51.100.1")
    assert r[12:20] == h("c6 33 64 01  c0 a8 64 05") and r[9] == 1
    assert checksum(r[:20]) == 0 and checksum(r[20:]) == 0
    assert r[20:22] == h("00 00") and r[24:] == p[24:]  # echo reply: same identifier, sequence and data
    assert echo_reply(p, "198.51.100.2") is None  # not to us
    assert echo_reply(r, "192.168.100.5") is None  # a reply is not answered
    bad = p[:30] + b"x" + p[31:]
    assert echo_reply(bad, "198.51.100.1") is None  # ICMP checksum broken
    assert echo_reply(p[:27], "198.51.100.1") is None
