"""The mobile node's status, as ubus, the console, LuCI and the status file show it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .client import RegistrationClient
from .datapath import mode
from .uplink import EXTERNAL, INSIDE, Uplink

if TYPE_CHECKING:
    from .mobile_node import MobileNode


def status(node: MobileNode, now: float) -> dict:
    c, selection = node.config, node.selection
    primary = node.uplinks.get(selection.primary or "")
    counters = dict(node.counters)
    for cl in node.clients():
        for k, v in cl.counters.items():
            counters[k] = counters.get(k, 0) + v
    return {
        "mode": mode(primary, c.i_hoa) if primary else None,
        "primary": selection.primary,
        "claiming": selection.claiming,
        **node.vpn.status(now),  # ike, ike_reason, ike_retry_in, vpn_tia
        "vpn_registrations": _registrations([node.vpn.client], now),
        "home_agents": {ha: {"simultaneous_bindings": n} for ha, n in sorted(selection.ha_limits.items())},
        "t_monitor": c.t_monitor,
        "interfaces": {up.iface: _uplink_status(node, up, now) for up in node.uplinks.values()},
        "counters": counters,
    }


def _uplink_status(node: MobileNode, up: Uplink, now: float) -> dict:
    deadline = up.monitor_deadline(node.config.t_monitor) if up.state == INSIDE else None
    return {
        "state": up.state, "mode": mode(up, node.config.i_hoa), "care_of": up.care_of, "gate": up.gate,
        "foreign_agent": up.fa.address if up.using_fa and up.fa else None,
        "foreign_agent_alternative": up.fa_alternative.address if up.fa_alternative else None,
        "hints": dict(up.hints), "priority": up.priority, "held_by": up.held,
        "hold_down_left": None if up.settle_at is None else max(0.0, up.settle_at - now),
        "waited_s": up.waited,  # usable this long before it last took the traffic (hold-down honoured)
        "carries": (up.state == INSIDE or up.state in EXTERNAL) and node.selection.carries(up),
        "t_monitor_left": None if deadline is None else max(0.0, deadline - now),
        "x_ha_registered": up.x_client.registered(now),
        "detection": {"verdict": up.state, "reason": up.reason,
                      "since": None if up.changed_at is None else round(now - up.changed_at, 3)},
        "registrations": _registrations([up.i_client, up.x_client], now),
    }


def _registrations(clients: list[RegistrationClient], now: float) -> list[dict]:
    """Registrations as the status shows them: to which agent, via which care-of, how long they have left."""
    return [{"agent": c.name, "home_agent": c.home_agent, "care_of": c.route.care_of, "lifetime": c.lifetime,
             "remaining": None if c.expires_at is None else max(0.0, c.expires_at - now),
             "registered": c.registered(now), "pending": c.pending, "udp_tunnel": c.udp_tunnel,
             "keepalives": c.counters.get("keepalive", 0), "nat_mapping_lost": c.counters.get("nat-mapping-lost", 0)}
            for c in clients if c.route is not None]
