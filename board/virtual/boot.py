"""Host side of the lab: boot the UML kernel with labctl.py as its job and read its "@lab" events.

Nothing of the lab touches the host's network: every namespace, bridge and tunnel lives inside the
UML kernel, which runs as an ordinary process group; close() kills it and removes its files.
"""
from __future__ import annotations

import fcntl
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOPOLOGY = os.path.join(REPO, "board", "virtual", "topology.json")
# Two UML labs at once starve each other's timers on a small machine: a boot waits for the one before it.
LOCK = os.environ.get("MIP4_LAB_LOCK", "/tmp/mip4-lab.lock")


def topology() -> dict:
    with open(TOPOLOGY) as f:
        return json.load(f)


_held: list = []  # this process's open lock file, once per boot it has open


def _lock() -> object:
    """The lab lock for one more boot of this process: the first takes the flock (waiting for other
    processes' boots); a second boot of the same process (a session fixture's lab still open) does not
    wait for itself."""
    if not _held:
        f = open(LOCK, "a")  # noqa: SIM115 (closed by the last _unlock())
        fcntl.flock(f, fcntl.LOCK_EX)
        _held.append(f)
    else:
        _held.append(_held[0])
    return _held[-1]


def _unlock() -> None:
    f = _held.pop()
    if not _held:
        f.close()


class Lab:
    """One boot of the lab kernel. Iterate events(); close() always."""

    def __init__(self, scenario: str = "tour", loop: bool = False, dwell: float = 2.0, mem: str = "1G",
                 python: str | None = None, netem: dict[str, str] | None = None, serial: bool = False,
                 tour: list[dict] | None = None, rounds: int = 1, stream: str = "tcp",
                 captures: bool = True) -> None:
        """netem: lab port (NODE-IFACE, the bridge side) -> netem arguments, e.g. {"iha-core": "delay 20ms"}.
        serial: the board's serial line ttyS0 on a host pty (UML ssl0=pts) with `mip4 console` on it (mconsole.py).
        tour: steps instead of topology.json's tour (the bench's; its first step is where the MR starts).
        rounds: how many times the scenario runs in this boot (make soak).
        stream: the LAN host's stream, "tcp" (the counter stream, nothing may be lost) or "udp" (the bench's probes).
        captures: dumpcap on the topology's capture points (the leak auditor's input; the bench turns it off)."""
        self._lock = _lock()
        self.dir = tempfile.mkdtemp(prefix="mip4-lab-")
        with open(os.path.join(self.dir, "params.json"), "w") as f:
            json.dump({"netem": netem or {}, "tour": tour, "rounds": rounds, "stream": stream,
                       "captures": captures}, f)
        self.started = time.monotonic()
        self.console: list[str] = []
        py = python or os.path.join(REPO, ".venv", "bin", "python")
        argv = [shutil.which("linux.uml") or "linux.uml", "mem=" + mem, "root=/dev/root", "rootfstype=hostfs",
                "rootflags=/", "rw", "init=" + os.path.join(REPO, "board", "virtual", "init.sh"),
                "con=null", "con0=null,fd:1", "quiet", "uml_dir=" + self.dir, "umid=lab",
                "LABDIR=" + self.dir, "LAB_REPO=" + REPO, "LAB_PY=" + py, "LAB_SCENARIO=" + scenario,
                "LAB_LOOP=" + ("1" if loop else "0"), "LAB_DWELL=%g" % dwell]
        argv += ["ssl0=pts", "LAB_CONSOLE=1"] if serial else []
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._buf = b""

    def events(self, timeout: float = 900.0) -> Iterator[dict]:
        """The "@lab" events as they come, until the kernel halts or `timeout` passes."""
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not sel.select(timeout=1.0):
                if self.proc.poll() is not None:
                    break
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                break
            self._buf += chunk
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                line = raw.decode(errors="replace").rstrip("\r")
                self.console.append(line)
                if line.startswith("@lab "):
                    try:
                        event = json.loads(line[5:])
                    except ValueError:
                        continue
                    event["host_s"] = round(time.monotonic() - self.started, 3)
                    with open(self.path("events.jsonl"), "a") as f:  # a kept lab (MIP4_LAB_KEEP=1) can be traced later
                        f.write(json.dumps(event) + "\n")
                    yield event
                    if event.get("event") == "halt":
                        return
        sel.close()

    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    def log(self, name: str) -> str:
        try:
            with open(self.path("logs", name + ".log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self, keep: bool = False) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        try:  # UML's helper threads are processes of the same group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10  # until the host has reaped them all
        while time.monotonic() < deadline and subprocess.run(["pgrep", "-g", str(self.proc.pid)],
                                                              capture_output=True).returncode == 0:
            time.sleep(0.1)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self._lock is not None:
            _unlock()  # the next boot may start
            self._lock = None


def uml_processes() -> list[str]:
    """linux.uml processes on the host (tests check none is left behind)."""
    r = subprocess.run(["pgrep", "-a", "-f", "linux.uml"], capture_output=True, text=True)
    return [line for line in r.stdout.splitlines() if "pgrep" not in line]


if __name__ == "__main__":
    lab = Lab()
    try:
        for ev in lab.events():
            if ev["event"] != "status":
                print(json.dumps(ev))
    finally:
        lab.close(keep="--keep" in sys.argv)
        print("lab dir:", lab.dir)
