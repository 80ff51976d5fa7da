"""The home agent as one of a redundant pair (issue 27), alone: the store actions it emits (before the
reply), activation from a store's records and standby, with no etcd (tests/ha has the real one)."""
from __future__ import annotations

from mip4.core.actions import ForgetBinding, ProxyArp, RouteDown, SendUdp, StoreBinding, TunnelDown, TunnelUp
from mip4.core.ha_store import Restored, to_record
from mip4.wire import codes
from mip4.wire.registration import FLAG_D, FLAG_S, FLAG_T

from .replies import NOW
from .test_home_agent import CO_COA, CO_COA2, I_HOA, i_ha, reply_of, request, send, tunnel

STORE = ("http://10.0.0.5:2379",)


def test_without_a_store_the_home_agent_emits_no_store_action_and_has_no_pair_state():
    ha = i_ha()
    actions = send(ha, request()) + send(ha, request(lifetime=0, at=NOW + 1), now=NOW + 1)
    assert not [a for a in actions if isinstance(a, (StoreBinding, ForgetBinding))]
    assert "state" not in ha.status() and ha.active


def test_with_a_store_each_accepted_registration_is_stored_before_its_reply_and_a_refresh_too():
    ha = i_ha(store_endpoints=STORE)
    for i in range(2):  # the first registration, then a refresh (its lease starts again)
        actions = send(ha, request(at=NOW + i), now=NOW + i)
        stored = [k for k, a in enumerate(actions) if isinstance(a, StoreBinding)]
        reply = [k for k, a in enumerate(actions) if isinstance(a, SendUdp)]
        assert len(stored) == 1 and stored[0] < reply[0]
        b = actions[stored[0]].binding
        assert (b.home_address, b.care_of, b.lifetime, actions[stored[0]].replace) == (I_HOA, CO_COA, 1800, True)
    with_s = send(ha, request(coa=CO_COA2, flags=FLAG_S | FLAG_D | FLAG_T, at=NOW + 2), now=NOW + 2)
    assert [a.replace for a in with_s if isinstance(a, StoreBinding)] == [False]  # S: beside the other one
    denied = send(ha, request(at=NOW - 100), now=NOW + 3)  # a replay: nothing stored
    assert reply_of(denied).code == codes.HA_IDENTIFICATION_MISMATCH
    assert not [a for a in denied if isinstance(a, StoreBinding)]


def test_a_deregistration_is_forgotten_in_the_store_with_its_identification():
    ha = i_ha(store_endpoints=STORE)
    send(ha, request(flags=FLAG_S | FLAG_D | FLAG_T))
    one = request(coa=CO_COA, lifetime=0, flags=FLAG_S | FLAG_D | FLAG_T, at=NOW + 1)
    assert [a for a in send(ha, one, now=NOW + 1) if isinstance(a, ForgetBinding)] == [
        ForgetBinding(I_HOA, CO_COA, one.identification)]  # S: only that care-of
    send(ha, request(at=NOW + 2), now=NOW + 2)
    everything = request(lifetime=0, at=NOW + 3, flags=FLAG_D | FLAG_T)
    assert [a for a in send(ha, everything, now=NOW + 3) if isinstance(a, ForgetBinding)] == [
        ForgetBinding(I_HOA, None, everything.identification)]


def test_standby_removes_the_data_plane_keeps_the_identification_and_answers_nobody():
    ha = i_ha(store_endpoints=STORE)
    rq = request()
    send(ha, rq)
    actions = ha.standby(NOW + 1)
    assert TunnelDown(tunnel(CO_COA)) in actions and RouteDown(I_HOA + "/32") in actions
    assert ProxyArp(I_HOA, False) in actions and not [a for a in actions if isinstance(a, (StoreBinding,
                                                                                           ForgetBinding))]
    assert len(ha.bindings) == 0 and ha.status()["state"] == "standby" and ha.standby(NOW + 2) == []
    assert not [a for a in send(ha, request(at=NOW + 3), now=NOW + 3) if isinstance(a, SendUdp)]
    assert ha.counters["dropped-standby"] == 1
    ha.activate(Restored(), NOW + 4)
    assert reply_of(send(ha, rq, now=NOW + 5)).code == codes.HA_IDENTIFICATION_MISMATCH  # still a replay


def test_activation_installs_the_stored_bindings_with_their_time_left_and_keeps_its_own():
    ha = i_ha(store_endpoints=STORE, start_standby=True)
    mine = i_ha()
    send(mine, request())
    (b,) = mine.bindings.lookup(I_HOA)
    actions = ha.activate(Restored([(to_record(b), 600.0)], {I_HOA: b.identification}), NOW + 10)
    (restored,) = ha.bindings.lookup(I_HOA)
    assert restored.care_of == CO_COA and restored.remaining(NOW + 10) == 600.0 and ha.active
    assert TunnelUp(tunnel(CO_COA)) in actions and ProxyArp(I_HOA, True) in actions
    again = ha.activate(Restored([(dict(to_record(b), care_of=CO_COA2), 900.0)], {}), NOW + 11)
    assert [x.care_of for x in ha.bindings.lookup(I_HOA)] == [CO_COA] and again[-1].reason == "active"
    other = i_ha(store_endpoints=STORE, start_standby=True)
    other.activate(Restored([(to_record(b), 0.0)], {}), NOW + 12)  # its lease ended meanwhile: not installed
    assert len(other.bindings) == 0
