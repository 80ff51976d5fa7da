"""The console's commands: each takes its words and returns the text to print. Status comes from
mip4d's control socket (the same methods as ubus); `wire decode` is the `mip4 wire` dissector."""
from __future__ import annotations

import argparse
import json
import shlex
import time
from collections.abc import Callable

from ..core.config import ConfigError
from ..io.control import ControlClient, ControlError
from ..status.text import interfaces, summary
from ..uci.config import load_any, redacted
from ..wire import CodecError
from .dissect import EXIT_BAD_INPUT, auth_options, dissect

HELP = """commands:
  status                 mode, verdict, IKE, uplinks
  ifaces                 the uplinks: state, mode, care-of, gate, T_MONITOR, registrations
  log [-f] [N]           the last N log lines (default 20); -f follows until a key is pressed
  reregister             register again on every uplink
  wire decode HEX [--key HEX --spi N]
                         dissect a Mobile IP message
  config show            the effective configuration (keys hidden)
  help"""


class Commands:
    def __init__(self, control: ControlClient, config_path: str) -> None:
        self.control = control
        self.config_path = config_path
        self.table: dict[str, Callable[[list[str]], str]] = {
            "help": lambda a: HELP, "status": self.status, "ifaces": self.ifaces, "log": self.log,
            "reregister": self.reregister, "wire": self.wire, "config": self.config}
        self.last_seq = 0

    def run(self, line: str) -> str:
        try:
            words = shlex.split(line)
        except ValueError as e:
            return "error: %s" % e
        if not words:
            return ""
        fn = self.table.get(words[0])
        if fn is None:
            return "error: unknown command %r (commands: %s)" % (words[0], ", ".join(sorted(self.table)))
        try:
            return fn(words[1:])
        except ControlError as e:
            return "error: %s" % e

    def status(self, args: list[str]) -> str:
        _no_args("status", args)
        return summary(self.control.call("status"))

    def ifaces(self, args: list[str]) -> str:
        _no_args("ifaces", args)
        return interfaces(self.control.call("interfaces"))

    def reregister(self, args: list[str]) -> str:
        _no_args("reregister", args)
        done = self.control.call("reregister")["reregistered"]
        return "re-registering on %s" % (", ".join(done) or "no uplink (none has a care-of address)")

    def log(self, args: list[str]) -> str:
        """`log [N]`; `-f` is handled by the session (log_since), which keeps printing."""
        rest = [a for a in args if a != "-f"]
        if len(rest) > 1 or (rest and not (rest[0].isascii() and rest[0].isdigit())):
            raise _Usage("usage: log [-f] [N]")
        lines = self.control.call("log", {"limit": int(rest[0]) if rest else 20})["lines"]
        return "\n".join(_line(x) for x in self._seen(lines))

    def log_since(self) -> str:
        return "\n".join(_line(x) for x in self._seen(self.control.call("log", {"since": self.last_seq})["lines"]))

    def _seen(self, lines: list[dict]) -> list[dict]:
        if lines:
            self.last_seq = max(self.last_seq, lines[-1]["seq"])
        return lines

    def wire(self, args: list[str]) -> str:
        if not args or args[0] != "decode":
            raise _Usage("usage: wire decode HEX [--key HEX --spi N]")
        parser = _Parser(prog="wire decode", add_help=False, exit_on_error=False)
        parser.add_argument("hex")
        auth_options(parser)
        try:
            ns, extra = parser.parse_known_args(args[1:])
        except argparse.ArgumentError as e:
            raise _Usage("wire decode: %s (usage: wire decode HEX [--key HEX --spi N])" % e) from None
        if extra:
            raise _Usage("wire decode: unexpected %s" % " ".join(extra))
        try:  # the hex as given: no '-' for stdin here, the console's input is the serial line
            out, status = dissect(ns.hex, ns.key, ns.spi, ns.auth_type)
        except CodecError as e:
            return "mip4 wire decode: error: %s\n(exit %d)" % (e, EXIT_BAD_INPUT)
        text = json.dumps(out, indent=2)
        return text if status == 0 else "%s\n(exit %d)" % (text, status)

    def config(self, args: list[str]) -> str:
        if args != ["show"]:
            raise _Usage("usage: config show")
        try:
            return redacted(load_any(self.config_path))
        except ConfigError as e:
            return "error: %s" % e


class _Usage(ControlError):
    """Bad console input: shown as `error: usage ...`."""


class _Parser(argparse.ArgumentParser):
    """argparse that says what is wrong to the console user, not to our stderr (and does not exit)."""

    def error(self, message: str):  # noqa: ANN201
        raise _Usage("wire decode: %s (usage: wire decode HEX [--key HEX --spi N])" % message)


def _no_args(cmd: str, args: list[str]) -> None:
    if args:
        raise _Usage("%s takes no arguments" % cmd)


def _line(x: dict) -> str:
    return "%s %-7s [%s] %s" % (time.strftime("%H:%M:%S", time.localtime(x["time"])), x["level"], x["reason"],
                                x["message"])

