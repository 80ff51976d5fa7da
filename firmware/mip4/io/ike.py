"""charon over VICI: the MR's IKE SA to the VPN gateway, from the x-HoA through x-MIP (RFC 5265 2.3).

The core asks for IKE with IkeUp/IkeDown; this adapter loads the connection into the MR's own charon,
initiates and terminates it, and reports back `established(vpn_tia)`, `closed(reason)` and
`failed(reason)` on the event loop. VICI calls block, so they run in worker threads. The connection
is pinned to the x-HoA with MOBIKE off: charon never roams, the SA survives every care-of change
(R-1.7-a), and the kernel's policy routing alone decides that IKE and ESP go through x-MIP.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable

import vici

from . import orphans
from .settings import VpnOptions

CONN = "mip4-vpn"  # connection and CHILD_SA name in charon
log = logging.getLogger("mip4.ike")


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class IkeClient:
    def __init__(self, loop: asyncio.AbstractEventLoop, options: VpnOptions, x_hoa: str, gateway: str,
                 on_up: Callable[[str], None], on_down: Callable[[str], None],
                 on_failed: Callable[[str], None]) -> None:
        self.loop, self.options, self.x_hoa, self.gateway = loop, options, x_hoa, gateway
        self.on_up, self.on_down, self.on_failed = on_up, on_down, on_failed
        self.current: str | None = None  # unique id of the IKE SA we brought up
        self.attempt = 0  # bumped by every up/down: a late answer to an older request is void
        self.sa: dict = {}  # the last list-sas view of our SA (status)
        self.vip: str | None = None  # the VPN-TIA charon put on lo (removed if charon dies with it there)
        self.stopping = threading.Event()
        self.events: threading.Thread | None = None
        self.lock = asyncio.Lock()

    # -- VICI sessions -------------------------------------------------------------------------

    def _session(self, timeout: float | None = None) -> vici.Session:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(self.options.vici_path)
        return vici.Session(sock)

    async def _call(self, fn: Callable, *args: object) -> object:
        return await self.loop.run_in_executor(None, fn, *args)

    async def start(self, wait: float = 30.0) -> None:
        """Connect (charon may still be starting), load the secret and the connection, watch events."""
        deadline = time.monotonic() + wait
        while True:
            try:
                await self._call(self._load)
                if await self._call(self._terminate):  # a killed predecessor's: clean, then start afresh
                    log.warning("charon had an IKE SA %s from before mip4d started: terminated", CONN)
                break
            except (OSError, vici.exception.SessionException) as e:
                if time.monotonic() > deadline:
                    raise RuntimeError("charon's VICI socket %s: %s" % (self.options.vici, e)) from None
                await asyncio.sleep(0.5)
        self.events = threading.Thread(target=self._listen, name="vici-events", daemon=True)
        self.events.start()
        log.info("charon: connection %s loaded (%s -> %s, intranet %s)", CONN, self.x_hoa, self.gateway,
                 ",".join(self.options.intranet))

    def _load(self) -> None:
        o = self.options
        s = self._session(10.0)
        s.load_shared({"id": CONN, "type": "IKE", "data": o.psk, "owners": [o.local_id, o.remote_id]})
        s.load_conn({CONN: {
            "version": "2", "local_addrs": [self.x_hoa], "remote_addrs": [self.gateway],
            "vips": ["0.0.0.0"], "proposals": [o.proposals], "mobike": "no", "encap": "no",
            "dpd_delay": "%ds" % o.dpd_delay, "keyingtries": "1", "unique": "replace",
            "local-1": {"auth": "psk", "id": o.local_id},
            "remote-1": {"auth": "psk", "id": o.remote_id},
            "children": {CONN: {"local_ts": ["dynamic"], "remote_ts": list(o.intranet),
                                "esp_proposals": [o.esp_proposals], "mode": "tunnel",
                                "start_action": "none", "dpd_action": "clear", "close_action": "none"}},
        }})

    # -- up and down -----------------------------------------------------------------------------

    async def up(self) -> None:
        """IkeUp: initiate; report established with the VPN-TIA, or failed."""
        async with self.lock:
            self.attempt += 1
            attempt = self.attempt
            try:
                vip, uid = await self._call(self._initiate)
            except Exception as e:  # noqa: BLE001  (VICI errors, socket errors: all mean "not up")
                if attempt == self.attempt:
                    log.warning("IKE to %s failed: %s", self.gateway, e)
                    self.on_failed(str(e) or type(e).__name__)
                return
            if attempt != self.attempt:
                return
            self.current = uid
            log.info("IKE SA %s up: VPN-TIA %s", uid, vip)
            self.on_up(vip)

    def _initiate(self) -> tuple[str, str]:
        s = self._session(self.options.timeout + 10)
        if CONN not in [_text(c) for c in s.get_conns().get("conns", [])]:  # charon restarted (crashed)
            orphans.remove(self.x_hoa, self.gateway, self.vip)
            self.vip = None
            self._load()
        for _ in s.initiate({"child": CONN, "ike": CONN, "timeout": int(self.options.timeout * 1000)}):
            pass  # control-log lines (charon's own log has them)
        for sa in s.list_sas({"ike": CONN}):
            ike = sa.get(CONN)
            if ike and _text(ike.get("state")) == "ESTABLISHED" and ike.get("local-vips"):
                self.sa = ike
                self.vip = _text(ike["local-vips"][0])
                return self.vip, _text(ike["uniqueid"])
        raise RuntimeError("established, but charon assigned no virtual IP (VPN-TIA)")

    async def down(self, reason: str) -> None:
        """IkeDown: terminate (inside, IPsec is dormant: RFC 5265 3.3, R-3.3-l)."""
        async with self.lock:
            self.attempt += 1
            self.current = None
            try:
                await self._call(self._terminate)
            except Exception as e:  # noqa: BLE001
                log.warning("IKE terminate: %s", e)
            self.sa = {}
            log.info("IKE SA down: %s", reason)

    def _terminate(self) -> bool:
        """Terminate our IKE SA if charon has one (True)."""
        s = self._session(10.0)
        if not any(CONN in sa for sa in s.list_sas({"ike": CONN})):
            return False
        # forced and not awaited: inside, the path to the gateway may already be gone
        for _ in s.terminate({"ike": CONN, "timeout": -1, "force": "yes"}):
            pass
        return True

    async def close(self) -> None:
        await self.down("mip4d stopping")
        self.stopping.set()
        try:
            await self._call(lambda: self._session(5.0).unload_conn({"name": CONN}))
        except Exception as e:  # noqa: BLE001
            log.debug("unload %s: %s", CONN, e)

    # -- events and status -------------------------------------------------------------------

    def _listen(self) -> None:
        """Thread: ike-updown events; our SA going down (DPD, delete by the gateway) is reported."""
        while not self.stopping.is_set():
            try:
                for kind, msg in self._session().listen(["ike-updown", "child-rekey", "ike-rekey"], timeout=1.0):
                    if self.stopping.is_set():
                        return
                    if kind is None:
                        continue
                    ike = msg.get(CONN) if msg else None
                    if kind == b"ike-updown" and ike and _text(msg.get("up", b"no")) != "yes":
                        uid = _text(ike.get("uniqueid"))
                        self.loop.call_soon_threadsafe(self._gone, uid, _text(ike.get("state", b"deleted")))
                    elif ike:
                        log.info("charon %s: IKE SA %s", _text(kind), _text(ike.get("uniqueid")))
            except (OSError, vici.exception.SessionException) as e:
                if self.stopping.is_set():
                    return
                log.warning("VICI event stream: %s; reconnecting", e)
                self.loop.call_soon_threadsafe(self._gone, self.current or "", "charon unreachable")
                time.sleep(1.0)

    def _gone(self, uid: str, why: str) -> None:
        if uid and uid == self.current:
            self.current, self.sa = None, {}
            self.attempt += 1
            self.on_down("IKE SA %s %s" % (uid, why.lower()))

    async def refresh(self) -> None:
        """Re-read our SA for the status (state, SPIs, rekeys); cheap, called every few seconds."""
        current = self.current
        if current is None:
            return
        try:
            sas = await self._call(lambda: list(self._session(5.0).list_sas({"ike": CONN})))
        except Exception as e:  # noqa: BLE001
            log.debug("list-sas: %s", e)
            return
        if self.current == current:  # not torn down or replaced meanwhile
            self.sa = next((sa[CONN] for sa in sas if CONN in sa), {})

    def status(self) -> dict:
        """IKE and CHILD SA as the status model shows them (states, SPIs, addresses)."""
        ike = self.sa
        if not ike:
            return {"ike_sa": None, "child_sa": None}
        children = list((ike.get("child-sas") or {}).values())
        child = children[0] if children else {}
        return {
            "ike_sa": {"state": _text(ike.get("state")), "uniqueid": _text(ike.get("uniqueid")),
                       "local": "%s" % _text(ike.get("local-host")), "remote": _text(ike.get("remote-host")),
                       "spi_i": _text(ike.get("initiator-spi")), "spi_r": _text(ike.get("responder-spi")),
                       "established_s": int(_text(ike.get("established", b"0"))),
                       "vpn_tia": _text((ike.get("local-vips") or [b""])[0])},
            "child_sa": None if not child else {
                "state": _text(child.get("state")), "spi_in": _text(child.get("spi-in")),
                "spi_out": _text(child.get("spi-out")), "bytes_in": int(_text(child.get("bytes-in", b"0"))),
                "bytes_out": int(_text(child.get("bytes-out", b"0"))),
                "remote_ts": [_text(t) for t in child.get("remote-ts", [])]},
        }
