"""keepalived's notify_fifo, read on mip4d's loop (issue 27, docs/redundancy.md): a redundant home agent
follows its VRRP instance's state with no process started per transition, and in keepalived's order.

keepalived (global_defs `notify_fifo PATH`, keepalived.conf(5)) writes one line per transition, the last
four arguments of its `notify` script: `INSTANCE "VI_1" MASTER 150`, `GROUP "G1" BACKUP 0`; the states
MASTER, BACKUP, FAULT, STOP (DELETED after a reload); MASTER_RX_LOWER_PRI, MASTER_PRIORITY and
BACKUP_PRIORITY tell no transition.

The last state read is kept in PATH.state (written before it is applied): a mip4d that procd respawns
before keepalived noticed its death starts from it, and keepalived, still MASTER, need not say it again;
the lines keepalived wrote meanwhile wait in the FIFO (keepalived keeps it open) and are read after it.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
from collections.abc import Awaitable, Callable

log = logging.getLogger("mip4d")

STATES = {"MASTER": "active", "BACKUP": "standby", "FAULT": "standby", "STOP": "standby", "DELETED": "standby"}
NOT_TRANSITIONS = ("MASTER_RX_LOWER_PRI", "MASTER_PRIORITY", "BACKUP_PRIORITY")
MAX_LINE = 4096


def parse(line: str, instance: str | None) -> str | None:
    """'active' or 'standby' for a line of `instance` (None: any INSTANCE line), None for any other line."""
    words = line.split()
    if len(words) < 3 or words[0] not in ("INSTANCE", "GROUP"):
        log.warning("vrrp fifo: %r is no keepalived state line, ignored", line)
        return None
    kind, name, state = words[0], words[1].strip('"'), words[2]
    if (name != instance) if instance is not None else kind != "INSTANCE":
        log.debug("vrrp fifo: %r is not ours, ignored", line)
        return None
    if state in NOT_TRANSITIONS:
        log.debug("vrrp fifo: %r tells no transition", line)
        return None
    if state not in STATES:
        log.warning("vrrp fifo: %r: unknown state %s, ignored", line, state)
        return None
    return STATES[state]


def open_fifo(path: str) -> int:
    """The FIFO, made 0600 if missing (keepalived opens an existing one), opened read-write and
    non-blocking: a writer's close (keepalived restarting) gives no end of file."""
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError("vrrp_fifo: %s is not a FIFO" % path)
    return fd


class VrrpFifo:
    """Reads the FIFO's lines with add_reader; applies the latest state wanted, one transition at a time:
    a burst (MASTER, BACKUP, MASTER) ends in the last one's state, never in an older one's."""

    def __init__(self, loop: asyncio.AbstractEventLoop, path: str, instance: str | None,
                 apply: Callable[[str], Awaitable[None]]) -> None:
        self.loop, self.path, self.instance, self.apply = loop, path, instance, apply
        self.fd = open_fifo(path)
        self.buffer = b""
        self.wanted: str | None = None
        self.worker: asyncio.Task | None = None
        self.record = path + ".state"
        try:
            with open(self.record) as f:
                recorded = f.read().strip()
        except FileNotFoundError:
            recorded = ""
        log.info("following keepalived's states in %s (%s)%s", path,
                 "instance %s" % instance if instance else "every INSTANCE line",
                 ", last said: %s" % recorded if recorded else "")
        # the lines keepalived wrote while no mip4d read them are newer than the record: read them first
        if self._readable() is None and recorded in ("active", "standby"):
            self._want(recorded)
        loop.add_reader(self.fd, self._readable)

    def _want(self, state: str) -> None:
        self.wanted = state
        if self.worker is None or self.worker.done():
            self.worker = self.loop.create_task(self._follow())

    def _readable(self) -> str | None:
        """Reads what the FIFO holds; returns the last state it wanted, if any."""
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return None
        except OSError as e:
            if e.errno == errno.EINTR:
                return None
            raise
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > MAX_LINE:
            log.warning("vrrp fifo: %d bytes with no end of line, dropped", len(self.buffer))
            self.buffer = b""
        last = None
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            state = parse(line, self.instance)
            if state is None:
                continue
            log.info("keepalived: %s: %s", line, state)
            last = state
        if last is not None:
            with open(self.record + ".tmp", "w") as f:
                f.write(last + "\n")
            os.replace(self.record + ".tmp", self.record)
            self._want(last)
        return last

    async def _follow(self) -> None:
        while self.wanted is not None:
            state, self.wanted = self.wanted, None
            try:
                await self.apply(state)
            except Exception:  # a failed transition is logged; the next line tries again
                log.exception("vrrp fifo: going %s failed", state)

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
        if self.worker is not None:
            self.worker.cancel()
        os.close(self.fd)
