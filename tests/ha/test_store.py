"""The binding store against a real three-member etcd cluster (issue 27): the home agent core with
io/store.py's adapter, fed real registration requests (the wire codec), as mip4d's driver feeds them.

Home agent A accepts; B, the standby of the pair on the same store, becomes active and has the binding,
its tunnel and the identification (a replay of A's request is refused by B); leases end bindings in
the store; with the store down A serves on from memory, says so once, and writes memory back after.
"""
from __future__ import annotations

import asyncio
import logging

import pytest

from mip4.core.actions import RouteUp, TunnelUp
from mip4.core.config import HomeAgentConfig, MobileNodeEntry
from mip4.core.ha_store import Restored
from mip4.core.home_agent import HomeAgent
from mip4.io.store import BindingStore
from mip4.wire import codes
from mip4.wire.registration import FLAG_D, FLAG_T

from ..core.replies import I_SA, NOW, rng
from ..core.test_home_agent import CO_COA, CO_COA2, I_HA, I_HOA, INTRANET, reply_of, request, send, tunnel


def home_agent(etcd, **kw) -> HomeAgent:
    config = dict(address=I_HA, role="i-ha", trusted_networks=INTRANET, mobile_nodes={I_HOA: MobileNodeEntry(I_SA)},
                  store_endpoints=etcd.endpoints)
    config.update(kw)
    return HomeAgent(HomeAgentConfig(**config), rng())


def store_of(agent: HomeAgent, prefix: str, now: float = NOW, **kw) -> BindingStore:
    """The adapter for `agent`; its memory is written back as at `now` (the core's clock in these tests)."""
    return BindingStore(agent.config.store_endpoints, prefix, lambda: (list(agent.bindings), {
        h: agent.bindings.last_identification(h) for h in agent.bindings.home_addresses()}, now), **kw)


async def drive(store: BindingStore, actions: list) -> list:
    """The store's actions performed in order and awaited, as mip4d's driver does; the others returned."""
    rest = []
    for a in actions:
        handler = store.handlers.get(type(a))
        if handler is None:
            rest.append(a)
        else:
            await handler(a)
    return rest


def test_the_standby_becomes_active_with_the_binding_and_refuses_a_replay_of_the_old_actives_request(etcd):
    async def main() -> None:
        a, b = home_agent(etcd), home_agent(etcd, start_standby=True)
        sa, sb = store_of(a, "t1/"), store_of(b, "t1/")
        rq = request(at=NOW)
        assert reply_of(await drive(sa, send(a, rq))).code == codes.ACCEPTED
        assert not [x for x in send(b, request(at=NOW + 1), now=NOW + 1) if type(x).__name__ == "SendUdp"]
        assert b.counters["dropped-standby"] == 1  # the standby answers nobody

        actions = b.activate(await sb.load(), NOW + 2)
        (binding,) = b.bindings.lookup(I_HOA)
        assert binding.care_of == CO_COA and binding.identification == rq.identification
        assert 1795 <= binding.remaining(NOW + 2) <= 1800  # the lease's time, not a new lifetime
        assert TunnelUp(tunnel(CO_COA)) in actions and RouteUp(I_HOA + "/32", (tunnel(CO_COA).name,)) in actions

        replayed = reply_of(send(b, rq, now=NOW + 3))  # RFC 5944 5.7: A accepted it; B must not
        assert replayed.code == codes.HA_IDENTIFICATION_MISMATCH and b.counters["replay"] == 1
        fresh = home_agent(etcd)  # without the store's identification the same request would pass
        fresh.activate(Restored(), NOW + 2)
        assert reply_of(send(fresh, rq, now=NOW + 3)).code == codes.ACCEPTED

        moved = request(coa=CO_COA2, at=NOW + 4)  # the node's next registration, to B
        assert reply_of(await drive(sb, send(b, moved, now=NOW + 4))).code == codes.ACCEPTED
        assert a.standby(NOW + 5)[-1].reason == "standby" and not a.bindings.lookup(I_HOA)
        a.activate(await sa.load(), NOW + 6)  # and back: A has what B accepted
        assert [x.care_of for x in a.bindings.lookup(I_HOA)] == [CO_COA2]
        sa.close()
        sb.close()
    asyncio.run(main())


def test_a_deregistration_removes_the_binding_from_the_store_and_keeps_its_identification(etcd):
    async def main() -> None:
        a = home_agent(etcd)
        sa = store_of(a, "t2/")
        await drive(sa, send(a, request(at=NOW)))
        dereg = request(lifetime=0, at=NOW + 1)
        assert reply_of(await drive(sa, send(a, dereg, now=NOW + 1))).code == codes.ACCEPTED
        restored = await sa.load()
        assert restored.bindings == [] and restored.identifications == {I_HOA: dereg.identification}
        sa.close()
    asyncio.run(main())


def test_a_lease_of_the_granted_lifetime_ends_the_binding_in_the_store(etcd):
    async def main() -> None:
        a = home_agent(etcd, max_lifetime=2)
        sa = store_of(a, "t3/")
        rq = request(at=NOW, flags=FLAG_D | FLAG_T)
        assert reply_of(await drive(sa, send(a, rq))).lifetime == 2
        assert len((await sa.load()).bindings) == 1
        await asyncio.sleep(3.2)  # etcd's lease ends it; nobody of ours deletes anything
        restored = await sa.load()
        assert restored.bindings == [] and restored.identifications == {I_HOA: rq.identification}
        sa.close()
    asyncio.run(main())


def test_with_the_store_down_the_home_agent_serves_from_memory_logs_once_and_writes_back_after(own_etcd, caplog):
    caplog.set_level(logging.INFO, "mip4.store")

    async def main() -> None:
        a = home_agent(own_etcd)
        sa = store_of(a, "t4/", now=NOW + 600, retry=0.2)  # written back 10 minutes into the last registration
        assert reply_of(await drive(sa, send(a, request(at=NOW)))).code == codes.ACCEPTED
        own_etcd.kill(own_etcd.names[0])  # one member of three: the cluster still has quorum
        assert reply_of(await drive(sa, send(a, request(coa=CO_COA2, at=NOW + 1), now=NOW + 1))).code == 0
        assert sa.reachable and not [r for r in caplog.records if r.levelno >= logging.ERROR]

        own_etcd.stop()  # all of them
        loop = asyncio.get_running_loop()
        for i in range(3):
            started = loop.time()
            rq = request(coa=(CO_COA, CO_COA2)[i % 2], at=NOW + 2 + i)
            assert reply_of(await drive(sa, send(a, rq, now=NOW + 2 + i))).code == codes.ACCEPTED
            assert loop.time() - started < 2.5  # at most one timeout per member, then no waiting at all
        assert not sa.reachable and [x.care_of for x in a.bindings.lookup(I_HOA)] == [CO_COA]
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "binding store unreachable" in errors[0] and "serving from memory" in errors[0]

        await loop.run_in_executor(None, own_etcd.start)
        for _ in range(100):
            if any("binding store reachable again" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.1)
        assert sa.reachable
        assert [r.getMessage() for r in caplog.records if "reachable again" in r.getMessage()] == [
            "binding store reachable again (1 binding(s) and 1 identification(s) in memory written back)"]
        b = home_agent(own_etcd, start_standby=True)
        b.activate(await store_of(b, "t4/").load(), NOW + 10)
        (binding,) = b.bindings.lookup(I_HOA)  # what A accepted while the store was down
        assert binding.care_of == CO_COA and binding.identification == rq.identification
        assert 1198 <= binding.remaining(NOW + 10) <= 1204  # the 1204 s it had left, not a new lifetime
        sa.close()
    asyncio.run(main())


@pytest.mark.parametrize("record", [{"home_address": I_HOA}, "not json", None])
def test_a_record_that_is_no_binding_is_skipped_and_logged_never_served(etcd, record):
    b = home_agent(etcd, start_standby=True)
    actions = b.activate(Restored([(record, 100.0)], {}), NOW)
    assert not b.bindings.lookup(I_HOA) and [x.reason for x in actions] == ["store-bad-record", "active"]


def test_a_refresh_starts_its_lease_again_and_a_new_lifetime_takes_a_new_lease_revoking_the_old(etcd):
    async def main() -> None:
        a = home_agent(etcd)
        sa = store_of(a, "t5/")
        key = sa.binding_key(I_HOA, CO_COA)
        await drive(sa, send(a, request(at=NOW)))
        first = sa.leases[key]
        await asyncio.sleep(1.1)
        await drive(sa, send(a, request(at=NOW + 1), now=NOW + 1))  # a refresh: the same lease, from 1800 again
        assert sa.leases[key] == first and sa.client.time_to_live(first) in ((1800, 1800), (1799, 1800))
        await drive(sa, send(a, request(lifetime=900, at=NOW + 2), now=NOW + 2))
        assert sa.leases[key] != first and sa.client.time_to_live(first)[0] == -1  # revoked
        assert sa.client.time_to_live(sa.leases[key]) in ((900, 900), (899, 900))
        sa.close()
    asyncio.run(main())


def test_a_write_back_replaces_what_the_other_home_agent_wrote_for_the_same_home_address(etcd):
    """B served while A could not reach the store (a failover with the store down, then back): A's
    write-back leaves one binding per home address, A's own, not B's beside it as a second care-of."""
    async def main() -> None:
        a, b = home_agent(etcd), home_agent(etcd)
        sa, sb = store_of(a, "t6/", now=NOW + 1), store_of(b, "t6/")
        await drive(sb, send(b, request(coa=CO_COA2, at=NOW)))  # B's, in the store; A never read it
        send(a, request(at=NOW + 1), now=NOW + 1)  # A's, in memory only (its store was down)
        await sa._run(sa._write_back, *sa.snapshot())
        restored = await sa.load()
        assert [r["care_of"] for r, _ in restored.bindings] == [CO_COA]
        sa.close()
        sb.close()
    asyncio.run(main())
