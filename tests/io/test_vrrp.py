"""io/vrrp.py: keepalived's notify_fifo read on mip4d's loop (issue 27). A real FIFO, written as
keepalived writes it (one line per transition, the writer opening and closing it as it restarts)."""
from __future__ import annotations

import asyncio
import logging
import os
import stat

import pytest

from mip4.io.vrrp import VrrpFifo, parse


async def follow(path: str, lines: list[str], instance: str | None = None, apply_takes: float = 0.05,
                 writes: int = 1) -> list[str]:
    """What mip4d applied, in order, for `lines` written to the FIFO in `writes` opens of it."""
    applied: list[str] = []

    async def apply(state: str) -> None:
        await asyncio.sleep(apply_takes)  # the read from etcd, the tunnels: later lines arrive meanwhile
        applied.append(state)

    fifo = VrrpFifo(asyncio.get_running_loop(), path, instance, apply)
    try:
        step = max(1, len(lines) // writes)
        for i in range(0, len(lines), step):
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # keepalived opens it, writes, and may close it
            os.write(fd, "".join(line + "\n" for line in lines[i:i + step]).encode())
            os.close(fd)
            await asyncio.sleep(0.01)
        for _ in range(100):
            await asyncio.sleep(0.02)
            if fifo.worker is None or fifo.worker.done():
                break
    finally:
        fifo.close()
    return applied


def test_a_burst_ends_in_the_last_lines_state_and_the_fifo_is_made_0600(tmp_path):
    path = str(tmp_path / "vrrp.fifo")
    burst = ['INSTANCE "ha" MASTER 150', 'INSTANCE "ha" BACKUP 150', 'INSTANCE "ha" MASTER 150']
    applied = asyncio.run(follow(path, burst))
    assert applied == ["active"]  # one read: the last line's state, the ones before it superseded
    st = os.stat(path)
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    with open(path + ".state") as f:
        assert f.read() == "active\n"


def test_a_burst_while_a_transition_is_applied_ends_in_the_last_lines_state(tmp_path):
    path = str(tmp_path / "vrrp.fifo")
    burst = ['INSTANCE "ha" MASTER 150', 'INSTANCE "ha" BACKUP 150', 'INSTANCE "ha" MASTER 150',
             'INSTANCE "ha" BACKUP 150', 'INSTANCE "ha" MASTER 150']
    applied = asyncio.run(follow(path, burst, apply_takes=0.1, writes=5))  # each line its own write
    assert applied[0] == "active" and applied[-1] == "active" and len(applied) < 5, applied


def test_a_respawned_mip4d_starts_from_the_state_keepalived_last_gave(tmp_path):
    """keepalived, still MASTER, writes nothing more: the record of the last line read stands for it."""
    path = str(tmp_path / "vrrp.fifo")
    assert asyncio.run(follow(path, ['INSTANCE "ha" MASTER 150'])) == ["active"]
    assert asyncio.run(follow(path, [])) == ["active"]


def test_each_transition_is_followed_in_order_across_writers_closing(tmp_path):
    """A writer's close (keepalived restarted) is no end of file: later lines are still read."""
    path = str(tmp_path / "vrrp.fifo")
    lines = ['INSTANCE "ha" MASTER 150', 'INSTANCE "ha" FAULT 150', 'INSTANCE "ha" BACKUP 150',
             'INSTANCE "ha" MASTER 150', 'INSTANCE "ha" STOP 150']
    assert asyncio.run(follow(path, lines, apply_takes=0.0, writes=5)) == \
        ["active", "standby", "standby", "active", "standby"]


def test_other_instances_groups_and_unknown_lines_are_ignored_and_logged(tmp_path, caplog):
    path = str(tmp_path / "vrrp.fifo")
    lines = ['INSTANCE "other" MASTER 100', 'GROUP "g" MASTER 0', "garbage", 'INSTANCE "ha" SLEEPING 1',
             'INSTANCE "ha" MASTER_RX_LOWER_PRI 150', 'INSTANCE "ha" BACKUP 150']
    with caplog.at_level(logging.DEBUG, logger="mip4d"):
        assert asyncio.run(follow(path, lines, instance="ha", apply_takes=0.0)) == ["standby"]
    text = caplog.text
    assert "'garbage' is no keepalived state line, ignored" in text
    assert "unknown state SLEEPING, ignored" in text
    assert 'keepalived: INSTANCE "ha" BACKUP 150: standby' in text


def test_a_group_is_followed_by_its_name_and_without_a_name_every_instance_line_counts():
    assert parse('GROUP "G1" MASTER 0', "G1") == "active"
    assert parse('INSTANCE "VI_1" MASTER 0', "G1") is None
    assert parse('INSTANCE "VI_1" DELETED 0', None) == "standby"
    assert parse('GROUP "G1" MASTER 0', None) is None


def test_a_path_that_is_no_fifo_is_refused(tmp_path):
    path = tmp_path / "file"
    path.write_text("")

    async def main() -> None:
        async def apply(state: str) -> None:
            pass
        VrrpFifo(asyncio.get_running_loop(), str(path), None, apply)
    with pytest.raises(ValueError, match="is not a FIFO"):
        asyncio.run(main())


def test_lines_written_while_no_mip4d_read_supersede_the_record(tmp_path):
    """The active's mip4d dies; keepalived (holding the FIFO open) writes FAULT meanwhile: the respawned
    mip4d must never go active from its record first (proxy ARP and tunnels on the machine that gave up
    the address)."""
    path = str(tmp_path / "vrrp.fifo")
    assert asyncio.run(follow(path, ['INSTANCE "ha" MASTER 150'])) == ["active"]
    keepalived = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # as keepalived opens it
    try:
        os.write(keepalived, b'INSTANCE "ha" FAULT 150\n')
        assert asyncio.run(follow(path, [])) == ["standby"]
    finally:
        os.close(keepalived)
