"""The simulator itself, driven by tiny dummy machines."""
from __future__ import annotations

import statistics
import time

import pytest

from mip4.core.actions import VPN, Datagram, Gate, Icmp, IkeDown, IkeUp, SendIcmp, SendUdp, log
from tests.sim import START, ActionEntry, Node, PacketEntry, SimulationError, Simulator


class Machine:
    """A machine that records what it is told and answers nothing; subclasses add behaviour."""

    def __init__(self) -> None:
        self.timer: float | None = None
        self.udp: list[tuple[float, Datagram]] = []
        self.icmp: list[tuple[float, Icmp]] = []
        self.calls: list[tuple] = []
        self.fired: list[float] = []

    def receive_udp(self, dgram: Datagram, now: float) -> list:
        self.udp.append((now, dgram))
        return []

    def receive_icmp(self, msg: Icmp, now: float) -> list:
        self.icmp.append((now, msg))
        return []

    def handle_timer(self, now: float) -> list:
        self.fired.append(now)
        self.timer = None
        return []

    def get_timer(self) -> float | None:
        return self.timer

    def set_timer(self, t: float | None, now: float) -> list:
        self.timer = t
        return []

    def send(self, iface: str, src: str, dst: str, payload: bytes, now: float, sport: int = 5000,
             dport: int = 7) -> list:
        return [SendUdp(Datagram(iface, src, sport, dst, dport, payload))]

    def send_icmp(self, iface: str, src: str, dst: str, now: float) -> list:
        return [SendIcmp(Icmp(iface, src, dst, b"adv"))]

    def __getattr__(self, name: str):
        if name not in HOOKS:
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, *args)) or []


HOOKS = {"link_up", "link_down", "address_acquired", "address_lost", "ike_established", "ike_closed", "ike_failed",
         "hint"}


class Echo(Machine):
    """Answers every datagram to its source."""

    def receive_udp(self, dgram: Datagram, now: float) -> list:
        super().receive_udp(dgram, now)
        return [SendUdp(Datagram(dgram.iface, dgram.dst, dgram.dport, dgram.src, dgram.sport, dgram.payload))]


class Pinger(Machine):
    """Sends a numbered datagram every `interval` seconds from `start`."""

    def __init__(self, iface: str, src: str, dst: str, interval: float, count: int) -> None:
        super().__init__()
        self.iface, self.src, self.dst, self.interval, self.left = iface, src, dst, interval, count
        self.seq = 0

    def start(self, now: float) -> list:
        self.timer = now + self.interval
        return [log("info", "started", "pinger")]

    def handle_timer(self, now: float) -> list:
        self.fired.append(now)
        self.seq += 1
        self.left -= 1
        self.timer = now + self.interval if self.left else None
        return [SendUdp(Datagram(self.iface, self.src, 5000, self.dst, 7, b"%d" % self.seq))]


def two_hosts(seed: int = 1, **impairments) -> tuple[Simulator, Node, Node]:
    sim = Simulator(seed)
    sim.add_link("lan", "intranet", **impairments)
    sink = sim.add_node("sink", Machine())
    sim.attach(sink, "eth0", "lan", addresses=["10.0.0.2"])
    pinger = sim.add_node("pinger", Pinger("eth0", "10.0.0.1", "10.0.0.2", 0.001, 4000))
    sim.attach(pinger, "eth0", "lan", addresses=["10.0.0.1"])
    return sim, pinger, sink


# -- clock, determinism, speed ---------------------------------------------------------------------


def scenario(seed: int) -> list:
    sim = Simulator(seed)
    sim.add_link("lan", "intranet", loss=0.2, delay=0.01, jitter=0.02, duplicate=0.1)
    sim.add_link("wan", "external", loss=0.1, delay=0.03, jitter=0.01)
    sim.attach(sim.add_node("echo", Echo()), "eth0", "wan", addresses=["198.51.100.7"])
    sim.attach(sim.add_node("pinger", Pinger("eth0", "10.0.0.1", "198.51.100.7", 0.5, 100)), "eth0", "lan",
               addresses=["10.0.0.1"])
    sim.run_for(60)
    return list(sim.trace)


def test_same_seed_same_trace_other_seed_differs():
    a, b, c = scenario(7), scenario(7), scenario(8)
    assert a == b
    assert a != c
    assert any(isinstance(e, PacketEntry) and e.reason == "loss" for e in a)


def test_clock_starts_at_the_epoch_and_runs():
    sim = Simulator(0)
    assert sim.now == START == 1_800_000_000.0
    seen = []
    sim.at(START + 2, lambda: seen.append(("b", sim.now)))
    sim.at(START + 1, lambda: seen.append(("a", sim.now)))
    sim.at(START + 1, lambda: seen.append(("a2", sim.now)))  # same time: insertion order
    sim.run_for(1.5)
    assert seen == [("a", START + 1), ("a2", START + 1)] and sim.now == START + 1.5
    assert sim.run_until_idle() and seen[-1] == ("b", START + 2) and sim.now == START + 2
    with pytest.raises(ValueError):
        sim.at(START, lambda: None)


def test_ten_minutes_of_one_second_timers_run_fast():
    sim = Simulator(0)
    ticker = Pinger("eth0", "10.0.0.1", "10.0.0.2", 1.0, 10**9)
    sim.add_link("lan", "intranet")
    sim.attach(sim.add_node("ticker", ticker), "eth0", "lan", addresses=["10.0.0.1"])
    sim.attach(sim.add_node("echo", Echo()), "eth0", "lan", addresses=["10.0.0.2"])
    t0 = time.perf_counter()
    sim.run_for(600)
    wall = time.perf_counter() - t0
    assert len(ticker.fired) == 600 and len(ticker.udp) == 599  # the last echo is still in flight
    assert wall < 5.0, "10 simulated minutes took %.2f s" % wall  # about 0.02 s on a laptop


def test_run_until_idle_stops_at_the_limit_when_never_idle():
    sim = Simulator(0)
    sim.add_node("ticker", Pinger("eth0", "10.0.0.1", "10.0.0.2", 1.0, 10**9))
    assert not sim.run_until_idle(limit=30) and sim.now == START + 30


# -- timers ----------------------------------------------------------------------------------------


def test_timer_rescheduling_and_stale_timers():
    sim = Simulator(0)
    m = Machine()
    node = sim.add_node("m", m)
    sim.call(node, "set_timer", START + 10)
    sim.call(node, "set_timer", START + 5)  # earlier: the +10 one is stale
    sim.call(node, "set_timer", START + 5)  # unchanged: no new event
    sim.run_until(START + 6)
    assert m.fired == [START + 5]
    sim.call(node, "set_timer", START + 20)
    sim.call(node, "set_timer", None)  # cancelled
    sim.run_until(START + 30)
    assert m.fired == [START + 5]
    assert sim.stats["stale_timers"] == 2 and sim.stats["timers"] == 1
    sim.call(node, "set_timer", START + 1)  # in the past: fires now
    sim.run_for(0)
    assert m.fired == [START + 5, START + 30]


def test_timer_read_after_every_kind_of_call():
    """A datagram that makes the machine want a timer arms it."""

    class Delayed(Machine):
        def receive_udp(self, dgram, now):
            self.timer = now + 3
            return []

    sim = Simulator(0)
    sim.add_link("lan", "intranet", delay=0.5)
    d = Delayed()
    sim.attach(sim.add_node("d", d), "eth0", "lan", addresses=["10.0.0.2"])
    src = sim.add_node("src", Machine())
    sim.attach(src, "eth0", "lan", addresses=["10.0.0.1"])
    sim.call(src, "send", "eth0", "10.0.0.1", "10.0.0.2", b"x")
    sim.run_for(10)
    assert d.fired == [START + 3.5]


def test_a_timer_that_never_advances_is_reported():
    class Stuck(Machine):
        def get_timer(self):
            return 0.0

    sim = Simulator(0)
    sim.add_node("stuck", Stuck())
    with pytest.raises(SimulationError):
        sim.run_for(1)


# -- links: delivery, impairments, addressing ------------------------------------------------------


def test_delivery_trace_and_queries():
    sim = Simulator(0)
    sim.add_link("lan", "intranet", delay=0.25)
    echo = sim.add_node("echo", Echo())
    sim.attach(echo, "eth0", "lan", addresses=["10.0.0.2"])
    a = sim.add_node("a", Machine())
    sim.attach(a, "if1", "lan", addresses=["10.0.0.1"])
    actions = sim.call("a", "send", "if1", "10.0.0.1", "10.0.0.2", b"hi")
    sim.run_for(1)
    assert actions == sim.actions(a, SendUdp) and len(sim.sent("a")) == 1
    assert sim.sent("a", lambda d: d.dst == "10.0.0.9") == []
    (got,) = sim.delivered(echo)
    assert got == Datagram("eth0", "10.0.0.1", 5000, "10.0.0.2", 7, b"hi")
    assert a.machine.udp == [(START + 0.5, Datagram("if1", "10.0.0.2", 7, "10.0.0.1", 5000, b"hi"))]
    assert sim.actions("echo", since=START + 0.3) == [] and len(sim.actions("echo", since=START + 0.25)) == 1
    entries = [e for e in sim.trace if isinstance(e, ActionEntry)]
    assert [(e.time, e.node) for e in entries] == [(START, "a"), (START + 0.25, "echo")]


def test_loss_delay_jitter_reorder_duplicate_statistics():
    sim, pinger, sink = two_hosts(seed=3, loss=0.2, delay=0.01, jitter=0.004, duplicate=0.1)
    sim.run_for(10)
    sent = {d.payload: t for t, d in [(e.time, e.action.datagram) for e in sim.trace
                                      if isinstance(e, ActionEntry) and isinstance(e.action, SendUdp)]}
    got = sink.machine.udp
    assert len(sent) == 4000
    distinct = {d.payload for _, d in got}
    assert 0.75 < len(distinct) / 4000 < 0.85  # loss 0.2
    assert 0.07 < (len(got) - len(distinct)) / len(distinct) < 0.13  # duplicate 0.1
    delays = [t - sent[d.payload] for t, d in got]
    assert 0.01 - 1e-9 <= min(delays) and max(delays) <= 0.014 + 1e-9
    assert statistics.mean(delays) == pytest.approx(0.012, abs=0.0003)
    order = [int(d.payload) for _, d in got]
    assert order != sorted(order)  # jitter above the send interval reorders
    assert len(sim.drops("loss")) == 4000 - len(distinct)


def test_impairments_change_at_run_time():
    sim, pinger, sink = two_hosts(seed=1)
    sim.run_for(1)
    assert len(sink.machine.udp) == 999
    sim.impair("lan", loss=1.0)
    sim.run_for(1)
    assert len(sink.machine.udp) == 1000  # the one in flight made it
    sim.impair("lan", loss=0.0, delay=0.1)
    sim.run_for(1)
    assert sink.machine.udp[-1][0] == pytest.approx(sim.now, abs=0.002) and len(sink.machine.udp) > 1800
    with pytest.raises(ValueError):
        sim.impair("lan", loss=1.5)


def test_routed_traffic_crosses_both_links():
    sim = Simulator(0)
    sim.add_link("a", "intranet", delay=0.1)
    sim.add_link("b", "intranet", delay=0.02)
    sink = sim.add_node("sink", Machine())
    sim.attach(sink, "eth0", "b", addresses=["10.2.0.1"])
    src = sim.add_node("src", Machine())
    sim.attach(src, "eth0", "a", addresses=["10.1.0.1"])
    sim.call(src, "send", "eth0", "10.1.0.1", "10.2.0.1", b"x")
    sim.run_for(1)
    assert [t for t, _ in sink.machine.udp] == [pytest.approx(START + 0.12)]
    assert [e.link for e in sim.attacker.captured] == ["a", "b"]
    sim.call(src, "send", "eth0", "10.1.0.1", "10.9.9.9", b"x")
    sim.run_for(1)
    assert [e.packet.dst for e in sim.drops("no-route")] == ["10.9.9.9"]


def test_static_route_for_an_address_owned_off_link():
    sim = Simulator(0)
    sim.add_link("a", "intranet")
    sim.add_link("b", "intranet")
    gw = sim.add_node("gw", Machine())
    sim.attach(gw, "in", "b", addresses=["10.2.0.1"])
    sim.add_route("10.255.0.0/16", gw, "in")
    src = sim.add_node("src", Machine())
    sim.attach(src, "eth0", "a", addresses=["10.1.0.1"])
    sim.call(src, "send", "eth0", "10.1.0.1", "10.255.3.4", b"x")
    sim.run_for(1)
    assert [d.dst for _, d in gw.machine.udp] == ["10.255.3.4"]


def test_no_link_when_not_attached_and_when_detached_in_flight():
    sim = Simulator(0)
    sim.add_link("lan", "intranet", delay=0.5)
    sink = sim.add_node("sink", Machine())
    sim.attach(sink, "eth0", "lan", addresses=["10.0.0.2"])
    src = sim.add_node("src", Machine())
    sim.call(src, "send", "eth0", "10.0.0.1", "10.0.0.2", b"x")  # src has no eth0
    sim.attach(src, "eth0", "lan", addresses=["10.0.0.1"])
    sim.call(src, "send", "eth0", "10.0.0.1", "10.0.0.2", b"y")
    sim.run_for(0.1)
    sim.detach(sink, "eth0")
    sim.attach(sink, "eth0", "lan", addresses=["10.0.0.2"])  # back, but a new attachment
    sim.run_for(1)
    assert sink.machine.udp == []
    assert [(e.node, e.packet.payload) for e in sim.drops("no-link")] == [(None, b"x"), ("sink", b"y")]


def test_broadcast_and_multicast_reach_every_other_endpoint_on_the_link():
    sim = Simulator(0)
    sim.add_link("lan", "intranet")
    sim.add_link("other", "intranet")
    nodes = {}
    for name, link in (("fa", "lan"), ("m1", "lan"), ("m2", "lan"), ("far", "other")):
        nodes[name] = sim.add_node(name, Machine())
        sim.attach(nodes[name], "eth0", link, addresses=["10.0.0.%d" % len(nodes)])
    for dst in ("224.0.0.1", "224.0.0.2", "255.255.255.255"):
        sim.call("fa", "send_icmp", "eth0", "10.0.0.1", dst)
    sim.call("fa", "send", "eth0", "10.0.0.1", "255.255.255.255", b"udp")
    sim.run_for(1)
    for name in ("m1", "m2"):
        assert [m.dst for _, m in nodes[name].machine.icmp] == ["224.0.0.1", "224.0.0.2", "255.255.255.255"]
        assert [d.payload for _, d in nodes[name].machine.udp] == [b"udp"]
    assert nodes["fa"].machine.icmp == [] and nodes["far"].machine.icmp == []


def test_one_address_on_two_links_is_answered_on_the_link_asked():
    """A foreign agent with one address on its access link and its core link."""
    sim = Simulator(0)
    sim.add_link("acc", "external")
    sim.add_link("core", "external")
    fa = sim.add_node("fa", Machine())
    sim.attach(fa, "acc", "acc", addresses=["203.0.113.1"])
    sim.attach(fa, "core", "core", addresses=["203.0.113.1"])
    mn, ha = sim.add_node("mn", Machine()), sim.add_node("ha", Machine())
    sim.attach(mn, "wan", "acc", addresses=["198.51.100.10"])  # answers to its home address on the FA link
    sim.attach(ha, "eth0", "core", addresses=["198.51.100.1"])
    sim.call(mn, "send", "wan", "198.51.100.10", "203.0.113.1", b"rrq")
    sim.call(ha, "send", "eth0", "198.51.100.1", "203.0.113.1", b"rrp")
    sim.run_for(1)
    assert [(d.iface, d.payload) for _, d in fa.machine.udp] == [("acc", b"rrq"), ("core", b"rrp")]


def test_connect_leases_after_the_dhcp_delay_and_disconnect():
    sim = Simulator(0)
    sim.add_link("lan", "intranet")
    mn = sim.add_node("mn", Machine())
    sim.connect(mn, "wan", "lan", address="10.2.0.5", dhcp_delay=0.05)
    assert mn.machine.calls == [("link_up", "wan", START)] and mn.ifaces["wan"].addresses == []
    sim.run_for(1)
    assert mn.machine.calls[1] == ("address_acquired", "wan", "10.2.0.5", START + 0.05)
    assert mn.ifaces["wan"].addresses == ["10.2.0.5"]
    sim.lease(mn, "wan", "10.2.0.6")
    assert mn.ifaces["wan"].addresses == ["10.2.0.6"]
    sim.disconnect(mn, "wan")
    assert mn.machine.calls[-1] == ("link_down", "wan", sim.now) and "wan" not in mn.ifaces
    sim.connect(mn, "wan", "lan", address="10.2.0.7")
    sim.disconnect(mn, "wan")  # before the lease: no address_acquired
    sim.run_for(1)
    assert [c[0] for c in mn.machine.calls[-2:]] == ["link_up", "link_down"]


def test_gate_and_start_actions_are_tracked():
    class Gated(Machine):
        def start(self, now):
            return [Gate("wan", None, "start"), Gate("wlan", "plain", "inside")]

    sim = Simulator(0)
    node = sim.add_node("g", Gated())
    assert node.gate == {"wan": None, "wlan": "plain"}
    assert [a.reason for a in sim.actions("g", Gate)] == ["start", "inside"]


# -- firewall and NAT ------------------------------------------------------------------------------


def zones() -> tuple[Simulator, dict]:
    sim = Simulator(0)
    sim.add_link("inside", "intranet")
    sim.add_link("outside", "external")
    n = {"in": sim.add_node("in", Echo()), "out": sim.add_node("out", Machine())}
    sim.attach(n["in"], "eth0", "inside", addresses=["10.1.0.1"])
    sim.attach(n["out"], "eth0", "outside", addresses=["198.18.0.5"])
    return sim, n


def test_firewall_drops_external_to_intranet_by_default():
    sim, n = zones()
    assert not sim.firewall("external", "intranet") and sim.firewall("intranet", "external")
    sim.call(n["out"], "send", "eth0", "198.18.0.5", "10.1.0.1", b"probe")
    sim.call(n["in"], "send", "eth0", "10.1.0.1", "198.18.0.5", b"hello")
    sim.run_for(1)
    assert sim.delivered("in") == []
    assert [d.payload for d in sim.delivered("out")] == [b"hello"]
    assert [e.packet.payload for e in sim.drops("firewall")] == [b"probe"]
    sim.allow("external", "intranet")
    sim.block("intranet", "external")
    sim.call(n["out"], "send", "eth0", "198.18.0.5", "10.1.0.1", b"again")
    sim.run_for(1)
    assert [d.payload for d in sim.delivered("in")] == [b"again"]
    assert [d.payload for d in sim.delivered("out")] == [b"hello", b"again"]  # the echo answers an allowed flow
    sim.call(n["in"], "send", "eth0", "10.1.0.1", "198.18.0.5", b"unsolicited")
    sim.run_for(1)
    assert [e.packet.payload for e in sim.drops("firewall")] == [b"probe", b"unsolicited"]


def test_firewall_is_stateful():
    """Replies to a flow opened from the intranet come back in; unsolicited external packets do not."""
    sim, n = zones()
    sim.call(n["in"], "send", "eth0", "10.1.0.1", "198.18.0.5", b"request")
    sim.run_for(1)
    sim.call(n["out"], "send", "eth0", "198.18.0.5", "10.1.0.1", b"forged")  # ports differ: not the flow
    sim.run_for(1)
    assert [e.packet.payload for e in sim.drops("firewall")] == [b"forged"]


def test_nat_translates_and_rebinds():
    sim = Simulator(0)
    sim.add_link("home", "external", nat="203.0.113.1")
    sim.add_link("net", "external")
    host = sim.add_node("host", Machine())
    sim.attach(host, "wan", "home", addresses=["192.168.1.10"])
    server = sim.add_node("server", Echo())
    sim.attach(server, "eth0", "net", addresses=["198.51.100.1"])

    def ping(sport: int, payload: bytes) -> None:
        sim.call(host, "send", "wan", "192.168.1.10", "198.51.100.1", payload, sport=sport, dport=434)
        sim.run_for(1)

    ping(4000, b"a")
    ping(4000, b"b")
    ping(4001, b"c")
    assert [(d.src, d.sport) for d in sim.delivered(server)] == [("203.0.113.1", 10000)] * 2 + [("203.0.113.1", 10001)]
    assert [(d.iface, d.src, d.dst, d.dport) for d in sim.delivered(host)] == [
        ("wan", "198.51.100.1", "192.168.1.10", 4000)] * 2 + [("wan", "198.51.100.1", "192.168.1.10", 4001)]
    sim.nat_rebind("home")
    sim.call(server, "send", "eth0", "198.51.100.1", "203.0.113.1", b"late", sport=434, dport=10000)
    sim.run_for(1)
    assert [e.packet.payload for e in sim.drops("no-route")] == [b"late"]  # the old mapping is gone
    ping(4000, b"d")
    assert sim.delivered(server)[-1].sport == 10002 and sim.delivered(host)[-1].payload == b"d"
    sim.call(server, "send", "eth0", "198.51.100.1", "192.168.1.10", b"direct")
    sim.run_for(1)
    assert sim.drops("no-route")[-1].packet.payload == b"direct"  # private addresses hide behind the NAT


# -- VPN -------------------------------------------------------------------------------------------


class VpnClient(Machine):
    """Brings IKE up on request; records what the simulator tells it."""

    def ike(self, up: bool, now: float, remote: str = "192.0.2.1") -> list:
        return [IkeUp("198.51.100.10", remote) if up else IkeDown("test")]


def vpn_world(possible=lambda: True) -> tuple[Simulator, dict]:
    sim = Simulator(0)
    sim.add_link("ext", "external", delay=0.01)
    sim.add_link("core", "intranet", delay=0.001)
    n = {"mn": sim.add_node("mn", VpnClient()), "ha": sim.add_node("ha", Echo())}
    sim.attach(n["mn"], "wan", "ext", addresses=["198.18.0.5"])
    sim.attach(n["ha"], "eth0", "core", addresses=["10.1.0.1"])
    sim.add_vpn(n["mn"], gateway="192.0.2.1", vpn_tia="10.255.0.2", ike_delay=0.2, possible=possible, delay=0.005)
    return sim, n


def test_vpn_carries_traffic_only_while_established():
    sim, n = vpn_world()
    mn = n["mn"]
    sim.call(mn, "send", VPN, "10.255.0.2", "10.1.0.1", b"early")
    sim.call(mn, "ike", True)
    sim.run_for(0.1)
    sim.call(mn, "send", VPN, "10.255.0.2", "10.1.0.1", b"connecting")
    sim.run_for(0.2)
    assert mn.machine.calls == [("ike_established", "10.255.0.2", START + 0.2)]
    assert [e.kind for e in sim.trace.notes()] == ["ike-up"]
    sim.call(mn, "send", VPN, "10.255.0.2", "10.1.0.1", b"inside")
    sim.run_for(1)
    (rq,) = sim.delivered("ha")
    assert (rq.iface, rq.src, rq.payload) == ("eth0", "10.255.0.2", b"inside")  # from the intranet zone
    (back,) = sim.delivered(mn)
    assert (back.iface, back.dst, back.payload) == (VPN, "10.255.0.2", b"inside")
    assert [e.packet.payload for e in sim.drops("vpn-down")] == [b"early", b"connecting"]
    sim.call(mn, "ike", False)
    sim.call("ha", "send", "eth0", "10.1.0.1", "10.255.0.2", b"after")
    sim.run_for(1)
    assert sim.drops("vpn-down")[-1].packet.payload == b"after" and len(sim.delivered(mn)) == 1
    assert mn.machine.calls[-1][0] == "ike_established"  # IkeDown gets no callback


def test_vpn_inbound_obeys_the_firewall_and_gateway_close():
    sim, n = vpn_world()
    sim.call("mn", "ike", True)
    sim.run_for(1)
    sim.call("mn", "send", "wan", "198.18.0.5", "10.255.0.2", b"from outside")
    sim.run_for(1)
    assert sim.drops("firewall")[-1].packet.payload == b"from outside"
    sim.vpns["mn"].close("dpd")
    assert n["mn"].machine.calls[-1] == ("ike_closed", "dpd", sim.now)
    assert not sim.vpns["mn"].established


def test_ike_fails_when_impossible_or_to_the_wrong_gateway():
    ok = [False]
    sim, n = vpn_world(possible=lambda: ok[0])
    sim.call("mn", "ike", True)
    sim.run_for(1)
    assert n["mn"].machine.calls == [("ike_failed", "gateway unreachable from 198.51.100.10",
                                      START + 0.2)]
    ok[0] = True
    sim.call("mn", "ike", True, remote="192.0.2.99")
    sim.run_for(1)
    assert [e.kind for e in sim.trace.notes()] == ["ike-failed", "ike-failed"]
    sim.call("mn", "ike", True)
    sim.call("mn", "ike", False)  # torn down before it completed: no callback
    sim.run_for(1)
    assert len(n["mn"].machine.calls) == 2 and not sim.vpns["mn"].established


# -- attacker --------------------------------------------------------------------------------------


def test_attacker_captures_drops_injects_and_replays():
    sim, n = zones()
    sim.allow("external", "intranet")
    undo = sim.attacker.drop_if(lambda p, link: link == "inside" and p.payload == b"secret")
    sim.call("out", "send", "eth0", "198.18.0.5", "10.1.0.1", b"secret")
    sim.call("out", "send", "eth0", "198.18.0.5", "10.1.0.1", b"public")
    sim.run_for(1)
    assert [d.payload for d in sim.delivered("in")] == [b"public"]
    assert [(e.link, e.packet.payload) for e in sim.drops("attacker")] == [("inside", b"secret")]
    assert [(c.link, c.packet.payload) for c in sim.attacker.captured][:3] == [
        ("outside", b"secret"), ("outside", b"public"), ("inside", b"secret")]
    # forged: the attacker's packets pass its own rules; the iface field is ignored
    sim.attacker.inject("outside", Datagram("x", "6.6.6.6", 1, "10.1.0.1", 7, b"secret"))
    sim.attacker.inject(("in", "eth0"), Datagram("x", "6.6.6.6", 1, "10.99.0.1", 7, b"direct"), delay=0.5)
    sim.run_for(1)
    assert [(d.iface, d.payload) for d in sim.delivered("in")][1:] == [("eth0", b"secret"), ("eth0", b"direct")]
    undo()
    entry = next(c for c in sim.attacker.captured if c.packet.payload == b"secret" and not c.injected)
    sim.attacker.replay(entry, delay=2)
    sim.run_for(1)
    assert len(sim.delivered("in")) == 3
    sim.run_for(2)
    assert sim.delivered("in")[-1].payload == b"secret"
    assert [c.time for c in sim.attacker.captured if c.injected and c.link == "outside"][-1] == START + 4


def test_attacker_injects_on_link_multicast_and_into_the_vpn():
    sim, n = vpn_world()
    sim.attacker.inject("ext", Icmp("x", "198.18.0.1", "224.0.0.1", b"adv"))
    sim.call("mn", "ike", True)
    sim.run_for(1)
    sim.attacker.inject(VPN, Datagram("x", "10.1.0.1", 434, "10.255.0.2", 5000, b"forged"))
    sim.run_for(1)
    assert [m.iface for _, m in n["mn"].machine.icmp] == ["wan"]
    assert [(d.iface, d.payload) for d in sim.delivered("mn", lambda p: isinstance(p, Datagram))] == [
        (VPN, b"forged")]
