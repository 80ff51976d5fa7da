"""The deployment scenario's steps (issue 26), inside the UML kernel: set-ups real enterprises have
that the tour does not build, each made with real parts (iptables-legacy in a node, a daemon stopped,
nodes merged into one namespace) while the LAN host's stream runs.

Kinds (topology.json "deploy", a step's `deploy` key):
- `commands`: run iptables (or any) commands in nodes, then go on (a NAT or a firewall hole that the
  following moves then meet); `flush` names nodes whose conntrack table is emptied after them (a new NAT
  rule applies only to connections tracked from then on); its result is what was run, and the
  firewall's drop counters.
- `closed`: the MR moves onto a path where IPsec cannot work (a transparent proxy passes nothing but
  TCP; or the x-HA is missing) and must fail closed for `watch_s`: no mode, the gate shut, the LAN
  route `prohibit`, no stream data; afterwards the set-up is undone.
- `restart`: a mip4d respawned with other options (the i-HA's trusted list misconfigured).
- `colocate`: the x-HA, the i-HA and the VPN gateway's charon stopped, their links moved into one
  namespace (one host, RFC 5265 2), and all three started there again.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from labkit import batch, emit, merged, sh, wait_for

GRACE_S = 3.0  # after the move: segments already past the MR may still arrive
STATUS_LAG_S = 1.5  # mip4d writes its status file at most once a second: what it shows may be that old


def run(lab, index: int, step: dict) -> dict:  # noqa: ANN001  (labctl.Lab)
    return KINDS[step["deploy"]](lab, index, step)


def commands(cmds: dict[str, list[str]]) -> list[str]:
    done = []
    for node, lines in cmds.items():
        for line in lines:
            sh("ip netns exec %s %s" % (node, line))
            done.append("%s: %s" % (node, line))
    return done


def drops(node: str) -> int:
    """Packets the node's FORWARD policy (DROP) has dropped: the firewall's drop counter."""
    out = sh("ip netns exec %s iptables-legacy -L FORWARD -n -v -x" % node, check=False)
    m = re.search(r"policy DROP (\d+) packets", out)
    return int(m.group(1)) if m else -1


def _ha_counters(lab, name: str) -> dict:  # noqa: ANN001
    return lab.status(name).get("status", {}).get("counters", {})


def flush_conntrack(node: str) -> str:
    sh("ip netns exec %s %s -c 'from pyroute2 import Conntrack; Conntrack().flush()'" % (node, sys.executable))
    return "%s: conntrack flushed" % node


def run_commands(lab, index: int, step: dict) -> dict:  # noqa: ANN001
    done = commands(step["commands"]) + [flush_conntrack(node) for node in step.get("flush", [])]
    snap = lab.snapshot()
    result = dict(step=index, deploy="commands", network=None, expect=snap["mode"], mode=snap["mode"], ok=True,
                  flap=False, ran=done, fw_drops=drops("fw"), iha_counters=_ha_counters(lab, "iha"),
                  stream=snap["stream"], mode_after_s=None, data_after_s=None, outage_s=None,
                  care_of=snap["care_of"], wall=time.time())
    emit("step", **result)
    return result


def closed(lab, index: int, step: dict) -> dict:  # noqa: ANN001
    """RFC 5265 2 (R-2-f) and 1.2 (R-1.2-a): where IPsec cannot work, nothing but the MR's own
    signalling leaves: the watch records every mode, gate and LAN route seen, and the stream's count."""
    done = commands(step.get("commands", {}))
    stopped = step.get("stop")
    if stopped:
        lab.stop("mip4d-" + stopped)
    attached = lab.move(step["network"])
    wall = time.time()
    emit("moving", step=index, deploy="closed", network=step["network"], wall=wall)
    modes, gates, routes, states = set(), set(), set(), set()
    counted = None
    while time.monotonic() < attached + step.get("watch_s", 20.0):
        snap = lab.snapshot()
        if time.monotonic() > attached + STATUS_LAG_S:
            modes.add(snap["mode"])
            gates.add(snap["gate"])
            routes.add(tuple(snap["lan_route"] or ()))
            states.add(snap["state"])
        if counted is None and time.monotonic() > attached + GRACE_S:
            counted = snap["stream"].get("received", 0)
        emit("status", **snap)
        time.sleep(0.25)
    snap = lab.snapshot()
    lab.keep_status(index)
    mr = lab.status("mr").get("status", {})
    wan = mr.get("interfaces", {}).get("wan", {})
    grew = snap["stream"].get("received", 0) - (counted or 0)
    ok = modes == {None} and gates == {None} and routes == {("prohibit",)} and grew == 0
    undone = commands(step.get("undo", {}))
    if stopped:
        lab.start_daemon(stopped)
        wait_for(lambda: lab.status(stopped).get("pid") == lab.pids.get("mip4d-" + stopped), 60,
                 "%s did not come back" % stopped)
    result = dict(step=index, deploy="closed", network=step["network"], expect="none", mode=snap["mode"], ok=ok,
                  flap=False, wall=wall, ran=done, undone=undone, stopped=stopped, modes=sorted(map(str, modes)),
                  gates=sorted(map(str, gates)), lan_routes=sorted(map(list, routes)), states=sorted(map(str, states)),
                  received_during=grew, x_ha_registered=wan.get("x_ha_registered"), ike=mr.get("ike"),
                  verdict=mr.get("verdict"), stream=snap["stream"], care_of=snap["care_of"], mode_after_s=None,
                  data_after_s=None, outage_s=None)
    emit("step", **result)
    return result


def restart(lab, index: int, step: dict) -> dict:  # noqa: ANN001
    """One mip4d stopped and started again with `config` laid over its options."""
    name = step["daemon"]
    for daemon, over in step.get("config", {}).items():
        lab.overrides[daemon] = merged(lab.overrides.get(daemon, {}), over)
    lab.stop("mip4d-" + name)
    lab.start_daemon(name)
    wait_for(lambda: lab.status(name).get("pid") == lab.pids.get("mip4d-" + name), 60, "%s did not come back" % name)
    snap = lab.snapshot()
    result = dict(step=index, deploy="restart", daemon=name, network=None, expect=snap["mode"], mode=snap["mode"],
                  ok=True, flap=False, config=lab.overrides.get(name), stream=snap["stream"], mode_after_s=None,
                  data_after_s=None, outage_s=None, care_of=snap["care_of"], wall=time.time())
    emit("step", **result)
    return result


def colocate(lab, index: int, step: dict) -> dict:  # noqa: ANN001
    """RFC 5265 2 (R-2-b): x-HA, VPN gateway and i-HA on one host. Their daemons stop (mip4d cleanly,
    charon with its SAs), their links move into one namespace `into` (renamed where two share a name),
    keep their addresses (so the HA addresses stay distinct, R-3.5-b), and the three start there."""
    into, daemons = step["into"], step["daemons"]
    started = time.monotonic()
    for name in daemons:
        lab.stop("mip4d-" + name)
    gw = lab.topo["ipsec"]["gateway"]["node"]
    p = lab.charons.pop(gw)
    p.terminate()
    p.wait()
    sh("ip -n %s xfrm state flush; ip -n %s xfrm policy flush" % (gw, gw))
    sh("ip netns add %s" % into)
    lab._sysctls(into)  # IPv4 only before any link is up there: no IPv6 ND or MLD on an external link
    lines = ["link set lo up"]
    for node in step["nodes"]:
        for ifname, (_where, addr) in lab.topo["nodes"][node]["links"].items():
            new = step.get("rename", {}).get(node, {}).get(ifname, ifname)
            renamed = ["link set %s name %s" % (ifname, new)] if new != ifname else []
            batch(["link set %s down" % ifname] + renamed + ["link set %s netns %s" % (new, into)], node)
            lines += ["addr add %s dev %s" % (addr, new), "link set %s up" % new]
    lab._sysctls(into)  # and for each link moved in
    lines += ["route add %s" % r for r in step["routes"]]
    batch(lines, into)
    for name in daemons:
        lab.homes[name] = into
    lab.topo["ipsec"]["gateway"]["node"] = into
    for daemon, over in step.get("config", {}).items():
        lab.overrides[daemon] = merged(lab.overrides.get(daemon, {}), over)
    lab.start_charon("gateway")
    for name in daemons:
        lab.start_daemon(name)
        wait_for(lambda n=name: lab.status(n).get("pid") == lab.pids.get("mip4d-" + n), 60, "%s did not start" % name)
    for ifname in step.get("captures", []):
        out = os.path.join(lab.labdir, "captures", "%s-%s.pcapng" % (into, ifname))
        log = open(os.path.join(lab.log_dir, "dumpcap-%s-%s.log" % (into, ifname)), "w")  # noqa: SIM115
        cap = subprocess.Popen(["ip", "netns", "exec", into, "dumpcap", "-q", "-i", ifname, "-w", out],
                               stdout=log, stderr=subprocess.STDOUT)
        lab.procs.append(cap)
        lab.dumpcaps.append(cap)
    pids = {name: lab.pids["mip4d-" + name] for name in daemons}
    pids["charon"] = lab.charons[into].pid
    namespaces = {name: sh("ip netns identify %d" % pid, check=False).strip() for name, pid in pids.items()}
    addresses = sorted(line.split()[3] for line in sh("ip -n %s -4 -o addr show" % into).splitlines()
                       if line.split()[1] != "lo")
    snap = lab.snapshot()
    result = dict(step=index, deploy="colocate", network=None, expect=snap["mode"], mode=snap["mode"],
                  ok=all(ns == into for ns in namespaces.values()), flap=False, into=into, namespaces=namespaces,
                  addresses=addresses, ha_addresses={n: lab.topo["daemons"][n]["ha"]["address"] for n in daemons},
                  seconds=round(time.monotonic() - started, 3), stream=snap["stream"], mode_after_s=None,
                  data_after_s=None, outage_s=None, care_of=snap["care_of"], wall=time.time())
    emit("step", **result)
    return result


KINDS = {"commands": run_commands, "closed": closed, "restart": restart, "colocate": colocate}
