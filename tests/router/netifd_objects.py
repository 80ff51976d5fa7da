"""netifd's `network.interface.NAME` objects for the router tests (the userland has no netifd), in a process
of their own: python3-ubus's `ubus.call` holds the GIL while it waits, so an object answering in the
calling process could not answer it.

    python -m tests.router.netifd_objects SOCKET wan wwan
stdin: `NAME {status JSON}` lines set what `ubus call network.interface.NAME status` answers ("ok" on
stdout once set); "ready" once every object is registered. Status starts as {"up": false}.
"""
from __future__ import annotations

import json
import subprocess
import sys

from mip4.ubus.libubus import DispatchThread, ObjectServer


class Interfaces:
    """The objects' process, driven from a test."""

    def __init__(self, socket_path: str, *names: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.router.netifd_objects", socket_path, *names],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def set(self, name: str, status: dict) -> None:
        self.proc.stdin.write("%s %s\n" % (name, json.dumps(status)))
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def main(socket_path: str, names: list[str]) -> None:
    state = {n: {"up": False} for n in names}
    servers = [ObjectServer(socket_path, "network.interface." + n,
                            {"status": ({}, lambda _args, n=n: (0, state[n]))}) for n in names]
    threads = [DispatchThread(s) for s in servers]
    print("ready", flush=True)
    for line in sys.stdin:
        name, text = line.split(" ", 1)
        state[name] = json.loads(text)
        print("ok", flush=True)
    for t, s in zip(threads, servers, strict=True):
        t.close()
        s.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
