"""The ha_pair scenario inside the UML kernel (issue 27; docs/redundancy.md): redundant home agents with
the kernel's IP-in-IP and the real IPsec.

topology.json's "ha_pair_topology" is laid over the topology: the i-HA and the x-HA each become two
machines, keepalived (VRRP, nopreempt) on each moves the home agent's addresses between them, and a
three-member etcd cluster on the node "store" holds the bindings. A step {"ha": "kill"|"down", "pair"}
kills the active home agent's mip4d (SIGKILL) or takes every link of its machine down, while the LAN
host's stream runs; then the old active comes back (mip4d respawned, links up). Its verdict: the other
machine took the addresses and the binding (from etcd), the stream resumed with nothing lost or
duplicated and without any registration by the MR, and the old active came back as the standby
without taking the addresses back.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

try:  # inside UML: labctl.py runs with this directory on sys.path
    import labkit
    import stream
except ImportError:  # on the host: the tests read overlay()
    from . import labkit, stream
STEP_TIMEOUT = labkit.STEP_TIMEOUT
batch, clean, emit, resumed_after, sh, wait_for = (labkit.batch, labkit.clean, labkit.emit, labkit.resumed_after,
                                                   labkit.sh, labkit.wait_for)

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, REPO)
from tests.ha.etcd import EtcdCluster  # noqa: E402  (the host tests' cluster, here in the node "store")

SCENARIO = "ha_pair"
BACK_HOLD = 4.0  # seconds the old active is watched after it came back: it must not take the addresses
ROUTINE_CLEAR = 12.0  # seconds before the MR's next routine registration, at the kill


def overlay(topo: dict, scenario: str) -> dict:
    """topology.json with the scenario's machines laid over it (unchanged for any other scenario)."""
    over = topo.get(scenario + "_topology")
    if not over:
        return topo
    topo = dict(topo, bridges=dict(topo["bridges"], **over["bridges"]), nodes=dict(topo["nodes"], **over["nodes"]),
                captures=topo["captures"] + over["captures"],
                audit=dict(topo["audit"], captures=topo["audit"]["captures"] + over["audit_captures"]))
    daemons = dict(topo["daemons"])
    for pair in over["pairs"].values():
        first, *others = pair["members"]
        for member in others:
            daemons[member] = daemons[first]
    topo["daemons"] = daemons
    topo["pairs"], topo["vrrp"], topo["store"] = over["pairs"], over["vrrp"], over["store"]
    return topo


def start_store(lab) -> EtcdCluster:  # noqa: ANN001  (labctl.Lab)
    """etcd's three members in the store node; every pair member's mip4d is given their client URLs."""
    base = "/run/etcd"  # UML-private tmpfs: bbolt's mmap and fsync stay off hostfs
    os.makedirs(base, exist_ok=True)
    from pathlib import Path
    cluster = EtcdCluster(Path(base), host=lab.topo["store"]["address"], netns=lab.topo["store"]["node"],
                          heartbeat_ms=100, election_ms=1000)  # UML's timers are coarse under load
    cluster.start()
    for pair in lab.topo["pairs"].values():
        for member in pair["members"]:
            over = lab.overrides.setdefault(member, {}).setdefault("ha", {})
            over["store_endpoints"] = list(cluster.endpoints)
            over["vrrp_fifo"], over["vrrp_instance"] = fifo(member), "ha"  # keepalived's notify_fifo
    return cluster


def fifo(member: str) -> str:
    """keepalived's notify_fifo for this member: on UML's own tmpfs (a FIFO on hostfs would be the host's)."""
    return "/run/mip4-vrrp-%s.fifo" % member


def pid_file(lab, name: str) -> str:  # noqa: ANN001
    return os.path.join(lab.run_dir, "mip4d-%s.pid" % name)


def note_pid(lab, name: str) -> None:  # noqa: ANN001
    """keepalived's track script reads it (mip4d is forked from the lab's process, no pid file of its own)."""
    with open(pid_file(lab, name), "w") as f:
        f.write("%d\n" % lab.pids["mip4d-" + name])


def start_keepalived(lab) -> None:  # noqa: ANN001
    """keepalived on every member, the first of each pair first (it becomes the active); returns when each
    pair has one active home agent holding its addresses."""
    vrrp = lab.topo["vrrp"]
    for pair in lab.topo["pairs"].values():
        for member, priority in zip(pair["members"], vrrp["priorities"], strict=True):
            note_pid(lab, member)
            _keepalived(lab, member, pair, priority, vrrp)
            if priority == vrrp["priorities"][0]:
                wait_for(lambda m=member: lab.status(m).get("status", {}).get("state") == "active" and has_vip(lab, m),
                         60, "%s did not become active" % member)


def _keepalived(lab, member: str, pair: dict, priority: int, vrrp: dict) -> None:  # noqa: ANN001
    """The configuration docs/redundancy.md shows, with two differences: VRRP runs on the pairs' own sync
    link (the Internet link is audited, and the pair's heartbeat is no business of it) while the addresses
    move on the links the home agent serves (track_interface: one down, the machine is FAULT); and the
    track script checks mip4d's process, not `mip4 ha state` (a Python interpreter a second per machine is
    more than UML's CPU gives; the host tests run `mip4 ha state`). keepalived tells mip4d its states
    through notify_fifo (mip4d's vrrp_fifo), as there: no interpreter started per transition."""
    etc = os.path.normpath(os.path.join(lab.run_dir, "..", "etc"))
    alive = os.path.join(etc, "alive-%s.sh" % member)
    with open(alive, "w") as f:
        f.write("#!/bin/sh\nexec kill -0 \"$(cat %s)\" 2>/dev/null\n" % pid_file(lab, member))
    os.chmod(alive, 0o755)
    conf = os.path.join(etc, "keepalived-%s.conf" % member)
    with open(conf, "w") as f:
        f.write("""global_defs {
    router_id %(member)s
    script_user root
    vrrp_version 3
    notify_fifo %(fifo)s
}
vrrp_script mip4d {
    script "%(alive)s"
    interval 1
    timeout 4
    fall 1
    rise 1
}
vrrp_instance ha {
    state BACKUP
    nopreempt
    interface %(interface)s
    virtual_router_id %(vrid)d
    priority %(priority)d
    advert_int %(advert)s
    virtual_ipaddress {
%(addresses)s
    }
    track_interface {
%(track)s
    }
    track_script {
        mip4d
    }
}
""" % dict(member=member, alive=alive, interface=vrrp["interface"], vrid=pair["virtual_router_id"],
           priority=priority, advert=vrrp["advert_int"], fifo=fifo(member),
           addresses="\n".join("        " + a for a in pair["addresses"]),
           track="\n".join("        " + t for t in pair["track"])))
    log = open(os.path.join(lab.log_dir, "keepalived-%s.log" % member), "a")  # noqa: SIM115
    lab.procs.append(subprocess.Popen(
        ["ip", "netns", "exec", member, "keepalived", "-n", "-l", "-D", "-P", "-f", conf,
         "-p", os.path.join(lab.run_dir, "keepalived-%s.pid" % member),
         "-r", os.path.join(lab.run_dir, "keepalived-vrrp-%s.pid" % member)],
        stdout=log, stderr=subprocess.STDOUT))


def vip(lab, member: str) -> str:  # noqa: ANN001
    return lab.topo["daemons"][member]["ha"]["address"]


def has_vip(lab, member: str) -> bool:  # noqa: ANN001
    return " %s/" % vip(lab, member) in sh("ip -n %s -4 -o addr show" % member, check=False)


def state(lab, member: str) -> dict:  # noqa: ANN001
    return lab.status(member).get("status", {})


def notified(lab, member: str) -> list[str]:  # noqa: ANN001
    """The states keepalived gave this member, in order, as its mip4d applied them (its log, which a
    respawned mip4d appends to)."""
    try:
        with open(os.path.join(lab.log_dir, "mip4d-%s.log" % member)) as f:
            return re.findall(r"ha: \w+ -> (active|standby)", f.read())
    except OSError:
        return []


def _registrations(lab) -> dict:  # noqa: ANN001
    c = lab.snapshot()["counters"]
    return {k: c.get(k, 0) for k in ("sent", "accepted")}


def failover(lab, index: int, step: dict) -> dict:  # noqa: ANN001
    pair = lab.topo["pairs"][step["pair"]]
    how = step["ha"]
    members = pair["members"]
    wait_for(lambda: sum(has_vip(lab, m) for m in members) == 1, 30, "no single holder of %s" % step["pair"])
    old = next(m for m in members if has_vip(lab, m))
    new = next(m for m in members if m != old)
    hoa = lab.topo["daemons"]["mr"]["mn"]["i_hoa" if lab.topo["daemons"][old]["ha"]["role"] == "i-ha" else "x_hoa"]
    # inside, the MR registers every T_MONITOR on its own clock: kill when its next routine registration is
    # at least ROUTINE_CLEAR s away (else just after it was accepted), so that one seen in the outage would be
    # the MR's answer to the failover, not its routine (outside it renews at its lifetime's end only)
    accepted = _registrations(lab)["accepted"]
    grace = lab.topo["daemons"]["mr"]["mn"].get("t_monitor_grace", 0)  # it registers this long before T_MONITOR ends
    try:
        wait_for(lambda: (left := lab.snapshot()["t_monitor_left"]) is None or left - grace >= ROUTINE_CLEAR
                 or _registrations(lab)["accepted"] > accepted, 40, "the MR did not register")
    except TimeoutError:
        pass  # then the verdict below counts whatever it sent
    before, regs = lab.snapshot(), _registrations(lab)
    counted_new = dict(state(lab, new).get("counters", {}))
    wall = time.time()
    links = list(lab.topo["nodes"][old]["links"])
    if how == "kill":
        pid = lab.pids.pop("mip4d-" + old)
        os.kill(pid, signal.SIGKILL)
        at = time.monotonic()
        os.waitpid(pid, 0)
    else:
        at = time.monotonic()
        batch(["link set %s-%s down" % (old, i) for i in links])
    emit("moving", step=index, ha=how, pair=step["pair"], old=old, wall=wall)
    took_over = recovered = None
    deadline = at + STEP_TIMEOUT
    while time.monotonic() < deadline:
        snap = lab.snapshot()
        s = snap["stream"]
        if took_over is None and has_vip(lab, new):
            took_over = time.monotonic()
        st = state(lab, new)
        if recovered is None and took_over and st.get("state") == "active" \
                and any(b["home_address"] == hoa for b in st.get("bindings", [])):
            recovered = time.monotonic()
        if recovered and s.get("received", 0) >= before["stream"].get("received", 0) + 25 \
                and (s.get("last_rx") or 0) > recovered:
            break
        emit("status", **snap)
        time.sleep(0.1)
    snap, regs_after = lab.snapshot(), _registrations(lab)
    s = snap["stream"]
    resumed = resumed_after(s, at, slack=(recovered or time.monotonic()) - at + stream.STALL)
    stalls = [round(e - b, 3) for b, e in s.get("stalls", []) if e >= at - 1.0]
    new_state = state(lab, new)
    registered = {k: regs_after[k] - regs[k] for k in regs}  # the MR's, every agent (an x-HA deregistration inside)
    # any request that reached the new active (accepted, refused, or dropped while it was standby)
    counted = {k: v - counted_new.get(k, 0) for k, v in new_state.get("counters", {}).items()
               if v != counted_new.get(k, 0)}
    # the old active comes back: mip4d respawned (procd) or its links up again; keepalived says "standby"
    told, dead = len(notified(lab, old)), lab.status(old).get("pid")
    back_at = time.monotonic()
    if how == "kill":
        lab.start_daemon(old)
        note_pid(lab, old)
    else:
        batch(["link set %s-%s up" % (old, i) for i in links])
    back = None
    while time.monotonic() < back_at + STEP_TIMEOUT:
        st = lab.status(old)
        if st.get("status", {}).get("state") == "standby" and "standby" in notified(lab, old)[told:] \
                and (how == "down" or st.get("pid") not in (None, dead)):
            back = time.monotonic()
            break
        time.sleep(0.2)
    holders = []
    end = time.monotonic() + BACK_HOLD
    while time.monotonic() < end:  # nopreempt: the addresses stay where they are, the stream flows on
        holders.append(tuple(m for m in members if has_vip(lab, m)))
        time.sleep(0.25)
    final = lab.snapshot()["stream"]
    back_stalls = [round(e - b, 3) for b, e in final.get("stalls", []) if e >= back_at]
    ok = recovered is not None and resumed is not None and clean(final) and snap["mode"] == before["mode"] \
        and registered["accepted"] == 0 \
        and not counted and back is not None \
        and set(holders) == {(new,)} and state(lab, old).get("state") == "standby" \
        and max(back_stalls, default=0.0) < labkit.REORDER_MAX
    result = dict(step=index, ha=how, pair=step["pair"], old=old, new=new, network=None, expect=before["mode"],
                  mode=snap["mode"], ok=ok, flap=False, wall=wall,
                  took_over_after_s=None if took_over is None else round(took_over - at, 3),
                  recovered_after_s=None if recovered is None else round(recovered - at, 3),
                  data_after_s=None if resumed is None else round(resumed - at, 3), mode_after_s=None,
                  outage_s=max(stalls, default=0.0), stalls=stalls, stream=final, registered=registered,
                  new_counted=counted,
                  new_bindings=new_state.get("bindings", []), new_store=lab.status(new).get("store"),
                  back_after_s=None if back is None else round(back - back_at, 3),
                  old_state=state(lab, old).get("state"), old_notified=notified(lab, old)[-3:],
                  holders_after_back=sorted({",".join(h) for h in holders}), back_stalls=back_stalls,
                  care_of=snap["care_of"], counters=snap["counters"])
    lab.keep_status(index)
    emit("step", **result)
    return result
