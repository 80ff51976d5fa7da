"""A vehicle's uplinks in the UML lab (issue 7): wan (priority 1) inside, wwan (priority 2) on an
external network. Pulling wan moves the traffic to wwan at once (cvc, IKE through wwan's x-MIP);
wan flapping faster than its hold-down never takes it back; wan back for good takes it back after
the hold-down, make before break. Every transition prints the time from the link event to the
LAN host's stream flowing again; the stream loses, duplicates and reconnects nothing.
"""
from __future__ import annotations

from board.virtual.audit import audit
from board.virtual.boot import topology

from .conftest import LAN_HOST, X_HA, steps, tshark


def _vehicle(events: list, action: str) -> dict:
    (step,) = [s for s in steps(events) if s.get("vehicle") == "wan" and s["action"] == action]
    return step


def _clean(step: dict) -> bool:
    s = step["stream"]
    return (s["reconnects"], s["gaps"], s["duplicates"]) == (0, 0, 0)


def test_every_uplink_transition_prints_its_time_to_data(tour):
    lab, events = tour
    print("\n%-7s %-16s %-8s %-5s %14s %10s %s" % ("step", "wan", "primary", "mode", "data after (s)", "held (s)",
                                                  "stalls (s)"))
    for s in [s for s in steps(events) if s.get("vehicle")]:
        print("%-7d %-16s %-8s %-5s %14s %10s %s" % (s["step"], s["action"] + " " + (s["network"] or ""), s["primary"],
                                                    s["mode"], s["data_after_s"], s["held_s"], s["stalls"]))
        assert s["ok"], s
        assert s["data_after_s"] is not None and _clean(s)


def test_pulling_the_active_uplink_moves_the_traffic_to_the_standby_at_once(tour):
    """RFC 5265 3.2.2: the pulled uplink stops carrying at once; wwan, already registered with the
    x-HA beside it (S bit), takes over in cvc with IKE through its x-MIP tunnel."""
    lab, events = tour
    pull = _vehicle(events, "pull")
    assert pull["ok"] and pull["primary"] == "wwan" and pull["mode"] == "cvc" and _clean(pull)
    assert pull["ike"] == "up" and pull["child_sa"]["state"] == "INSTALLED"
    # one registration and one IKE exchange (ping-tracker multi-WAN tools take 15-80 s); a figure, not a bound
    print("wan pulled: data through wwan (cvc) after %.2f s" % pull["data_after_s"])


def test_an_uplink_flapping_faster_than_its_hold_down_never_takes_the_traffic(tour):
    lab, events = tour
    flap = _vehicle(events, "flap")
    hold = topology()["daemons"]["mr"]["mn"]["hold_down"]
    assert [s for s in topology()["tour"] if s.get("action") == "flap"][0]["up_s"] < hold
    assert flap["ok"] and flap["primaries"] == ["wwan"] and flap["mode"] == "cvc" and _clean(flap)
    assert not [st for st in flap["stalls"] if st > 0]  # the stream never stopped while wan came and went


def test_an_uplink_back_for_good_takes_the_traffic_after_its_hold_down_make_before_break(tour):
    """The i-HA moves its traffic to wan (registration without S) while wwan still carries; then the
    MR points its own traffic at wan and closes IPsec (R-3.3-l): no outage. The stream may pause for
    as long as the old path's last packets (ESP through wwan) take to arrive after the first through
    wan (TCP delivers in order); that is below a second, and nothing is lost."""
    lab, events = tour
    back = _vehicle(events, "return")
    hold = topology()["daemons"]["mr"]["mn"]["hold_down"]
    assert back["ok"] and back["primary"] == "wan" and back["mode"] == "c" and back["ike"] == "down"
    assert back["waited_s"] >= hold and back["held_s"] >= hold - 1.5  # the MR's clock; the lab's polling
    assert max(back["stalls"], default=0) < 1.0 and _clean(back)
    pause = max(back["stalls"], default=0)
    print("wan back: inside, usable %.2f s by the MR's clock (%.2f s seen by the lab; hold-down %g s), then the "
          "traffic moved; longest pause %s s" % (back["waited_s"], back["held_s"], hold, pause))


def test_the_outside_standby_carried_only_esp_and_the_auditor_is_clean_on_its_link(tour):
    """While wwan carried (cvc on ext2), its link saw IPsec inside x-MIP, never the LAN host in clear."""
    lab, events = tour
    ext2 = lab.path("captures", "isp-ext2.pcapng")
    pull, back = _vehicle(events, "pull"), _vehicle(events, "return")
    window = "frame.time_epoch >= %f && frame.time_epoch <= %f" % (pull["wall"], back["wall"])
    carried = tshark(ext2, "%s && ip.dst == %s && esp" % (window, X_HA), "frame.number")
    assert len(carried) > 100, "wwan carried no ESP inside x-MIP on ext2"
    assert not tshark(ext2, "%s && ip.addr == %s" % (window, LAN_HOST), "frame.number")
    result = audit([ext2], {LAN_HOST, topology()["cn"]["address"]}, tuple(topology()["ipsec"]["intranet"]))
    assert not result["leaks"], "\n".join(result["leaks"][:20])
