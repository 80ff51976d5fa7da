"""Per-interface detection of a mobile router (RFC 5265 section 3): the i-HA / x-HA registration pair,
T_MONITOR re-registrations, agent advertisements and the inside/outside verdict of each uplink.

The verdict moves only along uplink.py's TRANSITIONS. The detection reports to its mobile node
(`node`): after a status change the node reconciles selection, IKE and data paths; which request
may clear S, and which standby is held back, is the selection's (selection.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..wire.icmp import ADV_B, ADV_F, ADV_R, ADV_T, AgentAdvertisement, PrefixLengths
from ..wire.registration import FLAG_S, FLAG_T
from .actions import log
from .client import Accepted, Denied, RegistrationClient, Route, co_located_flags, due_timers, with_flags
from .config import MobileNodeConfig
from .datapath import block
from .uplink import DETECTING, HELD, INSIDE, OUTSIDE, TENTATIVE_OUTSIDE, ForeignAgentInfo, Uplink, next_state

if TYPE_CHECKING:
    from .mobile_node import MobileNode


class Detection:
    def __init__(self, config: MobileNodeConfig, node: MobileNode) -> None:
        self.config = config
        self.node = node

    # -- timers ------------------------------------------------------------------------------

    def uplink_timers(self, up: Uplink, now: float) -> list:
        actions: list = []
        t_monitor = self.config.t_monitor
        if up.fa is not None and up.fa.expires_at <= now:  # RFC 5944 2.4: the FA is gone
            actions += self.fa_lost(up, now)
        deadline = up.monitor_deadline(t_monitor)
        if up.state == INSIDE and not up.stale and deadline is not None and deadline <= now:
            actions += self._monitor_expired(up, now)
        if up.detection_deadline is not None and up.detection_deadline <= now:
            up.detection_deadline = None
            up.i_client.stop_retransmitting()  # R-3.3-c: the detection period is over
            actions += self.transition(up, "detection-period-over", now)
        if up.x_start_at is not None and up.x_start_at <= now:
            up.x_start_at = None
            actions += self.register_x(up, now)
        if up.monitor_at is not None and up.monitor_at <= now:
            up.monitor_at = None
            actions += self.monitor(up, now)
        if up.redetect_at is not None and up.redetect_at <= now:
            up.redetect_at = None
            actions += self.status_change(up, "detecting again after the i-HA's denial", now)
        return actions + due_timers([up.i_client, up.x_client], now)

    # -- detection ---------------------------------------------------------------------------

    def status_change(self, up: Uplink, why: str, now: float) -> list:
        """RFC 5265 3.2.2: stop user data at once (R-3.2.2-a), then detect again (R-3.2.2-b)."""
        has = (self.config.i_ha, self.config.x_ha)
        ha = self.node.selection.held_back(up, has, now) if up.care_of is not None else None
        if ha is not None:  # RFC 5944 3.4: a request of ours with S would take the binding that carries
            return self.hold(up, ha, now) + self.node.reconcile(now)
        actions = block(up, "status change: %s" % why, now)
        up.forget_attachment()
        if up.care_of is None:
            return actions + self.transition(up, "care-of-lost", now) + self.node.reconcile(now)
        if self.config.i_ha == self.config.x_ha:  # RFC 5265 3.5, R-3.5-c: external, no direct probe
            actions += self.transition(up, "skip-detection", now)
            actions.append(log("warning", "equal-home-agents", "i-HA and x-HA addresses are equal: "
                               "%s is treated as external (RFC 5265 3.5)" % up.iface))
            return actions + self.register_x(up, now) + self.node.reconcile(now)
        actions += self.transition(up, "status-change", now)
        actions += self.register_i(up, now)  # R-3.3-a: the pair goes out together
        delay = self.config.x_ha_delay_on_inside_hint if up.hint == "inside" else 0.0
        if delay > 0:  # R-3.5-f: probably inside, give the i-HA a head start
            up.x_start_at = now + delay
        else:
            actions += self.register_x(up, now)
        return actions + self.node.reconcile(now)

    def leave(self, up: Uplink, event: str, why: str, now: float) -> list:
        actions = block(up, why, now)
        up.forget_attachment()
        up.hints.clear()
        return actions + self.transition(up, event, now) + self.node.reconcile(now)

    def i_ha_result(self, up: Uplink, result: Accepted | Denied | None, resent: bool, now: float) -> list:
        """RFC 5265 3.2.3: only an authentic acceptance carrying TNC makes this interface inside."""
        if result is None:
            return []
        inside = up.state == INSIDE
        if isinstance(result, Denied):
            if result.by == "FA":  # R-3.2.3-d: an FA denial is no i-HA answer
                return [log("info", "no-i-ha-answer", "%s: FA denied the i-HA request (code %d); not an i-HA "
                            "answer" % (up.iface, result.code))]
            if resent:  # RFC 5944 3.6.2.2-3: resynced (133) or adjusted, and asked again; no verdict yet
                return []
            if not inside:
                return self._i_ha_denied(up, result.code, now)
            return self._monitoring_failed(up, "i-ha-denied", "denied (code %d)" % result.code, now)
        if result.sent_at + self.config.t_monitor <= now:  # a reply too late to prove anything now
            return [log("warning", "stale-reply", "%s: i-HA reply to a request sent %.1f s ago ignored"
                        % (up.iface, now - result.sent_at))]
        if not result.tnc:
            actions = [log("warning", "no-tnc", "%s: i-HA accepted without TNC: not inside (RFC 5265 3.2.3)"
                           % up.iface)]
            if inside:  # R-3.3-i
                return actions + self._monitoring_failed(up, "i-ha-no-tnc", "accepted without TNC", now)
            up.i_client.reset()  # R-3.3-j: outside, no more plaintext registrations to the i-HA
            # interpretation note 1: outside; the x-HA request keeps going until it is answered
            return actions + self.transition(up, "i-ha-no-tnc", now)
        if up.state == DETECTING:
            up.x_client.stop_retransmitting()  # R-3.3-f: an i-HA answer ends the detection pair
        up.last_good_sent, up.stale = result.sent_at, False
        up.detection_deadline = None
        up.x_start_at = None
        up.monitor_at = result.sent_at + self.config.t_monitor - self.config.t_monitor_grace  # R-3.2.4-a
        actions = self.transition(up, "i-ha-tnc", now) + self._deregister_x(up, now)
        last_vpn = self.node.vpn.client.last_sent
        if last_vpn is not None and last_vpn > result.sent_at:
            actions += self._rebind_here(up)
        return actions

    def _i_ha_denied(self, up: Uplink, code: int, now: float) -> list:
        """RFC 5265 3.3, R-3.3-f: an authenticated i-HA answer, a denial too, ends the detection pair: no
        more retransmissions to either HA. Not inside (interpretation note 2). With the x-HA's acceptance in
        hand the interface is outside; without one, the pair goes out again after a pause, as a new attempt."""
        actions = [log("warning", "i-ha-denied", "%s: the i-HA denied the request (code %d): not inside"
                       % (up.iface, code))]
        up.i_client.reset()  # R-3.3-j: no more plaintext registrations to the i-HA on this attachment
        up.detection_deadline = None
        if up.state == DETECTING:
            up.x_client.stop_retransmitting()
            up.redetect_at = now + self.config.timing.retransmit_max
            return actions
        return actions + self.transition(up, "i-ha-denied", now)

    def _rebind_here(self, up: Uplink) -> list:
        """RFC 5265 3.3, R-3.3-k: the qualifying i-HA reply came late, after an i-MIP registration through
        the VPN went out; that one may have moved the i-HA's binding to the VPN-TIA since. Inside still (the
        proof holds), but its binding no longer carries: the node claims it back with an S-clear request
        once this uplink is the primary. The VPN client stops in the same step (inside, IPsec is dormant)."""
        up.i_client.superseded()
        return [log("info", "late-i-ha-reply", "%s: the i-HA's reply is older than the i-MIP registration "
                    "through the VPN: registering with it again directly (RFC 5265 3.3)" % up.iface)]

    def _monitoring_failed(self, up: Uplink, event: str, why: str, now: float) -> list:
        """RFC 5265 3.3, R-3.3-i: an inside re-registration failed: block, then detect again."""
        actions = [log("warning", "monitor-failed", "%s: inside re-registration %s" % (up.iface, why))]
        actions += self.transition(up, event, now)
        return actions + self.status_change(up, "inside re-registration failed", now)

    def x_ha_result(self, up: Uplink, result: Accepted | Denied | None, now: float) -> list:
        if not isinstance(result, Accepted):
            return []
        route = up.x_client.route
        up.x_care_of = None if result.deregistration or route is None else route.care_of
        if result.deregistration:
            return []
        up.redetect_at = None
        actions = []
        if result.tnc:  # R-3.2.3-d, R-3.4-f: an x-HA reply is never evidence of being inside
            actions.append(log("warning", "x-ha-tnc", "%s: x-HA reply carries TNC; ignored" % up.iface))
        if up.state != DETECTING:
            return actions
        actions += self.transition(up, "x-ha-accepted", now)  # R-3.3-b
        period = 0.0 if up.hint == "outside" else self.config.detection_period  # R-3.3-d, R-3.5-f
        up.detection_deadline = now + period
        if period == 0:
            up.detection_deadline = None
            up.i_client.stop_retransmitting()
            actions += self.transition(up, "detection-period-over", now)
        return actions

    def monitor(self, up: Uplink, now: float) -> list:
        """RFC 5265 3.2.4: re-register with the i-HA every T_MONITOR - N (R-3.2.4-a, R-3.3-h)."""
        if up.state != INSIDE:
            return []
        idle = self.config.idle_mode and (up.last_traffic is None or up.last_traffic < (up.last_good_sent or 0))
        if idle and not up.stale:  # R-3.2.4-f: no traffic, no monitoring; the next packet wakes it
            return [log("debug", "idle", "%s: idle, monitoring paused" % up.iface)]
        return self.register_i(up, now)

    def _monitor_expired(self, up: Uplink, now: float) -> list:
        """R-3.2.4-b: more than T_MONITOR since the last good registration: no user data."""
        if self.config.idle_mode and not up.i_client.pending and up.monitor_at is None:
            up.stale = True  # R-3.2.4-f: hold traffic until a fresh registration succeeds
            return block(up, "idle: T_MONITOR passed, next packet waits for a registration", now)
        actions = [log("warning", "monitor-failed", "%s: no good i-HA registration for %g s (T_MONITOR)"
                       % (up.iface, self.config.t_monitor))]
        actions += block(up, "T_MONITOR expired", now)
        actions += self.transition(up, "monitor-failed", now)
        return actions + self.status_change(up, "T_MONITOR expired", now)

    # -- registrations -----------------------------------------------------------------------

    def register_i(self, up: Uplink, now: float) -> list:
        c = self.config
        ha = self.node.selection.held_back(up, (c.i_ha,), now)
        if ha is not None:
            return self.hold(up, ha, now)
        up.i_client.lifetime_cap = self._fa_lifetime(up)
        if up.care_of == c.i_hoa and not up.using_fa:  # RFC 5944 3.6.1.2: at home, deregister (R-2-e)
            return up.i_client.register(Route(up.iface, c.i_hoa, c.i_ha, c.i_hoa, 0), now, lifetime=0)
        return up.i_client.register(self.route(up, up.i_client, c.i_ha, c.reverse_tunnel_i), now)

    def register_x(self, up: Uplink, now: float) -> list:
        c = self.config
        ha = self.node.selection.held_back(up, (c.x_ha,), now)
        if ha is not None:
            return self.hold(up, ha, now)
        up.x_client.lifetime_cap = self._fa_lifetime(up)
        return up.x_client.register(self.route(up, up.x_client, c.x_ha, c.reverse_tunnel_x), now)

    def _deregister_x(self, up: Uplink, now: float) -> list:
        """RFC 5265 3.3, R-3.3-g: inside, the x-HA binding of this uplink goes away: the one asked for since
        the status change, or, when that request was held back by an inside hint (R-3.5-f), the one from
        before it (`x_care_of`)."""
        client = up.x_client
        # S: only this care-of; another uplink's x-MIP binding may be there or on its way (still detecting)
        others = any(o is not up and (o.state in (OUTSIDE, TENTATIVE_OUTSIDE) or o.x_client.registered(now)
                                      or o.x_client.pending) for o in self.node.uplinks.values())
        if client.route is not None and (client.registered(now) or client.outstanding):
            route = client.route
        elif up.x_care_of is not None and up.care_of is not None:
            fresh = self.route(up, client, self.config.x_ha, self.config.reverse_tunnel_x)
            route = Route(fresh.iface, fresh.src, fresh.dst, up.x_care_of, fresh.flags & ~FLAG_S)
        else:
            return []  # nothing was ever accepted or in flight: nothing to take back (R-3.3-j)
        client.stop_retransmitting()
        flags = (route.flags | FLAG_S) if others else route.flags
        return client.deregister(with_flags(route, flags), now)

    @staticmethod
    def _fa_lifetime(up: Uplink) -> int | None:
        """RFC 5944 2.1.1: through an FA, ask for no more than it advertises (0xffff: no limit)."""
        if not up.using_fa or up.fa is None or up.fa.registration_lifetime == 0xFFFF:
            return None
        return up.fa.registration_lifetime

    def route(self, up: Uplink, client: RegistrationClient, ha: str, reverse_tunnel: bool) -> Route:
        """Co-located: from the care-of to the HA, D set (R-2.1-c, R-2.3-a). Via an FA: from the
        home address to the FA, D clear, T only if the FA offers it (R-2.2-c, R-2.4-b, R-2.4-c).
        S (RFC 5944 3.3) is clear only where this uplink is to take the HA's traffic from every
        other binding: it is, or is becoming, the primary and its binding does not carry yet."""
        flags = 0 if self.node.selection.taking(up) and not client.first else FLAG_S
        hoa = client.home_address
        if up.using_fa:
            fa = up.fa
            assert fa is not None
            t = FLAG_T if reverse_tunnel and fa.reverse_tunnel else 0
            return Route(up.iface, hoa, fa.address, fa.care_of, flags | t)
        assert up.address is not None
        return Route(up.iface, up.address, ha, up.address, flags | co_located_flags(reverse_tunnel))

    # -- agent advertisements ----------------------------------------------------------------

    def foreign_agent(self, adv: AgentAdvertisement, src: str, now: float) -> ForeignAgentInfo | None:
        mob = adv.mobility
        if mob is None or not mob.has(ADV_F) or not mob.care_of_addresses or adv.unknown_critical():
            return None
        if mob.registration_lifetime == 0:  # RFC 5944 2.1.1: it would accept no registration at all
            return None
        for ext in adv.extensions:  # RFC 5944 2.1.2: one prefix length per router address
            if isinstance(ext, PrefixLengths) and len(ext.prefix_lengths) != len(adv.router_addresses):
                return None
        return ForeignAgentInfo(src, mob.care_of_addresses[0], mob.sequence_number, now + adv.lifetime,
                                mob.has(ADV_T), mob.has(ADV_R), mob.registration_lifetime, mob.has(ADV_B))

    def advertised(self, up: Uplink, info: ForeignAgentInfo, now: float) -> list:
        """R-3.2.2-d: a new FA, an FA reboot, or any change of care-of or of using an FA is a status change."""
        old, before = up.fa, (up.care_of, up.using_fa)
        same_agent = old is not None and (old.address, old.care_of) == (info.address, info.care_of)
        if old is not None and old.address != info.address and old.expires_at > now:
            # RFC 5944 2.4.2: another agent on the link while ours is still heard is no move; it is
            # the one to switch to if ours falls silent for its advertised lifetime (_fa_lost)
            if not info.busy:
                up.fa_alternative = info
            self.node.events.count("fa-alternative")
            return []
        if up.fa_alternative is not None and up.fa_alternative.address == info.address:
            up.fa_alternative = None  # it is our agent now (ours was gone), or no longer an alternative
        if info.busy and not same_agent:
            # RFC 5944 2.1.1: B means no *additional* mobile nodes; the FA we already use stays usable
            self.node.events.count("fa-busy")
            return []
        up.fa = info
        rebooted = old is not None and info.sequence < old.sequence and info.sequence < 256  # RFC 5944 2.4.2
        moved = old is None or (old.address, old.care_of) != (info.address, info.care_of) or rebooted
        if (up.care_of, up.using_fa) == before and not (up.using_fa and moved):
            return []
        why = "foreign agent %s rebooted" % info.address if rebooted else "foreign agent %s, care-of %s" % (
            info.address, up.care_of)
        return self.status_change(up, why, now)

    def fa_lost(self, up: Uplink, now: float) -> list:
        """RFC 5944 2.4.2: no advertisement from our FA within its lifetime. Another agent heard on the
        link meanwhile (and still within its own lifetime) takes over: a move to its care-of."""
        was_fa, lost = up.using_fa, up.fa
        alternative, up.fa_alternative = up.fa_alternative, None
        if alternative is not None and alternative.expires_at > now:
            self.node.events.count("fa-lost")
            actions = [log("info", "fa-lost", "%s: foreign agent %s silent for its advertised lifetime; "
                           "switching to %s (RFC 5944 2.4.2)" % (up.iface, lost.address if lost else "?",
                                                                  alternative.address))]
            # advertised() judges the move against the lost agent's attachment (R-3.2.2-d): the
            # alternative may not be used at all (R clear, an address of our own), a move all the same
            return actions + self.advertised(up, alternative, now)
        up.fa = None
        if not was_fa:
            return []
        if up.care_of is None:
            return self.leave(up, "care-of-lost", "foreign agent advertisement expired", now)
        return self.status_change(up, "foreign agent lost, using %s" % up.care_of, now)

    def transition(self, up: Uplink, event: str, now: float) -> list:
        new = next_state(up.state, event)
        if new == up.state and event not in ("status-change",):
            return []
        old, up.state = up.state, new
        up.reason, up.changed_at = event, now
        if new != HELD:
            up.held = None  # whatever it was held for, it detects (or is down) now
        return [log("info", "state", "%s: %s -> %s (%s)" % (up.iface, old, new, event), iface=up.iface)]

    def hold(self, up: Uplink, ha: str, now: float) -> list:
        """Keep a standby from registering: it waits, unregistered and blocked, until no uplink carries
        (selection.resume_held). A standby's registration with S at an HA without simultaneous bindings would move
        the only binding away from the uplink that carries (RFC 5944 3.4)."""
        if up.state == HELD:
            return []
        actions = block(up, "held: %s keeps no binding for a standby" % ha, now)
        up.forget_attachment()
        up.held = ha
        self.node.events.count("held")
        limit = self.node.selection.ha_limits[ha]
        actions.append(log("warning", "held", "%s: standby held back: home agent %s keeps %d simultaneous "
                           "binding(s) and the primary needs them (RFC 5944 3.4)" % (up.iface, ha, limit)))
        return actions + self.transition(up, "hold", now)

