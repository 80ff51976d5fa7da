"""Handoff latency per transition, bulk TCP per mode, and the MR's RSS across handoffs: in the UML lab.

One boot of the lab runs a bench tour (board/virtual/labctl.py reads it from params.json): a cycle
net1 -> net2 -> ifa -> net1 -> ext1 -> ext2 -> xfa -> ext1 -> net1 repeated `cycles` times for each RTT,
netem adding that RTT on the links into the i-HA and the x-HA. A move's latency is labctl's
`data_after_s`: from plugging the uplink in to the first probe of the LAN host's stream through the new
path (the CN sends the LAN host a numbered UDP datagram every 20 ms: no TCP retransmission timer
stands between a ready path and its first packet; the probes lost are the outage).
Before the RTT phases, `bulk_rounds` rounds of an iperf3 transfer CN -> LAN host in each mode, the
direct path (the MR at home) first; the moves between them do not count. The bench lab runs without
its packet captures: dumpcap took three quarters of the CPU in a bulk transfer.

Baselines from the same run:
- physical floor: one round trip to the HA that must answer (ping from the router the MR's networks
  hang off: rtr to the i-HA inside, isp to the x-HA outside);
- a plain VPN client without x-MIP on a DHCP network outside: it must get its address, redo IKE from
  it and register with the i-HA through the VPN. Its time is composed of those phases as this run
  measured them on the MR: link event -> address (mip4d-mr.log, on each DHCP move), and the MR's own
  full IKE exchanges and i-MIP registrations at its c -> cvc moves (the same gateway, the same RTT).

The real alternatives, in the same boot after mip4's moves (board/virtual/alternatives.py; issue 24):
mip4d leaves the MR, which then carries its LAN to the intranet over a plain VPN straight to the
gateway, over the same links, DHCP servers and probe stream: strongSwan with MOBIKE (`mobike`),
strongSwan re-establishing IKE on every address change (`reike`), and WireGuard roaming (`wireguard`,
wireguard-go on TUN). Their cycle ext1 -> ext2 -> net1 -> ext1 is repeated `cycles` times per RTT, the
netem delay then on the link into the VPN gateway (the one hop every alternative's path crosses, as
mip4's crosses the HA's). Every move, mip4's too, also gives the time from its address (DHCP's lease,
or DNAv4's remembered one) to the first probe: `address_to_data_s`, which takes DHCP out.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import statistics
from collections.abc import Iterable
from pathlib import Path

from .report import Column, Figure, ratio

CYCLE = ["net1", "net2", "ifa", "net1", "ext1", "ext2", "xfa", "ext1", "net1"]
MODES = {"home": "home", "net1": "c", "net2": "c", "ifa": "f", "ext1": "cvc", "ext2": "cvc", "xfa": "fvc"}
ORDER = ["c->c", "c->f", "f->c", "c->cvc", "cvc->cvc", "cvc->fvc", "fvc->cvc", "cvc->c"]
ISSUE = {"c->c", "c->f", "c->cvc", "cvc->cvc", "cvc->fvc", "cvc->c"}  # the transitions issue 9 names
RTTS = (0, 20, 100)
HA_PORTS = ("iha-core", "xha-inet")  # bridge-side ports into the i-HA and the x-HA
I_HA, X_HA = "10.1.0.1", "198.51.100.1"
BULK_S = 5.0
KEEP = Path(__file__).resolve().parents[2] / "bench"
BULK_ROUNDS = 3
BULK_AT = ["home", "net1", "ifa", "ext1", "xfa"]  # the direct path, c, f, cvc, fvc
SYSTEMS = ("mobike", "reike", "wireguard")  # board/virtual/alternatives.py
ALT_CYCLE = ["ext2", "net1", "ext1"]  # from ext1: cvc->cvc, cvc->c, c->cvc
ALT_TRANSITIONS = ["c->cvc", "cvc->cvc", "cvc->c"]
VPN_PORT = "vpngw-dmz"  # bridge-side port into the VPN gateway: the alternatives' RTT


def tour(cycles: int, rtts: Iterable[int] = RTTS, bulk_s: float = BULK_S, bulk_rounds: int = BULK_ROUNDS,
         systems: Iterable[str] = SYSTEMS, alt_cycles: int | None = None) -> list[dict]:
    """The steps labctl runs: from home, `bulk_rounds` rounds of a bulk transfer in each mode, the direct
    path first (interleaved, so a drift of the machine hits every mode alike); then per RTT the floors
    and `cycles` cycles; the MR's footprint; then each alternative `systems` for `alt_cycles` cycles
    per RTT (mip4d is gone from then on)."""
    steps: list[dict] = [{"network": "home"}, {"netem": {p: "delay 0ms" for p in HA_PORTS}, "rtt_ms": 0}]
    for _ in range(bulk_rounds):
        for net in BULK_AT:
            steps += [{"network": net}, {"bulk": bulk_s}]
    for rtt in rtts:
        steps.append({"netem": {p: "delay %dms" % rtt for p in HA_PORTS}, "rtt_ms": rtt})
        steps.append({"floor": {"node": "rtr", "to": I_HA}, "rtt_ms": rtt})
        steps.append({"floor": {"node": "isp", "to": X_HA}, "rtt_ms": rtt})
        steps.append({"network": CYCLE[0]})
        for _ in range(cycles):
            steps += [{"network": net} for net in CYCLE[1:]]
    steps.append({"footprint": True})
    systems = list(systems)
    if systems:
        steps.append({"alt_begin": True})
    for system in systems:
        steps.append({"alt_start": system, "network": ALT_CYCLE[-1]})
        for rtt in rtts:
            steps.append({"netem": dict({p: "delay 0ms" for p in HA_PORTS}, **{VPN_PORT: "delay %dms" % rtt}),
                          "rtt_ms": rtt})
            for _ in range(cycles if alt_cycles is None else alt_cycles):
                steps += [{"alt": system, "network": net} for net in ALT_CYCLE]
        steps.append({"alt_stop": system})
    return steps


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# -- reading the run -----------------------------------------------------------------------------

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def log_events(text: str) -> list[tuple[float, str]]:
    """(wall time, line) for each timestamped line of a mip4d log (the lab's clock is UTC)."""
    out = []
    for line in text.splitlines():
        m = LOG_TIME.match(line)
        if m:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=datetime.UTC)
            out.append((t.timestamp(), line))
    return out


def addresses(log: list[tuple[float, str]], steps: list[dict]) -> list[float | None]:
    """Per step: seconds from plugging in to the address, DHCP's (the hook's lease line) or a remembered
    one DNAv4 put back (io/dhcp.py); None if the log shows neither before the next step."""
    got = []
    for i, s in enumerate(steps):
        start = s["wall"]
        end = steps[i + 1]["wall"] if i + 1 < len(steps) else float("inf")
        addr = next((t for t, line in log if start - 0.05 <= t < end and (
            "mip4 udhcpc: wan " in line or "wan: back on the network of router" in line)), None)
        got.append(None if addr is None else addr - start)
    return got


def phases(log: list[tuple[float, str]], steps: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """Per RTT-tagged step: seconds from plugging in to the address ("address", addresses()); for c -> cvc
    moves, the MR's full IKE ("ike": IKE allowed through x-MIP -> IKE SA up) and i-MIP registration
    ("i_mip": IKE SA up -> the i-HA's reply through the VPN). Values are (rtt, seconds)."""
    got: dict[str, list[tuple[int, float]]] = {"address": [], "ike": [], "i_mip": []}
    for i, (s, addr) in enumerate(zip(steps, addresses(log, steps), strict=True)):
        start = s["wall"]
        end = steps[i + 1]["wall"] if i + 1 < len(steps) else float("inf")
        window = [(t, line) for t, line in log if start - 0.05 <= t < end]
        if addr is not None:
            got["address"].append((s["rtt_ms"], addr))
        if s["transition"] == "c->cvc":
            allowed = next((t for t, line in window if "IKE and ESP from the x-HoA: dev" in line), None)
            up = next((t for t, line in window if "[ike-up]" in line), None)
            reg = next((t for t, line in window if "[registered] vpn:" in line), None)
            if allowed and up and up > allowed:
                got["ike"].append((s["rtt_ms"], up - allowed))
            if up and reg and reg > up:
                got["i_mip"].append((s["rtt_ms"], reg - up))
    return got


def tag(events: list[dict]) -> tuple[list[dict], dict, list[dict], dict, list[dict]]:
    """The moves with their RTT and transition; the floors per (RTT, node); bulk results; footprint; the
    alternatives' moves (each with its system, RTT and transition)."""
    rtt, prev, lost, measuring, alt_prev = 0, None, None, False, None
    moves, floors, bulk, footprint, alts = [], {}, [], {}, []
    for ev in events:
        kind = ev.get("event")
        if kind == "netem":
            rtt = ev["rtt_ms"]
        elif kind == "floor":  # an RTT phase begins: the moves before (between bulk transfers) do not count
            floors[(ev["rtt_ms"], ev["node"])] = ev.get("rtt_avg_ms")
            measuring = True
        elif kind == "bulk":
            bulk.append(ev)
        elif kind == "footprint":
            footprint = ev
        elif kind == "registered":
            prev = "home"
        elif kind == "step" and ev.get("network") in MODES:
            mode = MODES[ev["network"]]
            gaps = ev.get("stream", {}).get("gaps")
            if measuring:
                moves.append(dict(ev, rtt_ms=rtt, transition="%s->%s" % (prev, mode),
                                  lost=None if None in (gaps, lost) else gaps - lost))
            prev, lost = mode, gaps
        elif kind == "alternative_up":
            alt_prev = MODES[ev["network"]]
        elif kind == "alternative":
            mode = MODES[ev["network"]]
            alts.append(dict(ev, rtt_ms=rtt, transition="%s->%s" % (alt_prev, mode)))
            alt_prev = mode
    return moves, floors, bulk, footprint, alts


# -- the figures ------------------------------------------------------------------------------------

def figures(events: list[dict], mr_log: str) -> list[Figure]:
    moves, floors, bulk, footprint, alt_moves = tag(events)
    log = log_events(mr_log)
    ph = phases(log, moves)
    for m, addr in zip(moves, addresses(log, moves), strict=True):
        m["address_to_data_s"] = None if None in (addr, m.get("data_after_s")) else m["data_after_s"] - addr
    handoff = Figure(
        "handoff", "Handoff latency: link event -> the LAN host's stream flowing again (s)",
        "physical floor (one round trip to the HA that answers) and a plain VPN client (address + full IKE "
        "+ i-MIP registration, phases measured in this run)", [
            Column("transition", "transition", left=True), Column("rtt_ms", "RTT ms", "{}"),
            Column("moves", "moves", "{}"), Column("ok", "ok", "{}"),
            Column("path_s", "path ready", "{:.2f}"),
            Column("median_s", "median", "{:.2f}"), Column("p95_s", "p95", "{:.2f}"),
            Column("lost", "lost", "{:.0f}"), Column("address_to_data_s", "address to data", "{:.2f}"),
            Column("floor_ms", "floor ms", "{:.1f}"), Column("vs_floor", "vs floor", "{:.0f}"),
            Column("vpn_client_s", "VPN client", "{:.2f}"), Column("vs_vpn_client", "vs VPN client", "{:.2f}")])
    for rtt in sorted({m["rtt_ms"] for m in moves}):
        addr = median([s for r, s in ph["address"] if r == rtt])
        ike = median([s for r, s in ph["ike"] if r == rtt])
        i_mip = median([s for r, s in ph["i_mip"] if r == rtt])
        vpn_client = addr + ike + i_mip if None not in (addr, ike, i_mip) else None
        for tr in ORDER:
            ms = [m for m in moves if m["rtt_ms"] == rtt and m["transition"] == tr]
            if not ms:
                continue
            data = [m["data_after_s"] for m in ms if m.get("data_after_s") is not None]
            outside = tr.split("->")[1] in ("cvc", "fvc")
            floor = floors.get((rtt, "isp" if outside else "rtr"))
            base = vpn_client if tr.endswith("->cvc") else None  # a VPN client needs DHCP outside
            med = median(data)
            handoff.rows.append({
                "transition": tr + ("" if tr in ISSUE else " (return)"), "rtt_ms": rtt, "moves": len(ms),
                "ok": sum(1 for m in ms if m.get("ok")), "median_s": med, "p95_s": pct(data, 95),
                "lost": median([m["lost"] for m in ms if m.get("lost") is not None]),
                "address_to_data_s": median([m["address_to_data_s"] for m in ms
                                             if m.get("address_to_data_s") is not None]),
                "path_s": median([m["mode_after_s"] for m in ms if m.get("mode_after_s") is not None]),
                "floor_ms": floor, "vs_floor": ratio(med, floor / 1000 if floor else None),
                "vpn_client_s": base, "vs_vpn_client": ratio(med, base)})
    handoff.notes += [
        "RTT: netem delay on the links into the i-HA and the x-HA (one way, so the round trip grows by it)",
        "VPN client (for moves onto a DHCP network outside): median address time %s + IKE %s + i-MIP %s s per RTT, "
        "from mip4d-mr.log (IKE and i-MIP timed at the MR's own c -> cvc moves)" % (
            _fmt(ph["address"]), _fmt(ph["ike"]), _fmt(ph["i_mip"])),
        "not ok (no probe through the new path within 60 s, or a duplicate): %s" % (", ".join(
            "step %s (%s, RTT %s ms)" % (m.get("step"), m["transition"], m["rtt_ms"]) for m in moves
            if not m.get("ok")) or "none"),
        "median, p95: to the LAN host's first probe through the new path; lost (median): probes lost in "
        "the move, one per 20 ms; address to data (median): from the address (DHCP's lease or DNAv4's) to "
        "that probe; path ready (median): to the MR's status showing the new mode with its "
        "gate open and the LAN routed (polled every 0.25 s, so it may trail the first probe)",
    ]
    tput = Figure("throughput", "Bulk TCP, CN -> LAN host (iperf3, %g s per sample, Mbit/s)" % BULK_S,
                  "the direct path: the MR at home, no tunnel, same lab, samples interleaved with the modes'", [
                      Column("mode", "mode", left=True), Column("samples", "samples", "{}"),
                      Column("mbit_s", "median", "{:.1f}"), Column("min", "min", "{:.1f}"),
                      Column("max", "max", "{:.1f}"), Column("vs_direct", "vs direct", "{:.2f}"),
                      Column("retransmits", "retransmits", "{:.0f}")])
    by_mode: dict[str, list[dict]] = {}
    for b in bulk:
        if b.get("mbit_s") is not None:
            by_mode.setdefault(b.get("mode") or "?", []).append(b)
    direct = median([b["mbit_s"] for b in by_mode.get("home", [])])
    for mode in sorted(by_mode, key=lambda m: list(MODES.values()).index(m) if m in MODES.values() else 99):
        rates = [b["mbit_s"] for b in by_mode[mode]]
        tput.rows.append({"mode": "direct (home)" if mode == "home" else mode, "samples": len(rates),
                          "mbit_s": median(rates), "min": min(rates), "max": max(rates),
                          "vs_direct": ratio(median(rates), direct),
                          "retransmits": median([b["retransmits"] for b in by_mode[mode]
                                                 if b.get("retransmits") is not None])})
    tput.notes.append("every node is a namespace of one UML kernel on one host CPU, so every rate is "
                      "CPU-bound, as on a small router: the ratio is what each mode's per-packet work "
                      "(encapsulation, ESP) costs; retransmits: median per sample")
    out = [handoff, tput]
    if footprint:
        mem = Figure("handoff_rss", "MR agent memory across the bench's handoffs (mip4d in the lab)",
                     "its RSS right after the first registration", [
                         Column("what", "what", left=True), Column("kib", "KiB", "{:,}"),
                         Column("vs_start", "vs start", "{:.2f}")])
        start = footprint.get("rss_at_start_kib")
        mem.rows.append({"what": "RSS after the first registration", "kib": start, "vs_start": 1.0})
        sizes = [(i + 1, m["mr_rss_kib"]) for i, m in enumerate(moves) if m.get("mr_rss_kib")]
        warm = min(len(sizes), len(CYCLE) * 2)  # every kind of move twice: the warm-up (first IKE, first FA, ...)
        shown = sorted({0, warm - 1, len(sizes) - 1}) if sizes else []  # the first move, the warm-up's end, the last
        for n, kib in (sizes[i] for i in shown if i >= 0):
            mem.rows.append({"what": "RSS after move %d of %d" % (n, len(moves)), "kib": kib,
                             "vs_start": ratio(kib, start)})
        mem.rows += [{"what": "RSS after %d handoffs (at the end)" % len(moves), "kib": footprint.get("rss_kib"),
                      "vs_start": ratio(footprint.get("rss_kib"), start)},
                     {"what": "peak RSS (VmHWM)", "kib": footprint.get("hwm_kib"),
                      "vs_start": ratio(footprint.get("hwm_kib"), start)}]
        if len(sizes) > warm:
            after = [kib for _, kib in sizes[warm:]]
            mem.notes.append("after the warm-up (%d moves): RSS %s to %s KiB over %d moves, %+.1f KiB per 100 moves "
                             "(least squares)" % (warm, f"{min(after):,}", f"{max(after):,}", len(after),
                                                  100 * _slope(sizes[warm:])))
        out.append(mem)
    if alt_moves:
        out.append(alternatives(moves, alt_moves))
    return out


def alternatives(moves: list[dict], alt_moves: list[dict]) -> Figure:
    """One row per system, transition and RTT: mip4's moves of this run beside the plain VPNs'."""
    fig = Figure(
        "alternatives", "Handoff beside the real alternatives: plug-in -> the LAN host's first probe through (s)",
        "strongSwan with MOBIKE, strongSwan redoing IKE on every move, WireGuard roaming (wireguard-go): "
        "the same lab, links, DHCP and probes, after mip4's moves in the same boot", [
            Column("system", "system", left=True), Column("transition", "transition", left=True),
            Column("rtt_ms", "RTT ms", "{}"), Column("moves", "moves", "{}"), Column("ok", "ok", "{}"),
            Column("median_s", "median", "{:.2f}"), Column("p95_s", "p95", "{:.2f}"),
            Column("address_to_data_s", "address to data", "{:.2f}")])
    runs = [("mip4", moves)] + [(s, [m for m in alt_moves if m["system"] == s]) for s in SYSTEMS]
    for rtt in sorted({m["rtt_ms"] for m in moves + alt_moves}):
        for tr in ALT_TRANSITIONS:
            for system, ms in runs:
                ms = [m for m in ms if m["rtt_ms"] == rtt and m["transition"] == tr]
                if not ms:
                    continue
                data = [m["data_after_s"] for m in ms if m.get("data_after_s") is not None]
                fig.rows.append({
                    "system": system, "transition": tr, "rtt_ms": rtt, "moves": len(ms),
                    "ok": sum(1 for m in ms if m.get("ok")), "median_s": median(data), "p95_s": pct(data, 95),
                    "address_to_data_s": median([m["address_to_data_s"] for m in ms
                                                 if m.get("address_to_data_s") is not None])})
    fig.notes += [
        "RTT: for mip4 netem on the links into the i-HA and the x-HA, for the alternatives on the link into "
        "the VPN gateway (one way: every path crosses it once, as mip4's crosses the HA's)",
        "mobike: the MR's charon with MOBIKE (UPDATE_SA_ADDRESSES); reike: the same charon without MOBIKE, "
        "re-establishing the IKE SA from the new address; wireguard: wireguard-go on TUN, the DHCP hook pings "
        "through the tunnel once the lease is in place (the probes flow only towards the LAN)",
        "transitions as mip4 names them by network: c = net1 (intranet), cvc = ext1/ext2 (outside); a plain "
        "VPN keeps its tunnel inside too",
        "not ok (no probe through within 60 s, or a duplicate): %s" % (", ".join(
            "%s step %s (%s, RTT %s ms)" % (m["system"], m.get("step"), m["transition"], m["rtt_ms"])
            for m in alt_moves if not m.get("ok")) or "none"),
    ]
    return fig


def _slope(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def _fmt(values: list[tuple[int, float]]) -> str:
    by: dict[int, list[float]] = {}
    for r, s in values:
        by.setdefault(r, []).append(s)
    return "/".join("%.2f" % statistics.median(v) for _, v in sorted(by.items())) or "-"


def run(quick: bool, cycles: int | None = None) -> list[Figure]:
    """Boot the lab with the bench tour (QUICK: one cycle at RTT 0 and 100 ms) and read its events.

    While developing: BENCH_CYCLES (mip4's cycles per RTT), BENCH_ALT_CYCLES (the alternatives', default
    BENCH_CYCLES), BENCH_RTTS ("20" or "0,100"), BENCH_BULK_ROUNDS, BENCH_SYSTEMS ("mobike,wireguard" or
    "none")."""
    from board.virtual.boot import Lab  # the lab's host side; only this module needs it

    env = os.environ.get
    cycles = cycles if cycles is not None else (1 if quick else int(env("BENCH_CYCLES", "20")))
    alt_cycles = int(env("BENCH_ALT_CYCLES", str(cycles)))
    rtts = tuple(int(r) for r in env("BENCH_RTTS", "").split(",") if r) or ((0, 100) if quick else RTTS)
    bulk_rounds = int(env("BENCH_BULK_ROUNDS", "1" if quick else str(BULK_ROUNDS)))
    systems = [s for s in env("BENCH_SYSTEMS", ",".join(SYSTEMS)).split(",") if s in SYSTEMS]
    lab = Lab(scenario="bench", dwell=0.5, tour=tour(cycles, rtts, bulk_rounds=bulk_rounds, systems=systems,
                                                     alt_cycles=alt_cycles),
              stream="udp", captures=False)
    events: list[dict] = []
    try:
        for ev in lab.events(timeout=900 + (cycles + alt_cycles * len(systems)) * len(rtts) * 120):
            if ev["event"] != "status":
                events.append(ev)
            if ev["event"] in ("step", "bulk", "floor", "error") or ev["event"].startswith("alternative"):
                print("lab:", json.dumps({k: v for k, v in ev.items() if k in (
                    "event", "step", "network", "mode", "ok", "data_after_s", "rtt_avg_ms", "mbit_s", "retransmits",
                    "message", "system", "address_after_s", "address_to_data_s", "seconds", "mip4d_exit")}),
                    flush=True)
        mr_log = lab.log("mip4d-mr")
        # the whole run beside results.json, for a move that went wrong (git ignores bench/handoff-*)
        KEEP.mkdir(parents=True, exist_ok=True)
        (KEEP / "handoff-events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        (KEEP / "handoff-mip4d-mr.log").write_text(mr_log)
        (KEEP / "handoff-charon-mr.log").write_text(lab.log("charon-mr"))  # the alternatives' IKE (mobike, reike)
    finally:
        lab.close(keep=os.environ.get("MIP4_LAB_KEEP") == "1")
    errors = [e["message"] for e in events if e["event"] == "error"]
    if errors:
        raise RuntimeError("the lab failed: %s" % "; ".join(errors))
    return figures(events, mr_log)
