"""A running mip4 status model for the router tests: the simulator's RFC 5265 world (a real MobileNode,
i-HA, x-HA, FAs and the VPN gateway model) advancing with the wall clock, wrapped in StatusModel as
mip4d wraps its machine, and served on a real control socket. Not canned JSON: every answer is the
core's state at that moment.
"""
from __future__ import annotations

import asyncio
import os
import threading
import time

from mip4.io.control import ControlServer
from mip4.status.model import StatusModel
from tests.core.world import build


class LiveNode:
    def __init__(self, speed: float = 1.0, **build_kw) -> None:
        self.w = build(**build_kw)
        self.model = StatusModel(self.w.mn)
        self.speed = speed
        self.lock = threading.RLock()
        self.sim_start, self.t0, self.wall0 = self.w.sim.now, time.monotonic(), time.time()
        sim, invoke = self.w.sim, self.w.sim._invoke

        def recorded(node, method, *args, **kwargs):  # as mip4d's feed() records
            actions = invoke(node, method, *args, **kwargs)
            if node.name == "mn":
                self.model.record(actions, sim.now, self.wall(sim.now))
            return actions
        sim._invoke = recorded  # type: ignore[method-assign]

    def wall(self, now: float) -> float:
        return self.wall0 + (now - self.sim_start) / self.speed

    def advance(self) -> float:
        with self.lock:
            target = self.sim_start + (time.monotonic() - self.t0) * self.speed
            if target > self.w.sim.now:
                self.w.sim.run_until(target)
            return self.w.sim.now

    def run(self, seconds: float) -> None:
        """Jump ahead (virtual seconds), keeping the wall clock mapping."""
        with self.lock:
            self.advance()
            self.w.run(seconds)
            self.sim_start -= seconds

    def do(self, fn, *args) -> None:  # noqa: ANN001
        with self.lock:
            self.advance()
            fn(*args)

    # -- the Source protocol (status/methods.py), as mip4d's Daemon offers it --------------------

    def status(self) -> dict:
        with self.lock:
            now = self.advance()
            return {"role": "mn", "pid": os.getpid(), "time": self.wall(now),
                    "uptime": (now - self.sim_start) / self.speed, "status": self.model.status(now)}

    def reregister(self) -> dict:
        with self.lock:
            self.advance()
            self.w.sim.call("mn", "reregister")
            return {"reregistered": sorted(i for i, u in self.w.mn.uplinks.items() if u.care_of)}

    def log(self, since: int, limit: int) -> list[dict]:
        with self.lock:
            self.advance()
            return self.model.log(since, limit)


class ThreadedControl:
    """mip4d's ControlServer on its own event loop thread, answering from `source`."""

    def __init__(self, path: str, source: object) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = ControlServer(path, source)  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
