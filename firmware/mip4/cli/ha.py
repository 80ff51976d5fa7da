"""`mip4 ha`: a redundant home agent's state, for keepalived (issue 27; docs/redundancy.md).

    mip4 ha active     keepalived's notify_master: take the bindings from the store and serve them
    mip4 ha standby    notify_backup, notify_fault: stop serving, remove their tunnels and routes
    mip4 ha state      exit 0 when mip4d answers (keepalived's track_script), and print its state

With --record FILE, `active` and `standby` write the state keepalived asked for there first, and
`state` makes mip4d follow it: a mip4d restarted (procd respawns it) on the machine that holds the
address starts as standby (start_standby) and keepalived, still master, would never say so again.

Over mip4d's control socket, which only root on this machine may use.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from mip4.io.control import DEFAULT_PATH, ControlClient, ControlError

EXIT_NO_DAEMON = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ha", help="a redundant home agent: active, standby, or its state (keepalived)")
    p.add_argument("state", choices=("active", "standby", "state"))
    p.add_argument("--socket", default=os.environ.get("MIP4_CONTROL", DEFAULT_PATH))
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for mip4d (default 10)")
    p.add_argument("--record", help="file keeping the state keepalived last asked for (state: mip4d follows it)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    wanted = None
    if args.record and args.state != "state":
        with open(args.record + ".tmp", "w") as f:
            f.write(args.state + "\n")
        os.replace(args.record + ".tmp", args.record)
    elif args.record:
        try:
            with open(args.record) as f:
                wanted = f.read().strip()
        except FileNotFoundError:
            pass
    client = ControlClient(args.socket, timeout=args.timeout)
    try:
        result = client.call("ha", {} if args.state == "state" else {"state": args.state})
        if wanted in ("active", "standby") and result["state"] != wanted:
            print("mip4 ha: mip4d is %s, keepalived said %s: following it" % (result["state"], wanted), file=sys.stderr)
            result = client.call("ha", {"state": wanted})
    except ControlError as e:
        print("mip4 ha: %s" % e, file=sys.stderr)
        return EXIT_NO_DAEMON
    finally:
        client.close()
    print(json.dumps(result))
    return 0
