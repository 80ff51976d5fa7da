"""A deterministic discrete-event network simulator for the Sans-IO machines of mip4.core.

Machines are wired over links in firewall zones; a virtual clock drives their timers, so minutes of
protocol time run in milliseconds. Every action, delivery and drop lands in `sim.trace`.

    sim = Simulator(seed=1)                                  # clock starts at 1_800_000_000.0
    sim.add_link("lan1", "intranet", loss=0.01, jitter=0.002)
    sim.add_link("ext1", "external", nat="203.0.113.1")
    ha = sim.add_node("i-ha", home_agent)
    sim.attach(ha, "home", "lan1", addresses=["10.1.0.1"])
    mn = sim.add_node("mn", mobile_node)
    sim.add_vpn(mn, gateway="192.0.2.1", vpn_tia="10.255.0.2")
    sim.connect(mn, "wan", "lan1", address="10.2.0.5")      # link_up, DHCP lease after 50 ms
    sim.run_for(60)
    assert mn.gate["wan"] == "plain" and sim.logs(mn, "registered")

Modules: events (heap), network (nodes, links, firewall), nat, vpn (gateway model), attacker, trace.
"""
from .attacker import Attacker, Captured
from .events import SimulationError
from .nat import Nat
from .network import EXTERNAL, INTRANET, Endpoint, Firewall, Link, Node
from .simulator import START, Simulator
from .trace import ActionEntry, NoteEntry, PacketEntry, Trace
from .vpn import Vpn

__all__ = ["EXTERNAL", "INTRANET", "START", "ActionEntry", "Attacker", "Captured", "Endpoint", "Firewall", "Link",
           "Nat", "Node", "NoteEntry", "PacketEntry", "SimulationError", "Simulator", "Trace", "Vpn"]
