"""mip4d passes steps of the time of day to the cores (RFC 5944 5.7.1: timestamp identifications)."""
from __future__ import annotations

import asyncio
import logging

from mip4.core.config import HomeAgentConfig, MobileNodeEntry
from mip4.core.home_agent import HomeAgent
from mip4.io.daemon import create
from mip4.io.settings import Settings
from mip4.io.wallclock import WallClockWatch
from tests.core.replies import I_SA, NOW


class Clocks:
    def __init__(self) -> None:
        self.mono, self.wall = 100.0, NOW

    def run(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


def test_a_step_is_reported_once_and_slewing_only_when_it_adds_up_to_one():
    c = Clocks()
    watch = WallClockWatch(lambda: c.wall, lambda: c.mono)
    assert watch.offset == NOW - 100.0
    c.run(30)
    assert watch.check() is None  # both clocks ran alike
    c.wall -= 3600
    assert watch.check() == (-3600.0, NOW + 30 - 3600, 130.0)
    assert watch.check() is None  # told once
    for _ in range(7):  # NTP slewing: 1/8 s at a time, reported when it adds up to the threshold
        c.wall += 0.125
        assert watch.check() is None
    c.wall += 0.125
    assert watch.check() == (1.0, c.wall, c.mono)


def test_mip4d_tells_the_home_agent_core_when_the_time_of_day_steps(caplog):
    """The seam the timer and the once-a-second loop use: Role.check_wall_clock."""
    settings = Settings("ha", HomeAgentConfig(address="10.1.0.1", role="i-ha", trusted_networks=("10.0.0.0/8",),
                                              mobile_nodes={"10.1.0.10": MobileNodeEntry(I_SA)}), seed=1)

    async def scenario() -> tuple[HomeAgent, list[float], list]:
        daemon = create(settings)
        try:
            c = Clocks()
            c.mono = daemon.now()
            daemon.wall_clock = WallClockWatch(lambda: c.wall, daemon.now)
            agent = daemon.machine
            assert isinstance(agent, HomeAgent)
            agent.set_wall_clock(c.wall, daemon.now())
            offsets = [agent.wall_offset]
            daemon.check_wall_clock()  # nothing moved
            offsets.append(agent.wall_offset)
            c.wall -= 3600
            daemon.check_wall_clock()
            offsets.append(agent.wall_offset)
            queued = [daemon.queue.get_nowait() for _ in range(daemon.queue.qsize())]
            return agent, offsets, queued
        finally:
            daemon.ipr.close()
            daemon.udp_tunnels.close_all()

    with caplog.at_level(logging.WARNING, logger="mip4d"):
        agent, offsets, queued = asyncio.run(scenario())
    assert offsets[0] == offsets[1] and abs(offsets[2] - (offsets[0] - 3600)) < 0.01
    assert agent.ident_offset == offsets[0]  # the identification clock held (home_agent.set_wall_clock)
    assert any("time of day stepped by -3600" in r.getMessage() for r in caplog.records)
    # the core's own line, logged: at once (driver.py's immediate items) or queued behind other work
    logged = [r.getMessage() for r in caplog.records if "[wall-clock]" in r.getMessage()]
    assert len(logged) + len([a for a in queued if getattr(a, "reason", None) == "wall-clock"]) == 1, logged
