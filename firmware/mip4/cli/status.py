"""`mip4 status`: what mip4d says over its control socket (or its status file), for people (or --json)."""
from __future__ import annotations

import argparse
import json
import os
import sys

from mip4.io.control import DEFAULT_PATH, ControlClient, ControlError
from mip4.status.text import summary

EXIT_NO_DAEMON = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="the running mip4d's status (control socket)")
    p.add_argument("--socket", default=os.environ.get("MIP4_CONTROL", DEFAULT_PATH))
    p.add_argument("--file", help="read the status file mip4d writes (status_file) instead of the socket")
    p.add_argument("--json", action="store_true", help="the raw status model")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.file:
        try:
            with open(args.file) as f:
                top = json.load(f)
        except (OSError, ValueError) as e:
            print("mip4 status: no status file from mip4d at %s (%s)" % (args.file, e), file=sys.stderr)
            return EXIT_NO_DAEMON
    else:
        client = ControlClient(args.socket)
        try:
            top = client.call("status")
        except ControlError as e:
            print("mip4 status: %s" % e, file=sys.stderr)
            return EXIT_NO_DAEMON
        finally:
            client.close()
    print(json.dumps(top, indent=2, default=str) if args.json else summary(top))
    return 0
