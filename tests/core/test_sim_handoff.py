"""Handoff at the floor (issue 24), in simulated time: from a new care-of address to the path installed and
the VPN gate open the router waits for nothing but the network (RFC 5265 5.3), and in the order the
adapter needs (R-2.3-c: the x-MIP path before IKE). Times are the simulator's virtual clock, a model,
never wall-clock.
"""
from __future__ import annotations

from mip4.core.actions import VPN, Gate, IkeUp, SendUdp, SetPath

from .world import VPN_TIA, build


def batch_of(w, kind) -> list:
    """The actions of the MN's batch that holds the first action of `kind`, in their order."""
    entries = [e for e in w.sim.trace if getattr(e, "node", None) == "mn" and hasattr(e, "action")]
    first = next(i for i, e in enumerate(entries) if isinstance(e.action, kind))
    t = entries[first].time
    return [e.action for e in entries if e.time == t]


def test_the_x_mip_path_goes_in_before_ike_is_asked_for():
    """R-2.3-c: IKE runs through x-MIP; the adapter points the IKE table at the primary's path when it
    handles IkeUp, so the SetPath with the x-MIP tunnel comes first in the batch (else charon's first
    IKE_SA_INIT meets `prohibit` and waits for its retransmission). The i-MIP request through the VPN
    follows the path with the inner tunnel, and a gate opens only on a path already in place."""
    w = build(detection_period=0.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(5)
    batch = batch_of(w, IkeUp)
    kinds = [type(a).__name__ for a in batch]
    first_path = next(i for i, a in enumerate(batch) if isinstance(a, SetPath) and a.mode == "cvc")
    assert first_path < kinds.index("IkeUp"), kinds
    # after IKE: the inner tunnel, then the i-MIP request through it
    entries = [e.action for e in w.sim.trace if getattr(e, "node", None) == "mn" and hasattr(e, "action")]
    inner = next(i for i, a in enumerate(entries) if isinstance(a, SetPath) and len(a.tunnels) == 2)
    vpn_rq = next(i for i, a in enumerate(entries) if isinstance(a, SendUdp) and a.datagram.iface == VPN)
    assert inner < vpn_rq and entries[inner].tunnels[1].local == VPN_TIA
    opened = next(i for i, a in enumerate(entries) if isinstance(a, Gate) and a.path == "vpn")
    assert max(i for i, a in enumerate(entries[:opened]) if isinstance(a, SetPath)) == inner
