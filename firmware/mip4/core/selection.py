"""Uplink selection of a mobile router (issue 7): which uplink carries (the primary), make-before-break
moves of the HA's binding (S clear, RFC 5944 3.6.1.2), hold-down, and what the home agents told us
about simultaneous bindings (RFC 5944 3.4: code 1, 135).

It reads the uplinks' verdicts (detection.py) and asks the detection to register, to hold a standby
back, or to detect again; it never sends by itself.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..wire import codes
from ..wire.registration import FLAG_S
from .actions import Primary, log
from .client import Accepted, Denied, RegistrationClient, with_flags
from .config import MobileNodeConfig
from .datapath import mode
from .uplink import EXTERNAL, HELD, INSIDE, Uplink

if TYPE_CHECKING:
    from .mobile_node import MobileNode

DRAIN = 2.0  # after a make-before-break move, the old path still receives what was in flight (seconds)


class Selection:
    def __init__(self, config: MobileNodeConfig, node: MobileNode) -> None:
        self.config = config
        self.node = node
        self.primary: str | None = None
        self.claiming: str | None = None  # uplink whose S-clear registration is moving the HA's traffic to it
        self.draining: str | None = None  # the old primary after a make-before-break move, until drain_until
        self.drain_until: float | None = None
        # RFC 5944 3.4: home agents that told us (code 1, 135) how many of our bindings they keep at once
        self.ha_limits: dict[str, int] = {}

    def usable(self, up: Uplink, now: float) -> bool:
        """It could carry user data now: inside and fresh (R-3.2.4-b), or (tentatively) outside with its x-MIP
        binding, where only ESP leaves it (RFC 5265 5.3: no wait for the i-HA once the x-HA accepted)."""
        if up.state == INSIDE:
            return up.fresh(now, self.config.t_monitor)
        return up.state in EXTERNAL and up.x_client.registered(now)

    def select(self, now: float) -> tuple[list, Uplink | None]:
        """Pick the primary among the usable uplinks; (actions, the primary). A better uplink first claims
        the HA's traffic while the current one still carries (make before break); the old one drains."""
        actions: list = []
        uplinks = self.node.uplinks
        usable = [up for up in uplinks.values() if self.usable(up, now)]
        self.hold_down(usable, now)
        current = uplinks.get(self.primary or "")
        drained = self.drain_until is not None and now >= self.drain_until
        if drained or uplinks.get(self.draining or "") not in usable:
            self.draining = self.drain_until = None
        best = self.best(usable, current)
        if self.claiming is not None and (best is None or best.iface != self.claiming):
            self.claiming = None  # the uplink it was for is no longer the one to move to
        if best is not current:
            if best is not None and current in usable and not self.carries(best):
                actions += self.claim(best, now)  # make before break: `current` carries until the HA moved
            else:
                if current in usable and best is not None:  # moved before the old path broke: let it drain
                    self.draining, self.drain_until = current.iface, now + DRAIN
                self.primary = best.iface if best else None
                if best is not None and best.usable_since is not None:
                    best.waited = now - best.usable_since
                actions.append(log("info", "primary", "primary uplink: %s" % (self.primary or "none")))
                actions.append(Primary(self.primary))
        primary = uplinks.get(self.primary or "")
        if primary is not None and not self.carries(primary):
            actions += self.claim(primary, now)  # the old path is gone: move the HA's traffic at once
        elif primary is not None and self.claiming == primary.iface:
            self.claiming = None
        return actions, primary

    def hold_down(self, usable: list[Uplink], now: float) -> None:
        """An uplink that becomes usable settles after its hold-down; losing usability resets it."""
        for up in self.node.uplinks.values():
            if up not in usable:
                up.usable_since = up.settle_at = None
            elif up.usable_since is None:
                hold = self.config.hold_down_of(up.iface)
                up.usable_since, up.settle_at = now, (now + hold if hold > 0 else None)
            elif up.settle_at is not None and now >= up.settle_at:
                up.settle_at = None

    def best(self, usable: list[Uplink], current: Uplink | None) -> Uplink | None:
        """Priority among the settled uplinks and the current primary: traffic moves back to an uplink
        only once it has stayed up for its hold-down; with nothing settled, whatever works now."""
        pool = [up for up in usable if up.settle_at is None]
        if current in usable and current not in pool:
            pool.append(current)
        pool = pool or usable
        return min(pool, key=lambda u: (u.priority, u.iface)) if pool else None

    def carrier(self, up: Uplink) -> RegistrationClient:
        """The registration whose binding takes this uplink's traffic: i-MIP inside, x-MIP outside."""
        return up.i_client if up.state == INSIDE else up.x_client

    def carries(self, up: Uplink) -> bool:
        """Whether the HA sends to this uplink's binding (its S-clear registration was accepted)."""
        return mode(up, self.config.i_hoa) == "home" or self.carrier(up).first

    def claim(self, up: Uplink, now: float) -> list:
        """RFC 5944 3.6.1.2: an S-clear registration on `up` makes its binding the HA's only one."""
        client = self.carrier(up)
        if self.claiming == up.iface and client.pending:
            return []
        self.claiming = up.iface
        actions = [log("info", "claim", "%s: registering without S so the %s sends here" % (up.iface, client.name))]
        detection = self.node.detection
        return actions + (detection.register_i(up, now) if client is up.i_client else detection.register_x(up, now))

    def displaced(self, winner: RegistrationClient, now: float) -> list:
        """The HA kept only `winner`'s binding: the other uplinks registered there add theirs again
        (S set); an i-MIP binding through the VPN is simply gone."""
        actions: list = []
        if winner is not self.node.vpn.client and winner.home_address == self.node.vpn.client.home_address:
            self.node.vpn.client.reset()
        limit = self.ha_limits.get(winner.home_agent)
        room = None if limit is None else limit - 1  # RFC 5944 3.4: bindings it keeps beside the winner's
        for up in list(self.node.uplinks.values()):
            for client in (up.i_client, up.x_client):
                if client is winner or client.home_address != winner.home_address:
                    continue
                client.superseded()
                if client.route is not None and client.registered(now) and client.lifetime:
                    if room is not None and room <= 0:
                        actions += self.node.detection.hold(up, winner.home_agent, now)
                        break
                    room = None if room is None else room - 1
                    actions += client.register(with_flags(client.route, client.route.flags | FLAG_S), now)
        return actions

    # -- home agents that keep fewer simultaneous bindings than we have uplinks (RFC 5944 3.4) ----

    def taking(self, up: Uplink) -> bool:
        """Whether `up` is to take the HA's traffic (S clear): it is, or becomes, the primary."""
        return self.primary in (None, up.iface) or self.claiming == up.iface

    def bound_at(self, ha: str, now: float, besides: Uplink | None = None) -> list[RegistrationClient]:
        """Our clients holding a binding at `ha` now (the VPN's too), other than those of `besides`."""
        ours = (besides.i_client, besides.x_client) if besides is not None else ()
        return [cl for cl in self.node.clients() if cl.home_agent == ha and cl not in ours and cl.registered(now)]

    def held_back(self, up: Uplink, has: tuple[str, ...], now: float) -> str | None:
        """The HA among `has` where a request of this standby (S set) would replace or exceed the
        bindings our other uplinks hold: it keeps no more than ha_limits says."""
        if self.taking(up):
            return None
        for ha in has:
            limit = self.ha_limits.get(ha)
            if limit is not None and len(self.bound_at(ha, now, besides=up)) >= limit:
                return ha
        return None

    def resume_held(self, now: float) -> list:
        """No uplink carries: the held standbys detect again, now taking the binding (S clear)."""
        actions: list = []
        for up in list(self.node.uplinks.values()):
            if self.primary is None and up.held is not None and up.state == HELD:
                ha, up.held = up.held, None
                why = "no uplink carries; %s may take the binding at %s" % (up.iface, ha)
                actions += self.node.detection.status_change(up, why, now)
        return actions

    def _learn_limit(self, ha: str, limit: int, code: int) -> list:
        if self.ha_limits.get(ha) == limit:
            return []
        self.ha_limits[ha] = limit
        return [log("warning", "ha-binding-limit", "home agent %s keeps %d simultaneous binding(s) of ours "
                    "(code %d, RFC 5944 3.4): standbys no longer register there while another uplink carries"
                    % (ha, limit, code))]

    def binding_limit(self, up: Uplink, client: RegistrationClient, result: Accepted | Denied | None,
                       now: float) -> list:
        """RFC 5944 3.4: code 1 (accepted, simultaneous bindings unsupported: ours is now its only binding)
        or 135 (too many simultaneous bindings). Never answered by dropping S on a standby (that would
        replace every binding, the primary's too)."""
        ha = client.home_agent
        if isinstance(result, Denied) and result.by == "HA" and result.code == codes.HA_TOO_MANY_BINDINGS:
            actions = self._learn_limit(ha, max(1, len(self.bound_at(ha, now, besides=up))), result.code)
            if self.taking(up):  # only S-clear would do: claim (RFC 5944 3.6.1.2)
                client.superseded()
                return actions
            return actions + self.node.detection.hold(up, ha, now)
        if not isinstance(result, Accepted) or result.code != codes.ACCEPTED_NO_SIMULTANEOUS or result.deregistration:
            return []
        victims = self.bound_at(ha, now, besides=up)  # their bindings are gone now
        actions = self._learn_limit(ha, 1, result.code)
        taking = self.taking(up)
        if taking:
            client.only_binding()  # ours is the only binding: it carries
        elif victims:
            actions += self.node.detection.hold(up, ha, now)  # the binding moves back to the primary (below)
        primary = self.node.uplinks.get(self.primary or "")
        for victim in victims:
            if victim is self.node.vpn.client:
                victim.reset()  # re-registered through the VPN at once, S clear (vpn.py step)
                continue
            owner = next(u for u in self.node.uplinks.values() if victim in (u.i_client, u.x_client))
            if not taking and owner is primary:
                victim.superseded()  # select() claims it back at once, S clear
                actions.append(log("warning", "binding-moved", "%s: the %s gave the standby %s its only binding; "
                                   "%s registers again to take it back" % (owner.iface, ha, up.iface, owner.iface)))
            elif owner.state != HELD:
                actions += self.node.detection.hold(owner, ha, now)
        return actions

