"""`mip4 console` over a real pseudo-terminal pair (os.openpty), as on a serial line at 115200 8N1, with a
running status model behind mip4d's control socket; and the line editor alone."""
from __future__ import annotations

import os
import select
import shlex
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mip4.console.editor import LineEditor
from tests.test_cli import i_ha_reply

from .live import LiveNode, ThreadedControl

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "build/package/mip4/files/etc/config/mip4"
UP, DOWN = b"\x1b[A", b"\x1b[B"


def test_editor_backspace_history_and_ctrl_keys():
    e = LineEditor("> ")
    echo, lines = e.feed(b"stattus\x7f\x7f\x7fus\r")
    assert lines == ["status"] and echo.startswith(b"stattus\b \b\b \b\b \bus")
    assert e.feed(b"ifaces\r\n")[1] == ["ifaces"]  # CR LF is one Enter
    assert e.feed(b"log 5\r")[1] == ["log 5"]
    echo, _ = e.feed(b"dra" + UP)
    assert echo.endswith(b"\r\x1b[K> log 5") and e.line == "log 5"
    e.feed(UP + UP + UP)  # stops at the oldest
    assert e.line == "status"
    e.feed(DOWN)
    assert e.line == "ifaces"
    e.feed(DOWN + DOWN)
    assert e.line == "dra"  # back to what was being typed
    assert e.feed(b"\x15reregister\r")[1] == ["reregister"]  # Ctrl-U kills the line
    echo, lines = e.feed(b"junk\x03")
    assert lines == [] and e.line == "" and echo.endswith(b"^C\r\n> ")
    assert e.feed(b"\x1b[C\x1b[Dx\x01\r")[1] == ["x"]  # other keys and sequences are ignored


class Terminal:
    """The far end of the serial line: the pty master."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.seen = b""

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def expect(self, what: bytes, limit: float = 20.0) -> bytes:
        end = time.monotonic() + limit
        while what not in self.seen:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r on the line; got %r" % (what, self.seen[-500:]))
            if select.select([self.fd], [], [], left)[0]:
                self.seen += os.read(self.fd, 4096)
        before, _, self.seen = self.seen.partition(what)
        return before

    def command(self, line: bytes) -> str:
        self.send(line + b"\r")
        return self.expect(b"mip4> ").decode()


@pytest.fixture
def console(tmp_path):
    node = LiveNode(speed=1.0)
    node.do(node.w.connect, "wan", "lan1", "10.2.0.5")
    node.run(5)
    sock = str(tmp_path / "control.sock")
    server = ThreadedControl(sock, node)
    master, slave = os.openpty()
    device = os.ttyname(slave)
    proc = subprocess.Popen([sys.executable, "-m", "mip4", "console", "--device", device, "--socket", sock,
                             "--config", str(EXAMPLE)], env=dict(os.environ, PYTHONPATH=str(ROOT / "firmware")),
                            stderr=subprocess.PIPE)
    term = Terminal(master)
    try:
        term.expect(b"mip4> ")
        yield term, node, slave, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(10)
        os.close(master)
        os.close(slave)
        server.close()


def test_console_commands_over_a_pty(console):
    term, node, slave, proc = console
    attrs = termios.tcgetattr(slave)  # pyserial set the line up: 115200 8N1, raw
    assert attrs[4] == attrs[5] == termios.B115200
    assert attrs[2] & termios.CSIZE == termios.CS8 and not attrs[2] & (termios.PARENB | termios.CSTOPB)
    out = term.command(b"status")
    assert "mode c, inside (wan: " in out and "primary wan, IKE down" in out
    out = term.command(b"ifaces")
    row = next(line for line in out.splitlines() if line.startswith("wan "))
    assert row.split()[:7] == ["wan", "100", "yes", "inside", "c", "10.2.0.5", "plain"]
    out = term.command(b"reregister")
    assert "re-registering on wan" in out
    out = term.command(b"log 3")
    assert "[reregister] re-registration requested: wan" in out
    out = term.command(b"wire decode " + i_ha_reply().encode())
    assert '"name": "Registration Reply"' in out and '"home_address": "10.1.0.5"' in out
    out = term.command(b"wire decode 0300 --key 00 --spi 256")
    assert "error" in out and "(exit 1)" in out
    out = term.command(b"config show")
    assert '"i_hoa": "10.1.0.10"' in out and '"key": "<26 octets>"' in out
    assert "unknown command 'reboot' (commands: config, help, ifaces, log, reregister, status, wire)" in \
        term.command(b"reboot")
    assert "error: status takes no arguments" in term.command(b"status now")
    assert "error: usage: log [-f] [N]" in term.command(b"log many")
    assert "error: No closing quotation" in term.command(b"wire decode 'ab")
    assert "error: wire decode: the following arguments are required: hex" in term.command(b"wire decode")
    assert "error: wire decode: argument --spi: invalid int value: 'x'" in term.command(b"wire decode 0300 --spi x")
    assert "error: usage: config show" in term.command(b"config edit")


def test_console_line_editing_and_log_follow(console):
    term, node, _, proc = console
    out = term.command(b"ifacs\x7f\x7fces")  # backspace
    assert "wan " in out and "\b \b\b \b" in out
    term.send(UP + b"\r")  # history: ifaces again
    term.expect(b"\r\x1b[Kmip4> ifaces")
    assert "10.2.0.5" in term.expect(b"mip4> ").decode()
    term.send(b"log -f 1\r")
    term.expect(b"press any key to stop)")
    node.do(node.w.disconnect, "wan")  # the router loses its uplink while we watch
    term.expect(b"[state] wan: inside -> down (link-down)")  # printed as it happens
    term.send(b"q")
    term.expect(b"mip4> ")
    term.send(b"exit\r")
    term.expect(b"bye")
    assert proc.wait(10) == 0


def test_console_bad_device():
    p = subprocess.run([sys.executable, "-m", "mip4", "console", "--device", "/dev/nonexistent-tty"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "firmware")),
                       timeout=60)
    assert p.returncode == 1 and "mip4 console: " in p.stderr and "nonexistent-tty" in p.stderr


def test_the_console_imports_nothing_from_the_cli_layer():
    """Style guide layers (wire <- core <- config/status <- io <- ubus/console <- cli): the console is
    below the `mip4` command, so loading it loads no mip4.cli module (cli uses the console's dissector
    and status/text.py, not the other way round)."""
    probe = ("import sys, mip4.console.commands, mip4.console.editor, mip4.console.dissect, mip4.status.text; "
             "print(' '.join(sorted(m for m in sys.modules if m == 'mip4.cli' or m.startswith('mip4.cli.'))))")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "firmware")))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == []


WORDS = ["status", "ifaces", "log", "-f", "reregister", "wire", "decode", "config", "show", "help", "--key",
         "--spi", "--auth-type", "00", "zz", "256", "-1", "99999999999999999999", "'", '"', "\\", "--", "-h",
         "0300", "01" * 30]


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    from mip4.console.commands import Commands
    from mip4.io.control import ControlClient

    node = LiveNode(speed=1.0)
    node.do(node.w.connect, "wan", "lan1", "10.2.0.5")
    node.run(5)
    sock = str(tmp_path_factory.mktemp("console") / "control.sock")
    server = ThreadedControl(sock, node)
    control = ControlClient(sock)
    yield Commands(control, str(EXAMPLE))
    control.close()
    server.close()


@settings(max_examples=300)
@given(line=st.lists(st.sampled_from(WORDS) | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                                                      max_size=12), max_size=6).map(" ".join))
def test_any_typed_line_gets_text_back_never_a_traceback(commands, line):
    """Whatever the editor lets through (printable ASCII), a command answers with text; a bad one with a
    line that starts `error:` (or a decoder's error and its exit status)."""
    out = commands.run(line)
    assert isinstance(out, str)
    try:
        words = shlex.split(line)
    except ValueError as e:  # an unclosed quote, a lone backslash
        assert out == "error: %s" % e
        return
    if words and words[0] not in commands.table:
        assert out.startswith("error: unknown command")


def test_console_wire_decode_takes_the_hex_typed_on_the_line_never_stdin(commands):
    """`mip4 wire decode -` reads stdin; on the console '-' is just bad hex (the console's input is the
    serial line, and the process's stdin is not the user's)."""
    assert commands.run("wire decode -") == "mip4 wire decode: error: input: not valid hex: '-'\n(exit 1)"
