"""Instructions per operation under valgrind's callgrind: a figure a noisy machine cannot spoil (issue 25).

The operation runs K times inside `collections.deque(map(op, items), maxlen=0)`, and callgrind counts
only while the C function deque_extend runs (--toggle-collect), so the set-up (N bindings, the
requests, the imports) is left out and what is counted is the K operations and the map's own few
instructions per item. Run as `python -m tests.bench.instructions KIND ARGS...` under valgrind;
`measure()` does that and returns instructions per operation.
"""
from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def available() -> bool:
    return shutil.which("valgrind") is not None


def measure(kind: str, *args: object, k: int = 200, timeout: float = 1800) -> float | None:
    """Instructions per `kind` operation (see OPERATIONS), or None without valgrind."""
    if not available():
        return None
    env = dict(os.environ, PYTHONPATH="%s:%s" % (ROOT / "firmware", ROOT))
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--collect-atstart=no",
                          "--toggle-collect=deque_extend", sys.executable, "-m", "tests.bench.instructions", kind,
                          str(k), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not found:
        raise RuntimeError("callgrind %s: %s" % (kind, (out.stdout + out.stderr)[-2000:]))
    return int(found.group(1)) / k


def _registration(k: int, n: str) -> None:
    from . import bench_registration as r
    agent = r.home_agent(int(n), fill=r.fill_directly)[0]  # the same table, without decoding n first requests
    requests = [r._request(agent, i) for i in range(k + 1)]

    def refresh(d: object) -> None:
        agent.receive_udp(d, r.NOW)
        agent.get_timer()
    refresh(requests[0])  # warm: first-call costs out of the count
    accepted = agent.counters["accepted"]
    collections.deque(map(refresh, requests[1:]), maxlen=0)
    assert agent.counters["accepted"] - accepted == k, agent.counters


def _codec(k: int, name: str) -> None:
    from . import codec_workload
    fn = dict(codec_workload.WORKLOADS)[name]
    fn(0)
    collections.deque(map(fn, range(1, k + 1)), maxlen=0)


OPERATIONS = {"registration": _registration, "codec": _codec}

if __name__ == "__main__":
    OPERATIONS[sys.argv[1]](int(sys.argv[2]), *sys.argv[3:])
