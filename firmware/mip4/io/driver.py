"""The glue between one Sans-IO machine and asyncio, in the shape of aioquic's asyncio/protocol.py: events
go in through the machine's own methods and their actions through feed(); the machine's timer is armed
on the loop (get_timer) and fired into it (handle_timer); one worker does the queued items in order, so a
tunnel is up before the route into it. The driver touches the machine only through get_timer/handle_timer.

The queue holds the core's actions (core/actions.py) and the adapter's own items, small frozen dataclasses.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("mip4d")


class Machine(Protocol):
    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> list: ...


@dataclass(frozen=True)
class BatchDone:
    """A batch of actions is done: the MN re-points the LAN route; the last one queued writes the status."""


@dataclass(frozen=True)
class Gateway:
    """The uplink `iface`'s default router, as netifd's DHCP learnt it (None: none known)."""

    iface: str
    gateway: str | None


@dataclass(frozen=True)
class Attach:
    """The uplink `iface` was missing or down: set it up (guard, route, sockets) now that it has a link;
    or (`gone`) its device went away: its sockets go and it waits for a new one."""

    iface: str
    gone: bool = False


@dataclass(frozen=True)
class DhcpJob:
    """The DHCP client steps queued for `iface` (a flapping carrier queues one job, not a backlog)."""

    iface: str


@dataclass(frozen=True)
class VpnUp:
    """IKE is up with `vpn_tia`: its guard, rule and socket, before the i-MIP request (RFC 5265 2.3)."""

    vpn_tia: str


@dataclass(frozen=True)
class VpnDown:
    """IKE is down: the VPN-TIA's socket and rule go."""


_FAIL_CLOSED = object()  # queued after an immediate item failed: the worker runs fail_closed in order


class Driver:
    """feed(), the timer, the worker, stop(). `do` performs one queued item; after an item fails,
    `fail_closed` runs (no user data on a half-built path); `record` sees every batch fed;
    `on_timer` runs before each timer is handled.

    `immediate`: item types performed at once, without a coroutine, by a plain function (a reply sent,
    a line logged), when nothing queued or in progress is before them: the order stays the queue's.
    BatchDone among them: the batch needs nothing after it. `early_timer`: the machine's handle_timer
    does only what is due by `now` (the home agent's expiries), so a timer set for an earlier time may
    stay: a refresh, which moves the next expiry later, needs no new timer handle (issue 25)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, machine: Machine, do: Callable[[object], Awaitable[None]],
                 fail_closed: Callable[[], Awaitable[None]], record: Callable[[list], None],
                 on_timer: Callable[[], None]) -> None:
        self.loop, self.machine = loop, machine
        self.do, self.fail_closed, self.record, self.on_timer = do, fail_closed, record, on_timer
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.batches = 0  # BatchDone items in the queue
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at: float | None = None  # when self.timer fires
        self.tasks: set[asyncio.Task] = set()
        self.worker: asyncio.Task | None = None
        self.immediate: dict[type, Callable[[Any], None]] = {}
        self.early_timer = False
        self.busy = False  # the worker is performing an item
        self.activity = 0  # batches fed and items put so far: whether anything happened since a moment

    def now(self) -> float:
        return self.loop.time()

    def start(self) -> None:
        self.worker = self.loop.create_task(self._work())

    def feed(self, actions: list) -> None:
        """Queue a batch of actions. An empty one (a bad packet counted and not logged, say) queues
        nothing: a flood of them costs the worker nothing and delays no real reply."""
        if actions:
            self.activity += 1
            self.record(actions)
            if self.immediate and not self.busy and not self.queue.qsize():
                actions = self._at_once(actions)
            if actions is not None:
                for a in actions:
                    self.queue.put_nowait(a)
                self.batches += 1
                self.queue.put_nowait(BatchDone())
        self.arm()

    def _at_once(self, actions: list) -> list | None:
        """Perform the leading items that have an immediate handler; the rest (None: none) to queue."""
        immediate = self.immediate
        for i, a in enumerate(actions):
            handler = immediate.get(type(a))
            if handler is None:
                return actions[i:]
            try:
                handler(a)
            except Exception:
                log.exception("action %r failed", a)
                self.queue.put_nowait(_FAIL_CLOSED)  # then the rest, as the worker would have gone on
                return actions[i + 1:]
        if BatchDone in immediate:
            return None
        return []

    def put(self, item: object) -> None:
        """Queue one item of the adapter's own, in order with the actions."""
        self.activity += 1
        self.queue.put_nowait(item)

    def arm(self) -> None:
        when = self.machine.get_timer()
        if self.timer and (when == self.timer_at or (self.early_timer and when is not None
                                                        and self.timer_at is not None and when > self.timer_at)):
            return  # unchanged (most datagrams), or later with early_timer: no new timer handle for each
        if self.timer:
            self.timer.cancel()
            self.timer = None
        self.timer_at = when
        if when is not None:
            self.timer = self.loop.call_at(max(when, self.now()), self._fire)

    def _fire(self) -> None:
        self.timer = None
        self.on_timer()
        self.feed(self.machine.handle_timer(self.now()))

    async def _work(self) -> None:
        while True:
            item = await self.queue.get()
            self.busy = True
            try:
                if item is _FAIL_CLOSED:
                    await self.fail_closed()
                    continue
                if isinstance(item, BatchDone):
                    self.batches -= 1
                await self.do(item)
            except Exception:
                log.exception("action %r failed", item)
                await self.fail_closed()
            finally:
                self.busy = False
                self.queue.task_done()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """A job that takes seconds (IKE): the worker goes on meanwhile."""
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task failed: %r", task.exception())

    async def join(self) -> None:
        await self.queue.join()

    def stop(self) -> None:
        """After join(): no more timer, jobs or worker."""
        for task in list(self.tasks):
            task.cancel()
        if self.timer:
            self.timer.cancel()
            self.timer = None
        if self.worker:
            self.worker.cancel()
