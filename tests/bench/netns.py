"""Network namespaces the bench makes for itself (as tests/io does), removed on exit."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True)


def available() -> bool:
    """Root with `ip netns` (the bench's daemon figures need it; the rest runs without)."""
    return os.geteuid() == 0 and subprocess.run(["ip", "netns", "list"], capture_output=True).returncode == 0


@contextmanager
def namespace(name: str) -> Iterator[str]:
    ns = "mip4b-%s-%d" % (name, os.getpid())
    sh("ip netns add %s" % ns)
    try:
        sh("ip -n %s link set lo up" % ns)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def python(ns: str, *args: str) -> list[str]:
    """argv for this interpreter in `ns` (ip netns exec execs it: the pid is the interpreter's)."""
    return ["ip", "netns", "exec", ns, sys.executable, *args]


def env() -> dict[str, str]:
    """This checkout's firmware/ and tests first on the path, whatever the venv points at."""
    return dict(os.environ, PYTHONPATH="%s:%s" % (ROOT / "firmware", ROOT))
