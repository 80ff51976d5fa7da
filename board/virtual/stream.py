"""The counter stream: a real TCP session that must survive every move of the mobile router.

The server (on the CN) sends 8-byte big-endian counters 0, 1, 2, ... at a steady rate; the client
(on the LAN host) checks each one is exactly the next, and writes what it saw to a JSON file:
any gap, duplicate, reset or reconnect shows there. Plain sockets only: it must start fast in UML.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time

RECORD = struct.Struct("!Q")
STALL = 0.25  # seconds without data that count as an interruption (the server sends every 20 ms)


def serve(port: int, interval: float = 0.02) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=_feed, args=(conn, interval), daemon=True).start()


def _feed(conn: socket.socket, interval: float) -> None:
    n = 0
    with conn:
        while True:
            try:
                conn.sendall(RECORD.pack(n))
            except OSError:
                return
            n += 1
            time.sleep(interval)


def _saver(st: dict, status_path: str):  # noqa: ANN202
    """save(force=False): write `st` to the status file atomically, at most every 0.1 s unless forced."""
    written = [0.0]

    def save(force: bool = False) -> None:
        now = time.monotonic()
        if force or now - written[0] >= 0.1:
            written[0] = now
            tmp = status_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, status_path)
    return save


def _arrived(st: dict, now: float, octets: int) -> None:
    """Data came: a silence longer than STALL before it was a stall."""
    if st["last_rx"] is not None and now - st["last_rx"] > STALL:
        st["stalls"] = (st["stalls"] + [[st["last_rx"], now]])[-50:]
    st["bytes"] += octets
    st["last_rx"] = now
    st["first_rx"] = st["first_rx"] or now


def follow(host: str, port: int, status_path: str) -> None:
    """Connect once; reconnect (and count it) only if the session dies."""
    st = {"connected": False, "received": 0, "bytes": 0, "expected": 0, "gaps": 0, "duplicates": 0,
          "reconnects": 0, "errors": [], "last_rx": None, "first_rx": None, "stalls": []}
    save = _saver(st, status_path)
    attempt = 0
    while True:
        try:
            s = socket.create_connection((host, port), timeout=5)
        except OSError as e:
            st["errors"].append("connect: %s" % e)
            save(True)
            time.sleep(1)
            continue
        if attempt:
            st["reconnects"] += 1
            st["expected"] = 0  # a new session starts at 0 again
        attempt += 1
        st["connected"] = True
        s.settimeout(1.0)
        buf = b""
        while True:
            try:
                data = s.recv(65536)
            except TimeoutError:
                save()
                continue
            except OSError as e:
                st["errors"].append("recv: %s" % e)
                break
            if not data:
                st["errors"].append("closed by the server")
                break
            _arrived(st, time.monotonic(), len(data))
            buf += data
            while len(buf) >= RECORD.size:
                (n,), buf = RECORD.unpack(buf[: RECORD.size]), buf[RECORD.size:]
                if n < st["expected"]:
                    st["duplicates"] += 1
                elif n > st["expected"]:
                    st["gaps"] += n - st["expected"]
                st["expected"] = max(st["expected"], n + 1)
                st["received"] += 1
            save()
        st["connected"] = False
        save(True)
        s.close()
        time.sleep(0.5)


def probe_send(host: str, port: int, interval: float = 0.02) -> None:
    """The bench's probe stream: one UDP datagram with the next counter every `interval` to the LAN host.
    Unlike the TCP stream, no retransmission timer stands between a ready path and its first packet."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n, due = 0, time.monotonic()
    while True:
        try:
            s.sendto(RECORD.pack(n), (host, port))
        except OSError:
            pass  # no route while the MR moves: that probe is lost, as on the wire
        n += 1
        due += interval
        time.sleep(max(0.0, due - time.monotonic()))


def probe_follow(port: int, status_path: str) -> None:
    """Receive the probes; the same status file as follow(): `gaps` counts lost probes (the outage),
    `stalls` the silences, `duplicates` any probe seen twice (a loop, a double path), `reordered` a lost
    one that came late."""
    st = {"connected": True, "received": 0, "bytes": 0, "expected": 0, "gaps": 0, "duplicates": 0,
          "reconnects": 0, "errors": [], "last_rx": None, "first_rx": None, "stalls": [], "reordered": 0, "probe": True}
    missing: set[int] = set()
    save = _saver(st, status_path)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(0.1)
    while True:
        try:
            data = s.recv(64)
        except TimeoutError:
            data = None
        if data and len(data) == RECORD.size:
            (n,) = RECORD.unpack(data)
            _arrived(st, time.monotonic(), len(data))
            if n in missing:  # late, not lost: the old path's last probes after the new path's first
                missing.discard(n)
                st["gaps"] -= 1
                st["reordered"] += 1
            elif n < st["expected"]:
                st["duplicates"] += 1
            else:
                missing.update(range(max(st["expected"], n - 5000), n))
                if len(missing) > 20000:
                    missing = {m for m in missing if m > n - 5000}
                st["gaps"] += n - st["expected"]
                st["expected"] = n + 1
            st["received"] += 1
        save()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        follow(sys.argv[2], int(sys.argv[3]), sys.argv[4])
