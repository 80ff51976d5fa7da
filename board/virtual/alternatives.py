"""The bench's alternatives to mip4, in the same lab and the same run (issue 24 item 3).

After mip4's moves, the MR stops being a mobile router: mip4d goes, and the router runs a plain VPN
that carries its LAN (192.168.77.0/24) to the intranet (10.0.0.0/8) straight to the VPN gateway, over
the same links, the same DHCP servers and the same probe stream from the CN to the LAN host:

- `mobike`: strongSwan (the MR's own charon) with MOBIKE (RFC 4555): on a new address charon sends
  UPDATE_SA_ADDRESSES and the gateway moves the SAs (the UML kernel has XFRM_MIGRATE);
- `reike`: the same charon without MOBIKE: on an address change charon re-establishes the IKE SA from
  the new address (its own roam handling, measured, not a sum of phases); the gateway replaces the old
  one (unique = replace);
- `wireguard`: Debian's wireguard-go (userspace, on TUN: the UML kernel has no WireGuard module) on
  the MR and the gateway; the gateway learns the MR's new endpoint from its first authenticated packet.
  The probes only flow towards the LAN, so once the lease is in place the DHCP hook sets the peer's
  endpoint again and sends one ping through the tunnel, as a hotplug script would. Setting the endpoint
  drops the source address wireguard-go keeps per peer ("sticky sockets"): in the lab it went on
  sending from the address of the network left ("network is unreachable") until its handshake timer
  renewed the session, 15 s after the move (run of 2 Dec 2026, board/virtual/alternatives.py's first).

The intranet routes the LAN's prefix to the VPN gateway instead of the i-HA while they run. DHCP on
the MR is udhcpc with the options mip4d gives it (io/dhcp.py), started at each plug-in, with a plain
router's hook (alt-udhcpc.script: address, default route); its lease line is the move's address time.
A move's result is the event "alternative": from plugging in to the lease and to the first probe.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time

from labkit import STEP_TIMEOUT, batch, emit, resumed_after, sh, wait_for

SYSTEMS = ("mobike", "reike", "wireguard")
HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "alt-udhcpc.script")
UPLINK = "wan"
ALT_ID = "alt.example.net"  # the MR's IKE identity as a plain VPN client (mip4's is mr.example.net)
WG_NET, WG_GW, WG_MR, WG_PORT = "10.6.0.0/24", "10.6.0.1", "10.6.0.2", 51820
VPN_PORT = "vpngw-dmz"  # the bridge-side port into the VPN gateway: the alternatives' netem goes there


class Alternatives:
    def __init__(self, lab) -> None:  # noqa: ANN001  (labctl.Lab)
        self.lab = lab
        self.topo = lab.topo
        self.dhcp: subprocess.Popen | None = None
        self.leases: list[tuple[float, str]] = []  # (monotonic time, the hook's line)
        self.wg: list[subprocess.Popen] = []
        self.kick = ""  # the hook's ping through the tunnel (wireguard)
        self.etc = os.path.join(lab.run_dir, "..", "etc")
        self.failed: set[str] = set()  # a system that did not come up: its moves are left out, the run goes on

    # -- the lab around them -------------------------------------------------------------------------

    def begin(self, index: int) -> dict:
        """mip4d leaves the MR (it removes what it installed) and the intranet routes the LAN to the gateway."""
        code = self.lab.stop("mip4d-mr")
        lan, gw = self.topo["lan"]["network"], self.topo["ipsec"]["gateway"]["address"]
        batch(["route replace %s via 10.0.0.254" % lan], "rtr")  # the firewall, in front of the DMZ
        batch(["route replace %s via %s" % (lan, gw)], "fw")
        emit("alternatives", step=index, mip4d_exit=code, installed=self.lab.installed("mr"))
        return {"mip4d_exit": code}

    def start(self, index: int, system: str, network: str) -> None:
        """The system up with the MR on `network`, until the probes flow through it; if it does not come
        up, the event says why and the other systems still run."""
        try:
            self._start(index, system, network)
        except Exception as e:
            self.failed.add(system)
            emit("alternative_failed", step=index, system=system, message="%s: %s" % (type(e).__name__, e),
                 trace=self._trace(system))

    def _start(self, index: int, system: str, network: str) -> None:
        ipsec = self.topo["ipsec"]
        if system == "wireguard":
            gw_key = self._wireguard()
            self.kick = "wg set wgmr peer %s endpoint %s:%d; ping -q -c 1 -W 1 %s" % (
                gw_key, ipsec["gateway"]["address"], WG_PORT, WG_GW)
        else:
            gw = ipsec["gateway"]["node"]
            self._swanctl(gw, "alt-gateway.conf", _gateway_conf(ipsec, self.topo["lan"]["network"]))
            self._swanctl("mr", "alt-mr.conf", _client_conf(ipsec, system, self.topo["lan"]["network"]))
            self.kick = ""
        before = self.lab.read(self.lab.stream_file())
        attached = self._plug(network)
        wait_for(lambda: self._lease_after(attached) is not None, 30, "%s: no DHCP lease on %s" % (system, network))
        if system != "wireguard":
            sh("ip netns exec mr swanctl --initiate --child %s --timeout 30 --uri unix://%s"
               % (system, self.lab.vici("mr")))
        wait_for(lambda: self.lab.read(self.lab.stream_file()).get("received", 0) >= before.get("received", 0) + 25,
                 60, "%s: the probes did not come through" % system)
        emit("alternative_up", step=index, system=system, network=network,
             seconds=round(time.monotonic() - attached, 3))

    def stop(self, index: int, system: str) -> None:
        """The system down, so that the next one alone carries the probes (no SA or route of it left)."""
        if system == "wireguard":
            for p in self.wg:
                p.terminate()
                p.wait(10)
            self.wg = []
            sh("ip -n vpngw route del %s" % self.topo["lan"]["network"], check=False)  # gone with wggw
        else:
            for node in ("mr", self.topo["ipsec"]["gateway"]["node"]):
                sh("ip netns exec %s swanctl --terminate --ike %s --force --uri unix://%s"
                   % (node, "alt" if node != "mr" else system, self.lab.vici(node)), check=False)
        self._unplug()
        emit("alternative_down", step=index, system=system, xfrm=sh("ip -n mr xfrm state", check=False).count("src "))

    def end(self) -> None:
        if self.dhcp and self.dhcp.poll() is None:
            self.dhcp.terminate()
            self.dhcp.wait(10)

    # -- a move ------------------------------------------------------------------------------------------

    def step(self, index: int, network: str, system: str) -> dict | None:
        """Unplug, plug into `network`: the time to the lease and to the first probe through the VPN."""
        if system in self.failed:
            return None
        before = self.lab.read(self.lab.stream_file())
        attached = self._plug(network)
        wall = time.time() - (time.monotonic() - attached)
        emit("moving", step=index, network=network, system=system, wall=wall)
        deadline, progressed = attached + STEP_TIMEOUT, False
        while time.monotonic() < deadline:
            s = self.lab.read(self.lab.stream_file())
            progressed = s.get("received", 0) >= before.get("received", 0) + 25 and (s.get("last_rx") or 0) > attached
            if progressed:
                break
            time.sleep(0.25)
        s = self.lab.read(self.lab.stream_file())
        resumed = resumed_after(s, attached)
        lease = self._lease_after(attached)
        ok = progressed and resumed is not None and s.get("duplicates") == 0
        result = dict(step=index, network=network, system=system, ok=ok, wall=wall,
                      address_after_s=None if lease is None else round(lease - attached, 3),
                      data_after_s=None if resumed is None else round(resumed - attached, 3),
                      address_to_data_s=None if None in (resumed, lease) else round(resumed - lease, 3),
                      stream={k: v for k, v in s.items() if k != "errors"})
        if not ok:  # issue 24 item 5: what the system said around a move that failed
            result["trace"] = self._trace(system)
        emit("alternative", **result)
        return result

    def _plug(self, network: str) -> float:
        """Carrier down (the address goes, as netifd does), the uplink into `network`, udhcpc started."""
        self._unplug()
        attached = self.lab.move(network)
        env = dict(os.environ, ALT_KICK=self.kick)
        self.dhcp = subprocess.Popen(["ip", "netns", "exec", "mr", "udhcpc", "-f", "-i", UPLINK, "-s", HOOK,
                                      "-t", "10", "-T", "1", "-A", "2"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)
        threading.Thread(target=self._read, args=(self.dhcp,), daemon=True).start()
        return attached

    def _unplug(self) -> None:
        self.end()
        batch(["addr flush dev %s" % UPLINK], "mr")

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("alt-lease "):
                self.leases.append((time.monotonic(), line.strip()))

    def _lease_after(self, t: float) -> float | None:
        return next((at for at, _ in self.leases if at >= t), None)

    def _trace(self, system: str) -> dict:
        got = {"addr": sh("ip -n mr -4 addr show dev %s" % UPLINK, check=False),
               "routes": sh("ip -n mr route", check=False), "leases": self.leases[-3:]}
        if system == "wireguard":
            got["wg"] = sh("ip netns exec mr wg show; ip netns exec vpngw wg show", check=False)
        else:
            got["sas"] = sh("ip netns exec mr swanctl --list-sas --uri unix://%s" % self.lab.vici("mr"), check=False)
        return got

    # -- configuration -------------------------------------------------------------------------------------

    def _swanctl(self, node: str, name: str, text: str) -> None:
        path = os.path.join(self.etc, name)
        with open(path, "w") as f:
            f.write(text)
        uri = "unix://" + self.lab.vici(node)
        sh("ip netns exec %s swanctl --load-creds --file %s --uri %s" % (node, path, uri))
        sh("ip netns exec %s swanctl --load-conns --file %s --uri %s" % (node, path, uri))

    def _wireguard(self) -> str:
        """wireguard-go on the MR (wgmr) and on the gateway (wggw); the firewall lets its port into the DMZ.
        Returns the gateway's public key."""
        keys = {}
        for side in ("mr", "gw"):
            key = sh("wg genkey").strip()
            path = os.path.join(self.etc, "wg-%s.key" % side)
            with open(path, "w") as f:
                f.write(key + "\n")
            keys[side] = (path, subprocess.run(["wg", "pubkey"], input=key, capture_output=True, text=True,
                                               check=True).stdout.strip())
        gw_node, gw_addr = self.topo["ipsec"]["gateway"]["node"], self.topo["ipsec"]["gateway"]["address"]
        log = open(os.path.join(self.lab.log_dir, "wireguard-go.log"), "a")  # noqa: SIM115 (the processes')
        for node, dev in (("mr", "wgmr"), (gw_node, "wggw")):
            self.wg.append(subprocess.Popen(["ip", "netns", "exec", node, "wireguard-go", "-f", dev],
                                            stdout=log, stderr=subprocess.STDOUT))
            self.lab.procs.append(self.wg[-1])
            wait_for(lambda d=dev: os.path.exists("/run/wireguard/%s.sock" % d), 30, "wireguard-go %s" % dev)
        sh("ip netns exec mr wg set wgmr listen-port %d private-key %s peer %s endpoint %s:%d "
           "allowed-ips %s,%s persistent-keepalive 1" % (WG_PORT + 1, keys["mr"][0], keys["gw"][1], gw_addr,
                                                         WG_PORT, ",".join(self.topo["ipsec"]["intranet"]), WG_NET))
        sh("ip netns exec %s wg set wggw listen-port %d private-key %s peer %s allowed-ips %s,%s/32"
           % (gw_node, WG_PORT, keys["gw"][0], keys["mr"][1], self.topo["lan"]["network"], WG_MR))
        batch(["addr add %s/24 dev wgmr" % WG_MR, "link set wgmr up"], "mr")
        batch(["addr add %s/24 dev wggw" % WG_GW, "link set wggw up",
               "route replace %s dev wggw" % self.topo["lan"]["network"]], gw_node)
        sh("ip netns exec fw iptables-legacy -I FORWARD -i out -o dmz -p udp --dport %d -j ACCEPT" % WG_PORT)
        return keys["gw"][1]


def _client_conf(ipsec: dict, system: str, lan: str) -> str:
    """The MR as a plain VPN client of the gateway: its LAN to the intranet; MOBIKE or not."""
    return _conf(ipsec, system, "remote_addrs = %s\n    mobike = %s\n    keyingtries = 0" % (
        ipsec["gateway"]["address"], "yes" if system == "mobike" else "no"),
        ALT_ID, ipsec["gateway"]["id"], lan, ",".join(ipsec["intranet"]))


def _gateway_conf(ipsec: dict, lan: str) -> str:
    """The gateway's side: one client (the MR as `alt.example.net`), MOBIKE allowed, a new IKE SA of the
    same identity replacing the old one (the re-IKE client's)."""
    return _conf(ipsec, "alt", "local_addrs = %s\n    mobike = yes\n    unique = replace" % ipsec["gateway"]["address"],
                 ipsec["gateway"]["id"], ALT_ID, ",".join(ipsec["intranet"]), lan)


def _conf(ipsec: dict, name: str, options: str, me: str, peer: str, local_ts: str, remote_ts: str) -> str:
    """A swanctl.conf of one connection (PSK, the lab's proposals) and its secret."""
    return """connections {
  %(name)s {
    version = 2
    proposals = %(proposals)s
    %(options)s
    local {
      auth = psk
      id = %(me)s
    }
    remote {
      auth = psk
      id = %(peer)s
    }
    children {
      %(name)s {
        local_ts = %(local_ts)s
        remote_ts = %(remote_ts)s
        esp_proposals = %(esp)s
      }
    }
  }
}
secrets {
  ike-alt {
    id-1 = %(me)s
    id-2 = %(peer)s
    secret = "%(psk)s"
  }
}
""" % dict(name=name, proposals=ipsec["proposals"], options=options, me=me, peer=peer, local_ts=local_ts,
           remote_ts=remote_ts, esp=ipsec["esp_proposals"], psk=ipsec["psk"])
