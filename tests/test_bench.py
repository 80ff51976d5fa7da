"""`make bench QUICK=1` runs and writes bench/results.json with every figure, each value a finite number.

No timing is checked: the bench measures, it does not judge (issue 9).
"""
import datetime
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {"overhead", "codec", "registration", "memory", "footprint"}
MAY_BE_ZERO = {"delta", "rfc"}  # differences to RFC 5265 5.2, and its 0 octets for mode f


def test_quick_bench_writes_every_figure(tmp_path):
    out = tmp_path / "results.json"
    env = dict(os.environ, PYTHONPATH="%s:%s" % (ROOT / "firmware", ROOT))
    p = subprocess.run([sys.executable, "-m", "tests.bench", "--quick", "--out", str(out)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    results = json.loads(out.read_text())
    assert results["meta"]["quick"] is True
    assert set(results["figures"]) == FIGURES
    for name, fig in results["figures"].items():
        assert fig["rows"] and fig["baseline"], name
        assert fig["title"] in p.stdout
        for row in fig["rows"]:
            assert set(row) <= set(fig["columns"]), (name, row)
            for key, value in row.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    assert math.isfinite(value) and (value > 0 or key in MAY_BE_ZERO), (name, key, row)
    rows = {r["path"]: r for r in results["figures"]["registration"]["rows"]}
    assert rows["floor: bare UDP echo"]["vs_floor"] == 1.0 and rows["mip4d over UDP"]["vs_floor"] > 0
    # instructions per refresh beside the rates (callgrind), at 1 and 1,000 bindings in a quick run (issue 25)
    core = [r for r in results["figures"]["registration"]["rows"] if r["path"] == "HomeAgent core"]
    assert [r["bindings"] for r in core if r.get("instructions")] == [1, 1000]
    assert all(r["instructions"] for r in results["figures"]["codec"]["rows"])
    idle = [r for r in results["figures"]["footprint"]["rows"] if r["process"] == "mip4d mn"]
    assert idle and idle[0]["rss_kib"] > 0
    assert [r["mode"] for r in results["figures"]["overhead"]["rows"]][:1] == ["c"]


def test_handoff_figures_from_a_run_s_events_and_log():
    """The lab bench's arithmetic on a made-up run: transitions tagged by the moves before them, RTT by
    the netem step, the VPN client's phases taken from the MR's log lines (the lab run is `make bench`)."""
    from tests.bench import bench_handoff as h

    steps = h.tour(cycles=1, rtts=(0,), bulk_rounds=2, systems=())
    assert steps[0] == {"network": "home"} and steps[-1] == {"footprint": True}
    assert [s["network"] for s in steps if "network" in s] == ["home"] + h.BULK_AT * 2 + h.CYCLE
    assert sum(1 for s in steps if "bulk" in s) == 2 * len(h.BULK_AT)
    # the alternatives come after mip4's footprint (mip4d leaves the MR for them), each up at ext1, then
    # its cycle per RTT with the delay on the link into the VPN gateway
    steps = h.tour(cycles=1, rtts=(0, 20), bulk_rounds=0, alt_cycles=2)
    alt = steps[steps.index({"footprint": True}) + 1:]
    assert alt[0] == {"alt_begin": True}
    assert [s.get("alt_start") or s.get("alt_stop") for s in alt if "alt_start" in s or "alt_stop" in s] == [
        x for s in h.SYSTEMS for x in (s, s)]
    assert sum(1 for s in alt if s.get("alt") == "mobike") == 2 * 2 * len(h.ALT_CYCLE)
    assert [s["netem"][h.VPN_PORT] for s in alt if "netem" in s][:2] == ["delay 0ms", "delay 20ms"]
    t0 = 1_800_000_000.0

    def log(t: float, text: str) -> str:
        stamp = datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        return "%s mip4d INFO %s" % (stamp, text)
    events = [{"event": "registered"}, {"event": "bulk", "mode": "home", "mbit_s": 100.0, "bytes": 1},
              {"event": "netem", "rtt_ms": 20}, {"event": "floor", "rtt_ms": 20, "node": "isp", "rtt_avg_ms": 40.0},
              {"event": "step", "network": "net1", "wall": t0, "data_after_s": 3.0, "ok": True,
               "stream": {"gaps": 150}, "mr_rss_kib": 20000},
              {"event": "step", "network": "ext1", "wall": t0 + 10, "data_after_s": 8.0, "ok": True,
               "stream": {"gaps": 550}, "mr_rss_kib": 21000},
              {"event": "step", "network": "ext2", "wall": t0 + 20, "data_after_s": 4.0, "ok": True,
               "stream": {"gaps": 750}, "mr_rss_kib": 21000},
              {"event": "footprint", "rss_at_start_kib": 19000, "rss_kib": 21000, "hwm_kib": 22000},
              {"event": "bulk", "mode": "cvc", "mbit_s": 50.0, "bytes": 1, "retransmits": 3},
              {"event": "bulk", "mode": "home", "mbit_s": 80.0, "bytes": 1},
              {"event": "alternatives", "step": 9, "mip4d_exit": 0},
              {"event": "alternative_up", "system": "mobike", "network": "ext1"},
              {"event": "netem", "rtt_ms": 20},
              {"event": "alternative", "system": "mobike", "network": "ext2", "ok": True, "data_after_s": 3.5,
               "address_to_data_s": 2.0},
              {"event": "alternative", "system": "mobike", "network": "net1", "ok": False, "data_after_s": None,
               "address_to_data_s": None},
              {"event": "alternative", "system": "mobike", "network": "ext1", "ok": True, "data_after_s": 4.5,
               "address_to_data_s": 3.0},
              {"event": "alternative_up", "system": "wireguard", "network": "ext1"},
              {"event": "alternative", "system": "wireguard", "network": "ext2", "ok": True, "data_after_s": 1.5,
               "address_to_data_s": 0.25}]
    mr_log = "\n".join([log(t0 + 10.5, "mip4 udhcpc: wan 198.18.1.174/24"),
                        log(t0 + 13.0, "IKE and ESP from the x-HoA: dev mip4-x-wan"),
                        log(t0 + 15.0, "[ike-up] IKE SA up"), log(t0 + 15.25, "[registered] vpn: 0"),
                        log(t0 + 20.75, "mip4 udhcpc: wan 198.18.2.174/24")])
    handoff, tput, mem, alternatives = h.figures(events, mr_log)
    # the MR's RSS after the first and after the last move (a warm-up of 18 moves is more than this run has)
    assert [(r["what"], r["kib"]) for r in mem.rows] == [
        ("RSS after the first registration", 19000), ("RSS after move 1 of 3", 20000),
        ("RSS after move 3 of 3", 21000), ("RSS after 3 handoffs (at the end)", 21000), ("peak RSS (VmHWM)", 22000)]
    rows = {r["transition"]: r for r in handoff.rows}
    assert set(rows) == {"c->cvc", "cvc->cvc"}  # home -> c is the start, not a measured transition
    assert rows["cvc->cvc"]["median_s"] == 4.0 and rows["cvc->cvc"]["vs_floor"] == 100.0
    assert (rows["c->cvc"]["lost"], rows["cvc->cvc"]["lost"]) == (400, 200)  # probes lost in each move
    # VPN client: address 0.5 / 0.75 s (median 0.625) + IKE 2.0 + i-MIP 0.25
    assert math.isclose(rows["cvc->cvc"]["vpn_client_s"], 2.875) and rows["c->cvc"]["ok"] == 1
    # from the address (the hook's lease line) to the first probe: 8.0 - 0.5 and 4.0 - 0.75
    assert (rows["c->cvc"]["address_to_data_s"], rows["cvc->cvc"]["address_to_data_s"]) == (7.5, 3.25)
    # the alternatives beside mip4's moves of the same run: one row per system, transition and RTT
    alt = {(r["system"], r["transition"]): r for r in alternatives.rows}
    assert set(alt) == {("mip4", "c->cvc"), ("mip4", "cvc->cvc"), ("mobike", "cvc->cvc"), ("mobike", "cvc->c"),
                        ("mobike", "c->cvc"), ("wireguard", "cvc->cvc")}
    assert {r["rtt_ms"] for r in alternatives.rows} == {20}
    assert (alt[("mip4", "cvc->cvc")]["median_s"], alt[("mip4", "cvc->cvc")]["address_to_data_s"]) == (4.0, 3.25)
    assert (alt[("mobike", "cvc->c")]["moves"], alt[("mobike", "cvc->c")]["ok"]) == (1, 0)
    assert (alt[("mobike", "c->cvc")]["median_s"], alt[("wireguard", "cvc->cvc")]["address_to_data_s"]) == (4.5, 0.25)
    assert "mobike step None (cvc->c, RTT 20 ms)" in alternatives.notes[-1]
    # the schema issue 24 names for results.json
    assert set(alternatives.as_json()["columns"]) == {"system", "transition", "rtt_ms", "median_s", "p95_s",
                                                       "address_to_data_s", "moves", "ok"}
    assert set(alternatives.rows[0]) == set(alternatives.as_json()["columns"])
    assert {"transition", "rtt_ms", "median_s", "p95_s", "ok", "moves", "address_to_data_s"} <= set(handoff.rows[0])
    # the direct path's median (100, 80) is the baseline of every mode's median
    assert [(r["mode"], r["samples"], r["vs_direct"]) for r in tput.rows] == [("direct (home)", 2, 1.0),
                                                                             ("cvc", 1, 50.0 / 90.0)]
