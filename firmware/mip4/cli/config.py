"""`mip4 config check|show FILE`: the daemon's own validation, from the shell (UCI or JSON)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from mip4.core.config import ConfigError
from mip4.uci.config import UciConfig, load_any, redacted, summary, warnings

EXIT_BAD_CONFIG = 2  # as mip4d exits on a bad config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="check or show a config file (/etc/config/mip4 or JSON)")
    verbs = p.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check", help="validate; exit 0 with a summary, or 2 with the error")
    check.add_argument("file", nargs="?", default="/etc/config/mip4")
    check.set_defaults(run=run_check)
    show = verbs.add_parser("show", help="print the effective settings (defaults filled in, keys hidden)")
    show.add_argument("file", nargs="?", default="/etc/config/mip4")
    show.set_defaults(run=run_show)


def run_check(args: argparse.Namespace) -> int:
    def render(c: UciConfig) -> str:
        for w in warnings(c):  # valid, but a set-up the RFC forbids: flagged, still exit 0
            print("mip4 config: warning: %s" % w, file=sys.stderr)
        return "%s: OK, %s%s" % (args.file, summary(c), "" if c.enabled else " (disabled)")
    return _with_config(args.file, render)


def run_show(args: argparse.Namespace) -> int:
    return _with_config(args.file, redacted)


def _with_config(path: str, render: Callable[[UciConfig], str]) -> int:
    """Load and validate `path`; print what `render` makes of it, or the error (exit 2)."""
    try:
        c = load_any(path)
    except ConfigError as e:
        print("mip4 config: error: %s" % e, file=sys.stderr)
        return EXIT_BAD_CONFIG
    print(render(c))
    return 0
