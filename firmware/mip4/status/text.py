"""The status model as text for people: what `mip4 status` and the console's `status`/`ifaces` print.

Pure: a status dict (mip4d's control socket `status` answer or its status file) in, lines out."""
from __future__ import annotations

import json


def _secs(x: float | None) -> str:
    return "-" if x is None else "%.0fs" % x


def summary(top: dict) -> str:
    s = top.get("status", {})
    lines = ["role %s, pid %s, up %s" % (top.get("role"), top.get("pid"), _secs(top.get("uptime")))]
    if "interfaces" not in s:
        if "visitors" in s:
            lines += _foreign_agent(s)
        if "bindings" in s:
            lines.append("%s %s, %d binding(s)" % (s.get("role"), s.get("address"), len(s["bindings"])))
            store = top.get("store")
            if store:  # one of a redundant pair (issue 27)
                lines.append("%s; binding store %s (%s)" % (s.get("state"), "reachable" if store.get("reachable")
                                                            else "UNREACHABLE: serving from memory",
                                                            ", ".join(store.get("endpoints", ()))))
            for b in s["bindings"]:
                lines.append("  %s" % json.dumps(b, default=str))
        return "\n".join(lines)
    lines.append("mode %s, %s (%s)" % (s.get("mode") or "-", s.get("verdict"), s.get("verdict_reason") or "-"))
    if not s.get("mode"):
        lines.append(not_connected(s))
    lines.append("primary %s, IKE %s, CHILD_SA %s, VPN-TIA %s, T_MONITOR %gs" % (
        s.get("primary") or "-", s.get("ike"), s.get("child_sa"), s.get("vpn_tia") or "-", s.get("t_monitor")))
    lines.append(interfaces(s))
    networks = top.get("networks", {})
    for name, u in sorted(s.get("interfaces", {}).items()):
        d = u.get("detection") or {}
        lines.append("%s: network %s, verdict %s (%s, %s s ago)" % (name, networks.get(name) or "-", d.get("verdict"),
                                                                  d.get("reason"), d.get("since")))
    lines += _ipsec(top, s)
    counters = s.get("counters", {})
    if counters:
        lines.append("counters: " + ", ".join("%s %s" % kv for kv in sorted(counters.items())))
    return "\n".join(lines)


def not_connected(s: dict) -> str:
    """Why a mobile router carries no user data: per uplink with an address, what it lacks. Outside
    there is no cvc or fvc without an x-HA registration (RFC 5265 1.2, R-1.2-a), nor without IKE."""
    why = []
    for name, u in sorted(s.get("interfaces", {}).items()):
        if not u.get("care_of"):
            continue
        x_ha = next((r["home_agent"] for r in u.get("registrations", []) if r.get("agent") == "x-ha"), None)
        if u.get("state") in ("detecting", "tentative-outside", "outside") and not u.get("x_ha_registered"):
            why.append("%s: x-HA %s not answering (outside needs it, RFC 5265 1.2)" % (name, x_ha or "-"))
        elif u.get("state") in ("tentative-outside", "outside"):
            why.append("%s: x-HA registered, IKE %s" % (name, s.get("ike")))
        else:
            why.append("%s: %s" % (name, u.get("state")))
    return "not connected, user data blocked: %s" % ("; ".join(why) or "no uplink has an address")


def _foreign_agent(s: dict) -> list[str]:
    """Visitors, tunnels (IP-in-IP or RFC 3519 UDP) and the keepalives of each UDP tunnel."""
    lines = ["foreign agent, %d visitor(s), %d pending" % (len(s["visitors"]), len(s.get("pending", [])))]
    for v in s["visitors"]:
        lines.append("  visitor %s (home agent %s) on %s, %s left%s%s" % (
            v["home_address"], v["home_agent"], v["iface"], _secs(v.get("remaining")),
            ", reverse tunnel" if v.get("reverse_tunnel") else "", ", UDP tunnel" if v.get("udp_tunnel") else ""))
    for t in s.get("tunnels", []):
        port = " port %d (RFC 3519)" % t["udp_port"] if t.get("udp_port") else ""
        lines.append("  tunnel %s: %s -> %s%s" % (t["name"], t["local"], t["remote"], port))
    for ha, k in sorted(s.get("keepalives", {}).items()):
        lines.append("  keepalives to %s every %gs: %d sent, last heard %s ago" % (
            ha, k["every"], k["sent"], _secs(k.get("silent_for"))))
    return lines


def _ipsec(top: dict, s: dict) -> list[str]:
    """IKE and CHILD SA as charon reports them (VICI), the i-MIP registration through them, the leak guard."""
    lines = ["IKE %s (%s)%s" % (s.get("ike"), s.get("ike_reason") or "-", ", retry in %.0f s" % s["ike_retry_in"]
                                if s.get("ike_retry_in") is not None else "")]
    ipsec = top.get("ipsec") or {}
    ike, child = ipsec.get("ike_sa"), ipsec.get("child_sa")
    if ike:
        lines.append("IKE SA %s %s_i %s_r %s -> %s, VPN-TIA %s" % (ike["state"], ike["spi_i"], ike["spi_r"],
                                                                  ike["local"], ike["remote"], ike["vpn_tia"]))
    if child:
        lines.append("CHILD SA %s spi in %s out %s, %d bytes in, %d out, to %s" % (
            child["state"], child["spi_in"], child["spi_out"], child["bytes_in"], child["bytes_out"],
            ",".join(child["remote_ts"])))
    for r in s.get("vpn_registrations", []):
        lines.append("i-MIP through the VPN: %s" % _registration(r))
    guard = top.get("guard")
    if guard:
        lines.append("leak guard: " + ("; ".join(guard["blocked"]) or "none"))
    return lines


def _registration(r: dict) -> str:
    state = _secs(r["remaining"]) if r["registered"] else "pending" if r["pending"] else "-"
    return "%s %s via %s" % (r["agent"], state, r["care_of"])


def interfaces(s: dict) -> str:
    fmt = "%-8s %-4s %-9s %-17s %-5s %-15s %-6s %-9s %s"
    rows = [fmt % ("uplink", "prio", "carries", "state", "mode", "care-of", "gate", "t_monitor", "registrations")]
    for name, u in sorted(s.get("interfaces", {}).items(), key=lambda kv: kv[1].get("priority", 0)):
        regs = ", ".join(_registration(r) for r in u.get("registrations", []))
        carries = "yes" if u.get("carries") else "hold:" + _secs(u["hold_down_left"]) \
            if u.get("hold_down_left") is not None else "no"
        rows.append(fmt % (name, u.get("priority", "-"), carries, u["state"], u["mode"] or "-", u["care_of"] or "-",
                           u["gate"] or "-", _secs(u["t_monitor_left"]), regs or "-"))
    return "\n".join(rows)
