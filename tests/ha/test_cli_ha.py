"""`mip4 ha` (keepalived's notify and track scripts) against mip4d's real control socket server, with a
stand-in for the home agent role's `ha` method: the state it sets, and --record, which makes a
respawned mip4d (standby at start) follow the state keepalived last gave."""
from __future__ import annotations

import asyncio
import json
import threading

from mip4.cli import main as mip4
from mip4.io.control import ControlServer


class Role:
    """What the control server asks of the home agent role: status, and the local method `ha`."""

    def __init__(self) -> None:
        self.state, self.calls = "standby", []

    def status(self) -> dict:
        return {"role": "ha", "status": {}}

    async def ha(self, args: dict) -> dict:
        self.calls.append(args.get("state"))
        if args.get("state") not in (None, "active", "standby"):
            raise ValueError("state: %r is not active or standby" % args["state"])
        self.state = args.get("state") or self.state
        return {"state": self.state, "bindings": 0}


def serve(path: str, role: Role) -> tuple[asyncio.AbstractEventLoop, threading.Thread, ControlServer]:
    loop, ready = asyncio.new_event_loop(), threading.Event()
    server = ControlServer(path, role, {"ha": role.ha})

    async def start() -> None:
        await server.start()
        ready.set()
    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(10)
    return loop, thread, server


def test_mip4_ha_sets_the_state_and_a_respawned_mip4d_follows_the_recorded_one(tmp_path, capsys):
    sock, record, role = str(tmp_path / "c.sock"), str(tmp_path / "vrrp"), Role()
    loop, thread, server = serve(sock, role)
    try:
        assert mip4(["ha", "active", "--socket", sock, "--record", record]) == 0
        assert role.state == "active" and open(record).read() == "active\n"
        role.state = "standby"  # mip4d respawned by procd: start_standby, keepalived still master
        assert mip4(["ha", "state", "--socket", sock]) == 0 and role.state == "standby"  # no record: only says
        capsys.readouterr()
        assert mip4(["ha", "state", "--socket", sock, "--record", record]) == 0  # the track script
        assert role.state == "active" and role.calls[-2:] == [None, "active"]
        assert json.loads(capsys.readouterr().out) == {"state": "active", "bindings": 0}
        assert mip4(["ha", "standby", "--socket", sock, "--record", record]) == 0
        assert role.state == "standby" and open(record).read() == "standby\n"
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert mip4(["ha", "active", "--socket", sock, "--record", record]) == 1  # mip4d gone: exit 1 ...
    assert open(record).read() == "active\n"  # ... and keepalived's word kept for the mip4d to come
