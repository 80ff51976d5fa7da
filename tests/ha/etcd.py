"""A real etcd cluster on loopback for the binding store tests (Debian's etcd-server, issue 27).

Three members on ports picked free here, each in its own data directory; `stop`/`start` one member
(SIGKILL: as a machine dies) to take the cluster's quorum away and give it back.
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class EtcdCluster:
    def __init__(self, base: Path, members: int = 3, host: str = "127.0.0.1", netns: str | None = None,
                 heartbeat_ms: int = 50, election_ms: int = 500) -> None:
        """On loopback here, or on `host` in network namespace `netns` (ports picked free here: a fresh
        namespace has every port free). The UML lab's store (board/virtual/hapair.py) runs slower timers."""
        self.base = base
        self.netns = netns
        self.timers = [str(heartbeat_ms), str(election_ms)]
        ports = free_ports(2 * members)
        self.names = ["m%d" % i for i in range(members)]
        self.client = {n: "http://%s:%d" % (host, ports[2 * i]) for i, n in enumerate(self.names)}
        self.peer = {n: "http://%s:%d" % (host, ports[2 * i + 1]) for i, n in enumerate(self.names)}
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(self.client[n] for n in self.names)

    def start(self, name: str | None = None) -> None:
        cluster = ",".join("%s=%s" % (n, self.peer[n]) for n in self.names)
        self.ready_before = {n: self._readies(n) for n in self.names}
        for n in [name] if name else self.names:
            log = open(self.base / ("%s.log" % n), "ab")
            where = ["ip", "netns", "exec", self.netns] if self.netns else []
            self.procs[n] = subprocess.Popen(
                where + [ETCD, "--name", n, "--data-dir", str(self.base / n), "--listen-client-urls", self.client[n],
                 "--advertise-client-urls", self.client[n], "--listen-peer-urls", self.peer[n],
                 "--initial-advertise-peer-urls", self.peer[n], "--initial-cluster", cluster,
                 "--initial-cluster-state", "new", "--initial-cluster-token", "mip4-test",
                 "--heartbeat-interval", self.timers[0], "--election-timeout", self.timers[1]],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until a write goes through (the cluster has a leader and quorum)."""
        if self.netns:  # not reachable from here: its members' own word, in their log
            return self._wait_logged(timeout)
        deadline = time.monotonic() + timeout
        while True:
            for url in [self.client[n] for n in self.procs]:
                try:
                    rq = urllib.request.Request(url + "/v3/kv/put", data=json.dumps(
                        {"key": "aGVhbHRo", "value": "b2s="}).encode())
                    with urllib.request.urlopen(rq, timeout=1) as r:
                        if "header" in json.loads(r.read()):
                            return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError("etcd cluster not healthy; logs in %s" % self.base)
            time.sleep(0.1)

    def _readies(self, name: str) -> int:
        try:
            return (self.base / ("%s.log" % name)).read_text(errors="replace").count("ready to serve client requests")
        except FileNotFoundError:
            return 0

    def _wait_logged(self, timeout: float) -> None:
        """Until each member started last says it serves (a restarted one's log has the earlier lines too)."""
        deadline = time.monotonic() + timeout
        while not all(self._readies(n) > self.ready_before.get(n, 0) for n in self.procs):
            if time.monotonic() > deadline:
                raise TimeoutError("etcd cluster not ready; logs in %s" % self.base)
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        p = self.procs.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop(self) -> None:
        for n in list(self.procs):
            self.kill(n)
