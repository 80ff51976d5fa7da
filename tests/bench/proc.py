"""What /proc says about a process: resident memory and CPU time (Linux)."""
from __future__ import annotations

import os
import signal
import subprocess


def rss_kib(pid: int) -> int:
    """VmRSS, KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise LookupError("no VmRSS for pid %d" % pid)


def cpu_seconds(pid: int) -> float:
    """CPU time so far: schedstat's nanoseconds on a CPU, else utime + stime in clock ticks."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(p: subprocess.Popen, timeout: float = 15.0, group: bool = False) -> None:
    """SIGTERM (to its whole process group with `group`: a daemon that forks), then SIGKILL after `timeout`."""
    if p.poll() is not None:
        return
    if group:
        os.killpg(p.pid, signal.SIGTERM)
    else:
        p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
