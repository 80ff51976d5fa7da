"""`mip4 console --device /dev/ttyS0`: the field engineer's CLI on a serial line (115200 8N1, pyserial)."""
from __future__ import annotations

import argparse
import os
import sys

from mip4.console.commands import Commands
from mip4.console.editor import LineEditor
from mip4.io.control import DEFAULT_PATH, ControlClient

BANNER = "mip4 console: type help. Line editing: backspace, Ctrl-U, Ctrl-C, up/down for history."


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("console", help="a small CLI on a serial line")
    p.add_argument("--device", required=True, help="serial device, e.g. /dev/ttyS0 or /dev/ttyUSB0")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--socket", default=os.environ.get("MIP4_CONTROL", DEFAULT_PATH), help="mip4d's control socket")
    p.add_argument("--config", default="/etc/config/mip4", help="for `config show`")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import serial  # pyserial

    try:
        port = serial.Serial(args.device, args.baud, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                             stopbits=serial.STOPBITS_ONE, timeout=0.2, xonxoff=False, rtscts=False)
    except (serial.SerialException, ValueError) as e:
        print("mip4 console: %s" % e, file=sys.stderr)
        return 1
    control = ControlClient(args.socket)
    try:
        Session(port, Commands(control, args.config)).run()
    finally:
        control.close()
        port.close()
    return 0


class Session:
    def __init__(self, port, commands: Commands) -> None:  # noqa: ANN001 (a serial.Serial)
        self.port = port
        self.commands = commands
        self.editor = LineEditor()
        self.following = False

    def write(self, text: str) -> None:
        self.port.write(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", "replace"))

    def run(self) -> None:
        self.write(BANNER + "\n" + self.editor.prompt)
        while True:
            data = self.port.read(256)
            if self.following:
                if data:  # any key ends `log -f`
                    self.following = False
                    self.write("\n" + self.editor.prompt)
                elif out := self.commands.log_since():
                    self.write(out + "\n")
                continue
            echo, lines = self.editor.feed(data)
            self.port.write(echo)
            for line in lines:
                if line in ("exit", "quit"):
                    self.write("bye\n")
                    return
                out = self.commands.run(line)
                if out:
                    self.write(out + "\n")
                words = line.split()
                if words[:1] == ["log"] and "-f" in words and not out.startswith("error"):
                    self.following = True
                    self.write("(following the log; press any key to stop)\n")
                else:
                    self.write(self.editor.prompt)
