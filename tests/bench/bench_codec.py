"""Codec messages per second under CPython and under real MicroPython 1.27 (node + the npm WebAssembly
port, through tests/micropython/run.mjs as the codec tests run), the same workload module in both.

Baseline for CPython: the least any codec must do for a request, in the same run: struct for the
fixed part, the extension's octets, and the standard library's HMAC-MD5 (RFC 5944 3.5.1) both ways;
no objects, no checks. MicroPython's figures
are against CPython's (its hashlib has no MD5: mip4.wire.md5, pure Python, does the hashing).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from . import codec_workload, instructions
from .report import Column, Figure, ratio

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = Path(os.environ.get("MIP4_MICROPYTHON", ROOT / ".deps/npm/node_modules/"
                                  "@micropython/micropython-webassembly-pyscript/micropython.mjs"))
_FIXED = struct.Struct(">BBHIIIQ")
_UDP_TUNNEL_REQUEST = bytes((144, 6, 0, 0, 0, 4, 0, 0))  # RFC 3519 3.1: type 144, length 6, IP-in-IP


def floor(seconds: float, auth: bool) -> float:
    """Messages/s of the bare minimum for a request: pack, unpack; with `auth` HMAC-MD5 both ways."""
    key, n, start = bytes(range(16)), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            data = _FIXED.pack(1, 0x22, 1800, 0xC6336410, 0xC6336401, 0xC6120005, (1 << 32) + n)
            data += _UDP_TUNNEL_REQUEST
            if auth:
                data += struct.pack(">BBI", 32, 20, 1000)
                data += hmac.new(key, data, hashlib.md5).digest()
            fields = _FIXED.unpack_from(data)
            assert fields and (not auth or hmac.compare_digest(
                hmac.new(key, data[:-16], hashlib.md5).digest(), data[-16:]))
            n += 1
    return n / (time.perf_counter() - start)


def micropython(seconds: float) -> dict[str, float] | str:
    """Messages/s per workload under MicroPython, or why it did not run."""
    if not shutil.which("node") or not MICROPYTHON.exists():
        return "node or MicroPython (%s) not installed" % MICROPYTHON
    source = Path(codec_workload.__file__).read_text()
    source = re.sub(r"(?m)^SECONDS = .*$", "SECONDS = %r" % seconds, source)
    with tempfile.TemporaryDirectory(prefix="mip4-bench-") as tmp:
        module = Path(tmp, "codec_workload.py")
        module.write_text(source)
        out = subprocess.run(["node", str(ROOT / "tests/micropython/run.mjs"), str(MICROPYTHON), str(ROOT / "firmware"),
                              str(module)], capture_output=True, text=True, timeout=120 + 10 * seconds)
    got = {}
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            _, name, n, took = line.split()
            got[name] = int(n) / float(took)
    if not out.stdout.startswith("IMPLEMENTATION micropython") or len(got) != len(codec_workload.WORKLOADS):
        return "MicroPython run failed: %s" % (out.stdout + out.stderr)[-500:]
    return got


def run(quick: bool) -> list[Figure]:
    seconds = 0.3 if quick else 2.0
    fig = Figure("codec", "Wire codec: messages/s, encode + decode (+ HMAC-MD5 authenticate and verify)",
                 "CPython: struct (+ stdlib HMAC-MD5 for +auth), a request-sized message; "
                 "MicroPython: the codec under CPython", [
                     Column("message", "message", left=True), Column("cpython", "CPython msg/s", "{:,.0f}"),
                     Column("instructions", "CPython instr/msg", "{:,.0f}"),
                     Column("floor", "floor msg/s", "{:,.0f}"), Column("vs_floor", "vs floor", "{:.2f}"),
                     Column("micropython", "MicroPython msg/s", "{:,.0f}"),
                     Column("mp_vs_cpython", "MicroPython vs CPython", "{:.3f}")])
    bases = {True: floor(seconds, True), False: floor(seconds, False)}
    cpython = {name: n / took for name, n, took in codec_workload.measure(seconds)}
    mp = micropython(seconds)
    for name, _ in codec_workload.WORKLOADS:
        auth = name.endswith("+auth")
        mp_rate = mp.get(name) if isinstance(mp, dict) else None
        fig.rows.append({"message": name, "cpython": cpython[name], "instructions": instructions.measure("codec", name),
                         "floor": bases[auth],
                         "vs_floor": ratio(cpython[name], bases[auth]), "micropython": mp_rate,
                         "mp_vs_cpython": ratio(mp_rate, cpython[name])})
    fig.notes += [
        "request+auth: a co-located request with a UDP Tunnel Request and the MN-HA authenticator; "
        "reply+auth: an i-HA acceptance with TNC and the MN-HA authenticator; request: the same without auth",
        "CPython instr/msg: instructions per message under valgrind's callgrind (tests/bench/instructions.py)",
        "MicroPython: the npm WebAssembly port under node (what the tests run), not a router's native build; "
        "its MD5 is mip4.wire.md5 in pure Python, so the +auth rows are mostly MD5",
    ]
    if isinstance(mp, str):
        fig.notes.append("MicroPython: " + mp)
    return [fig]
