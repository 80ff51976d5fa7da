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


def test_immediate_items_are_done_at_once_only_when_nothing_is_before_them():
    """issue 25: a reply and its log line need no coroutine each; but they never overtake queued work
    (a tunnel still going up), and a failed one is followed by fail-closed in order."""
    done: list[object] = []
    events: list[str] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        release = asyncio.Event()

        async def do(item: object) -> None:
            if item == DhcpJob("slow"):
                await release.wait()  # the worker is busy with it
            done.append(("queued", item))

        def now_(item: object) -> None:
            if item == Log("info", "x", "raise"):
                raise OSError("send failed")
            done.append(("at once", item))

        async def fail_closed() -> None:
            events.append("fail closed")

        driver = Driver(loop, TimerOnly(loop.time() + 60), do, fail_closed, lambda _: None, lambda: None)
        driver.immediate.update({Log: now_, BatchDone: lambda _: None})
        driver.start()
        a, b = Log("info", "a", "first"), Log("info", "b", "second")
        driver.feed([a, DhcpJob("wan"), b])  # idle: a at once, then the job and b behind it, in order
        assert done == [("at once", a)] and driver.batches == 1
        await driver.join()
        assert done[1:] == [("queued", DhcpJob("wan")), ("queued", b), ("queued", BatchDone())]
        done.clear()
        driver.put(DhcpJob("slow"))
        await asyncio.sleep(0)  # the worker takes it and waits: busy, the queue empty
        driver.feed([a])
        assert done == []  # not ahead of the job in progress
        release.set()
        await driver.join()
        assert done == [("queued", DhcpJob("slow")), ("queued", a), ("queued", BatchDone())]
        done.clear()
        driver.feed([Log("info", "x", "raise"), b])
        assert done == [] and driver.queue.qsize() == 3  # fail closed, then b and its BatchDone
        await driver.join()
        assert events == ["fail closed"] and done == [("queued", b), ("queued", BatchDone())]
        driver.stop()

    asyncio.run(run())


def test_early_timer_keeps_an_earlier_handle_when_the_next_expiry_moves_later():
    """issue 25: a refresh moves the home agent's next expiry later; the armed timer may fire early
    (handle_timer expires only what is due), so no new timer handle per datagram. An earlier time re-arms."""

    async def run() -> None:
        loop = asyncio.get_running_loop()
        machine = TimerOnly(loop.time() + 60)

        async def do(item: object) -> None:
            pass

        async def fail_closed() -> None:
            pass

        driver = Driver(loop, machine, do, fail_closed, lambda _: None, lambda: None)
        driver.arm()
        first, at = driver.timer, driver.timer_at
        machine.at += 10
        driver.arm()
        assert driver.timer is not first and driver.timer_at == machine.at  # without early_timer: re-armed
        driver.early_timer = True
        first, at = driver.timer, driver.timer_at
        machine.at += 10
        driver.arm()
        assert driver.timer is first and driver.timer_at == at  # kept: fires early, harmlessly
        machine.at = at - 30
        driver.arm()
        assert driver.timer is not first and driver.timer_at == machine.at  # earlier: re-armed
        driver.stop()

    asyncio.run(run())
