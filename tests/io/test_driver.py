"""mip4d's driver (io/driver.py, issue 22): the asyncio glue of one Sans-IO machine. It touches the
machine only through get_timer/handle_timer; the actions of a batch are done in order, then a
BatchDone; a failed action is followed by the role's fail-closed step (R-3.2.2-a: no user data on a
half-built path) and the items after it are still done."""
from __future__ import annotations

import asyncio

from mip4.core.actions import Log
from mip4.io.driver import BatchDone, DhcpJob, Driver


class TimerOnly:
    """A machine with a timer and nothing else: any other attribute the driver used would raise."""

    __slots__ = ("at", "fired")

    def __init__(self, at: float) -> None:
        self.at: float | None = at
        self.fired: list[float] = []

    def get_timer(self) -> float | None:
        return self.at

    def handle_timer(self, now: float) -> list:
        self.fired.append(now)
        self.at = None
        return [Log("info", "timer", "the timer fired")]


def test_batches_in_order_the_timer_fired_into_the_machine_and_failures_closed():
    done: list[object] = []
    recorded: list[list] = []
    events: list[str] = []

    async def run() -> TimerOnly:
        loop = asyncio.get_running_loop()
        machine = TimerOnly(loop.time() + 0.05)

        async def do(item: object) -> None:
            if item == DhcpJob("bad"):
                raise OSError("the kernel said no")
            done.append(item)

        async def fail_closed() -> None:
            events.append("fail closed")

        driver = Driver(loop, machine, do, fail_closed, recorded.append, lambda: events.append("on timer"))
        driver.start()
        a, b = Log("info", "a", "first"), Log("info", "b", "second")
        driver.feed([a, b])
        driver.put(DhcpJob("bad"))
        driver.put(DhcpJob("wan"))
        driver.feed([])  # nothing to do: nothing queued
        assert driver.timer_at == machine.at and driver.batches == 1
        await driver.join()
        assert done == [a, b, BatchDone(), DhcpJob("wan")] and events == ["fail closed"]
        await asyncio.sleep(0.1)
        await driver.join()
        driver.stop()
        return machine

    machine = asyncio.run(run())
    assert len(machine.fired) == 1 and events == ["fail closed", "on timer"]
    assert done[-2:] == [Log("info", "timer", "the timer fired"), BatchDone()]
    assert recorded == [[Log("info", "a", "first"), Log("info", "b", "second")],
                        [Log("info", "timer", "the timer fired")]]
