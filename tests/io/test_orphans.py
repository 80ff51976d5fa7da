"""A crashed charon's SAs and policies are found in `ip xfrm` output and only those (issue 10:
no stale SA after a charon crash); the guards and other peers' entries stay."""
from mip4.io.orphans import stale_xfrm

X_HOA, GW = "198.51.100.10", "172.16.0.2"

POLICIES = """src 10.9.0.1/32 dst 10.0.0.0/8
	dir out priority 375423 ptype main
	tmpl src 198.51.100.10 dst 172.16.0.2
		proto esp spi 0xc8d2a3b1 reqid 1 mode tunnel
src 10.0.0.0/8 dst 10.9.0.1/32
	dir fwd priority 375423 ptype main
	tmpl src 172.16.0.2 dst 198.51.100.10
		proto esp reqid 1 mode tunnel
src 10.0.0.0/8 dst 10.9.0.1/32
	dir in priority 375423 ptype main
	tmpl src 172.16.0.2 dst 198.51.100.10
		proto esp reqid 1 mode tunnel
src 192.168.77.0/24 dst 0.0.0.0/1 dev wan
	dir out action block priority 2147483632 ptype main
src 10.8.0.0/16 dst 10.0.0.0/8
	dir out priority 375423 ptype main
	tmpl src 198.51.100.10 dst 203.0.113.99
		proto esp reqid 2 mode tunnel
"""

STATES = """src 198.51.100.10 dst 172.16.0.2
	proto esp spi 0xc8d2a3b1 reqid 1 mode tunnel
	replay-window 0 flag af-unspec
	auth-trunc hmac(sha256) 0x00 128
	enc cbc(aes) 0x00
src 172.16.0.2 dst 198.51.100.10
	proto esp spi 0x0d0b1a2c reqid 1 mode tunnel
	replay-window 32 flag af-unspec
src 198.51.100.10 dst 203.0.113.99
	proto esp spi 0x11111111 reqid 2 mode tunnel
"""


def test_a_dead_charons_sas_and_policies_to_the_gateway_are_deleted_and_nothing_else():
    lines = stale_xfrm(POLICIES, STATES, X_HOA, GW)
    assert lines == [
        "xfrm state delete src 198.51.100.10 dst 172.16.0.2 proto esp spi 0xc8d2a3b1",
        "xfrm state delete src 172.16.0.2 dst 198.51.100.10 proto esp spi 0x0d0b1a2c",
        "xfrm policy delete src 10.9.0.1/32 dst 10.0.0.0/8 dir out",
        "xfrm policy delete src 10.0.0.0/8 dst 10.9.0.1/32 dir fwd",
        "xfrm policy delete src 10.0.0.0/8 dst 10.9.0.1/32 dir in",
    ]


def test_nothing_to_remove_when_the_kernel_has_only_guards():
    guards = "src 10.1.0.10/32 dst 128.0.0.0/1 dev wan \n\tdir out action block priority 2147483632 ptype main \n"
    assert stale_xfrm(guards, "", X_HOA, GW) == []
