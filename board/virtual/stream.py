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


def follow(host: str, port: int, status_path: str) -> None:
    """Connect once; reconnect (and count it) only if the session dies."""
    st = {"connected": False, "received": 0, "bytes": 0, "expected": 0, "gaps": 0, "duplicates": 0,
          "reconnects": 0, "errors": [], "last_rx": None, "first_rx": None, "stalls": []}
    written = [0.0]

    def save(force: bool = False) -> None:
        now = time.monotonic()
        if force or now - written[0] >= 0.1:
            written[0] = now
            tmp = status_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, status_path)

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
            now = time.monotonic()
            if st["last_rx"] is not None and now - st["last_rx"] > STALL:
                st["stalls"] = (st["stalls"] + [[st["last_rx"], now]])[-50:]
            st["bytes"] += len(data)
            st["last_rx"] = now
            st["first_rx"] = st["first_rx"] or now
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


def bulk_serve(port: int) -> None:
    """The bench's bulk transfer: zeros as fast as TCP takes them, to whoever connects."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(4)
    chunk = bytes(65536)
    while True:
        conn, _ = srv.accept()
        with conn:
            try:
                while True:
                    conn.sendall(chunk)
            except OSError:
                pass


def bulk_fetch(host: str, port: int, seconds: float, out_path: str) -> None:
    """Read for `seconds` after the first byte; write bytes and seconds to `out_path`."""
    got, first, now = 0, None, 0.0
    with socket.create_connection((host, port), timeout=10) as s:
        s.settimeout(10)
        while True:
            data = s.recv(262144)
            now = time.monotonic()
            if not data:
                break
            first = first or now
            got += len(data)
            if now - first >= seconds:
                break
    with open(out_path, "w") as f:
        json.dump({"bytes": got, "seconds": round(now - (first or now), 3)}, f)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        follow(sys.argv[2], int(sys.argv[3]), sys.argv[4])
