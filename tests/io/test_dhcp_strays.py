"""A killed mip4d's udhcpc (still running our hook on an uplink) is found so that the respawned
mip4d stops it before starting its own (issue 10: respawn cleans what the dead process left)."""
import subprocess
import sys
import time

from mip4.io.dhcp import SCRIPT, strays


def _fake_udhcpc(iface: str) -> subprocess.Popen:
    """A process whose command line is a udhcpc's on `iface` with our hook (argv is what strays() reads),
    once it has one (until its exec, /proc shows the forking parent's)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "-f", "-i", iface, "-s", SCRIPT])
    for _ in range(500):
        with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
            if SCRIPT.encode() in f.read():
                break
        time.sleep(0.01)
    return proc


def test_a_left_over_udhcpc_on_the_uplink_is_found_and_no_other():
    wan, wwan = _fake_udhcpc("wan"), _fake_udhcpc("wwan")
    try:
        assert wan.pid in strays("wan") and wwan.pid not in strays("wan")
        assert strays("wlan") == []
    finally:
        for p in (wan, wwan):
            p.kill()
            p.wait()
    assert wan.pid not in strays("wan")
