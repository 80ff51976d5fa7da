"""The lab inside the UML kernel: builds topology.json, starts the daemons, runs a scenario.

It reports on stdout (the UML console) as lines "@lab {json}" that boot.py reads on the host.
Python starts slowly under UML, so this process imports mip4d once and forks every daemon from
itself into its namespace (a zygote), instead of starting one interpreter per daemon.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "firmware"))

from pyroute2.netns import setns  # noqa: E402

import mip4.cli  # noqa: E402  (the console, when boot.py asks for the serial line)
import mip4.io.daemon  # noqa: E402  (the heavy import, once)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import stream  # noqa: E402

LABDIR = os.environ.get("LABDIR", "/run/lab")
SCENARIO = os.environ.get("LAB_SCENARIO", "tour")
LOOP = os.environ.get("LAB_LOOP", "0") == "1"
DWELL = float(os.environ.get("LAB_DWELL", "2"))
CONSOLE = os.environ.get("LAB_CONSOLE") == "1"  # boot.py serial=True: `mip4 console` on ttyS0 for the MR
STEP_TIMEOUT = 60.0
UPLINK = "wan"


def emit(event: str, **fields) -> None:
    print("@lab " + json.dumps(dict(event=event, t=round(time.monotonic(), 3), **fields)), flush=True)


def sh(cmd: str, check: bool = True) -> str:
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (cmd, r.stderr.strip() or r.stdout.strip()))
    return r.stdout


def batch(lines: list[str], ns: str | None = None) -> None:
    """Many ip commands in one exec (each exec is slow under UML)."""
    if not lines:
        return
    r = subprocess.run(["ip"] + (["-n", ns] if ns else []) + ["-batch", "-"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("ip -batch (%s): %s" % (ns or "root", r.stderr.strip()))


class Lab:
    def __init__(self, topo: dict) -> None:
        self.topo = topo
        self.pids: dict[str, int] = {}
        self.procs: list[subprocess.Popen] = []
        self.dumpcaps: list[subprocess.Popen] = []
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

    def _sysctls(self, ns: str) -> None:
        """Every node forwards; no reverse path filter (tunnels deliver from any source).

        Written from this process after entering the namespace: /proc/sys/net is per namespace."""
        setns(ns, flags=0)
        try:
            settings = {"/proc/sys/net/ipv4/ip_forward": "1"}
            for conf in os.listdir("/proc/sys/net/ipv4/conf"):
                settings["/proc/sys/net/ipv4/conf/%s/rp_filter" % conf] = "0"
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

    def start_daemons(self) -> None:
        for name, cfg in self.topo["daemons"].items():
            cfg = dict(cfg, status_file=os.path.join(self.run_dir, name + ".status.json"), seed=1)
            if CONSOLE:
                cfg["control_socket"] = os.path.join(self.run_dir, name + ".control.sock")
            path = os.path.join(LABDIR, "etc", name + ".json")
            with open(path, "w") as f:
                json.dump(cfg, f, indent=1)
            self.spawn("mip4d-" + name, name, mip4.io.daemon.main, ["--config", path, "--log-level", "debug"])
            if CONSOLE and name == "mr":  # the field engineer's serial console, as on the router
                self.spawn("console", name, mip4.cli.main, ["console", "--device", "/dev/ttyS0", "--socket",
                                                            cfg["control_socket"], "--config", path])

    def start_stream(self) -> None:
        cn = self.topo["cn"]
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
        mr = self.status("mr").get("status", {})
        iha = self.status("iha").get("status", {})
        wan = mr.get("interfaces", {}).get(UPLINK, {})
        return {
            "mode": mr.get("mode"), "primary": mr.get("primary"), "state": wan.get("state"),
            "care_of": wan.get("care_of"), "gate": wan.get("gate"), "fa": wan.get("foreign_agent"),
            "t_monitor_left": wan.get("t_monitor_left"), "lan_route": self.status("mr").get("lan_route"),
            "i_ha_bindings": [(b["home_address"], b["care_of"], round(b["remaining"] or 0))
                              for b in iha.get("bindings", [])],
            "stream": {k: v for k, v in self.read(self.stream_file()).items() if k != "errors"},
        }

    # -- moving ----------------------------------------------------------------------------------

    def move(self, network: str | None) -> float:
        """Unplug the uplink (carrier loss) and plug it into `network`; returns the time of the plug-in."""
        port = "mr-" + UPLINK
        batch(["link set %s down" % port, "link set %s nomaster" % port])
        if network is None:
            return time.monotonic()
        time.sleep(0.3)  # the vehicle drives between networks
        bridge = self.topo["networks"][network]["bridge"]
        batch(["link set %s master br-%s" % (port, bridge), "link set %s up" % port])
        return time.monotonic()

    def flap(self) -> float:
        """Carrier down and up again on the same network (a loose cable, a radio fade)."""
        port = "mr-" + UPLINK
        batch(["link set %s down" % port])
        time.sleep(0.2)
        batch(["link set %s up" % port])
        return time.monotonic()

    def step(self, index: int, network: str, flap: bool = False) -> dict:
        expect = self.topo["networks"][network]["expect"]
        before = self.read(self.stream_file())
        detached = time.monotonic()
        attached = self.flap() if flap else self.move(network)
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
        resumed = _resumed_after(s, attached)
        clean = s.get("reconnects") == 0 and s.get("gaps") == 0 and s.get("duplicates") == 0
        ok = bool(reached) and progressed and clean and resumed is not None
        result = dict(step=index, network=network, expect=expect, mode=snap["mode"], ok=ok, flap=flap, wall=wall,
                      mode_after_s=None if reached is None else round(reached - attached, 3),
                      data_after_s=None if resumed is None else round(resumed - attached, 3),
                      outage_s=None if resumed is None else round(resumed - detached, 3),
                      care_of=snap["care_of"], stream=s)
        emit("step", **result)
        return result

    # -- teardown --------------------------------------------------------------------------------

    def leftovers(self) -> dict:
        """What mip4 installed and did not remove, per daemon namespace (must be nothing)."""
        out = {}
        for ns in self.topo["daemons"]:
            links = sh("ip -n %s -o link show" % ns)
            tunnels = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()
                       if mip4.io.kernel.OUR_TUNNELS.match(line.split(":")[1].strip().split("@")[0])]
            rules = [line.strip() for line in sh("ip -n %s rule" % ns).splitlines()
                     if not any(t in line for t in ("lookup local", "lookup main", "lookup default"))]
            routes = [line for line in sh("ip -n %s route show table all" % ns).splitlines()
                      if "proto static" in line and ("metric 10 " in line or line.endswith("metric 10"))]
            if tunnels or rules or routes:
                out[ns] = {"tunnels": tunnels, "rules": rules, "routes": routes}
        return out

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


def _resumed_after(s: dict, attached: float) -> float | None:
    """When stream data flowed again after plugging in: the end of the stall around the move."""
    for start, end in reversed(s.get("stalls", [])):
        if end >= attached and start <= attached:
            return end
    last = s.get("last_rx")
    if last and last > attached and not any(end >= attached for _, end in s.get("stalls", [])):
        return attached  # no stall at all
    return None


def wait_for(pred, timeout: float, what: str) -> float:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic()
        time.sleep(0.1)
    raise TimeoutError(what)


def main() -> int:
    with open(os.path.join(HERE, "topology.json")) as f:
        topo = json.load(f)
    t0 = time.monotonic()
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    emit("booted", kernel_to_python_s=round(uptime, 3))
    lab = Lab(topo)
    results: list[dict] = []
    ok = False
    try:
        lab.build()
        params = lab.read(os.path.join(LABDIR, "params.json"))
        emit("topology", seconds=round(time.monotonic() - t0, 3), nodes=len(topo["nodes"]),
             netem=lab.impair(params.get("netem", {})))
        lab.start_capture()
        lab.start_daemons()
        wait_for(lambda: all(lab.status(n) for n in topo["daemons"]), 120, "daemons did not start")
        emit("daemons", seconds=round(time.monotonic() - t0, 3), pids=lab.pids)
        tour = topo["tour"]
        lab.move(tour[0]["network"])
        wait_for(lambda: lab.snapshot()["mode"] == topo["networks"][tour[0]["network"]]["expect"], 60,
                 "the MR did not register at %s" % tour[0]["network"])
        emit("registered", seconds=round(time.monotonic() - t0, 3), uptime=round(uptime + time.monotonic() - t0, 3),
             **lab.snapshot())
        lab.start_stream()
        wait_for(lambda: lab.read(lab.stream_file()).get("received", 0) >= 25, 60, "the stream did not start")
        emit("stream", seconds=round(time.monotonic() - t0, 3))
        rounds = 0
        while True:
            rounds += 1
            for i, step in enumerate(tour[1:], 1):
                results.append(lab.step(i, step["network"], step.get("flap", False)))
                end = time.monotonic() + DWELL
                while time.monotonic() < end:
                    emit("status", **lab.snapshot())
                    time.sleep(0.5)
            if not LOOP:
                break
        ok = all(r["ok"] for r in results)
    except Exception as e:
        emit("error", message="%s: %s" % (type(e).__name__, e), trace=traceback.format_exc())
    final = lab.snapshot()["stream"]
    codes = lab.shutdown()
    left = lab.leftovers()
    emit("done", ok=ok and not left and all(c == 0 for c in codes.values()), steps=results, stream=final,
         exit_codes=codes, leftovers=left, seconds=round(time.monotonic() - t0, 3))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
