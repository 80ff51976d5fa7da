"""The `mip4` ubus object (status, interfaces, bindings, reregister, log), served from a status source
(status/methods.py's Source: mip4d's role, or a test's live node) on a ubusd socket.

    obj = Mip4Object(source, "/var/run/ubus/ubus.sock")   # connects, registers `mip4`
    obj.attach(asyncio.get_running_loop())                 # mip4d: answered on its event loop
    ThreadedMip4Object(source, path)                        # a test process: answered on a thread
    obj.close()

Calls go to status/methods.py's table; an error is the call's ubus status (UBUS_STATUS_*: 2 invalid
argument, 3 no such method, 8 not supported, 9 our bug), logged here with its message, since a ubus
status carries none. rpcd applies the ACL (acl.d/luci-app-mip4.json) before uhttpd's call reaches us;
the `ubus_rpc_session` argument uhttpd adds is accepted (methods.py ignores it).

Event loop: libubus is non-blocking here (libubus.py): the connection's socket is watched with the
loop's add_reader and each readable wake-up handles what arrived (ubus_handle_event), on the loop's
thread, between other callbacks: nothing blocks the loop and nothing polls.
"""
from __future__ import annotations

import asyncio
import logging

from ..status.methods import SIGNATURE, MethodError, Source, call
from . import DEFAULT_SOCKET
from .libubus import STATUS_OK, DispatchThread, ObjectServer

log = logging.getLogger("mip4.ubus")
NAME = "mip4"
RECONNECT = 5.0  # seconds between tries to register again after ubusd went away (procd restarts it)


class Mip4Object:
    def __init__(self, source: Source, socket_path: str = DEFAULT_SOCKET, name: str = NAME) -> None:
        self.source = source
        self.socket_path, self.name = socket_path, name
        self.loop: asyncio.AbstractEventLoop | None = None
        self.retry: asyncio.TimerHandle | None = None
        self.server = self._register()

    def _register(self) -> ObjectServer:
        server = ObjectServer(self.socket_path, self.name,
                              {m: (sig, self._handler(m)) for m, sig in SIGNATURE.items()})
        log.info("ubus object %s registered on %s", self.name, self.socket_path)
        return server

    def _handler(self, method: str):  # noqa: ANN202
        def handle(args: dict) -> tuple[int, dict | None]:
            try:
                return STATUS_OK, call(self.source, method, args)
            except MethodError as e:
                log.info("ubus %s %s: status %d: %s", NAME, method, e.code, e)
                return e.code, None
        return handle

    def fileno(self) -> int:
        return self.server.fileno()

    def dispatch(self) -> None:
        self.server.dispatch()
        if self.server.lost and self.loop is not None:
            log.error("ubusd closed the connection: registering %s again every %.0f s", self.name, RECONNECT)
            loop = self.loop
            self.detach()
            self.server.close()
            self.retry = loop.call_later(RECONNECT, self._reconnect, loop)

    def _reconnect(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self.server = self._register()
        except OSError:  # UbusError: no ubusd yet
            self.retry = loop.call_later(RECONNECT, self._reconnect, loop)
            return
        self.retry = None
        self.attach(loop)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        loop.add_reader(self.fileno(), self.dispatch)

    def detach(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.fileno())
            self.loop = None

    def close(self) -> None:
        if self.retry is not None:
            self.retry.cancel()
        self.detach()
        self.server.close()


class ThreadedMip4Object:
    """Mip4Object answered on its own thread, for a process without an asyncio loop of its own
    (a test publishing a live node's status): calls reach `source` on that thread."""

    def __init__(self, source: Source, socket_path: str = DEFAULT_SOCKET, name: str = NAME) -> None:
        self.obj = Mip4Object(source, socket_path, name)
        self.thread = DispatchThread(self.obj.server)

    def close(self) -> None:
        self.thread.close()
        self.obj.close()
