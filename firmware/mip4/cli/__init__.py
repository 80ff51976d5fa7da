"""The `mip4` command: one entry point, a sub-command per concern.

Its sub-commands are imported when the parser is built, not with the package: mip4d (cli/mip4d.py)
lives here too, and a mobile router's daemon has no use for them (issue 25: its RSS)."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from mip4 import __version__

if TYPE_CHECKING:
    import argparse


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from mip4.cli import config, console, ha, status, wire

    parser = argparse.ArgumentParser(prog="mip4", description="Mobile IPv4 for RFC 5265 mobile routers.")
    parser.add_argument("--version", action="version", version="mip4 " + __version__)
    sub = parser.add_subparsers(dest="command", required=True)
    wire.add_parser(sub)
    config.add_parser(sub)
    status.add_parser(sub)
    console.add_parser(sub)
    ha.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        return 0
