"""Messages to and from plain dicts whose keys are the RFC field names in snake case.

Keys a decoder adds for people (name, code_name, skippable, checksum, num_addrs) are
accepted and ignored by from_dict; reserved fields appear only when non-zero.
"""
from . import codes, extensions as X, flags, icmp
from .errors import CodecError
from .registration import REGISTRATION_REPLY, REGISTRATION_REQUEST, REQUEST_FLAGS, RegistrationReply, RegistrationRequest
from .tunnel import TUNNEL_DATA, TunnelData

_INFO = ("name", "code_name", "skippable", "checksum", "num_addrs")
MESSAGE_NAMES = {
    REGISTRATION_REQUEST: "Registration Request",
    REGISTRATION_REPLY: "Registration Reply",
    TUNNEL_DATA: "Tunnel Data",
    icmp.ICMP_ROUTER_ADVERTISEMENT: "Agent Advertisement",
    icmp.ICMP_ROUTER_SOLICITATION: "Agent Solicitation",
}


def _hex(b):
    return bytes(b).hex()


def _unhex(what, name, text):
    if not isinstance(text, str):
        raise CodecError(what, "%s must be a hex string, got %r" % (name, text))
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CodecError(what, "%s is not valid hex: %r" % (name, text))


def _flags_out(d, value, table, key="flags"):
    named, reserved = flags.to_dict(value, table)
    d[key] = named
    if reserved:
        d["reserved_flags"] = reserved


def _reserved_out(d, name, value):
    if value:
        d[name] = value


# ---- to dict ---------------------------------------------------------------

def extension_to_dict(e):
    d = {"type": e.type}
    if isinstance(e, X.RawExtension):
        d["skippable"] = e.skippable()
        if e.sub_type is not None:
            d["sub_type"] = e.sub_type
        d["data"] = _hex(e.data)
        return d
    d["name"] = e.name
    if isinstance(e, X.Authentication):
        d["spi"] = e.spi
        d["authenticator"] = _hex(e.authenticator)
    elif isinstance(e, X.Nai):
        try:
            d["nai"] = bytes(e.nai).decode("utf-8")
        except UnicodeError:
            d["nai_hex"] = _hex(e.nai)
    elif isinstance(e, X.UdpTunnelRequest):
        d["sub_type"] = 0
        _flags_out(d, e.flags, X.UDP_TUNNEL_REQUEST_FLAGS)
        d["encapsulation"] = e.encapsulation
        _reserved_out(d, "reserved1", e.reserved1)
        _reserved_out(d, "reserved3", e.reserved3)
    elif isinstance(e, X.UdpTunnelReply):
        d["sub_type"] = 0
        d["code"] = e.code
        _flags_out(d, e.flags, X.UDP_TUNNEL_REPLY_FLAGS)
        d["keepalive"] = e.keepalive
    elif isinstance(e, X.TrustedNetworksConfigured):
        d["sub_type"] = 0
        d["reserved"] = e.reserved
    elif isinstance(e, icmp.MobilityAgentAdvertisement):
        d["sequence_number"] = e.sequence_number
        d["registration_lifetime"] = e.registration_lifetime
        _flags_out(d, e.flags, icmp.ADVERTISEMENT_FLAGS)
        d["care_of_addresses"] = list(e.care_of_addresses)
    elif isinstance(e, icmp.PrefixLengths):
        d["prefix_lengths"] = list(e.prefix_lengths)
    return d


def to_dict(msg):
    d = {"type": msg.type, "name": MESSAGE_NAMES[msg.type]}
    if isinstance(msg, RegistrationRequest):
        _flags_out(d, msg.flags, REQUEST_FLAGS)
        d["lifetime"] = msg.lifetime
        d["home_address"] = msg.home_address
        d["home_agent"] = msg.home_agent
        d["care_of_address"] = msg.care_of_address
        d["identification"] = msg.identification
    elif isinstance(msg, RegistrationReply):
        d["code"] = msg.code
        d["code_name"] = codes.describe(msg.code)
        d["lifetime"] = msg.lifetime
        d["home_address"] = msg.home_address
        d["home_agent"] = msg.home_agent
        d["identification"] = msg.identification
    elif isinstance(msg, TunnelData):
        d["next_header"] = msg.next_header
        _reserved_out(d, "reserved", msg.reserved)
        d["payload"] = _hex(msg.payload)
        return d
    elif isinstance(msg, icmp.AgentAdvertisement):
        wire = msg.encode()
        d["code"] = msg.code
        d["checksum"] = (wire[2] << 8) | wire[3]
        d["num_addrs"] = len(msg.router_addresses)
        d["addr_entry_size"] = msg.addr_entry_size
        d["lifetime"] = msg.lifetime
        d["router_addresses"] = [{"address": a, "preference": p} for a, p in msg.router_addresses]
        for i in range(len(msg.router_extra)):
            d["router_addresses"][i]["extra"] = _hex(msg.router_extra[i])
    elif isinstance(msg, icmp.AgentSolicitation):
        wire = msg.encode()
        d["code"] = msg.code
        d["checksum"] = (wire[2] << 8) | wire[3]
        _reserved_out(d, "reserved", msg.reserved)
        if msg.trailer:
            d["trailer"] = _hex(msg.trailer)
        return d
    d["extensions"] = [extension_to_dict(e) for e in msg.extensions]
    return d


# ---- from dict -------------------------------------------------------------

class _Fields:
    """Reads one JSON object, remembering which keys were used, to reject the rest."""

    def __init__(self, what, obj):
        if not isinstance(obj, dict):
            raise CodecError(what, "expected an object, got %r" % (obj,))
        self.what = what
        self.obj = obj
        self.used = list(_INFO) + ["type"]

    def get(self, key, default=None, required=False):
        self.used.append(key)
        if key in self.obj:
            return self.obj[key]
        if required:
            raise CodecError(self.what, "missing field %r" % key)
        return default

    def hex(self, key, default=b""):
        v = self.get(key)
        return default if v is None else _unhex(self.what, key, v)

    def flags(self, table, key="flags"):
        reserved = _int(self.what, "reserved_flags", self.get("reserved_flags", 0))
        return flags.from_dict(self.what, self.get(key, {}), table, reserved)

    def list(self, key, required=False):
        v = self.get(key, [], required)
        if not isinstance(v, list):
            raise CodecError(self.what, "%s must be a list, got %r" % (key, v))
        return v

    def done(self, value):
        for k in self.obj:
            if k not in self.used:
                raise CodecError(self.what, "unknown field %r" % k)
        return value


def _int(what, name, v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise CodecError(what, "%s must be an integer, got %r" % (name, v))
    return v


def extension_from_dict(obj, advertisement=False):
    t = _int("extension", "type", obj.get("type") if isinstance(obj, dict) else obj)
    f = _Fields("extension type %d" % t, obj)
    if "data" in obj:
        return f.done(X.RawExtension(t, f.hex("data"), f.get("sub_type")))
    if advertisement:
        if t == icmp.MOBILITY_AGENT_EXT:
            return f.done(icmp.MobilityAgentAdvertisement(
                f.get("sequence_number", required=True), f.get("registration_lifetime", required=True),
                f.flags(icmp.ADVERTISEMENT_FLAGS), f.list("care_of_addresses")))
        if t == icmp.PREFIX_LENGTHS_EXT:
            return f.done(icmp.PrefixLengths(f.list("prefix_lengths", required=True)))
        if t == 0:
            return f.done(X.Padding())
    elif t in X.AUTH_TYPES:
        return f.done(X.Authentication(t, f.get("spi", required=True), f.hex("authenticator")))
    elif t == X.NAI:
        if "nai_hex" in obj:
            return f.done(X.Nai(f.hex("nai_hex")))
        nai = f.get("nai", required=True)
        if not isinstance(nai, str):
            raise CodecError(f.what, "nai must be a string, got %r" % (nai,))
        return f.done(X.Nai(nai.encode("utf-8")))
    elif t in (X.UDP_TUNNEL_REQUEST, X.UDP_TUNNEL_REPLY, X.TNC) and f.get("sub_type", 0) != 0:
        raise CodecError(f.what, "sub_type must be 0; give other sub-types as 'data'")
    elif t == X.UDP_TUNNEL_REQUEST:
        return f.done(X.UdpTunnelRequest(
            f.get("encapsulation", X.ENCAP_IP_IN_IP), f.flags(X.UDP_TUNNEL_REQUEST_FLAGS),
            f.get("reserved1", 0), f.get("reserved3", 0)))
    elif t == X.UDP_TUNNEL_REPLY:
        return f.done(X.UdpTunnelReply(
            f.get("code", X.UDP_TUNNEL_ACCEPTED), f.get("keepalive", 0), f.flags(X.UDP_TUNNEL_REPLY_FLAGS)))
    elif t == X.TNC:
        return f.done(X.TrustedNetworksConfigured(f.get("reserved", 0)))
    raise CodecError(f.what, "unknown extension type: give its body as 'data' (hex)")


def _extensions(f, advertisement=False):
    exts = f.list("extensions")
    return [extension_from_dict(e, advertisement) for e in exts]


def from_dict(obj):
    """A message object from a dict like to_dict's; CodecError names what is wrong."""
    if not isinstance(obj, dict):
        raise CodecError("message", "expected a JSON object, got %r" % (obj,))
    t = obj.get("type")
    if t == REGISTRATION_REQUEST:
        f = _Fields("registration request", obj)
        msg = RegistrationRequest(
            f.get("home_address", required=True), f.get("home_agent", required=True),
            f.get("care_of_address", required=True), f.get("identification", required=True),
            f.get("lifetime", required=True), f.flags(REQUEST_FLAGS), _extensions(f))
    elif t == REGISTRATION_REPLY:
        f = _Fields("registration reply", obj)
        msg = RegistrationReply(
            f.get("code", required=True), f.get("home_address", required=True), f.get("home_agent", required=True),
            f.get("identification", required=True), f.get("lifetime", required=True), _extensions(f))
    elif t == TUNNEL_DATA:
        f = _Fields("tunnel data", obj)
        msg = TunnelData(f.hex("payload"), f.get("next_header", 4), f.get("reserved", 0))
    elif t == icmp.ICMP_ROUTER_ADVERTISEMENT:
        f = _Fields("agent advertisement", obj)
        routers = []
        extra = []
        for r in f.list("router_addresses"):
            rf = _Fields("router address", r)
            routers.append((rf.get("address", required=True), rf.get("preference", 0)))
            if "extra" in r:
                extra.append(rf.hex("extra"))
            rf.done(None)
        msg = icmp.AgentAdvertisement(
            f.get("lifetime", required=True), routers, _extensions(f, True),
            f.get("code", icmp.CODE_MOBILITY_ONLY), f.get("addr_entry_size", 2), extra)
    elif t == icmp.ICMP_ROUTER_SOLICITATION:
        f = _Fields("agent solicitation", obj)
        msg = icmp.AgentSolicitation(f.get("code", 0), f.get("reserved", 0), f.hex("trailer"))
    else:
        raise CodecError("message", "type must be 1, 3, 4, 9 or 10, got %r" % (t,))
    if t in (icmp.ICMP_ROUTER_ADVERTISEMENT, icmp.ICMP_ROUTER_SOLICITATION):
        # the checksum is computed; only its 0xFFFF spelling of zero is taken from the input
        msg.checksum_all_ones = f.get("checksum") == 0xFFFF
    f.done(msg)
    msg.encode()  # field values are checked here, so errors surface now
    return msg
