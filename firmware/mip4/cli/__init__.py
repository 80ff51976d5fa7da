"""The `mip4` command: one entry point, a sub-command per concern."""

import argparse
import sys

from mip4 import __version__
from mip4.cli import config, console, ha, status, wire


def build_parser() -> argparse.ArgumentParser:
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
