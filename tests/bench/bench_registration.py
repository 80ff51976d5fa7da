"""Home agent registration rate and memory per binding (issue 9), against the bare UDP echo floor.

The i-HA carries the steady load (every mobile router inside re-registers every T_MONITOR - N
seconds, RFC 5265 3.2.4), so the figures are for role i-ha: trusted-source check, MN-HA
authentication, replay check, binding refresh, a TNC reply with its authenticator.

- core: the real Sans-IO `HomeAgent` with N bindings already present, fed authenticated requests
  built with the real codec (as tests/core/test_home_agent.py builds them); per request it runs what
  mip4d runs per datagram: receive_udp() then get_timer(). One process, one core.
- mip4d: the real daemon as HA in a namespace the bench makes, over UDP on loopback, one binding.
- floor: the same request octets through a bare Python UDP echo, same namespace, same client.
"""
from __future__ import annotations

import ipaddress
import json
import random
import re
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from mip4.core.actions import Datagram
from mip4.core.bindings import Binding
from mip4.core.config import HomeAgentConfig, MobileNodeEntry, SecurityAssociation
from mip4.core.home_agent import HomeAgent
from mip4.wire import RegistrationRequest, UdpTunnelRequest, ident
from mip4.wire.registration import FLAG_D, FLAG_T

from ..ha.etcd import ETCD, EtcdCluster
from . import instructions, netns, proc
from .report import Column, Figure, num, ratio

NOW = 1_800_000_000.0  # the core's clock; its wall clock is set to the same
HA, HOA_BASE, COA_BASE = "10.1.0.1", int(ipaddress.IPv4Address("10.128.0.0")), int(ipaddress.IPv4Address("10.2.0.0"))
SPI, MN_HA = 1000, 32
REREGISTER_EVERY = 50.0  # T_MONITOR - N with the defaults 60 and 10 (RFC 5265 3.2.4)
UDP_MN = ("10.1.0.10", "10.2.0.5")  # the daemon's one mobile node: home address, care-of (both on lo)


def _key(i: int) -> bytes:
    return i.to_bytes(16, "big")


def _addr(base: int, i: int) -> str:
    return str(ipaddress.IPv4Address(base + i))


def home_agent(n: int, fill: Callable[[HomeAgent, int, int], None] | None = None) -> tuple[HomeAgent, dict]:
    """An i-HA with `n` mobile nodes, each registered (one binding) through receive_udp(); and the
    memory that took (the registrations' own garbage is collected before the reading). `fill`: another
    way to register them (fill_directly, for callgrind, where n first requests take minutes)."""
    tracemalloc.start()
    m0 = tracemalloc.get_traced_memory()[0]
    nodes = {_addr(HOA_BASE, i): MobileNodeEntry(SecurityAssociation(SPI, _key(i))) for i in range(n)}
    m1 = tracemalloc.get_traced_memory()[0]
    agent = HomeAgent(HomeAgentConfig(address=HA, role="i-ha", mobile_nodes=nodes, trusted_networks=("10.0.0.0/8",),
                                      rate_limit=0),  # capacity, not the per-source flood limit
                      random.Random(1))
    agent.set_wall_clock(NOW, NOW)
    m2 = tracemalloc.get_traced_memory()[0]
    first = ident.timestamp_identification(NOW - 60, 0, clock_bits=0)
    if fill is not None:
        tracemalloc.stop()
        fill(agent, n, first)
        return agent, {}
    for i in range(n):
        agent.receive_udp(_registration(i, first), NOW - 60)
    if agent.counters["accepted"] != n:
        raise RuntimeError("the home agent denied some first registrations: %s" % agent.counters)
    m3 = tracemalloc.get_traced_memory()[0]
    minimal = {_addr(HOA_BASE, i): (_addr(COA_BASE, i), NOW + 1740, first) for i in range(n)}
    m4 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del minimal
    return agent, {"config": (m1 - m0) / n, "binding": (m3 - m2) / n, "minimal": (m4 - m3) / n}


def fill_directly(agent: HomeAgent, n: int, identification: int) -> None:
    """The bindings (and tunnels) n first registrations leave, made without the requests: what
    receive_udp() of _registration(i) would have put in the table, the plane and the replay state."""
    for i in range(n):
        hoa, coa = _addr(HOA_BASE, i), _addr(COA_BASE, i)
        b = Binding(hoa, coa, 1800, NOW - 60, NOW - 60 + 1800, identification, True, coa, 434, False, True)
        agent.bindings.accept_identification(hoa, identification)
        agent.plane.change(hoa, lambda b=b: agent.bindings.replace(b))


def _registration(i: int, identification: int) -> Datagram:
    """Mobile node i's request from its care-of (no NAT), authenticated with its key."""
    hoa, coa = _addr(HOA_BASE, i), _addr(COA_BASE, i)
    rq = RegistrationRequest(hoa, HA, coa, identification, 1800, FLAG_D | FLAG_T, [UdpTunnelRequest()])
    rq.authenticate(MN_HA, SPI, _key(i))
    return Datagram("lan", coa, 434, HA, 434, rq.encode())


def _request(agent: HomeAgent, k: int) -> Datagram:
    """The k-th request: a refresh of binding (k * a prime) mod n, from its care-of (no NAT)."""
    n = len(agent.config.mobile_nodes)
    return _registration((k * 7919) % n, ident.timestamp_identification(NOW, k + 1, clock_bits=0))


def core_rate(agent: HomeAgent, seconds: float, minimum: int = 3) -> dict:
    """Requests per second of CPU inside the machine; every one must be accepted."""
    accepted = agent.counters["accepted"]
    busy, k = 0.0, 0
    while busy < seconds or k < minimum:
        d = _request(agent, k)  # built outside the clock: the MN's work, not the HA's
        t = time.perf_counter()
        agent.receive_udp(d, NOW)
        agent.get_timer()  # mip4d re-arms its timer after every datagram
        busy += time.perf_counter() - t
        k += 1
    if agent.counters["accepted"] - accepted != k:
        raise RuntimeError("the home agent denied some requests: %s" % agent.counters)
    return {"rate": k / busy, "cpu_us": busy / k * 1e6, "requests": k}


# -- over UDP, in a namespace -------------------------------------------------------------------


def _client(ns: str, kind: str, seconds: float, count: int) -> dict:
    hoa, coa = UDP_MN
    out = subprocess.run(netns.python(ns, "-m", "tests.bench.udp_load", "client", kind, coa, HA, "434", str(seconds),
                                      "32", hoa, str(SPI), _key(1).hex(), str(count)),
                         capture_output=True, text=True, timeout=seconds + 60, env=netns.env(), cwd=netns.ROOT)
    if out.returncode != 0:
        raise RuntimeError("udp_load client: %s" % out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _serve(ns: str, argv: list[str], ready: str, log: Path, kind: str, seconds: float, count: int,
           wrapper: tuple[str, ...] = ()) -> dict:
    """Start a server (under `wrapper`, e.g. valgrind), wait for `ready` in its output, run the client
    against it, stop it."""
    cmd = netns.python(ns, *argv)
    cmd = cmd[:4] + list(wrapper) + cmd[4:]  # ip netns exec NS [wrapper] python ...
    with log.open("w") as f:
        server = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=netns.env(), cwd=netns.ROOT)
    try:
        end = time.monotonic() + (120 if wrapper else 30)
        while ready not in log.read_text():
            if server.poll() is not None or time.monotonic() > end:
                raise RuntimeError("server did not start: %s" % log.read_text()[-2000:])
            time.sleep(0.05)
        cpu = proc.cpu_seconds(server.pid)
        got = _client(ns, kind, seconds, count)
        got["server_cpu"] = proc.cpu_seconds(server.pid) - cpu
    finally:
        proc.stop(server, 120 if wrapper else 15)
    return got


DAEMON_COUNTS = (500, 2500)  # requests in the two callgrind runs of mip4d


def udp_rates(seconds: float, count_instructions: bool = False) -> tuple[dict, dict, dict | None]:
    """(floor, mip4d, mip4d with its bindings in etcd): bare echo, the HA daemon, and the daemon with a
    three-member etcd cluster in the same namespace (issue 27; None without etcd), one after the other in
    one namespace. With `count_instructions`, mip4d's "instructions" per request too: the whole process
    under callgrind twice, DAEMON_COUNTS requests each; the difference over the difference in requests
    leaves out its start-up and stop (what it does per datagram, the core's refresh included; user space
    only)."""
    hoa, coa = UDP_MN
    with netns.namespace("ha") as ns, tempfile.TemporaryDirectory(prefix="mip4-bench-") as tmp:
        netns.sh("ip -n %s addr add %s/32 dev lo && ip -n %s addr add %s/32 dev lo" % (ns, HA, ns, coa))
        netns.sh("ip -n %s link add home type veth peer name homep && ip -n %s link set home up" % (ns, ns))
        floor = _serve(ns, ["-u", "-m", "tests.bench.udp_load", "echo", HA, "434"], "ready", Path(tmp, "echo.log"),
                       "echo", seconds, 1000)
        config = Path(tmp, "ha.json")
        # one client sends everything: the per-source rate limit (a flood defence) off, to measure capacity
        config.write_text(json.dumps({"role": "ha", "ha": {
            "address": HA, "role": "i-ha", "home_iface": "home", "trusted_networks": ["10.0.0.0/8"],
            "rate_limit": 0, "mobile_nodes": {hoa: {"spi": SPI, "key": _key(1).hex()}}}}))
        daemon = _serve(ns, ["-m", "mip4.io.daemon", "--config", str(config)], "mip4d started", Path(tmp, "ha.log"),
                        "ha", seconds, int(seconds * 8000) + 1000)
        if count_instructions and instructions.available():
            runs = []
            for n in DAEMON_COUNTS:
                log = Path(tmp, "ha-callgrind-%d.log" % n)
                got = _serve(ns, ["-m", "mip4.io.daemon", "--config", str(config)], "mip4d started", log, "ha", 600, n,
                             wrapper=("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"))
                time.sleep(0.5)  # callgrind's totals follow the daemon's exit
                found = re.search(r"Collected : (\d+)", log.read_text())
                if found is None or not got["replies"]:
                    raise RuntimeError("mip4d under callgrind: %s" % log.read_text()[-2000:])
                runs.append((int(found.group(1)), got["replies"]))
            daemon["instructions"] = (runs[1][0] - runs[0][0]) / (runs[1][1] - runs[0][1])
        stored = _stored_rate(ns, Path(tmp), config, seconds) if Path(ETCD).exists() else None
    for name, got in (("echo", floor), ("mip4d", daemon), ("mip4d", stored)):
        if got is not None and (not got["replies"] or (name == "mip4d" and got["accepted"] != got["replies"])):
            raise RuntimeError("%s: %s" % (name, got))
    return floor, daemon, stored


def _stored_rate(ns: str, tmp: Path, config: Path, seconds: float) -> dict:
    """mip4d as before, its bindings written to etcd (three members on the namespace's loopback) before each
    reply: a lease, a transaction, the old lease revoked (io/store.py)."""
    (tmp / "etcd").mkdir()
    cluster = EtcdCluster(tmp / "etcd", netns=ns)
    cluster.start()
    try:
        raw = json.loads(config.read_text())
        raw["ha"]["store_endpoints"] = list(cluster.endpoints)
        stored = tmp / "ha-store.json"
        stored.write_text(json.dumps(raw))
        return _serve(ns, ["-m", "mip4.io.daemon", "--config", str(stored)], "mip4d started", tmp / "ha-store.log",
                      "ha", seconds, int(seconds * 2000) + 200)
    finally:
        cluster.stop()


# -- the figures -------------------------------------------------------------------------------


def run(quick: bool) -> list[Figure]:
    sizes = (1, 1000, 10000) if quick else (1, 1000, 10000, 100000)
    seconds = 0.3 if quick else 3.0
    rate = Figure("registration", "Home agent registration rate (i-HA, authenticated refreshes)",
                  "bare UDP echo of the same request octets, loopback, same run", [
                      Column("path", "path", left=True), Column("bindings", "bindings", "{:,}"),
                      Column("rate", "reg/s", num), Column("vs_floor", "vs floor", num),
                      Column("cpu_us", "CPU us/reg", "{:,.0f}"), Column("instructions", "instr/reg", "{:,.0f}"),
                      Column("mrs", "MRs at 1 per 50 s", "{:,.0f}")])
    memory = Figure("memory", "Home agent memory per binding (tracemalloc)",
                    "a minimal Python table: dict home address -> (care-of, expiry, identification)", [
                        Column("bindings", "bindings", "{:,}"), Column("binding", "B/binding", "{:,.0f}"),
                        Column("minimal", "B minimal", "{:,.0f}"), Column("vs_minimal", "vs minimal", "{:.2f}"),
                        Column("config", "B/MN config", "{:,.0f}")])
    floor = daemon = None
    if netns.available():
        floor, daemon, stored = udp_rates(seconds, count_instructions=not quick)
        floor_rate = floor["replies"] / floor["seconds"]
        rate.rows.append({"path": "floor: bare UDP echo", "bindings": None, "rate": floor_rate, "vs_floor": 1.0,
                          "cpu_us": floor["server_cpu"] / floor["replies"] * 1e6, "mrs": None})
        d_rate = daemon["replies"] / daemon["seconds"]
        rate.rows.append({"path": "mip4d over UDP", "bindings": 1, "rate": d_rate, "vs_floor": d_rate / floor_rate,
                          "cpu_us": daemon["server_cpu"] / daemon["replies"] * 1e6,
                          "instructions": daemon.get("instructions"), "mrs": d_rate * REREGISTER_EVERY})
        if stored is not None:
            s_rate = stored["replies"] / stored["seconds"]
            rate.rows.append({"path": "mip4d, bindings in etcd", "bindings": 1, "rate": s_rate,
                              "vs_floor": s_rate / floor_rate, "cpu_us": stored["server_cpu"] / stored["replies"] * 1e6,
                              "mrs": s_rate * REREGISTER_EVERY})
        else:
            rate.notes.append("no etcd (Debian etcd-server): no row for mip4d with its bindings in etcd")
    else:
        rate.notes.append("not root or no `ip netns`: no UDP floor and no mip4d row; core rates have no ratio")
    counted = 1000 if quick else 10000  # instructions: n bindings' configuration under callgrind takes long
    for n in sizes:
        agent, mem = home_agent(n)
        got = core_rate(agent, seconds / 2 if n > 1000 else seconds)
        rate.rows.append({"path": "HomeAgent core", "bindings": n, "rate": got["rate"],
                          "vs_floor": ratio(got["rate"], rate.rows[0]["rate"] if floor else None),
                          "cpu_us": got["cpu_us"],
                          "instructions": instructions.measure("registration", n) if n <= counted else None,
                          "mrs": got["rate"] * REREGISTER_EVERY})
        memory.rows.append({"bindings": n, "binding": mem["binding"], "minimal": mem["minimal"],
                            "vs_minimal": ratio(mem["binding"], mem["minimal"]), "config": mem["config"]})
        del agent
    rate.notes += [
        "reg/s: accepted registrations per second; core: per second of CPU in receive_udp() + get_timer(), "
        "as mip4d calls them per datagram; mip4d and floor: replies per second at the client, 32 in flight",
        "vs floor: reg/s / the echo's round trips/s; CPU us/reg: server CPU per request (schedstat for mip4d, echo)",
        "MRs at 1 per 50 s: mobile routers one HA process keeps inside (T_MONITOR 60 s, N 10 s, RFC 5265 3.2.4)",
        "instr/reg: instructions per refresh in receive_udp() + get_timer() (valgrind --tool=callgrind, counting "
        "only the refreshes: tests/bench/instructions.py); for mip4d, per request of the whole daemon (two runs "
        "under callgrind, %d and %d requests, the difference: start-up and stop left out; user space, not the "
        "kernel's part of its syscalls); a noisy machine changes the rates, not this; " % DAEMON_COUNTS +
        "not at 100,000 bindings (making their configuration under callgrind takes over 10 minutes) "
        "nor over 1,000 in a quick run",
        "mip4d, bindings in etcd: a redundant pair's home agent (issue 27, docs/redundancy.md), each refresh written "
        "to a three-member etcd on loopback before its reply (a refresh: the lease's keepalive and one transaction, "
        "one HTTP connection each, one after the other); CPU us/reg is mip4d's alone, etcd's own is not counted",
        "mip4d row: one binding, log level info (a refresh that changes nothing logs at debug); each new binding would "
        "need an ipip "
        "device, which this host kernel may lack: the core rows show how the rate scales with N",
        "the table is filled through receive_udp() (a first registration per MN); a refresh looks only at its "
        "own home address's bindings and tunnels, and expiries come from a heap, so the cost should not grow with N",
    ]
    memory.notes += [
        "B/binding: the home agent's growth per registered MN (Binding, its list, dict slots, last identification, "
        "expiry heap entry, tunnel users); "
        "B/MN config: the MobileNodeEntry and key per mobile node, held whether registered or not",
    ]
    return [rate, memory]
