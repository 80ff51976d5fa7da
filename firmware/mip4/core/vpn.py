"""The VPN layer of a mobile router outside (RFC 5265 2.3, 4): one IKE SA from the x-HoA through
x-MIP, and i-MIP through it (care-of: the VPN-TIA).

The IKE SA moves only along IKE_TRANSITIONS (like uplink.py's detection table). The mobile node
tells the layer which uplink is the primary (step); the layer answers with IkeUp/IkeDown and the
i-MIP registrations through the tunnel. Nothing here looks at other interfaces.
"""
from __future__ import annotations

from .actions import VPN, IkeDown, IkeUp, Tunnel, log
from .client import PORT, Accepted, RegistrationClient, Route, co_located_flags
from .config import MobileNodeConfig
from .timers import earliest
from .uplink import INSIDE, TENTATIVE_OUTSIDE, Uplink

IKE_DOWN, IKE_CONNECTING, IKE_UP = "down", "connecting", "up"
IKE_RETRY_INITIAL, IKE_RETRY_MAX = 2.0, 60.0  # seconds between IKE attempts after a failure (doubling)
VPN_TUNNEL = "mip4-vpn"  # i-MIP inside IPsec: VPN-TIA to i-HA, whichever uplink carries the IKE SA

_GONE = {"closed": IKE_DOWN, "failed": IKE_DOWN, "dormant": IKE_DOWN, "shutdown": IKE_DOWN}
# The IKE SA as data. "established" is charon's word, and counts in every state (it may finish an
# attempt we gave up on); "initiate" only from down (R-2.3-c); every way out leads down.
IKE_TRANSITIONS: dict[str, dict[str, str]] = {
    IKE_DOWN: {"initiate": IKE_CONNECTING, "established": IKE_UP, **_GONE},
    IKE_CONNECTING: {"established": IKE_UP, **_GONE},
    IKE_UP: {"established": IKE_UP, **_GONE},
}


def next_ike_state(state: str, event: str) -> str:
    """The IKE SA's state after `event`; an event the table does not list for `state` is a bug."""
    return IKE_TRANSITIONS[state][event]


class VpnLayer:
    def __init__(self, config: MobileNodeConfig, client: RegistrationClient) -> None:
        self.config = config
        self.client = client  # i-MIP through the tunnel: VPN-TIA to the i-HA (R-2.3-e)
        self.state = IKE_DOWN
        self.tia: str | None = None  # the VPN-TIA, charon's virtual IP (R-2.3-d)
        self.retry_at: float | None = None  # after a failed IKE attempt: when to try again
        self.backoff = IKE_RETRY_INITIAL
        self.reason = ""  # why the IKE SA is in its state (status)

    def _to(self, event: str, reason: str | None = None) -> None:
        self.state = next_ike_state(self.state, event)
        if reason is not None:
            self.reason = reason

    # -- what charon reports -------------------------------------------------------------------

    def established(self, vpn_tia: str) -> list:
        """The CHILD_SA and its virtual IP, the VPN-TIA (R-2.3-d)."""
        actions = [log("info", "ike-up", "IKE SA up, VPN-TIA %s" % vpn_tia)]
        if self.tia != vpn_tia:  # R-4.2-c: a new VPN-TIA is registered at once
            self.client.reset()
        self._to("established", "established")
        self.tia = vpn_tia
        self.retry_at, self.backoff = None, IKE_RETRY_INITIAL
        return actions

    def gone(self, reason: str, now: float, failed: bool) -> list:
        """IKE SA closed (DPD, crash, delete: R-4.1-e) or an attempt failed: try again, at once after a
        close, after a backoff that doubles while attempts keep failing."""
        self._to("failed" if failed else "closed", reason)
        self.tia = None
        self.client.reset()
        self.retry_at = now + (self.backoff if failed else 0.0)
        if failed:
            self.backoff = min(self.backoff * 2, IKE_RETRY_MAX)
        what = "IKE SA not established" if failed else "IKE SA closed"
        return [log("warning", "ike-down", "%s: %s" % (what, reason))]

    def shutdown(self) -> list:
        if self.state == IKE_DOWN:
            return []
        self._to("shutdown")
        self.tia = None
        return [IkeDown("shutting down")]

    # -- what the mobile node decides ------------------------------------------------------------

    def step(self, primary: Uplink | None, draining: bool, now: float) -> list:
        """Follow the primary uplink: inside, IPsec is dormant (R-3.3-l, R-1.1-a) once the old VPN path
        has drained; outside, IKE from the x-HoA through x-MIP (R-2.3-c), then i-MIP through it with
        CoA = VPN-TIA, D and T set (R-2.3-e, R-2.3-f). Tentatively outside too: RFC 5265 5.3 lets the MN
        trigger IKE once the x-HA accepted, without waiting for the i-HA (3.5: right after the x-HA's reply),
        unless the config postpones it (3.3, R-3.3-d); an SA already up is used either way. No primary: keep
        the SA, it is anchored on the x-HoA (R-1.7-a)."""
        c = self.config
        if primary is None:
            return []
        if primary.state == INSIDE:
            if self.state == IKE_DOWN or draining:
                return []
            self._to("dormant", "inside on %s" % primary.iface)
            self.tia, self.retry_at = None, None
            self.client.reset()
            return [IkeDown("inside on %s (RFC 5265 3.3)" % primary.iface)]
        if self.state == IKE_DOWN:
            if self.retry_at is not None and now < self.retry_at:
                return []
            if c.postpone_ike and primary.state == TENTATIVE_OUTSIDE:
                return []
            self._to("initiate", "initiating")
            self.retry_at = None
            return [IkeUp(c.x_hoa, c.vpn_gateway)]
        if self.state == IKE_UP and self.tia and self.client.route is None:
            route = Route(VPN, self.tia, c.i_ha, self.tia, co_located_flags(c.reverse_tunnel_i))
            return self.client.register(route, now)
        return []

    def reply(self, reply, now: float) -> tuple[list, bool] | None:
        """An i-MIP reply through the tunnel: (actions, whether our binding alone carries since it), or
        None when it answers nothing in flight. A TNC here proves nothing about any interface (R-3.2.3-c)."""
        if self.client.match(reply) is None:
            return None
        was_first = self.client.first
        result, actions = self.client.receive(reply, now)
        if isinstance(result, Accepted) and result.tnc:
            actions.append(log("info", "tnc-via-vpn", "TNC in the i-HA reply through the VPN: expected, and no "
                               "evidence that any interface is inside (R-3.2.3-c)"))
        return actions, self.client.first and not was_first

    # -- what the data path needs --------------------------------------------------------------

    @property
    def up(self) -> bool:
        return self.state == IKE_UP

    def ready(self, now: float) -> bool:
        """R-3.2.2-c: IKE and i-MIP through it in place (x-MIP is the uplink's part)."""
        return self.state == IKE_UP and self.client.registered(now)

    def tunnel(self) -> Tunnel | None:
        """The i-MIP layer inside IPsec, when there is one (RFC 5265 5.6)."""
        if self.state != IKE_UP or not self.tia:
            return None
        return Tunnel(VPN_TUNNEL, self.tia, self.config.i_ha, PORT if self.client.udp_tunnel else 0)

    # -- timers and status ---------------------------------------------------------------------

    def get_timer(self) -> float | None:
        return earliest(self.client.get_timer(), self.retry_at)

    def retry_due(self, now: float) -> None:
        if self.retry_at is not None and self.retry_at <= now:
            self.retry_at = None  # step() tries IKE again if an outside uplink is the primary

    def handle_timer(self, now: float) -> list:
        """The i-MIP registration's retransmissions and renewals."""
        timer = self.client.get_timer()
        return self.client.handle_timer(now) if timer is not None and timer <= now else []

    def status(self, now: float) -> dict:
        return {"ike": self.state, "ike_reason": self.reason,
                "ike_retry_in": None if self.retry_at is None else max(0.0, self.retry_at - now),
                "vpn_tia": self.tia}
