"""The lab inside the UML kernel: builds topology.json, starts the daemons, runs a scenario.

It reports on stdout (the UML console) as lines "@lab {json}" that boot.py reads on the host.
Python starts slowly under UML, so this process imports mip4d once and forks every daemon from
itself into its namespace (a zygote), instead of starting one interpreter per daemon.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "firmware"))

from pyroute2.netns import setns  # noqa: E402

import mip4.cli  # noqa: E402  (the console, when boot.py asks for the serial line)
import mip4.io.daemon  # noqa: E402  (the heavy import, once)
from mip4.core.uplink import tunnel_name, tunnel_tags  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import deploy  # noqa: E402
import faults  # noqa: E402
import hapair  # noqa: E402
import rogue  # noqa: E402
import stream  # noqa: E402
from alternatives import Alternatives  # noqa: E402
from labkit import REORDER_MAX, STEP_TIMEOUT, batch, clean, emit, merged, resumed_after, sh, topology_state, wait_for  # noqa: E402

LABDIR = os.environ.get("LABDIR", "/run/lab")
SCENARIO = os.environ.get("LAB_SCENARIO", "tour")
LOOP = os.environ.get("LAB_LOOP", "0") == "1"
DWELL = float(os.environ.get("LAB_DWELL", "2"))
CONSOLE = os.environ.get("LAB_CONSOLE") == "1"  # boot.py serial=True: `mip4 console` on ttyS0 for the MR
UPLINK = "wan"


class Lab:
    def __init__(self, topo: dict) -> None:
        self.topo = topo
        self.pids: dict[str, int] = {}
        self.procs: list[subprocess.Popen] = []
        self.dumpcaps: list[subprocess.Popen] = []
        self.charons: dict[str, subprocess.Popen] = {}  # node -> its charon
        self.round = 1  # of the scenario (make soak runs several)
        self.overrides: dict[str, dict] = {}  # daemon -> options over topology.json's (params.json `config`)
        self.probe = False  # params.json `stream: "udp"` (the bench): probes lost in a move are its outage
        self.homes: dict[str, str] = {}  # daemon -> the namespace it runs in, where not its own (deploy.py)
        self.labdir = LABDIR
        self.run_dir = os.path.join(LABDIR, "run")
        self.log_dir = os.path.join(LABDIR, "logs")
        for d in (self.run_dir, self.log_dir, os.path.join(LABDIR, "etc")):
            os.makedirs(d, exist_ok=True)

    # -- topology --------------------------------------------------------------------------------

    def build(self) -> None:
        topo = self.topo
        nodes = topo["nodes"]
        batch(["netns add %s" % name for name in nodes])
        root = ["link add br-%s type bridge" % b for b in topo["bridges"]]
        root += ["link set br-%s up" % b for b in topo["bridges"]]
        pairs_done = set()
        for name, node in nodes.items():
            for ifname, (where, _addr) in node.get("links", {}).items():
                if ":" in where:  # a direct cable to another node's interface
                    peer, peer_if = where.split(":")
                    key = tuple(sorted([(name, ifname), (peer, peer_if)]))
                    if key in pairs_done:
                        continue
                    pairs_done.add(key)
                    root.append("link add %s netns %s type veth peer name %s netns %s"
                                % (ifname, name, peer_if, peer))
                    continue
                port = "%s-%s" % (name, ifname)
                root.append("link add %s type veth peer name %s netns %s" % (port, ifname, name))
                root.append("link set %s master br-%s" % (port, where))
                root.append("link set %s up" % port)
            for ifname in node.get("uplinks", {}):
                port = "%s-%s" % (name, ifname)  # the MR's uplinks: the lab plugs them in (move())
                root.append("link add %s type veth peer name %s netns %s" % (port, ifname, name))
        batch(root)
        for name, node in nodes.items():
            self._sysctls(name)
            lines = ["link set lo up"]
            for ifname, (_where, addr) in node.get("links", {}).items():
                lines += ["addr add %s dev %s" % (addr, ifname), "link set %s up" % ifname]
            for ifname, mac in node.get("uplinks", {}).items():
                lines += ["link set %s address %s" % (ifname, mac), "link set %s up" % ifname]
            lines += ["route add %s" % r for r in node.get("routes", [])]
            batch(lines, name)
            for cmd in node.get("commands", []):
                sh("ip netns exec %s %s" % (name, cmd))
            for ifname, d in node.get("dhcp", {}).items():
                self._dnsmasq(name, ifname, d)

    def impair(self, netem: dict[str, str]) -> dict[str, str]:
        """netem on bridge-side ports (traffic towards that node): delay, loss, as a test asks."""
        shown = {}
        for port, args in netem.items():
            sh("tc qdisc replace dev %s root netem %s" % (port, args))
            shown[port] = sh("tc qdisc show dev %s" % port).strip()
        return shown

    def floor(self, node: str, to: str, count: int = 10) -> dict:
        """The physical floor of a handoff: round trips from `node` to `to` (the bench pings the x-HA
        from the ISP router the MR's outside networks hang off)."""
        out = sh("ip netns exec %s ping -n -q -c %d -i 0.2 -W 2 %s" % (node, count, to), check=False)
        rtts = re.search(r"= ([0-9.]+)/([0-9.]+)/([0-9.]+)", out)
        return {"node": node, "to": to, "rtt_min_ms": float(rtts.group(1)) if rtts else None,
                "rtt_avg_ms": float(rtts.group(2)) if rtts else None}

    def rss(self, name: str) -> dict:
        """A process's resident and peak resident memory (KiB), from /proc."""
        got = {}
        try:
            with open("/proc/%d/status" % self.pids[name]) as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        got["rss_kib" if line.startswith("VmRSS") else "hwm_kib"] = int(line.split()[1])
        except (KeyError, OSError):
            pass
        return got

    def bulk(self, index: int, seconds: float) -> dict:
        """The bench's bulk TCP transfer CN -> LAN host through the MR's current mode: iperf3 (C, so the
        rate is the path's, not an interpreter's), server on the CN sending (-R), its first second left out."""
        port = self.topo["cn"]["port"] + 1
        frags = self.fragments()
        server = subprocess.Popen(["ip", "netns", "exec", "cn", "iperf3", "-s", "-1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: "iperf3" in sh("ip netns exec cn ss -ltnp sport = :%d" % port), 10, "iperf3 -s")
        out = sh("ip netns exec lanhost iperf3 -c %s -p %d -R -J -O 1 -t %g"
                 % (self.topo["cn"]["address"], port, seconds), check=False)
        server.wait(timeout=10)
        frags = {k: v - frags.get(k, 0) for k, v in self.fragments().items() if v - frags.get(k, 0)}
        try:
            end = json.loads(out)["end"]
        except (ValueError, KeyError):
            return {"mode": self.snapshot()["mode"], "mbit_s": None, "error": out[-300:]}
        cpu = end.get("cpu_utilization_percent", {})
        return {"mode": self.snapshot()["mode"], "mbit_s": round(end["sum_received"]["bits_per_second"] / 1e6, 2),
                "bytes": end["sum_received"]["bytes"], "seconds": round(end["sum_received"]["seconds"], 3),
                "retransmits": end["sum_sent"].get("retransmits"), "sender_cpu_pct": cpu.get("remote_total"),
                "receiver_cpu_pct": cpu.get("host_total"), "fragments": frags,
                "cn_route": sh("ip -n cn route get %s" % self.topo["lan"]["host"], check=False).strip()}

    def fragments(self) -> dict[str, int]:
        """IPv4 fragments made (FragCreates) and reassembled (ReasmOKs) per node, from its /proc/net/snmp."""
        got = {}
        for ns in self.topo["nodes"]:
            rows = [line.split() for line in sh("ip netns exec %s cat /proc/net/snmp" % ns, check=False).splitlines()
                    if line.startswith("Ip:")]
            if len(rows) == 2:
                ip = dict(zip(rows[0][1:], rows[1][1:], strict=True))
                got[ns + ":made"], got[ns + ":reassembled"] = int(ip["FragCreates"]), int(ip["ReasmOKs"])
        return got

    def _sysctls(self, ns: str) -> None:
        """Every node forwards; no reverse path filter (tunnels deliver from any source); IPv4 only,
        so that no IPv6 router solicitation or MLD report crosses a link the leak auditor judges.

        Written from this process after entering the namespace: /proc/sys/net is per namespace."""
        setns(ns, flags=0)
        try:
            settings = {"/proc/sys/net/ipv4/ip_forward": "1"}
            for conf in os.listdir("/proc/sys/net/ipv4/conf"):
                settings["/proc/sys/net/ipv4/conf/%s/rp_filter" % conf] = "0"
            for conf in os.listdir("/proc/sys/net/ipv6/conf"):
                settings["/proc/sys/net/ipv6/conf/%s/disable_ipv6" % conf] = "1"
            for path, value in settings.items():
                with open(path, "w") as f:
                    f.write(value)
        finally:
            setns("/proc/1/ns/net", flags=0)

    def _dnsmasq(self, ns: str, ifname: str, d: dict) -> None:
        argv = ["ip", "netns", "exec", ns, "dnsmasq", "-k", "--conf-file=/dev/null", "--port=0", "--user=root",
                "--interface=%s" % ifname, "--bind-interfaces", "--dhcp-range=%s,2m" % d["range"],
                "--dhcp-option=3,%s" % d["router"], "--no-ping", "--dhcp-authoritative", "--log-dhcp",
                "--dhcp-leasefile=/run/dnsmasq-%s-%s.leases" % (ns, ifname), "--pid-file="]
        argv += ["--dhcp-host=%s" % h for h in d.get("hosts", [])]
        log = open(os.path.join(self.log_dir, "dnsmasq-%s-%s.log" % (ns, ifname)), "w")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))

    # -- processes -------------------------------------------------------------------------------

    def spawn(self, name: str, ns: str, fn, *args) -> int:  # noqa: ANN001
        """Fork; the child enters `ns`, logs to logs/NAME.log and runs fn(*args)."""
        pid = os.fork()
        if pid:
            self.pids[name] = pid
            return pid
        code = 1
        try:
            fd = os.open(os.path.join(self.log_dir, name + ".log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            setns(ns, flags=0)
            code = fn(*args) or 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def start_charons(self) -> None:
        """strongSwan charon on the VPN gateway (answers, static swanctl config) and on the MR (driven
        by mip4d over VICI): one per namespace, each with a private /run for its pid file."""
        for role in ("gateway", "mr"):
            self.start_charon(role)

    def start_charon(self, role: str) -> None:
        """One charon (again, after a crash: faults.py); the gateway's gets its swanctl config loaded."""
        ipsec = self.topo["ipsec"]
        node = ipsec[role]["node"]
        conf_dir = os.path.join(LABDIR, "etc", "ipsec-" + node)
        os.makedirs(conf_dir, exist_ok=True)
        with open(os.path.join(conf_dir, "strongswan.conf"), "w") as f:
            f.write(_strongswan_conf(self.vici(node), os.path.join(self.log_dir, "charon-%s.log" % node),
                                     self.topo["nodes"][node].get("uplinks", {}) if role == "mr" else {}))
        log = open(os.path.join(self.log_dir, "charon-%s.out" % node), "a")
        # `ip netns exec`, unshare and sh all exec: the Popen's pid is charon's
        self.charons[node] = p = subprocess.Popen(
            ["ip", "netns", "exec", node, "unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /run && "
             "STRONGSWAN_CONF=%s/strongswan.conf exec /usr/lib/ipsec/charon" % conf_dir],
            stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        if role == "gateway":
            conf = os.path.join(conf_dir, "swanctl.conf")
            with open(conf, "w") as f:
                f.write(_swanctl_gateway(ipsec))
            wait_for(lambda: _answers(self.vici(node)), 30, "charon on %s did not start" % node)
            sh("ip netns exec %s swanctl --load-all --uri unix://%s --file %s" % (node, self.vici(node), conf))

    def vici(self, node: str) -> str:
        return os.path.join(self.run_dir, "charon-%s.vici" % node)

    def start_daemons(self) -> None:
        for name in self.topo["daemons"]:
            self.start_daemon(name)

    def start_daemon(self, name: str) -> None:
        """mip4d for one node (again, procd-style, after a kill: faults.py); params.json's `config`
        overrides options per daemon (the fault scenario's short lifetimes)."""
        cfg = merged(self.topo["daemons"][name], self.overrides.get(name, {}))
        cfg = dict(cfg, status_file=os.path.join(self.run_dir, name + ".status.json"), seed=1)
        if "vpn" in cfg:
            cfg["vpn"] = dict(cfg["vpn"], vici="unix://" + self.vici(name))
        if CONSOLE or cfg.get("ha", {}).get("start_standby"):  # a pair's home agent: keepalived's `mip4 ha`
            cfg["control_socket"] = os.path.join(self.run_dir, name + ".control.sock")
        path = os.path.join(LABDIR, "etc", name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        self.spawn("mip4d-" + name, self.homes.get(name, name), mip4.io.daemon.main,
                   ["--config", path, "--log-level", "debug"])
        if CONSOLE and name == "mr" and "console" not in self.pids:  # the field engineer's serial console
            self.spawn("console", name, mip4.cli.main, ["console", "--device", "/dev/ttyS0", "--socket",
                                                        cfg["control_socket"], "--config", path])

    def start_rogue(self) -> None:
        r = self.topo.get("rogue")
        if r:
            batch(["addr add %s/32 dev lo" % r["address"]], r["node"])
            status = os.path.join(self.run_dir, "rogue.json")
            self.spawn("rogue", r["node"], rogue.serve, r["address"], r["spi"], status)

    def start_stream(self) -> None:
        """The LAN host's stream from the CN: the TCP counter stream, or (the bench) UDP probes."""
        cn = self.topo["cn"]
        if self.probe:
            self.spawn("stream-client", "lanhost", stream.probe_follow, cn["port"], self.stream_file())
            time.sleep(0.3)
            self.spawn("stream-server", "cn", stream.probe_send, self.topo["lan"]["host"], cn["port"])
            return
        self.spawn("stream-server", "cn", stream.serve, cn["port"])
        time.sleep(0.3)
        self.spawn("stream-client", "lanhost", stream.follow, cn["address"], cn["port"], self.stream_file())

    def start_capture(self) -> None:
        """dumpcap on the listed node interfaces, from inside each node (an uplink without carrier
        can still be captured there); one file each: captures/NODE-IFACE.pcapng."""
        os.makedirs(os.path.join(LABDIR, "captures"), exist_ok=True)
        self.dumpcaps = []
        for ns, ifname in self.topo.get("captures", []):
            out = os.path.join(LABDIR, "captures", "%s-%s.pcapng" % (ns, ifname))
            log = open(os.path.join(self.log_dir, "dumpcap-%s-%s.log" % (ns, ifname)), "w")
            p = subprocess.Popen(["ip", "netns", "exec", ns, "dumpcap", "-q", "-i", ifname, "-w", out],
                                 stdout=log, stderr=subprocess.STDOUT)
            self.procs.append(p)
            self.dumpcaps.append(p)

    def stop(self, name: str, timeout: float = 10.0) -> int | None:
        pid = self.pids.pop(name, None)
        if pid is None:
            return None
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return -9

    # -- reading state ---------------------------------------------------------------------------

    def stream_file(self) -> str:
        return os.path.join(self.run_dir, "stream.json")

    def read(self, path: str) -> dict:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def status(self, name: str) -> dict:
        return self.read(os.path.join(self.run_dir, name + ".status.json"))

    def snapshot(self) -> dict:
        """What the live view shows: the MR, the i-HA's bindings, the stream."""
        mr_all = self.status("mr")
        mr = mr_all.get("status", {})
        ipsec = mr_all.get("ipsec") or {}
        iha = self.status("iha").get("status", {})
        wan = mr.get("interfaces", {}).get(UPLINK, {})
        return {
            "mode": mr.get("mode"), "primary": mr.get("primary"), "state": wan.get("state"),
            "care_of": wan.get("care_of"), "gate": wan.get("gate"), "fa": wan.get("foreign_agent"),
            "t_monitor_left": wan.get("t_monitor_left"), "lan_route": self.status("mr").get("lan_route"),
            "i_ha_bindings": [(b["home_address"], b["care_of"], round(b["remaining"] or 0))
                              for b in iha.get("bindings", [])],
            "stream": {k: v for k, v in self.read(self.stream_file()).items() if k != "errors"},
            "ike": mr.get("ike"), "vpn_tia": mr.get("vpn_tia"), "counters": mr.get("counters", {}),
            "detection": wan.get("detection"), "rogue": self.read(os.path.join(self.run_dir, "rogue.json")),
            "ike_sa": ipsec.get("ike_sa"), "child_sa": ipsec.get("child_sa"),
        }

    # -- moving ----------------------------------------------------------------------------------

    def move(self, network: str | None, uplink: str = UPLINK) -> float:
        """Unplug the uplink (carrier loss) and plug it into `network`; returns the time of the plug-in."""
        port = "mr-" + uplink
        batch(["link set %s down" % port, "link set %s nomaster" % port])
        if network is None:
            return time.monotonic()
        time.sleep(0.3)  # the vehicle drives between networks
        bridge = self.topo["networks"][network]["bridge"]
        plugged = time.monotonic()  # before `ip` returns: the MR may answer the carrier event sooner
        batch(["link set %s master br-%s" % (port, bridge), "link set %s up" % port])
        return plugged

    def flap(self) -> float:
        """Carrier down and up again on the same network (a loose cable, a radio fade)."""
        port = "mr-" + UPLINK
        batch(["link set %s down" % port])
        time.sleep(0.2)
        up = time.monotonic()  # before `ip` returns: the MR's registrations may follow the carrier sooner
        batch(["link set %s up" % port])
        return up

    def second_uplink(self, index: int, uplink: str, network: str | None) -> dict:
        """Plug another uplink into `network` (or unplug it): it is judged on its own (RFC 5265 3.2.1),
        while the primary uplink keeps its mode and the stream keeps flowing."""
        before = self.snapshot()
        self.move(network, uplink)
        emit("moving", step=index, uplink=uplink, network=network, wall=time.time())
        want = topology_state(self.topo, network)
        verdict, deadline = None, time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            other = self.status("mr").get("status", {}).get("interfaces", {}).get(uplink, {})
            if other.get("state") == want and (want != "outside" or other.get("x_ha_registered")):
                verdict = other
                break
            emit("status", **self.snapshot())
            time.sleep(0.25)
        time.sleep(2.0)  # the primary uplink must not notice
        snap = self.snapshot()
        s = snap["stream"]
        progressed = s.get("received", 0) >= before["stream"].get("received", 0) + 25
        ok = verdict is not None and snap["mode"] == before["mode"] and snap["gate"] == before["gate"] and progressed
        result = dict(step=index, network=network, uplink=uplink, expect=want, mode=snap["mode"], ok=ok, flap=False,
                      other=verdict, primary=snap["primary"], stream=s, mode_after_s=None, data_after_s=None,
                      outage_s=None, care_of=snap["care_of"])
        self.keep_status(index)
        emit("step", **result)
        return result

    def vehicle(self, index: int, step: dict) -> dict:
        """The primary uplink pulled, flapping, or back for good while a second one stands by: traffic
        follows priority and hold-down, and the stream loses nothing (issue 7). `data_after_s` is the
        time from the link event to the stream's data flowing again (0: it never stopped)."""
        uplink, action, network = step["vehicle"], step["action"], step.get("network")
        before = self.snapshot()
        hold = self.topo["daemons"]["mr"]["mn"].get("hold_down", 10.0)
        primaries: list[str | None] = []
        event = time.monotonic()
        if action == "pull":
            event = self.move(None, uplink)
        elif action == "flap":  # up for less than the hold-down each time, then down
            for _ in range(step.get("times", 4)):
                self.move(network, uplink)
                end = time.monotonic() + step.get("up_s", hold / 2)
                while time.monotonic() < end:
                    primaries.append(self.snapshot()["primary"])
                    time.sleep(0.1)
                self.move(None, uplink)
                primaries.append(self.snapshot()["primary"])
                time.sleep(step.get("down_s", 0.5))
            event = time.monotonic()
        else:  # "return": plugged in for good
            event = self.move(network, uplink)
        emit("moving", step=index, vehicle=uplink, action=action, network=network, wall=time.time())
        expect, want = step["expect"], step["primary"]
        inside_at = moved_at = None
        deadline = event + STEP_TIMEOUT
        while time.monotonic() < deadline:
            mr = self.status("mr").get("status", {})
            snap = self.snapshot()
            primaries.append(snap["primary"])
            ours = mr.get("interfaces", {}).get(uplink, {})
            if inside_at is None and ours.get("state") == "inside":
                inside_at = time.monotonic()
            gate = mr.get("interfaces", {}).get(want, {}).get("gate")
            if moved_at is None and snap["primary"] == want and snap["mode"] == expect and gate \
                    and snap["lan_route"] not in (None, ["prohibit"]):
                moved_at = time.monotonic()
            s = snap["stream"]
            settled = expect not in ("c", "f") or snap["ike"] == "down"  # inside: IPsec closes once drained
            if moved_at and settled and s.get("received", 0) >= before["stream"].get("received", 0) + 25 \
                    and (s.get("last_rx") or 0) > moved_at:
                break
            emit("status", **snap)
            time.sleep(0.1)
        snap = self.snapshot()
        s = snap["stream"]
        resumed = resumed_after(s, event, slack=stream.STALL if action == "pull" else 0.0)
        stalls = [round(e - b, 3) for b, e in s.get("stalls", []) if e >= event - 1.0]
        if action == "return" and stalls and max(stalls) < REORDER_MAX and s.get("last_rx", 0) > event:
            resumed = event  # data never stopped at the link event; the pause at the switch is in `stalls`
        lossless = clean(s)
        ok = moved_at is not None and resumed is not None and lossless
        held_s = None
        if action == "return":  # traffic moves back only after the hold-down, without an outage: what the
            # stream may show is the old (ESP) path's last packets arriving after the new path's first
            # held_s is seen from here by polling the status file (written up to a second late under load);
            # waited_s is the MR's own clock: usable since -> primary
            held_s = None if inside_at is None or moved_at is None else round(moved_at - inside_at, 3)
            waited = self.status("mr").get("status", {}).get("interfaces", {}).get(uplink, {}).get("waited_s")
            ok = ok and held_s is not None and held_s >= hold - 1.5 and waited is not None and waited >= hold \
                and max(stalls, default=0) < REORDER_MAX
        if action == "flap":
            ok = ok and uplink not in primaries
        result = dict(step=index, network=network, vehicle=uplink, action=action, expect=expect,
                      primary=snap["primary"], primaries=sorted({p or "none" for p in primaries}), mode=snap["mode"],
                      ok=ok, flap=False, hold_down=hold, held_s=held_s, stalls=stalls, stream=s,
                      waited_s=None if action != "return" else round(waited or 0, 3),
                      wall=time.time() - (time.monotonic() - event),
                      mode_after_s=None if moved_at is None else round(moved_at - event, 3),
                      data_after_s=None if resumed is None else round(resumed - event, 3), outage_s=None,
                      care_of=snap["care_of"], ike=snap["ike"], ike_sa=snap["ike_sa"], child_sa=snap["child_sa"])
        self.keep_status(index)
        emit("step", **result)
        return result

    def gateway(self, index: int, action: str) -> dict:
        """The VPN gateway re-keys the CHILD_SA or deletes the IKE SA while the MR is outside: user data
        pauses (blocked, never in clear, while IKE is down) and resumes over the new SAs."""
        before = self.snapshot()
        node = self.topo["ipsec"]["gateway"]["node"]
        verb = "--rekey --child mr" if action == "rekey" else "--terminate --ike mr"
        started = time.monotonic()
        sh("ip netns exec %s swanctl %s --uri unix://%s" % (node, verb, self.vici(node)))
        emit("moving", step=index, gateway=action, wall=time.time())
        old = (before["child_sa"] or {}).get("spi_in")
        deadline, renewed = started + STEP_TIMEOUT, None
        while time.monotonic() < deadline:
            snap = self.snapshot()
            s = snap["stream"]
            fresh = (snap["child_sa"] or {}).get("spi_in") not in (None, old)
            if fresh and snap["gate"] == "vpn" and s.get("received", 0) >= before["stream"].get("received", 0) + 25 \
                    and (s.get("last_rx") or 0) > started:
                renewed = time.monotonic()
                break
            emit("status", **snap)
            time.sleep(0.25)
        snap = self.snapshot()
        s = snap["stream"]
        lossless = clean(s)
        result = dict(step=index, network=None, gateway=action, expect=before["mode"], mode=snap["mode"],
                      ok=renewed is not None and lossless and snap["mode"] == before["mode"], flap=False,
                      renewed_after_s=None if renewed is None else round(renewed - started, 3), stream=s,
                      ike_before=before["ike_sa"], child_before=before["child_sa"], ike_sa=snap["ike_sa"],
                      child_sa=snap["child_sa"], mode_after_s=None, data_after_s=None, outage_s=None,
                      care_of=snap["care_of"], wall=time.time() - (time.monotonic() - started))
        self.keep_status(index)
        emit("step", **result)
        return result

    def x_ha_binding(self) -> dict:
        """The x-HA's binding of the MR (its status file), or {}."""
        hoa = self.topo["daemons"]["mr"]["mn"]["x_hoa"]
        found = [b for b in self.status("xha").get("status", {}).get("bindings", []) if b["home_address"] == hoa]
        return found[0] if found else {}

    def nat_restart(self, index: int, step: dict) -> dict:
        """The NAT box restarts (RFC 3519 4.10): its mappings are gone (conntrack flushed) and UDP now
        leaves from `ports`, so the MR's UDP tunnel reaches the x-HA from a new port, which the x-HA must
        not follow on data alone. The MR hears nothing back through the tunnel, registers again from
        the new mapping, and the stream goes on with nothing lost."""
        node, before, old = step["node"], self.snapshot(), self.x_ha_binding()
        sh("ip netns exec %s iptables-legacy -t nat -F POSTROUTING" % node)
        sh("ip netns exec %s iptables-legacy -t nat -A POSTROUTING -o inet -p udp -j MASQUERADE --to-ports %s"
           % (node, step["ports"]))
        sh("ip netns exec %s iptables-legacy -t nat -A POSTROUTING -o inet -j MASQUERADE" % node)
        sh("ip netns exec %s %s -c 'from pyroute2 import Conntrack; Conntrack().flush()'" % (node, sys.executable))
        started, wall = time.monotonic(), time.time()
        emit("moving", step=index, nat=step["nat"], wall=wall)
        deadline, moved, progressed = started + STEP_TIMEOUT, None, False
        while time.monotonic() < deadline:
            snap, b = self.snapshot(), self.x_ha_binding()
            if moved is None and b.get("source_port") not in (None, old.get("source_port")):
                moved = time.monotonic()
            s = snap["stream"]
            progressed = s.get("received", 0) >= before["stream"].get("received", 0) + 25 \
                and (s.get("last_rx") or 0) > (moved or deadline)
            if moved and progressed:
                break
            emit("status", **snap)
            time.sleep(0.25)
        snap, new = self.snapshot(), self.x_ha_binding()
        s = snap["stream"]
        resumed = resumed_after(s, started)
        lossless = clean(s)
        wan = self.status("mr").get("status", {}).get("interfaces", {}).get(UPLINK, {})
        x_reg = [r for r in wan.get("registrations", []) if r.get("agent") == "x-ha" and r.get("udp_tunnel")]
        ok = bool(moved) and progressed and lossless and resumed is not None and snap["mode"] == before["mode"]
        result = dict(step=index, network=None, nat=step["nat"], expect=before["mode"], mode=snap["mode"], wall=wall,
                      ok=ok,
                      flap=False, port_before=old.get("source_port"), port_after=new.get("source_port"),
                      source=new.get("source"), udp_tunnel=new.get("udp_tunnel"),
                      moved_after_s=None if moved is None else round(moved - started, 3),
                      data_after_s=None if resumed is None else round(resumed - started, 3), outage_s=None,
                      mode_after_s=None, stream=s, care_of=snap["care_of"], registrations=x_reg,
                      ike_sa=snap["ike_sa"], child_sa=snap["child_sa"])
        self.keep_status(index)
        emit("step", **result)
        return result

    def cut(self, index: int, port: str) -> dict:
        """Drop everything towards `port` (the i-HA unreachable): the MR must close the gate once
        T_MONITOR has passed without a good registration (RFC 5265 3.2.4, R-3.2.4-b)."""
        sh("tc qdisc replace dev %s root netem loss 100%%" % port)
        cut_at, wall = time.monotonic(), time.time()
        emit("moving", step=index, cut=port, wall=time.time())
        t_monitor = self.topo["daemons"]["mr"]["mn"]["t_monitor"]
        blocked = None
        while time.monotonic() < cut_at + t_monitor + 15:
            snap = self.snapshot()
            if snap["gate"] is None and snap["lan_route"] == ["prohibit"]:
                blocked = time.monotonic()
                break
            emit("status", **snap)
            time.sleep(0.25)
        snap = self.snapshot()
        result = dict(step=index, network=None, cut=port, wall=wall, expect="blocked", mode=snap["mode"],
                      ok=blocked is not None,
                      flap=False, blocked_after_s=None if blocked is None else round(blocked - cut_at, 3),
                      t_monitor=t_monitor, state=snap["state"], detection=snap["detection"], stream=snap["stream"],
                      mode_after_s=None, data_after_s=None, outage_s=None, care_of=snap["care_of"])
        emit("step", **result)
        return result

    def restore(self, index: int, port: str, network: str) -> dict:
        sh("tc qdisc del dev %s root" % port)
        return self.step(index, network, restored=True)

    def step(self, index: int, network: str, flap: bool = False, restored: bool = False) -> dict:
        expect = self.topo["networks"][network]["expect"]
        before = self.read(self.stream_file())
        detached = time.monotonic()
        attached = detached if restored else self.flap() if flap else self.move(network)
        wall = time.time() - (time.monotonic() - attached)
        emit("moving", step=index, network=network, expect=expect, flap=flap, wall=wall)
        deadline = attached + STEP_TIMEOUT
        reached, progressed = None, False
        while time.monotonic() < deadline:
            snap = self.snapshot()
            s = snap["stream"]
            if reached is None and snap["mode"] == expect and snap["gate"] and snap["lan_route"] not in (
                    None, ["prohibit"]):
                reached = time.monotonic()
            progressed = s.get("received", 0) >= before.get("received", 0) + 25 and (s.get("last_rx") or 0) > attached
            if reached and progressed:
                break
            emit("status", **snap)
            time.sleep(0.25)
        snap = self.snapshot()
        s = snap["stream"]
        resumed = resumed_after(s, attached)
        lossless = s.get("duplicates") == 0 if self.probe else clean(s)  # probes: the outage loses some
        ok = bool(reached) and progressed and lossless and resumed is not None
        result = dict(step=index, network=network, expect=expect, mode=snap["mode"], ok=ok, flap=flap, wall=wall,
                      mode_after_s=None if reached is None else round(reached - attached, 3),
                      data_after_s=None if resumed is None else round(resumed - attached, 3),
                      outage_s=None if resumed is None else round(resumed - detached, 3),
                      care_of=snap["care_of"], stream=s, restored=restored, ike=snap["ike"],
                      ike_sa=snap["ike_sa"], child_sa=snap["child_sa"], counters=snap["counters"], rogue=snap["rogue"],
                      mr_rss_kib=self.rss("mip4d-mr").get("rss_kib"))  # the bench: memory across the moves
        self.keep_status(index)
        emit("step", **result)
        return result

    def keep_status(self, index: int) -> None:
        """The MR's status model as it stood at the end of a step (tests render it with `mip4 status`),
        and the VPN gateway's ESP SAs with their keys, so that tshark can decrypt the captures (the
        tests read the layers inside ESP on every link: RFC 5265 A.1)."""
        try:
            shutil.copy(os.path.join(self.run_dir, "mr.status.json"),
                        os.path.join(self.run_dir, "mr-step-%d.json" % index))
        except OSError:
            pass
        gateway = self.topo["ipsec"]["gateway"]["node"]
        with open(os.path.join(self.run_dir, "xfrm-step-%d.txt" % index), "w") as f:
            f.write(sh("ip -n %s xfrm state" % gateway, check=False))

    # -- teardown --------------------------------------------------------------------------------

    def installed(self, ns: str) -> dict:
        """What mip4 keeps in one namespace's kernel: its tunnels, rules, routes (metric 10), and every
        XFRM policy and state (guards, CHILD_SAs)."""
        links = sh("ip -n %s -o link show" % ns)
        tunnels = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()
                   if mip4.io.kernel.OUR_TUNNELS.match(line.split(":")[1].strip().split("@")[0])]
        rules = [line.strip() for line in sh("ip -n %s rule" % ns).splitlines()
                 if not any(t in line for t in ("lookup local", "lookup main", "lookup default"))]
        routes = [line for line in sh("ip -n %s route show table all" % ns).splitlines()
                  if "proto static" in line and ("metric 10 " in line or line.endswith("metric 10"))]
        xfrm = [line for line in sh("ip -n %s xfrm policy; ip -n %s xfrm state" % (ns, ns)).splitlines()
                if line.startswith("src ")]
        return {"tunnels": tunnels, "rules": rules, "routes": routes, "xfrm": xfrm}

    def leftovers(self) -> dict:
        """What mip4 installed and did not remove, per daemon namespace (must be nothing: guards and
        CHILD_SAs go once mip4d has terminated IKE)."""
        spaces = {self.homes.get(name, name) for name in self.topo["daemons"]}
        return {ns: got for ns in sorted(spaces) if any((got := self.installed(ns)).values())}

    def shutdown(self) -> dict:
        codes = {}
        self.stop("stream-client")
        for name in ["mip4d-mr"] + [n for n in list(self.pids) if n.startswith("mip4d-")]:
            code = self.stop(name)
            if code is not None:
                codes[name] = code
        for name in list(self.pids):
            self.stop(name)
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p in self.dumpcaps else signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        return codes


def _strongswan_conf(vici: str, log: str, uplinks: dict) -> str:
    """RFC 5265 2.3 on the MR: charon routes nothing itself (mip4 owns the routing), puts the VPN-TIA
    on lo, and ignores mip4's tunnels so it never roams into its own x-MIP tunnel."""
    tags = tunnel_tags(uplinks)  # the names the MN gives them (RFC 5265 5.6: one stack per uplink)
    ignore = ", ".join([tunnel_name(k, tags[u]) for u in uplinks for k in ("x", "i")] + ["mip4-vpn"])
    return """charon {
  load = random nonce openssl aes sha1 sha2 hmac kdf gmp pem pkcs1 x509 pubkey kernel-netlink socket-default vici
  install_routes = no
  install_virtual_ip_on = lo
  %s
  retransmit_timeout = 2.0
  retransmit_tries = 3
  plugins {
    vici {
      socket = unix://%s
    }
  }
  filelog {
    lab {
      path = %s
      default = 1
      time_format = %%T
    }
  }
}
""" % ("interfaces_ignore = " + ignore if ignore else "", vici, log)


def _swanctl_gateway(ipsec: dict) -> str:
    gw, mr = ipsec["gateway"], ipsec["mr"]
    return """connections {
  mr {
    version = 2
    local_addrs = %s
    pools = vpn
    proposals = %s
    mobike = no
    dpd_delay = 10s
    local {
      auth = psk
      id = %s
    }
    remote {
      auth = psk
      id = %s
    }
    children {
      mr {
        local_ts = %s
        esp_proposals = %s
        dpd_action = clear
      }
    }
  }
}
pools {
  vpn {
    addrs = %s
  }
}
secrets {
  ike-mr {
    id-1 = %s
    id-2 = %s
    secret = "%s"
  }
}
""" % (gw["address"], ipsec["proposals"], gw["id"], mr["id"], ",".join(ipsec["intranet"]), ipsec["esp_proposals"],
       ipsec["pool"], gw["id"], mr["id"], ipsec["psk"])


def _answers(vici: str) -> bool:
    """charon listens on `vici` (a stale socket file from a crashed one does not count)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(vici)
        return True
    except OSError:
        return False
    finally:
        s.close()


def main() -> int:
    with open(os.path.join(HERE, "topology.json")) as f:
        topo = hapair.overlay(json.load(f), SCENARIO)  # ha_pair: its extra machines; else unchanged
    t0 = time.monotonic()
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    emit("booted", kernel_to_python_s=round(uptime, 3))
    lab = Lab(topo)
    alts = Alternatives(lab)  # the bench's plain VPNs after mip4's moves (alternatives.py)
    results: list[dict] = []
    ok = False
    try:
        lab.build()
        params = lab.read(os.path.join(LABDIR, "params.json"))
        lab.overrides = params.get("config") or topo.get(SCENARIO + "_config", {})
        lab.probe = params.get("stream") == "udp"
        emit("topology", seconds=round(time.monotonic() - t0, 3), nodes=len(topo["nodes"]),
             netem=lab.impair(params.get("netem", {})))
        if params.get("captures", True):  # the bench runs without: dumpcap would take the CPU its figures measure
            lab.start_capture()
        lab.start_rogue()
        lab.start_charons()
        if "pairs" in topo:
            lab.procs += hapair.start_store(lab).procs.values()
        lab.start_daemons()
        wait_for(lambda: all(lab.status(n) for n in topo["daemons"]), 120, "daemons did not start")
        if "pairs" in topo:
            hapair.start_keepalived(lab)
        emit("daemons", seconds=round(time.monotonic() - t0, 3), pids=lab.pids)
        tour = params.get("tour") or topo[SCENARIO]  # "tour", "faults", or the bench's own
        lab.move(tour[0]["network"])
        wait_for(lambda: lab.snapshot()["mode"] == topo["networks"][tour[0]["network"]]["expect"], 60,
                 "the MR did not register at %s" % tour[0]["network"])
        emit("registered", seconds=round(time.monotonic() - t0, 3), uptime=round(uptime + time.monotonic() - t0, 3),
             **lab.snapshot())
        rss_at_start = lab.rss("mip4d-mr").get("rss_kib")
        lab.start_stream()
        wait_for(lambda: lab.read(lab.stream_file()).get("received", 0) >= 25, 60, "the stream did not start")
        emit("stream", seconds=round(time.monotonic() - t0, 3))
        rounds = 0
        while True:
            rounds += 1
            lab.round = rounds
            where = tour[0]["network"]
            for i, step in enumerate(tour[1:], 1):
                if "netem" in step:  # the bench's RTT phases: not a move, no result of its own
                    emit("netem", step=i, rtt_ms=step.get("rtt_ms"), shown=lab.impair(step["netem"]))
                    continue
                if "floor" in step:
                    emit("floor", step=i, rtt_ms=step.get("rtt_ms"), **lab.floor(**step["floor"]))
                    continue
                if "footprint" in step:
                    emit("footprint", rss_at_start_kib=rss_at_start, **lab.rss("mip4d-mr"))
                    continue
                if "bulk" in step:
                    emit("bulk", step=i, **lab.bulk(i, step["bulk"]))
                    continue
                if "alt_begin" in step:
                    alts.begin(i)
                    continue
                if "alt_start" in step:
                    alts.start(i, step["alt_start"], step["network"])
                    continue
                if "alt_stop" in step:
                    alts.stop(i, step["alt_stop"])
                    continue
                if "deploy" in step:
                    results.append(deploy.run(lab, i, step))
                    where = step.get("network") or where
                elif "ha" in step:
                    results.append(hapair.failover(lab, i, step))
                elif "fault" in step:
                    results.append(faults.inject(lab, i, step))
                elif "alt" in step:
                    if (got := alts.step(i, step["network"], step["alt"])) is not None:
                        results.append(got)
                    where = step.get("network") or where
                elif "cut" in step:
                    results.append(lab.cut(i, step["cut"]))
                elif "gateway" in step:
                    results.append(lab.gateway(i, step["gateway"]))
                elif "nat" in step:
                    results.append(lab.nat_restart(i, step))
                elif "vehicle" in step:
                    results.append(lab.vehicle(i, step))
                    where = step.get("network") or where
                elif "uplink" in step:
                    results.append(lab.second_uplink(i, step["uplink"], step.get("network")))
                elif "restore" in step:
                    results.append(lab.restore(i, step["restore"], where))
                else:
                    where = step["network"]
                    results.append(lab.step(i, where, step.get("flap", False)))
                end = time.monotonic() + DWELL
                while time.monotonic() < end:
                    emit("status", **lab.snapshot())
                    time.sleep(0.5)
            if not LOOP and rounds >= params.get("rounds", 1):  # make soak: the fault scenario again and again
                break
        ok = all(r["ok"] for r in results)
    except Exception as e:
        emit("error", message="%s: %s" % (type(e).__name__, e), trace=traceback.format_exc())
    final = lab.snapshot()["stream"]
    alts.end()
    codes = lab.shutdown()
    left = lab.leftovers()
    emit("done", ok=ok and not left and all(c == 0 for c in codes.values()), steps=results, stream=final,
         exit_codes=codes, leftovers=left, seconds=round(time.monotonic() - t0, 3))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
