"""Hypothesis stateful tests of RFC 5265 section 3 detection (R-3-a, R-3.2.4-b, R-3.2.3-a, R-4.1-a,
R-3.1-c, R-3.2.2-e).

Random sequences of link events, address changes (with no carrier event), lost/forged/replayed/
cross-interface replies, requests relayed to a real i-HA through an outsider's VPN session, IKE events,
time passing and time-of-day steps (clock jumps) are fed straight to the mobile node.
An independent model of what the MN has really been shown checks, after every step, that user
data is never allowed in the clear unless an authentic, TNC-bearing i-HA acceptance arrived on
that very interface, for a request sent after its last status change and less than T_MONITOR ago;
and that data goes through the VPN only on the primary, under an IKE SA the model saw come up and not go
since, with an x-HA acceptance in force for that interface's current care-of (RFC 5265 3.5, 5.3: early,
while the i-HA may still answer, but only as ESP).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mip4.core.actions import VPN, Datagram, Gate, Icmp, IkeDown, IkeUp, Primary, SendUdp
from mip4.core.config import HomeAgentConfig, MobileNodeEntry
from mip4.core.home_agent import HomeAgent
from mip4.core.mobile_node import MobileNode
from mip4.wire import AgentAdvertisement, MobilityAgentAdvertisement, codec
from mip4.wire.extensions import RawExtension
from mip4.wire.icmp import ADV_F, ADV_R

from .replies import I_SA, NOW, X_SA, answer, mn_config, rng

IFACES = ("wan", "wwan")
ADDRESSES = ("10.2.0.5", "10.3.0.7", "198.18.0.9")
T_MONITOR = 30.0


@dataclass
class IfaceModel:
    changed: int = 0  # event number of the last status change the test caused
    before: tuple | None = None
    good_sends: list[tuple[int, float, str]] = field(default_factory=list)  # (event, send time, care-of) answered
    # x-HA acceptances: (event, send time, care-of, lifetime) of the requests the x-HA accepted
    x_accepted: list[tuple[int, float, str, int]] = field(default_factory=list)


class DetectionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.mn = MobileNode(mn_config(t_monitor=T_MONITOR, t_monitor_grace=5.0, uplinks={"wan": 1, "wwan": 2}),
                             rng())
        self.model = {i: IfaceModel() for i in IFACES}
        self.gate: dict[str, str | None] = {i: None for i in IFACES}
        self.sent: dict[str, list[tuple[int, float, Datagram]]] = {i: [] for i in IFACES + (VPN,)}
        self.events = 0  # orders sends and status changes that happen at the same virtual time
        self.replies: list[Datagram] = []
        self.ike_wanted = False
        self.ike_sa = False  # the model's own view: charon reported an SA, and neither side ended it since
        self.primary: str | None = None  # as the Primary actions told the adapter
        self.wall = 0.0  # time of day minus the monotonic clock
        # the real i-HA an outsider reaches through his own VPN session (the pool is trusted, R-4.3-h)
        self.i_ha = HomeAgent(HomeAgentConfig(address="10.1.0.1", role="i-ha", trusted_networks=("10.0.0.0/8",),
                                              vpn_pool=("10.255.0.0/16",),
                                              mobile_nodes={"10.1.0.10": MobileNodeEntry(I_SA)}), rng())

    # -- plumbing --------------------------------------------------------------------------

    def attachment(self, iface: str) -> tuple | None:
        """Care-of, through an FA or not, and the interface's own address: a new one is a new network
        (R-3.2.2-e), in mode f too."""
        up = self.mn.uplinks.get(iface)
        return None if up is None else (up.care_of, up.using_fa, up.address)

    def on(self, iface: str, call) -> None:
        """Feed one event; whatever moved the MN's point of attachment is a status change to the model."""
        before = self.attachment(iface)
        actions = call()
        if self.attachment(iface) != before:
            self.model[iface].changed = self.events + 1
        self.feed(actions)

    def feed(self, actions: list) -> None:
        self.events += 1
        for a in actions:
            if isinstance(a, Gate):
                self.gate[a.iface] = a.path
            elif isinstance(a, SendUdp):
                self.sent.setdefault(a.datagram.iface, []).append((self.events, self.now, a.datagram))
            elif isinstance(a, IkeUp):
                self.ike_wanted = True
            elif isinstance(a, IkeDown):
                self.ike_sa = False
            elif isinstance(a, Primary):
                self.primary = a.iface

    def status_change(self, iface: str) -> None:
        self.model[iface].changed = self.events + 1  # the event about to be fed

    def latest(self, iface: str, ha: str, back: int = 0) -> tuple[int, float, Datagram] | None:
        """The newest request to `ha` on `iface`, or one `back` requests older (a delayed reply)."""
        found = [e for e in self.sent[iface] if codec.decode_udp(e[2].payload).home_agent == ha]
        return found[max(0, len(found) - 1 - back)] if found else None

    # -- events ----------------------------------------------------------------------------

    @rule(iface=st.sampled_from(IFACES))
    def link_up(self, iface):
        self.status_change(iface)
        self.feed(self.mn.link_up(iface, self.now))

    @rule(iface=st.sampled_from(IFACES))
    def link_down(self, iface):
        self.status_change(iface)
        self.feed(self.mn.link_down(iface, self.now))

    @rule(iface=st.sampled_from(IFACES), address=st.sampled_from(ADDRESSES))
    def address(self, iface, address):
        self.on(iface, lambda: self.mn.address_acquired(iface, address, self.now))

    @rule(iface=st.sampled_from(IFACES))
    def address_lost(self, iface):
        self.on(iface, lambda: self.mn.address_lost(iface, self.now))

    @rule(iface=st.sampled_from(IFACES), care_of=st.sampled_from(["10.4.0.1", "10.4.0.2"]), r_bit=st.booleans(),
          sequence=st.sampled_from([0, 5, 300]), lifetime=st.sampled_from([3, 9, 600]))
    def advertisement(self, iface, care_of, r_bit, sequence, lifetime):
        """Agent advertisements, genuine or forged: unauthenticated, so never proof (R-3.6.1-a)."""
        flags = ADV_F | (ADV_R if r_bit else 0)
        adv = AgentAdvertisement(lifetime, [(care_of, 0)], [MobilityAgentAdvertisement(sequence, 1800, flags,
                                                                                        [care_of])]).encode()
        self.on(iface, lambda: self.mn.receive_icmp(Icmp(iface, care_of, "224.0.0.1", adv), self.now))

    @rule(seconds=st.one_of(st.sampled_from([0.01, 1.0, 26.0]), st.floats(0.001, 45.0)))
    def advance(self, seconds):
        """Time passes; every timer due on the way fires at its own time."""
        end = self.now + seconds
        while True:
            t = self.mn.get_timer()
            if t is None or t > end:
                break
            self.now = max(self.now, t)
            for iface in IFACES:  # an FA advertisement expiring moves the point of attachment too
                before = self.attachment(iface)
                self.model[iface].before = before
            actions = self.mn.handle_timer(self.now)
            for iface in IFACES:
                if self.attachment(iface) != self.model[iface].before:
                    self.model[iface].changed = self.events + 1
            self.feed(actions)
            self.plain_only_with_fresh_authentic_tnc()  # also at every instant the MN woke up
        self.now = end

    @rule(iface=st.sampled_from(IFACES), tnc=st.booleans(), authentic=st.booleans(),
          code=st.sampled_from([0, 0, 0, 1, 133, 130, 78]), tnc_after_auth=st.booleans(),
          raw_tnc=st.booleans(), back=st.sampled_from([0, 0, 0, 1, 3]))
    def i_ha_replies(self, iface, tnc, authentic, code, tnc_after_auth, raw_tnc, back):
        found = self.latest(iface, "10.1.0.1", back)
        if found is None:
            return
        event, sent_at, dgram = found
        after = [RawExtension(149, b"\x00\x00")] if tnc_after_auth else []
        before = [RawExtension(149, b"\x01\x00")] if raw_tnc else []  # sub-type 1: not TNC (R-3.4-c)
        reply = answer(dgram, I_SA if authentic else X_SA, code=code, tnc=tnc, after_auth=after, before_auth=before)
        self.replies.append(reply)
        if authentic and tnc and code in (0, 1) and event >= self.model[iface].changed:
            self.model[iface].good_sends.append((event, sent_at, codec.decode_udp(dgram.payload).care_of_address))
        self.feed(self.mn.receive_udp(reply, self.now))

    @rule(iface=st.sampled_from(IFACES))
    def i_ha_accepts(self, iface):
        """The common good case, so that runs spend time inside."""
        self.i_ha_replies(iface, True, True, 0, False, False, 0)

    @rule(iface=st.sampled_from(IFACES), back=st.sampled_from([0, 0, 1, 3]))
    def relayed_through_a_vpn(self, iface, back):
        """R-3.1-c, R-3.1-d: an outsider runs the access network and holds a VPN account: he sends the MN's
        clear i-HA request to the real i-HA from his VPN-TIA and puts its authentic answer back on `iface`
        as if it came directly. Never proof: the model adds no good send."""
        found = self.latest(iface, "10.1.0.1", back)
        if found is None:
            return
        request = found[2]
        for a in self.i_ha.receive_udp(Datagram(VPN, "10.255.0.77", 40434, "10.1.0.1", 434, request.payload),
                                       self.now):
            if isinstance(a, SendUdp):
                reply = Datagram(iface, "10.1.0.1", 434, request.src, request.sport, a.datagram.payload)
                self.replies.append(reply)
                self.feed(self.mn.receive_udp(reply, self.now))

    @rule(iface=st.sampled_from(IFACES), tnc=st.booleans())
    def x_ha_replies(self, iface, tnc):
        found = self.latest(iface, "198.51.100.1")
        if found is not None:
            event, sent_at, dgram = found
            rq = codec.decode_udp(dgram.payload)
            if rq.lifetime and event >= self.model[iface].changed:
                self.model[iface].x_accepted.append((event, sent_at, rq.care_of_address, rq.lifetime))
            self.feed(self.mn.receive_udp(answer(dgram, X_SA, tnc=tnc), self.now))  # R-3.2.3-d

    @precondition(lambda self: self.replies)
    @rule(data=st.data(), iface=st.sampled_from(IFACES))
    def replay_or_cross(self, data, iface):
        """An old reply replayed, possibly on the other interface (R-6.1-a, R-3.2.1-b)."""
        old = data.draw(st.sampled_from(self.replies))
        self.feed(self.mn.receive_udp(Datagram(iface, old.src, old.sport, old.dst, old.dport, old.payload),
                                      self.now))

    @rule(step=st.sampled_from([-86400.0, -3600.0, -5.0, 5.0, 3600.0]))
    def wall_clock_steps(self, step):
        """NTP steps the time of day; the monotonic clock the gate runs on does not move."""
        self.wall += step
        self.feed(self.mn.set_wall_clock(self.now + self.wall, self.now))

    @precondition(lambda self: self.ike_wanted)
    @rule()
    def ike_up(self):
        self.ike_sa = True
        self.feed(self.mn.ike_established("10.255.0.2", self.now))

    @rule()
    def ike_closed(self):
        self.ike_sa = False
        self.feed(self.mn.ike_closed("dpd", self.now))

    @rule(tnc=st.booleans())
    def vpn_reply(self, tnc):
        """The i-HA answers through the VPN, with TNC: never evidence for an interface (R-3.2.3-c)."""
        found = self.latest(VPN, "10.1.0.1")
        if found is not None:
            self.feed(self.mn.receive_udp(answer(found[2], I_SA, tnc=tnc), self.now))

    # -- what must always hold -------------------------------------------------------------

    @invariant()
    def plain_only_with_fresh_authentic_tnc(self):
        """R-3-a, R-3.2.3-a, R-4.1-a, R-3.2.4-b."""
        for iface in IFACES:
            if self.gate[iface] != "plain":
                continue
            m = self.model[iface]
            care_of = self.mn.uplinks[iface].care_of
            good = [t for e, t, coa in m.good_sends if e >= m.changed and coa == care_of]
            assert good, "%s open in clear without an authentic TNC reply since its last change" % iface
            deadline = max(good) + T_MONITOR
            assert self.now < deadline, "%s open in clear %.1f s after the last good request" % (
                iface, self.now - max(good))
            timer = self.mn.get_timer()  # it must wake up in time to close the gate, whatever else happens
            assert timer is not None and timer <= deadline, "%s: no timer before T_MONITOR runs out" % iface

    @invariant()
    def vpn_data_needs_ike(self):
        """R-4.1-e: no CHILD_SA, no data through the VPN path."""
        for iface in IFACES:
            if self.gate[iface] == "vpn":
                assert self.mn.ike == "up"

    @invariant()
    def vpn_data_only_as_esp_under_an_ike_sa_and_an_x_ha_binding(self):
        """RFC 5265 3.5, 5.3 (issue 24): the VPN gate may open before the detection period is over, but only
        on the primary, under an IKE SA up by the model's own account, and through an x-MIP binding the
        x-HA accepted for this interface's care-of since its last change, still within its lifetime."""
        for iface in IFACES:
            if self.gate[iface] != "vpn":
                continue
            assert self.ike_sa, "%s open through the VPN with no IKE SA up" % iface
            assert self.primary == iface, "%s open through the VPN but the primary is %s" % (iface, self.primary)
            m, care_of = self.model[iface], self.mn.uplinks[iface].care_of
            bound = [t + life for e, t, coa, life in m.x_accepted if e >= m.changed and coa == care_of]
            assert bound, "%s open through the VPN without an x-HA acceptance since its last change" % iface
            assert self.now < max(bound), "%s open through the VPN after its x-HA binding ran out" % iface

    @invariant()
    def the_adapter_learns_the_primary_from_actions(self):
        """Issue 22: io/daemon.py points the LAN table at the primary's path from Primary actions alone."""
        assert self.primary == self.mn.status(self.now)["primary"]

    @invariant()
    def inside_status_agrees_with_the_gate(self):
        for iface, up in self.mn.uplinks.items():
            if self.gate[iface] == "plain":
                assert up.state == "inside"
            if self.gate[iface] == "vpn":
                assert up.state in ("tentative-outside", "outside")


DetectionMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestDetection = DetectionMachine.TestCase


def test_switching_to_an_alternative_fa_that_is_not_used_is_still_a_move():
    """R-3.2.2-d, RFC 5944 2.4.2: a counterexample the machine above found. Through FA 10.4.0.1, a
    second agent (R clear) is heard; ours falls silent and the node switches, but with an address of
    its own it does not use the alternative: the care-of goes back to the co-located address. That is
    a move: the requests still outstanding through the lost FA prove nothing about the new attachment,
    so an authentic TNC reply to one of them must not open the gate in clear."""
    m = DetectionMachine()
    m.address(iface="wan", address="10.2.0.5")
    m.advertisement(iface="wan", care_of="10.4.0.1", r_bit=True, sequence=0, lifetime=3)
    m.advertisement(iface="wan", care_of="10.4.0.2", r_bit=False, sequence=0, lifetime=9)
    m.advance(seconds=26.0)
    m.i_ha_accepts(iface="wan")
    m.plain_only_with_fresh_authentic_tnc()
    m.inside_status_agrees_with_the_gate()
