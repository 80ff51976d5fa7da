"""`mip4 status`: what mip4d is doing, from the one status model it writes (status_file)."""

import argparse
import json
import sys
import time

DEFAULT_STATUS = "/var/run/mip4/status.json"
EXIT_NO_DAEMON = 2


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("status", help="show the running daemon's status",
                       description="Read mip4d's status file and show mode, interfaces, registrations, "
                       f"IKE/CHILD SA and counters. Exit {EXIT_NO_DAEMON} when there is none.")
    p.add_argument("--file", default=DEFAULT_STATUS, help="status file (the config's status_file)")
    p.add_argument("--json", action="store_true", help="print the status model as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        with open(args.file) as f:
            model = json.load(f)
    except (OSError, ValueError) as e:
        print("mip4 status: no status from mip4d at %s (%s); is it running?" % (args.file, e), file=sys.stderr)
        return EXIT_NO_DAEMON
    if args.json:
        json.dump(model, sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    print("\n".join(render(model)))
    return 0


def _left(seconds: "float | None") -> str:
    return "-" if seconds is None else "%.0f s" % seconds


def _registration(name: str, r: "dict | None") -> str:
    if not r:
        return "%s -" % name
    if r.get("registered"):
        return "%s registered via %s, %s left" % (name, r.get("care_of"), _left(r.get("lifetime_left")))
    return "%s %s" % (name, "pending via %s" % r.get("care_of") if r.get("pending") else "not registered")


def render(model: dict) -> list[str]:
    age = time.time() - model.get("time", time.time())
    s = model.get("status", {})
    lines = ["mip4d: role %s, pid %s, up %.0f s%s" % (model.get("role"), model.get("pid"), model.get("uptime", 0),
                                                     " (status %.0f s old)" % age if age > 5 else "")]
    if model.get("role") == "mn":
        lines += _mobile_node(model, s)
    else:
        for b in s.get("bindings", []):
            lines.append("  binding %s -> care-of %s, %s left" % (b.get("home_address"), b.get("care_of"),
                                                                   _left(b.get("remaining"))))
        for v in s.get("visitors", []):
            lines.append("  visitor %s" % json.dumps(v, sort_keys=True))
    counters = s.get("counters", {})
    if counters:
        lines.append("  counters: " + ", ".join("%s %s" % kv for kv in sorted(counters.items())))
    return lines


def _mobile_node(model: dict, s: dict) -> list[str]:
    lines = ["  mode %s on %s (primary uplink); T_MONITOR %s s" % (s.get("mode") or "none (user data blocked)",
                                                                  s.get("primary") or "-", s.get("t_monitor"))]
    networks = model.get("networks", {})
    for name, up in sorted(s.get("interfaces", {}).items()):
        d = up.get("detection") or {}
        regs = up.get("registrations") or {}
        lines.append("  %-6s %-17s network %-16s care-of %-15s gate %s" % (
            name, up.get("state"), networks.get(name) or "-", up.get("care_of") or "-", up.get("gate") or "BLOCKED"))
        lines.append("         verdict: %s (%s, %s s ago); T_MONITOR left %s" % (
            d.get("verdict"), d.get("reason"), d.get("since"), _left(up.get("t_monitor_left"))))
        lines.append("         %s; %s" % (_registration("i-HA", regs.get("i_ha")),
                                         _registration("x-HA", regs.get("x_ha"))))
    ipsec = model.get("ipsec") or {}
    ike, child = ipsec.get("ike_sa"), ipsec.get("child_sa")
    lines.append("  IKE %s (%s)%s" % (s.get("ike"), s.get("ike_reason") or "-", ", retry in %.0f s"
                                      % s["ike_retry_in"] if s.get("ike_retry_in") is not None else ""))
    if ike:
        lines.append("  IKE SA %s %s_i %s_r %s -> %s, VPN-TIA %s" % (ike["state"], ike["spi_i"], ike["spi_r"],
                                                                    ike["local"], ike["remote"], ike["vpn_tia"]))
    if child:
        lines.append("  CHILD SA %s spi in %s out %s, %d bytes in, %d out, to %s" % (
            child["state"], child["spi_in"], child["spi_out"], child["bytes_in"], child["bytes_out"],
            ",".join(child["remote_ts"])))
    lines.append("  %s" % _registration("i-MIP through the VPN:", s.get("vpn_registration")))
    guard = model.get("guard")
    if guard:
        lines.append("  leak guard: " + ("; ".join(guard["blocked"]) or "none"))
    return lines
