"""The fault scenario's steps (issue 10), inside the UML kernel: each injects one fault while the LAN
host's stream runs, then waits until the MR is back in the mode it should be in and the stream flows.

A step's verdict: the MR recovered (mode, gate, LAN route) and the stream resumed having lost,
duplicated and reconnected nothing; plus what the fault itself must leave true (the restarted HA
has the binding again, a respawned mip4d installed what its predecessor had, no more). The leak
auditor judges the captures of the whole run afterwards, on the host.

Faults: `restart` (SIGKILL a mip4d, procd-style respawn), `charon` (kill -9 a charon, restart it),
`impair` (loss and jitter on the uplink, both ways, across a move), `storm` (carrier flapping at
`hz` for `seconds`), `both` (two uplinks moved in one instant), `clock` (the time of day stepped),
`attack` (replayed, forged and flooded registrations at the x-HA from the Internet path), `redirect`
(an attacker with the x-MIP key moves the x-HA's binding to itself for a few seconds: RFC 5265 6.2).
"""
from __future__ import annotations

import os
import signal
import time

import attacker
import stream
from labkit import STEP_TIMEOUT, batch, clean, emit, resumed_after, sh, topology_state

SETTLE_TIMEOUT = 150.0  # the gateway's charon: the MR's DPD; loss and the storm: TCP's backed-off retransmissions


def inject(lab, index: int, step: dict) -> dict:  # noqa: ANN001  (labctl.Lab)
    fault = step["fault"]
    before = lab.snapshot()
    expect = step.get("expect") or before["mode"]
    wall = time.time()
    injected, check = FAULTS[fault](lab, step)
    event = injected.pop("at")
    emit("moving", step=index, fault=fault, wall=wall, **injected)
    timeout = SETTLE_TIMEOUT if fault in ("charon", "impair", "storm") else STEP_TIMEOUT
    recovered, snap = _settle(lab, event, before, expect, step.get("primary"), check, timeout)
    if "netem_off" in injected:  # the impairment ends once the MR is through the move under it
        for cmd in injected.pop("netem_off"):
            sh(cmd, check=False)
    s = snap["stream"]
    # the stall may begin well after the fault: a killed HA's kernel tunnels carry until its successor sweeps them
    resumed = resumed_after(s, event, slack=(recovered or time.monotonic()) - event + stream.STALL)
    stalls = [round(e - b, 3) for b, e in s.get("stalls", []) if e >= event - 1.0]
    verdict = check(snap) if check else True
    ok = recovered is not None and resumed is not None and clean(s) and verdict is True
    result = dict(step=index, round=lab.round, fault=fault, network=step.get("network"),
                  expect=expect, mode=snap["mode"], primary=snap["primary"], ok=ok, flap=False, wall=wall,
                  why=None if verdict is True else verdict, stalls=stalls, stream=s,
                  recovered_after_s=None if recovered is None else round(recovered - event, 3),
                  data_after_s=None if resumed is None else round(resumed - event, 3), mode_after_s=None,
                  outage_s=max(stalls, default=0.0), care_of=snap["care_of"], ike_sa=snap["ike_sa"],
                  child_sa=snap["child_sa"], counters=snap["counters"], gate=snap["gate"],
                  lan_route=snap["lan_route"], detection=snap["detection"], **injected)
    lab.keep_status(index)
    emit("step", **result)
    return result


def _settle(lab, event: float, before: dict, expect: str, primary: str | None, check, timeout: float):  # noqa: ANN001
    """Until the MR is in `expect` (gate open, LAN routed), `check` holds and the stream has flowed
    25 more records since both; returns (when recovered or None, the last snapshot)."""
    recovered, deadline = None, event + timeout
    while time.monotonic() < deadline:
        snap = lab.snapshot()
        s = snap["stream"]
        if recovered is None and snap["mode"] == expect and snap["gate"] \
                and snap["lan_route"] not in (None, ["prohibit"]) and (primary is None or snap["primary"] == primary) \
                and (check is None or check(snap) is True):
            recovered = time.monotonic()
        if recovered and s.get("received", 0) >= before["stream"].get("received", 0) + 25 \
                and (s.get("last_rx") or 0) > recovered:
            return recovered, snap
        emit("status", **snap)
        time.sleep(0.25)
    return recovered, lab.snapshot()


# -- the faults: each returns (what was injected, with "at": its time; a check of the outcome) ------

def restart(lab, step: dict):  # noqa: ANN001, ANN201
    """SIGKILL one mip4d, respawn it after `down_s` (procd's respawn). An HA's bindings die with it;
    the MR notices at its next registration (inside: T_MONITOR; outside: the renewal of a short
    lifetime) and the HA has the binding again. A respawned MR sweeps what its predecessor left and
    installs the same again: the same tunnels, rules and routes, and no more XFRM policies and states
    (fewer when the dead one still kept a guard for a VPN-TIA of an IKE SA gone before: fail-closed
    leftovers are not installed again)."""
    name = step["daemon"]
    had = lab.installed(name)
    pid = lab.pids.pop("mip4d-" + name)
    os.kill(pid, signal.SIGKILL)
    at = time.monotonic()
    os.waitpid(pid, 0)
    reaped = time.monotonic()
    left = lab.installed(name)  # what the dead process left in the kernel
    time.sleep(max(0.0, step.get("down_s", 1.0) - (time.monotonic() - at)))
    respawned = time.monotonic()
    lab.start_daemon(name)

    def check(snap: dict):  # noqa: ANN202
        status = lab.status(name)
        if status.get("pid") in (None, pid):
            return "%s not respawned yet" % name
        if name in ("iha", "xha"):
            hoa = lab.topo["daemons"]["mr"]["mn"]["i_hoa" if name == "iha" else "x_hoa"]
            if not [b for b in status.get("status", {}).get("bindings", []) if b["home_address"] == hoa]:
                return "%s has no binding for %s" % (name, hoa)
            return True
        now = lab.installed(name)
        same = now["tunnels"] == had["tunnels"] and sorted(now["rules"]) == sorted(had["rules"]) \
            and sorted(now["routes"]) == sorted(had["routes"]) and len(now["xfrm"]) <= len(had["xfrm"])
        return True if same else "installed %s, before the kill %s" % (now, had)
    left_by_the_dead = {k: len(v) for k, v in left.items()}
    return {"at": at, "daemon": name, "killed_pid": pid, "left_by_the_dead": left_by_the_dead,
            "reaped_s": round(reaped - at, 3), "respawned_s": round(respawned - at, 3)}, check


def charon(lab, step: dict):  # noqa: ANN001, ANN201
    """kill -9 one charon and restart it. The MR's: mip4d loses VICI, blocks (the guards), removes
    the dead charon's SAs and policies, and brings IKE up again once charon answers. The gateway's
    (`flush`: its kernel SAs die too, as when the box restarts): the MR's dead peer detection finds
    out, IKE comes up again; meanwhile user data is dropped, never sent in clear."""
    node = step["node"]
    role = "gateway" if node == lab.topo["ipsec"]["gateway"]["node"] else "mr"
    old = (lab.snapshot()["ike_sa"] or {}).get("uniqueid"), (lab.snapshot()["child_sa"] or {}).get("spi_in")
    p = lab.charons[node]
    p.kill()
    p.wait()
    at = time.monotonic()
    if step.get("flush"):
        sh("ip -n %s xfrm state flush; ip -n %s xfrm policy flush" % (node, node))
    time.sleep(step.get("down_s", 2.0))
    lab.start_charon(role)

    def check(snap: dict):  # noqa: ANN202
        fresh = (snap["child_sa"] or {}).get("spi_in")
        if snap["ike_sa"] is None or fresh in (None, old[1]):
            return "no new CHILD_SA yet (was %s)" % old[1]
        return True
    return {"at": at, "node": node, "flushed": bool(step.get("flush"))}, check


def impair(lab, step: dict):  # noqa: ANN001, ANN201
    """netem on the uplink both ways (the lab port towards the MR, the MR's own egress) for `hold_s`,
    or across a move to `network`: registrations renew (or the move completes) under it. It ends once
    the MR is through (inject() lifts it), so the stream's recovery is judged on a clean link."""
    uplink, args = step.get("uplink", "wan"), step["args"]
    port = "mr-" + uplink
    sh("tc qdisc replace dev %s root netem %s" % (port, args))
    sh("tc -n mr qdisc replace dev %s root netem %s" % (uplink, args))
    at = lab.move(step["network"]) if step.get("network") else time.monotonic()
    accepted = _accepted(lab)
    time.sleep(step.get("hold_s", 0.0))
    off = ["tc qdisc del dev %s root" % port, "tc -n mr qdisc del dev %s root" % uplink]

    def check(snap: dict):  # noqa: ANN202
        return True if _accepted(lab) > accepted else "no registration accepted under the impairment"
    return {"at": at, "args": args, "netem_off": off}, check


def storm(lab, step: dict):  # noqa: ANN001, ANN201
    """The uplink's carrier down and up `hz` times a second for `seconds` (a failing connector), then
    up for good: the MR lands in the mode of the network it is on."""
    from pyroute2 import IPRoute
    port, hz, seconds = "mr-" + step.get("uplink", "wan"), step.get("hz", 5), step.get("seconds", 60)
    half = 0.5 / hz
    transitions, start = 0, time.monotonic()
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=port)[0]
        while time.monotonic() < start + seconds:
            for state in ("down", "up"):
                ipr.link("set", index=index, state=state)
                transitions += 1
                time.sleep(half)
    at = time.monotonic()
    return {"at": at, "transitions": transitions, "storm_s": round(at - start, 1),
            "hz": round(transitions / 2 / (at - start), 2)}, None


def both(lab, step: dict):  # noqa: ANN001, ANN201
    """Two uplinks moved in one instant (one `ip -batch`): each lands where it should, the primary
    carries (RFC 5265 3.2.1: each judged on its own)."""
    lines = []
    for uplink in step["moves"]:
        lines += ["link set mr-%s down" % uplink, "link set mr-%s nomaster" % uplink]
    batch(lines)
    time.sleep(0.3)
    lines = []
    for uplink, network in step["moves"].items():
        if network:
            bridge = lab.topo["networks"][network]["bridge"]
            lines += ["link set mr-%s master br-%s" % (uplink, bridge), "link set mr-%s up" % uplink]
    at = time.monotonic()
    batch(lines)

    def check(snap: dict):  # noqa: ANN202
        interfaces = lab.status("mr").get("status", {}).get("interfaces", {})
        for uplink, network in step["moves"].items():
            want = topology_state(lab.topo, network)
            got = interfaces.get(uplink, {}).get("state")
            if got != want:
                return "%s is %s, not %s" % (uplink, got, want)
        return True
    return {"at": at, "moves": step["moves"]}, check


def clock(lab, step: dict):  # noqa: ANN001, ANN201
    """The time of day stepped by `jump` seconds (an NTP step; UML has one clock, so every node's
    jumps). mip4 keeps its timers on the monotonic clock: nothing may happen but the next T_MONITOR
    registration, which must be accepted."""
    accepted = _accepted(lab)
    sh("date -s @%d" % int(time.time() + step["jump"]))
    at = time.monotonic()
    time.sleep(step.get("watch_s", 20.0))

    def check(snap: dict):  # noqa: ANN202
        return True if _accepted(lab) > accepted else "no registration accepted since the jump"
    return {"at": at, "jump_s": step["jump"]}, check


def attack(lab, step: dict):  # noqa: ANN001, ANN201
    """An attacker on the Internet path copies the MR's next request to the x-HA and sends it back as
    it was (replay), with its own care-of (forged authenticator), and 1000 times in a burst (flood).
    The x-HA's binding stays where it was; its counters show each attack (attacker.py)."""
    node, iface = step.get("node", "isp"), step.get("iface", "inet")
    x_ha = lab.topo["daemons"]["mr"]["mn"]["x_ha"]
    own = lab.topo["nodes"][node]["links"][iface][1].split("/")[0]
    counted = ("replay", "identification-mismatch", "bad-authenticator", "rate-limited", "accepted")
    before = lab.status("xha").get("status", {}).get("counters", {})
    care_of = lab.x_ha_binding().get("care_of")
    out = os.path.join(lab.run_dir, "attack.json")
    pid = lab.spawn("attacker", node, attacker.attack, iface, x_ha, own, out)
    os.waitpid(pid, 0)
    lab.pids.pop("attacker", None)
    at = time.monotonic()
    sent = lab.read(out)
    seen: dict = {}

    def check(snap: dict):  # noqa: ANN202
        after = lab.status("xha").get("status", {}).get("counters", {})
        seen.update({k: after.get(k, 0) - before.get(k, 0) for k in counted})
        if not sent.get("captured"):
            return "the attacker saw no request to the x-HA"
        if lab.x_ha_binding().get("care_of") != care_of:
            return "the x-HA's binding moved to %s" % lab.x_ha_binding().get("care_of")
        if seen["replay"] + seen["identification-mismatch"] < sent["replayed"] \
                or seen["bad-authenticator"] < sent["forged"] or seen["rate-limited"] == 0:
            return "the x-HA counted %s for %s" % (seen, sent)
        return True
    return {"at": at, "sent": sent, "x_ha_counted": seen}, check


def redirect(lab, step: dict):  # noqa: ANN001, ANN201
    """RFC 5265 6.2: the x-MIP layer broken (the attacker in `node` holds the x-MIP key): it registers
    the x-HoA at its own address for `hold_s` seconds, then gives the binding back to the MR's care-of.
    Meanwhile the x-HA tunnels the MR's traffic to the attacker; the capture on its link (NODE-IFACE)
    shows what it got, which the tests judge (only ESP). The stream resumes with nothing lost."""
    node, iface = step.get("node", "isp"), step.get("iface", "inet")
    mn = lab.topo["daemons"]["mr"]["mn"]
    own = lab.topo["nodes"][node]["links"][iface][1].split("/")[0]
    care_of = lab.x_ha_binding().get("care_of")
    out = os.path.join(lab.run_dir, "redirect.json")
    at = time.monotonic()
    pid = lab.spawn("attacker", node, attacker.redirect, mn["x_ha"], mn["x_hoa"], own, mn["x_sa"]["spi"],
                    bytes.fromhex(mn["x_sa"]["key"]), step.get("hold_s", 4.0), care_of, out)
    os.waitpid(pid, 0)
    lab.pids.pop("attacker", None)
    done = lab.read(out)

    def check(snap: dict):  # noqa: ANN202
        if done.get("codes") != [0, 0]:
            return "the x-HA did not accept the attacker's two registrations: %s" % done
        if lab.x_ha_binding().get("care_of") != care_of:
            return "the x-HA's binding is at %s, not back at %s" % (lab.x_ha_binding().get("care_of"), care_of)
        return True
    return {"at": at, "attacker": own, "care_of_before": care_of, "redirect": done}, check


def _accepted(lab) -> int:  # noqa: ANN001
    """Registrations the MR has had accepted (its status counters, every client)."""
    return lab.snapshot()["counters"].get("accepted", 0)


FAULTS = {"restart": restart, "charon": charon, "impair": impair, "storm": storm, "both": both, "clock": clock,
          "attack": attack, "redirect": redirect}
