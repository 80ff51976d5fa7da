"""`mip4 console` on the virtual board's serial line: UML's ttyS0 is a host pty (ssl0=pts), the console runs
on it inside the board next to the MR's mip4d, and this test types at it from the host, as a field
engineer with a USB-serial cable would. The boot ends once the MR has registered and the console answered."""
from __future__ import annotations

import os
import re
import time
import tty

from board.virtual.boot import Lab, uml_processes
from board.virtual.mconsole import serial_pty
from tests.router.test_console import Terminal
from tests.test_cli import i_ha_reply


def test_console_over_the_boards_serial_line():
    lab = Lab(scenario="tour", serial=True)
    fd = None
    try:
        for ev in lab.events(timeout=600):
            assert ev["event"] not in ("error", "halt"), ev
            if ev["event"] == "registered":
                break
        end = time.monotonic() + 60
        while (dev := serial_pty(lab.dir, "lab")) is None:
            assert time.monotonic() < end, "the board never opened its serial line"
            time.sleep(0.2)
        fd = os.open(dev, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        term = Terminal(fd)
        term.send(b"\r")
        term.expect(b"mip4> ", limit=60)
        status = term.command(b"status")
        assert status.lstrip().startswith("status\r\nrole mn, pid ")
        assert re.search(r"mode (c|f|home|-), (inside|outside|none) \(", status), status
        ifaces = term.command(b"ifaces")
        header = next(line for line in ifaces.splitlines() if line.startswith("uplink ")).split()
        row = next(line for line in ifaces.splitlines() if line.startswith("wan ")).split()
        assert row[header.index("state")] in ("inside", "detecting", "waiting", "down", "tentative-outside", "outside")
        out = term.command(b"wire decode " + i_ha_reply().encode())
        assert '"name": "Registration Reply"' in out
        assert "[state] wan: " in term.command(b"log 200")
    finally:
        if fd is not None:
            os.close(fd)
        lab.close()
    assert not [p for p in uml_processes() if lab.dir in p]  # this boot left nothing (others may be running)
