"""The foreign agent's denial table (RFC 5944 3.7.2.1, 3.7.2.3; RFC 3024 3.3): one clause a row, the
first failing row denies, so the order of the rows is the precedence (issue 22: the same shape as the
home agent's table). Behaviour guards: these pass on the if-chain the table replaced."""
from __future__ import annotations

import pytest

from mip4.core.fa_denials import CHECKS
from mip4.wire import RawExtension, codec, codes
from mip4.wire.registration import FLAG_D, FLAG_M, FLAG_T

from .replies import NOW
from .test_foreign_agent import I_HA, I_HOA, I_SA, fa, reasons, request, sent

WRONG_COA = "203.0.113.99"


def test_the_rows_are_the_rfc_clauses_in_order_of_precedence():
    assert [(reason, code) for reason, code, _ in CHECKS] == [
        ("unknown-extension", codes.FA_POORLY_FORMED_REQUEST),  # RFC 5944 1.9
        ("no-home-address", codes.FA_NONZERO_HOME_ADDRESS_REQUIRED),
        ("no-home-agent", codes.FA_MISSING_HOME_AGENT),
        ("lifetime-too-long", codes.FA_LIFETIME_TOO_LONG),
        ("encapsulation-unavailable", codes.FA_ENCAPSULATION_UNAVAILABLE),
        ("reverse-tunnel-unavailable", codes.FA_REVERSE_TUNNEL_UNAVAILABLE),  # RFC 3024 3.3
        ("invalid-care-of", codes.FA_INVALID_CARE_OF),
        ("too-many-visitors", codes.FA_INSUFFICIENT_RESOURCES),
    ]


@pytest.mark.parametrize("kw,reason", [
    (dict(before_auth=[RawExtension(100, b"")], lifetime=9999, flags=FLAG_M | FLAG_T, coa=WRONG_COA),
     "unknown-extension"),
    (dict(ha="0.0.0.0", lifetime=9999, flags=FLAG_M, coa=WRONG_COA), "no-home-agent"),
    (dict(lifetime=9999, flags=FLAG_M | FLAG_T, coa=WRONG_COA), "lifetime-too-long"),
    (dict(flags=FLAG_M | FLAG_T, coa=WRONG_COA), "encapsulation-unavailable"),
    (dict(flags=FLAG_T, coa=WRONG_COA), "reverse-tunnel-unavailable"),
    (dict(coa=WRONG_COA), "invalid-care-of"),
])
def test_a_request_failing_several_clauses_is_denied_by_the_first(kw, reason):
    agent = fa(reverse_tunnel=False, max_visitors=1)
    filler = agent.receive_udp(request(hoa=I_HOA, ha=I_HA, sa=I_SA, flags=0), NOW)
    assert reasons(filler) == ["relayed-request"]  # pending: the list is full, so the last row fails too
    actions = agent.receive_udp(request(**kw), NOW)
    (back,) = sent(actions)
    code = dict((r, c) for r, c, _ in CHECKS)[reason]
    assert codec.decode_udp(back.payload).code == code and reasons(actions) == [reason]


def test_the_care_of_clauses_pass_a_co_located_care_of():
    """RFC 5944 3.1: with D the care-of, its encapsulation and reverse tunnel are the MN's business."""
    agent = fa(reverse_tunnel=False)
    actions = agent.receive_udp(request(coa=WRONG_COA, src=WRONG_COA, flags=FLAG_D | FLAG_M | FLAG_T), NOW)
    (up,) = sent(actions)
    assert up.iface == "core" and reasons(actions) == ["relayed-request"]
