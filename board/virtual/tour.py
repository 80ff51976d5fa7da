"""`make lab`: boot the lab and watch the mobile router roam.

On a terminal: a live status panel, the tour repeating until Ctrl-C (which tears the lab down).
Without one (CI, a pipe): the tour once, one line per step, exit 0 only if every step held
(expected mode reached, the TCP stream alive with nothing lost or duplicated).
"""
from __future__ import annotations

import signal
import sys
import time

from board.virtual.audit import audit_lab
from board.virtual.boot import Lab, topology

CLEAR = "\x1b[H\x1b[J"


def describe(step: dict) -> str:
    s = step.get("stream", {})
    if step.get("uplink"):
        other = step.get("other") or {}
        return "step %d: uplink %s -> %s: judged %s, primary %s stays in mode %s %s" % (
            step["step"], step["uplink"], step.get("network") or "unplugged", other.get("state"), step.get("primary"),
            step["mode"], "OK" if step["ok"] else "FAIL")
    if step.get("vehicle"):
        what = {"pull": "pulled", "flap": "flapping in %s" % step.get("network"),
                "return": "back in %s" % step.get("network")}[step["action"]]
        held = " after a %s s hold-down" % step["waited_s"] if step.get("waited_s") is not None else ""
        return "step %d: %s %s -> primary %s, mode %s%s, data flowing %s s after the link event %s" % (
            step["step"], step["vehicle"], what, step.get("primary"), step["mode"], held, step.get("data_after_s"),
            "OK" if step["ok"] else "FAIL")
    if step.get("gateway"):
        return "step %d: VPN gateway %s -> data over new SAs after %s s, mode %s %s" % (
            step["step"], "re-keys the CHILD_SA" if step["gateway"] == "rekey" else "deletes the IKE SA",
            step.get("renewed_after_s"), step["mode"], "OK" if step["ok"] else "FAIL")
    if step.get("nat"):
        return "step %d: NAT box restarted, x-HA tunnel port %s -> %s: registered again after %s s, data %s s %s" % (
            step["step"], step.get("port_before"), step.get("port_after"), step.get("moved_after_s"),
            step.get("data_after_s"), "OK" if step["ok"] else "FAIL")
    if step.get("fault") == "redirect":
        return "step %d: an attacker with the x-MIP key holds the x-HA binding at %s, then gives it back: mode %s, " \
            "data again after %s s %s" % (step["step"], step.get("attacker"), step["mode"], step.get("data_after_s"),
                                           "OK" if step["ok"] else "FAIL")
    if step.get("cut"):
        return "step %d: i-HA cut off (%s) -> user data blocked after %s s (T_MONITOR %s s) %s" % (
            step["step"], step["cut"], step.get("blocked_after_s"), step.get("t_monitor"),
            "OK" if step["ok"] else "FAIL")
    return ("step %d: %-4s%s -> mode %-4s (expected %s) %s  data again after %s s, stream %d records, "
            "lost %d, duplicated %d, reconnects %d" % (
                step["step"], step["network"], " (carrier flap)" if step.get("flap") else "", step["mode"],
                step["expect"], "OK  " if step["ok"] else "FAIL", step.get("data_after_s"), s.get("received", 0),
                s.get("gaps", 0), s.get("duplicates", 0), s.get("reconnects", 0)))


def panel(status: dict, network: str, steps: list[str], started: float) -> str:
    s = status.get("stream", {})
    last = s.get("last_rx")
    age = "%.1f s ago" % max(0.0, status["t"] - last) if last else "-"
    bindings = ", ".join("%s -> %s (%d s left)" % tuple(b) for b in status.get("i_ha_bindings", [])) or "none"
    left = status.get("t_monitor_left")
    lines = [
        "mip4 lab: a mobile router roaming the RFC 5265 figure 1 network    (Ctrl-C stops)   %4.0f s"
        % (time.monotonic() - started), "",
        "  uplink wan attached to : %s" % network,
        "  detection              : %s" % status.get("state"),
        "  mode                   : %s" % status.get("mode"),
        "  care-of address        : %s%s" % (status.get("care_of"), "  (via FA %s)" % status["fa"]
                                              if status.get("fa") else ""),
        "  user data gate         : %s" % (status.get("gate") or "BLOCKED"),
        "  LAN route              : %s" % " ".join(status.get("lan_route") or ["-"]),
        "  T_MONITOR left         : %s" % ("%.0f s" % left if left is not None else "-"),
        "  IKE / CHILD SA         : %s" % _ipsec(status),
        "  i-HA bindings          : %s" % bindings,
        "  TCP stream LAN host->CN: %d records, lost %d, duplicated %d, reconnects %d, last data %s" % (
            s.get("received", 0), s.get("gaps", 0), s.get("duplicates", 0), s.get("reconnects", 0), age),
        "", "  moves:"] + ["    " + line for line in steps[-8:]]
    return CLEAR + "\n".join(lines) + "\n"


def _ipsec(status: dict) -> str:
    ike, child = status.get("ike_sa"), status.get("child_sa")
    if not ike:
        return "%s" % (status.get("ike") or "down")
    text = "%s %s_i %s_r, VPN-TIA %s" % (ike["state"], ike["spi_i"], ike["spi_r"], ike["vpn_tia"])
    if child:
        text += "; CHILD %s %s_i %s_o" % (child["state"], child["spi_in"], child["spi_out"])
    return text


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM or a closed terminal: tear down like Ctrl-C


def main() -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    live = sys.stdout.isatty()
    print("mip4 lab: booting the UML lab kernel (about a minute before the first move)...", flush=True)
    lab = Lab(loop=live, dwell=4.0 if live else 1.0)
    started = time.monotonic()
    network, steps, done, ok_steps = "-", [], None, []
    try:
        for ev in lab.events(timeout=1e9 if live else 900):
            kind = ev["event"]
            if kind == "moving" and not ev.get("uplink"):
                network = ev.get("network") or network
            elif kind == "step":
                steps.append(describe(ev))
                ok_steps.append(ev["ok"])
                if not live:
                    print(steps[-1], flush=True)
            elif kind == "status" and live:
                sys.stdout.write(panel(ev, network, steps, started))
                sys.stdout.flush()
            elif kind == "bulk" and not live:
                print("step %d: bulk TCP (iperf3) CN -> LAN host in mode %s: %s Mbit/s, fragments made %s"
                      % (ev["step"], ev.get("mode"), ev.get("mbit_s"), ev.get("fragments") or "none"), flush=True)
            elif kind in ("registered", "stream", "topology", "daemons") and not live:
                print("%-10s at %.1f s" % (kind, ev["host_s"]), flush=True)
            elif kind == "error":
                print("lab error: %s" % ev["message"], flush=True)
            elif kind == "done":
                done = ev
        leaks = audit_lab(lab.dir, topology())  # RFC 5265 1.1: nothing in clear outside
    except KeyboardInterrupt:
        print("\nstopping: tearing the lab down", flush=True)
        return 0
    finally:
        lab.close()
    for line in leaks["leaks"][:20]:
        print("LEAK " + line)
    held = bool(done and done["ok"] and ok_steps and all(ok_steps)) and not leaks["leaks"]
    print("leak audit: %d packets on external links, %d leaks (%s)" % (
        leaks["packets"], len(leaks["leaks"]), ", ".join("%s %d" % kv for kv in sorted(leaks["kinds"].items()))))
    print("tour %s: %d steps, leftovers %s" % ("held" if held else "FAILED", len(ok_steps),
                                                (done or {}).get("leftovers")))
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
