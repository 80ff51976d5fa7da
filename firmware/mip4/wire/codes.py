"""Registration Reply codes with their RFC names (RFC 5944 3.4, RFC 3024, RFC 2794, RFC 3519)."""

ACCEPTED = 0
ACCEPTED_NO_SIMULTANEOUS = 1

# Denied by the foreign agent, RFC 5944 3.4
FA_UNSPECIFIED = 64
FA_PROHIBITED = 65
FA_INSUFFICIENT_RESOURCES = 66
FA_MN_AUTH_FAILED = 67
FA_HA_AUTH_FAILED = 68
FA_LIFETIME_TOO_LONG = 69
FA_POORLY_FORMED_REQUEST = 70
FA_POORLY_FORMED_REPLY = 71
FA_ENCAPSULATION_UNAVAILABLE = 72
FA_RESERVED_73 = 73
FA_REVERSE_TUNNEL_UNAVAILABLE = 74  # RFC 3024
FA_REVERSE_TUNNEL_MANDATORY = 75  # RFC 3024
FA_MN_TOO_DISTANT = 76  # RFC 3024
FA_INVALID_CARE_OF = 77
FA_REGISTRATION_TIMEOUT = 78
FA_DELIVERY_STYLE_UNSUPPORTED = 79  # RFC 3024
FA_HOME_NETWORK_UNREACHABLE = 80
FA_HA_HOST_UNREACHABLE = 81
FA_HA_PORT_UNREACHABLE = 82
FA_HA_UNREACHABLE = 88
FA_NONZERO_HOME_ADDRESS_REQUIRED = 96  # RFC 2794
FA_MISSING_NAI = 97  # RFC 2794
FA_MISSING_HOME_AGENT = 98  # RFC 2794
FA_MISSING_HOME_ADDRESS = 99  # RFC 2794
FA_INVALID_HA_ADDRESS = 194

# Denied by the home agent, RFC 5944 3.4
HA_UNSPECIFIED = 128
HA_PROHIBITED = 129
HA_INSUFFICIENT_RESOURCES = 130
HA_MN_AUTH_FAILED = 131
HA_FA_AUTH_FAILED = 132
HA_IDENTIFICATION_MISMATCH = 133
HA_POORLY_FORMED_REQUEST = 134
HA_TOO_MANY_BINDINGS = 135
HA_UNKNOWN_HA_ADDRESS = 136
HA_REVERSE_TUNNEL_UNAVAILABLE = 137  # RFC 3024
HA_REVERSE_TUNNEL_MANDATORY = 138  # RFC 3024
HA_ENCAPSULATION_UNAVAILABLE = 139  # RFC 3024
HA_UDP_ENCAPSULATION_UNAVAILABLE = 142  # RFC 3519

NAMES = {
    0: "registration accepted",
    1: "registration accepted, but simultaneous mobility bindings unsupported",
    64: "reason unspecified",
    65: "administratively prohibited",
    66: "insufficient resources",
    67: "mobile node failed authentication",
    68: "home agent failed authentication",
    69: "requested Lifetime too long",
    70: "poorly formed Request",
    71: "poorly formed Reply",
    72: "requested encapsulation unavailable",
    73: "reserved and unavailable",
    74: "requested reverse tunnel unavailable",
    75: "reverse tunnel is mandatory and 'T' bit not set",
    76: "mobile node too distant",
    77: "invalid care-of address",
    78: "registration timeout",
    79: "delivery style not supported",
    80: "home network unreachable (ICMP error received)",
    81: "home agent host unreachable (ICMP error received)",
    82: "home agent port unreachable (ICMP error received)",
    88: "home agent unreachable (other ICMP error received)",
    96: "nonzero home address required",
    97: "missing NAI",
    98: "missing home agent",
    99: "missing home address",
    89: "vendor-specific reason",  # RFC 3115
    90: "non-zero home agent address required",  # RFC 4433
    100: "unable to interpret CVSE sent by mobile node",  # RFC 3115
    101: "unable to interpret CVSE sent by home agent",  # RFC 3115
    104: "unknown challenge",  # RFC 3012
    105: "missing challenge",  # RFC 3012
    106: "stale challenge",  # RFC 3012
    107: "missing MN-FA key generation nonce reply extension",  # RFC 3957
    108: "mobile node failed AAA authentication",  # RFC 4721
    109: "home agent sent wrong challenge in reply",  # RFC 4721
    127: "error code for experimental use",  # RFC 4064
    194: "invalid home agent address",
    128: "reason unspecified",
    129: "administratively prohibited",
    130: "insufficient resources",
    131: "mobile node failed authentication",
    132: "foreign agent failed authentication",
    133: "registration Identification mismatch",
    134: "poorly formed Request",
    135: "too many simultaneous mobility bindings",
    136: "unknown home agent address",
    137: "requested reverse tunnel unavailable",
    138: "reverse tunnel is mandatory and 'T' bit not set",
    139: "requested encapsulation unavailable",
    140: "unable to interpret CVSE sent by mobile node",  # RFC 3115
    141: "unable to interpret CVSE sent by foreign agent",  # RFC 3115
    142: "UDP encapsulation unavailable",
    143: "register with redirected home agent",  # RFC 4433
    144: "mobile node failed AAA authentication",  # RFC 4721
    192: "error code for experimental use",  # RFC 4064
}


def is_accepted(code):
    return code == ACCEPTED or code == ACCEPTED_NO_SIMULTANEOUS


def denied_by(code):
    """'FA', 'HA' or None (accepted or unassigned), from the code range (RFC 5944 3.4)."""
    if code == FA_INVALID_HA_ADDRESS or 64 <= code <= 127:
        return "FA"
    if code >= 128:
        return "HA"
    return None


_described = {}  # code -> describe(code): a registration's log line has one


def describe(code):
    """'133 (denied by HA: registration Identification mismatch)', for logs."""
    text = _described.get(code)
    if text is None:
        text = _described[code] = _describe(code)
    return text


def _describe(code):
    by = denied_by(code)
    name = NAMES.get(code, "code unknown to mip4")
    if by:
        return "%d (denied by %s: %s)" % (code, by, name)
    return "%d (%s)" % (code, name)
