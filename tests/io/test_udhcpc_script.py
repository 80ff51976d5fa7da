"""The udhcpc hook (firmware/mip4/io/udhcpc.script) as udhcpc runs it, under the host's sh and busybox ash
(OpenWrt's /bin/sh): it starts nothing and hands the lease to mip4d as one line on stdout (io/dhcp.py
puts the router and then the address in place: tests/io/test_dnav4.py, with the real udhcpc)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mip4.io.dhcp import parse_lease

SCRIPT = Path(__file__).resolve().parents[2] / "firmware" / "mip4" / "io" / "udhcpc.script"
SHELLS = [("sh",), ("busybox", "sh")]


def hook(shell: tuple[str, ...], event: str, **env: str) -> subprocess.CompletedProcess:
    """The hook with no PATH: whatever it would start (ip, awk, python) is not found, and says so."""
    argv = [subprocess.run(["which", shell[0]], capture_output=True, text=True, check=True).stdout.strip(),
            *shell[1:], str(SCRIPT), event]
    return subprocess.run(argv, env=dict(interface="wan", PATH="/nonexistent", **env), capture_output=True,
                          text=True)


@pytest.mark.parametrize("shell", SHELLS)
def test_bound_hands_the_lease_over_in_one_line_and_starts_nothing(shell):
    done = hook(shell, "bound", ip="10.2.0.174", mask="24", router="10.2.0.1 10.2.0.9", lease="600",
                serverid="10.2.0.1")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == ["mip4-lease bound 10.2.0.174 24 10.2.0.1 600 10.2.0.1"]
    lease = parse_lease(done.stdout)
    assert (lease.address, lease.prefixlen, lease.router, lease.seconds) == ("10.2.0.174", 24, "10.2.0.1", 600)
    done = hook(shell, "deconfig")
    assert (done.returncode, done.stdout, done.stderr) == (0, "mip4-lease deconfig - - - - -\n", "")


@pytest.mark.parametrize("shell", SHELLS)
def test_the_lease_line_carries_only_digits_and_dots(shell):
    """A DHCP server's value that is not digits and dots becomes "-": it can neither add a line nor a word
    of its own, nor run anything."""
    evil = "600\nmip4-lease bound 6.6.6.6 8 6.6.6.1 9 6.6.6.1"
    done = hook(shell, "bound", ip="10.2.0.174", mask="24", router="10.2.0.1", lease=evil,
                serverid="$(reboot);10.2.0.1")
    assert done.stdout.splitlines() == ["mip4-lease bound 10.2.0.174 24 10.2.0.1 - -"]
    assert done.stderr == ""
    done = hook(shell, "renew", ip="10.2.0.175\n", mask="24", router="10.2.0.1")
    assert done.returncode == 1 and done.stdout == ""  # a bad address: nothing reported
    done = hook(shell, "bound", ip="10.2.0.175", mask="", router="10.2.0.1")
    assert done.returncode == 1 and done.stdout == ""
    assert hook(shell, "nak").stdout == "mip4-lease nak - - - - -\n"
    assert hook(shell, "something-new").stdout == ""


def test_the_hook_is_executable_and_needs_no_environment_of_mip4d():
    assert os.access(SCRIPT, os.X_OK)
    assert "MIP4_" not in SCRIPT.read_text()
