"""LinkMonitor's bookkeeping stays bounded by what the interfaces hold (issue 25): a mobile router that
gets a new DHCP address on every move must not keep a prefix length for each address it ever had."""
from __future__ import annotations

from mip4.io.netlink import IFF_LOWER_UP, IFF_UP, LinkMonitor


def test_prefix_lengths_are_kept_only_for_addresses_held():
    reported: list[tuple[str, str | None]] = []
    mon = LinkMonitor(["wan"], lambda name, up: None, lambda name, address: reported.append((name, address)))
    mon._link({"ifname": "wan", "index": 7, "flags": IFF_UP | IFF_LOWER_UP})
    for i in range(1, 201):  # 200 moves, each a new address; the old one goes
        mon._addr({"index": 7, "address": "10.2.%d.5" % i, "prefixlen": 24}, present=True)
        if i > 1:
            mon._addr({"index": 7, "address": "10.2.%d.5" % (i - 1), "prefixlen": 24}, present=False)
    assert reported[-1] == ("wan", "10.2.200.5") and mon.network("wan") == "10.2.200.0/24"
    assert mon.prefixlen == {"10.2.200.5": 24}
    mon._addr({"index": 7, "address": "10.2.200.5", "prefixlen": 24}, present=False)
    assert mon.prefixlen == {} and reported[-1] == ("wan", None)
