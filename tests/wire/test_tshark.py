"""tshark's dissectors agree with the codec, field by field, on a few hundred generated messages.

All messages go into one pcap, tshark reads it once (PDML), and every packet is compared with what
our decoder makes of the same octets. The messages are drawn from restricted strategies so that every
one is something tshark 4.0 dissects without error:

- registration extensions: no raw types tshark gives a layout of its own (see TSHARK_SPECIAL_TYPES);
  long-format types only with the body tshark reads (36: SPI; 38: vendor id and type; 47: one octet);
- tunnel data carries a well-formed IPv4 packet, since tshark hands the payload to its IP dissector
  whatever the next header says;
- advertisements use code 0 or 16 (tshark reads the extensions only then), and unknown extensions
  have a length of 0 or at least 4 (tshark shows length - 4 octets of them, see ICMP_CONTENT_SHORT).

R-7-a: extension type 149 is the one IANA assigned to Trusted Networks Configured; tshark, which
knows the IANA registry independently of us, must name every type-149 extension that way.
"""
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mip4.wire import (
    AgentAdvertisement,
    AgentSolicitation,
    Authentication,
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
    decode,
)
from mip4.wire.extensions import LONG_FORMAT_TYPES, REGISTRATION_DECODERS
from mip4.wire.icmp import ADV_F, ADV_R, ADV_T, ADV_U
from mip4.wire.registration import FLAG_T
from tests.wire import pcap
from tests.wire import strategies as S

# registration extensions tshark 4.0 lays out itself: old CVSE, NVSE (133, 134), revocation support,
# dynamic HA, message string, PMIPv4 skippable, mobile network; most need a minimum size
TSHARK_SPECIAL_TYPES = (37, 133, 134, 137, 139, 145, 147, 148)
# tshark 4.0 shows an unknown advertisement extension as its first length - 4 octets (packet-icmp.c),
# and throws on lengths 1 and 2
ICMP_CONTENT_SHORT = 4
ICMP_INTERPRETED = (0, 16, 19, 24)  # padding, mobility agent, prefix lengths, challenge
NOT_INTERPRETED = tuple(REGISTRATION_DECODERS) + LONG_FORMAT_TYPES + TSHARK_SPECIAL_TYPES

registration_extension = st.one_of(
    S.authentication, S.nai, S.udp_tunnel_request, S.udp_tunnel_reply, S.tnc, S.not_tnc,
    S.raw_short([t for t in range(256) if t not in NOT_INTERPRETED]),
    st.builds(RawExtension, st.just(36), st.binary(min_size=4, max_size=300), S.u8),
    st.builds(RawExtension, st.just(38), st.binary(min_size=6, max_size=60), S.u8),
    st.builds(RawExtension, st.just(47), st.binary(min_size=1, max_size=60), st.just(1) | S.u8),  # 1: per-node auth
)
registration_extensions = st.lists(registration_extension, max_size=6)
registration_request = st.builds(
    RegistrationRequest, S.ip4, S.ip4, S.ip4, S.u64, S.u16, S.u8, registration_extensions)
registration_reply = st.builds(RegistrationReply, S.u8, S.ip4, S.ip4, S.u64, S.u16, registration_extensions)
inner_ipv4 = st.builds(lambda src, dst, body: pcap.ipv4(src, dst, 253, body), S.ip4, S.ip4, st.binary(max_size=60))
tunnel_data = st.builds(TunnelData, inner_ipv4, S.u8, S.u16)
advertisement_extension = st.one_of(
    S.mobility_agent_advertisement, S.prefix_lengths, st.just(Padding()),
    S.raw_short([24]),
    st.builds(RawExtension, st.sampled_from([t for t in range(256) if t not in ICMP_INTERPRETED]),
              st.just(b"") | st.binary(min_size=ICMP_CONTENT_SHORT, max_size=40)),
)
agent_advertisement = st.builds(
    AgentAdvertisement, S.u16, st.lists(st.tuples(S.ip4, S.s32), max_size=6),
    st.lists(advertisement_extension, max_size=5), st.sampled_from([0, 16]))
message = st.one_of(registration_request, registration_reply, tunnel_data, agent_advertisement, S.agent_solicitation)

KEY = b"shared secret of mobile node and home agent"


def realistic() -> list:
    """A few hand-built messages of an RFC 5265 exchange."""
    rrq = RegistrationRequest("10.1.0.20", "10.1.0.1", "203.0.113.9", 0xE8F1A2B300000001, 1800, FLAG_T,
                              [Nai(b"mn1@corp.example"), UdpTunnelRequest(flags=0x80)])
    rrq.authenticate(32, 0x100, KEY)
    i_ha = RegistrationReply(0, "10.1.0.20", "10.1.0.1", 0xE8F1A2B300000001, 1800, [TrustedNetworksConfigured()])
    i_ha.authenticate(32, 0x100, KEY)
    x_ha = RegistrationReply(0, "10.1.0.20", "198.51.100.1", 0xE8F1A2B300000002, 600,
                             [UdpTunnelReply(keepalive=110), Nai(b"mn1@corp.example")])
    x_ha.authenticate(32, 0x200, KEY)
    adv = AgentAdvertisement(1800, [("203.0.113.1", 0)], [
        MobilityAgentAdvertisement(7, 1800, ADV_R | ADV_F | ADV_T | ADV_U, ["203.0.113.1"]), PrefixLengths([24])])
    inner = pcap.ipv4("10.1.0.20", "192.0.2.80", 253, b"hello through the tunnel")
    return [rrq, i_ha, x_ha, adv, AgentSolicitation(), TunnelData(inner)]


def frame(m) -> bytes:
    """The IPv4 packet carrying `m`: UDP 434 for registration and tunnel data, ICMP TTL 1 for discovery."""
    wire = m.encode()
    if isinstance(m, AgentAdvertisement):
        return pcap.ipv4("203.0.113.1", "224.0.0.1", pcap.PROTO_ICMP, wire, ttl=1)
    if isinstance(m, AgentSolicitation):
        return pcap.ipv4("203.0.113.9", "224.0.0.2", pcap.PROTO_ICMP, wire, ttl=1)
    if isinstance(m, RegistrationRequest):
        return pcap.ipv4("203.0.113.9", "198.51.100.1", pcap.PROTO_UDP, pcap.udp(49152, 434, wire))
    if isinstance(m, RegistrationReply):
        return pcap.ipv4("198.51.100.1", "203.0.113.9", pcap.PROTO_UDP, pcap.udp(434, 49152, wire))
    return pcap.ipv4("203.0.113.9", "198.51.100.1", pcap.PROTO_UDP, pcap.udp(434, 434, wire))


@pytest.fixture(scope="module")
def dissected(tmp_path_factory) -> list:
    """[(index, decoded message, its octets, tshark's <packet>)] for every packet of the pcap."""
    samples = []

    @given(message)
    @settings(max_examples=300, derandomize=True, database=None, deadline=None)
    def collect(m):
        samples.append(m)

    collect()
    messages = realistic() + samples
    path = Path(tmp_path_factory.mktemp("tshark")) / "mip4.pcap"
    pcap.write_pcap(path, [frame(m) for m in messages])
    tshark = shutil.which("tshark")
    assert tshark, "tshark is not installed (apt: tshark)"
    run = subprocess.run([tshark, "-n", "-r", str(path), "-T", "pdml"], capture_output=True, check=True, timeout=60)
    packets = ET.fromstring(run.stdout).findall("packet")
    assert len(packets) == len(messages), f"tshark read {len(packets)} packets, the pcap has {len(messages)}"
    out = []
    for i, (m, p) in enumerate(zip(messages, packets, strict=True)):
        wire = m.encode()
        got = decode(wire)
        assert got == m, f"packet {i}: codec round trip {got!r} != {m!r}"
        out.append((i, got, wire, p))
    return out


# ---- PDML access ------------------------------------------------------------

def proto(packet: ET.Element, name: str) -> ET.Element:
    found = [p for p in packet.findall("proto") if p.get("name") == name]
    assert len(found) == 1, f"expected one top-level <proto name={name!r}>, got {len(found)}"
    return found[0]


def named(elem: ET.Element) -> dict[str, list[ET.Element]]:
    """Fields under `elem` by name, in order, not descending into nested protocols (tunnelled IP)."""
    out: dict[str, list[ET.Element]] = {}
    stack = list(reversed(list(elem)))
    while stack:
        e = stack.pop()
        if e.tag != "field":
            continue
        if e.get("name"):
            out.setdefault(e.get("name"), []).append(e)
        stack.extend(reversed(list(e)))
    return out


class Compare:
    """Compares fields of one packet (or extension); failures name the packet index and the field."""

    def __init__(self, where: int | str, fields: dict[str, list[ET.Element]]):
        self.where = where
        self.fields = fields

    def all(self, name: str, attr: str = "show") -> list[str]:
        return [f.get(attr) or "" for f in self.fields.get(name, [])]

    def seq(self, name: str, want: list, attr: str = "show") -> None:
        got, want = self.all(name, attr), [str(w) for w in want]
        assert got == want, f"packet {self.where}: field {name} ({attr}): tshark {got!r}, codec {want!r}"

    def eq(self, name: str, want, attr: str = "show") -> None:
        self.seq(name, [want], attr)

    def raw(self, name: str, want: bytes) -> None:
        self.eq(name, bytes(want).hex(), "value")


def bits(c: Compare, value: int, table: dict[str, int]) -> None:
    for name, bit in table.items():
        c.eq(name, int(bool(value & bit)))


def check_framing(where: str, e, tree: ET.Element, start: int) -> None:
    """tshark's subtree for extension `e` covers the octets our decoder took it from."""
    got = (int(tree.get("pos")), int(tree.get("size")))
    want = (start + e.offset, len(e.encode()))
    assert got == want, f"packet {where}: (pos, size) tshark {got}, codec {want}"


# ---- registration messages and tunnel data (UDP 434) --------------------------

MIP_START = 28  # IPv4 20 + UDP 8
REQUEST_BITS = {"mip.s": 0x80, "mip.b": 0x40, "mip.d": 0x20, "mip.m": 0x10, "mip.g": 0x08, "mip.v": 0x04,
                "mip.t": 0x02, "mip.x": 0x01}


def extension_subtrees(mip: ET.Element) -> list[ET.Element]:
    boxes = [f for f in mip.findall("field") if f.get("show") == "Extensions"]
    assert len(boxes) <= 1
    return list(boxes[0]) if boxes else []


def check_extension(where: str, e, tree: ET.Element) -> None:
    check_framing(where, e, tree, MIP_START)
    c = Compare(where, named(tree))
    c.eq("mip.ext.type", e.type)
    if isinstance(e, RawExtension) and e.sub_type is not None:
        c.eq("mip.ext.len", f"{len(e.data):04x}", "value")  # long format, RFC 5944 1.10
        if e.type == 36:
            c.eq("mip.ext.auth.subtype", e.sub_type)
            c.raw("mip.auth.spi", e.data[:4])
            c.raw("mip.auth.auth", e.data[4:])
        elif e.type == 38:
            c.eq("mip.ext.cvse.reserved", f"{e.sub_type:02x}", "value")
            c.raw("mip.ext.cvse.vendor_id", e.data[:4])
            c.raw("mip.ext.cvse.vendor_type", e.data[4:6])
            c.raw("mip.ext.cvse.vendor_value", e.data[6:])
        else:
            c.eq("mip.ext.pmipv4nonskipext.subtype", e.sub_type)
            c.seq("mip.ext.pmipv4nonskipext.pernodeauthmethod", [e.data[0]] if e.sub_type == 1 else [])
        return
    body = e.encode()[2:]
    c.eq("mip.ext.len", len(body))
    if e.type == 149:
        name = c.all("mip.ext.type", "showname")[0]
        assert "Trusted Networks Configured" in name, f"packet {where}: type 149 is named {name!r}"
    if isinstance(e, Authentication):
        c.raw("mip.auth.spi", e.spi.to_bytes(4, "big"))
        c.raw("mip.auth.auth", e.authenticator)
    elif isinstance(e, Nai):
        c.raw("mip.nai", e.nai)
    elif isinstance(e, UdpTunnelRequest):
        c.eq("mip.ext.utrq.subtype", 0)
        c.eq("mip.ext.utrq.reserved1", f"{e.reserved1:02x}", "value")
        c.eq("mip.ext.utrq.flags", f"{e.flags:02x}", "value")
        bits(c, e.flags, {"mip.ext.utrq.f": 0x80, "mip.ext.utrq.r": 0x40})
        c.eq("mip.ext.utrq.encaptype", e.encapsulation)
        c.eq("mip.ext.utrq.reserved3", f"{e.reserved3:04x}", "value")
    elif isinstance(e, UdpTunnelReply):
        c.eq("mip.ext.utrp.subtype", 0)
        c.eq("mip.ext.utrp.code", e.code)
        c.eq("mip.ext.utrp.flags", f"{e.flags:04x}", "value")
        bits(c, e.flags, {"mip.ext.utrp.f": 0x8000})
        c.eq("mip.ext.utrp.keepalive", e.keepalive)
    else:  # TNC and uninterpreted short extensions: tshark shows the body as is
        assert isinstance(e, (TrustedNetworksConfigured, RawExtension)), e
        c.raw("mip.extension", body)


def check_registration(i: int, m, p: ET.Element) -> None:
    mip = proto(p, "mip")
    c = Compare(i, named(mip))
    c.eq("mip.type", m.type)
    c.eq("mip.life", m.lifetime)
    c.eq("mip.homeaddr", m.home_address)
    c.eq("mip.haaddr", m.home_agent)
    c.raw("mip.ident", m.identification.to_bytes(8, "big"))
    if isinstance(m, RegistrationRequest):
        c.eq("mip.flags", f"{m.flags:02x}", "value")
        bits(c, m.flags, REQUEST_BITS)
        c.eq("mip.coa", m.care_of_address)
    else:
        c.eq("mip.code", m.code)
        c.seq("mip.coa", [])
    c.seq("mip.ext.type", [e.type for e in m.extensions])
    trees = extension_subtrees(mip)
    assert len(trees) == len(m.extensions), f"packet {i}: extensions: tshark {len(trees)}, codec {len(m.extensions)}"
    for k, (e, tree) in enumerate(zip(m.extensions, trees, strict=True)):
        check_extension(f"{i} extension {k}", e, tree)


def check_tunnel_data(i: int, m: TunnelData, p: ET.Element) -> None:
    mip = proto(p, "mip")
    c = Compare(i, named(mip))
    c.eq("mip.type", 4)
    c.eq("mip.nattt.nexthdr", m.next_header)
    c.eq("mip.nattt.reserved", f"{m.reserved:04x}", "value")
    # tshark dissects the tunnelled packet from right after the 4-octet header, as far as we do
    inner = [(x.get("name"), int(x.get("pos")), int(x.get("size"))) for x in mip.findall("proto")]
    assert inner == [("ip", MIP_START + 4, 20)], f"packet {i}: tunnelled packet {inner}"
    body = m.payload[20:]
    c.seq("data.data", [body.hex()] if body else [], "value")


def test_tshark_reads_every_packet_without_error(dissected):
    for i, m, _wire, p in dissected:
        assert "_ws.malformed" not in [x.get("name") for x in p.iter("proto")], f"packet {i}: malformed: {m!r}"
        layers = [x.get("name") for x in p.findall("proto")]
        want = ["ip", "icmp"] if isinstance(m, (AgentAdvertisement, AgentSolicitation)) else ["ip", "udp", "mip"]
        assert layers == ["geninfo", "frame", "raw"] + want, f"packet {i}: layers {layers}"


def test_registration_messages_agree(dissected):
    seen = 0
    for i, m, _wire, p in dissected:
        if isinstance(m, (RegistrationRequest, RegistrationReply)):
            check_registration(i, m, p)
            seen += 1
    assert seen >= 50


def test_tunnel_data_agrees(dissected):
    seen = 0
    for i, m, _wire, p in dissected:
        if isinstance(m, TunnelData):
            check_tunnel_data(i, m, p)
            seen += 1
    assert seen >= 10


def test_tnc_is_type_149_to_tshark(dissected):
    """R-7-a: the i-HA reply's TNC, before MN-HA auth, is what tshark calls Trusted Networks Configured."""
    _i, m, _wire, p = dissected[1]
    assert [type(e) for e in m.extensions] == [TrustedNetworksConfigured, Authentication]
    trees = extension_subtrees(proto(p, "mip"))
    assert [t.get("show") for t in trees] == [
        "Extension: Trusted Networks Configured (TNC) Extension", "Extension: Mobile-Home Authentication Extension"]
    tnc = named(trees[0])
    assert [f.get("value") for f in tnc["mip.ext.type"] + tnc["mip.ext.len"] + tnc["mip.extension"]] == [
        "95", "02", "0000"]
    registrations = [m for _i, m, _w, _p in dissected if isinstance(m, (RegistrationRequest, RegistrationReply))]
    assert sum(isinstance(e, TrustedNetworksConfigured) for m in registrations for e in m.extensions) >= 2


# ---- agent advertisement and solicitation (ICMP) -------------------------------

ICMP_START = 20  # IPv4 20
ADVERTISEMENT_BITS = {"icmp.mip.r": 0x8000, "icmp.mip.b": 0x4000, "icmp.mip.h": 0x2000, "icmp.mip.f": 0x1000,
                      "icmp.mip.m": 0x0800, "icmp.mip.g": 0x0400, "icmp.mip.v": 0x0200, "icmp.mip.rt": 0x0100,
                      "icmp.mip.u": 0x0080, "icmp.mip.x": 0x0040}


def check_advertisement_extension(where: str, e, tree: ET.Element) -> None:
    check_framing(where, e, tree, ICMP_START)
    c = Compare(where, named(tree))
    c.eq("icmp.mip.type", e.type)
    if isinstance(e, Padding):
        c.seq("icmp.mip.length", [])
        return
    body = e.encode()[2:]
    c.eq("icmp.mip.length", len(body))
    if isinstance(e, MobilityAgentAdvertisement):
        c.eq("icmp.mip.seq", e.sequence_number)
        c.eq("icmp.mip.life", e.registration_lifetime)
        c.eq("icmp.mip.flags", f"{e.flags:04x}", "value")
        bits(c, e.flags, ADVERTISEMENT_BITS)
        c.seq("icmp.mip.coa", e.care_of_addresses)
    elif isinstance(e, PrefixLengths):
        c.seq("icmp.mip.prefixlength", e.prefix_lengths)
    elif e.type == 24:
        c.raw("icmp.mip.challenge", e.data)
    else:
        c.seq("icmp.mip.content", [e.data[: len(e.data) - ICMP_CONTENT_SHORT].hex()] if e.data else [], "value")


def check_icmp(i: int, m, wire: bytes, p: ET.Element) -> None:
    icmp = proto(p, "icmp")
    c = Compare(i, named(icmp))
    c.eq("icmp.type", m.type)
    c.eq("icmp.code", m.code)
    c.raw("icmp.checksum", wire[2:4])
    c.eq("icmp.checksum.status", 1)  # 1: good
    if isinstance(m, AgentSolicitation):
        return
    c.eq("icmp.num_addrs", len(m.router_addresses))
    c.eq("icmp.addr_entry_size", m.addr_entry_size)
    c.eq("icmp.lifetime", m.lifetime)
    c.seq("icmp.router_address", [a for a, _pref in m.router_addresses])
    c.seq("icmp.pref_level", [pref for _a, pref in m.router_addresses])
    c.seq("icmp.mip.type", [e.type for e in m.extensions])
    trees = [f for f in icmp.findall("field") if (f.get("show") or "").startswith("Ext: ")]
    assert len(trees) == len(m.extensions), f"packet {i}: extensions: tshark {len(trees)}, codec {len(m.extensions)}"
    for k, (e, tree) in enumerate(zip(m.extensions, trees, strict=True)):
        check_advertisement_extension(f"{i} extension {k}", e, tree)


def test_icmp_messages_agree(dissected):
    seen = 0
    for i, m, wire, p in dissected:
        if isinstance(m, (AgentAdvertisement, AgentSolicitation)):
            check_icmp(i, m, wire, p)
            seen += 1
    assert seen >= 30
