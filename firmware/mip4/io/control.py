"""mip4d's control socket: a unix stream socket, one JSON object per line each way.

Request {"method": "status", "args": {}}; reply {"result": {...}} or {"error": {"code": N, "message": "..."}}.
The methods are status/methods.py's (the ubus object's, ubus/object.py); `mip4 status` and the
console are clients (where no ubusd runs, as in the UML lab, this is the only way in). Only root may
connect (mode 0600), as only root may call ubus's write methods.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from ..status.methods import INVALID_ARGUMENT, MethodError, Source, call

MAX_LINE = 65536
DEFAULT_PATH = "/var/run/mip4/control.sock"
log = logging.getLogger("mip4d.control")


class ControlServer:
    def __init__(self, path: str, source: Source,
                 local: dict[str, Callable[[dict], Awaitable[dict]]] | None = None) -> None:
        self.path = path
        self.source = source
        self.local = local or {}  # methods of this socket alone (not ubus's): `ha` of a redundant home agent
        self.server: asyncio.AbstractServer | None = None
        self.clients: set[asyncio.Task] = set()

    async def start(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        try:
            os.unlink(self.path)  # a killed predecessor's socket
        except FileNotFoundError:
            pass
        old = os.umask(0o177)
        try:
            self.server = await asyncio.start_unix_server(self._client, self.path, limit=MAX_LINE)
        finally:
            os.umask(old)

    async def close(self) -> None:
        if self.server:
            self.server.close()
            for task in list(self.clients):
                task.cancel()
            await asyncio.gather(*self.clients, return_exceptions=True)
            await self.server.wait_closed()
            self.server = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.clients.add(task)
        try:
            while line := await reader.readline():
                answer = await self._local(line) or self.answer(line)
                writer.write((json.dumps(answer, default=str) + "\n").encode())
                await writer.drain()
        except ValueError:  # a line over MAX_LINE: say so, then hang up (the rest of it is not a request)
            log.warning("control client dropped: a request longer than %d octets", MAX_LINE)
            writer.write((json.dumps(_error(INVALID_ARGUMENT, "request longer than %d octets" % MAX_LINE)) + "\n")
                         .encode())
        except ConnectionError as e:
            log.warning("control client dropped: %s", e)
        except asyncio.CancelledError:  # close() with the client still connected: end quietly
            pass
        finally:
            self.clients.discard(task)
            writer.close()

    async def _local(self, line: bytes) -> dict | None:
        """The answer of a local method, or None for the others (answer() has them)."""
        try:
            req = json.loads(line)
        except ValueError:
            return None
        if not isinstance(req, dict) or req.get("method") not in self.local:
            return None
        args = req.get("args") or {}
        if not isinstance(args, dict):
            return _error(INVALID_ARGUMENT, "%s: arguments must be a JSON object" % req["method"])
        try:
            return {"result": await self.local[req["method"]](args)}
        except ValueError as e:
            return _error(INVALID_ARGUMENT, "%s: %s" % (req["method"], e))

    def answer(self, line: bytes) -> dict:
        try:
            req = json.loads(line)
            if not isinstance(req, dict) or not isinstance(req.get("method"), str):
                raise MethodError(INVALID_ARGUMENT, 'a request is {"method": NAME, "args": {...}}')
            return {"result": call(self.source, req["method"], req.get("args"))}
        except json.JSONDecodeError as e:
            return _error(INVALID_ARGUMENT, "not JSON: %s" % e.msg)
        except UnicodeDecodeError:
            return _error(INVALID_ARGUMENT, "not JSON: not UTF-8")
        except MethodError as e:
            return _error(e.code, str(e))


def _error(code: int, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


class ControlError(RuntimeError):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ControlClient:
    """Blocking client (the CLI, the console)."""

    def __init__(self, path: str = DEFAULT_PATH, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def call(self, method: str, args: dict | None = None) -> Any:
        if self.sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            try:
                s.connect(self.path)
            except OSError as e:
                s.close()
                raise ControlError("mip4d is not answering on %s: %s" % (self.path, e.strerror or e)) from None
            self.sock = s
        try:
            self.sock.sendall((json.dumps({"method": method, "args": args or {}}) + "\n").encode())
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ControlError("mip4d closed the control socket")
                self.buf += chunk
        except OSError as e:
            self.close()
            raise ControlError("control socket %s: %s" % (self.path, e)) from None
        line, self.buf = self.buf.split(b"\n", 1)
        reply = json.loads(line)
        if "error" in reply:
            raise ControlError(reply["error"]["message"], reply["error"]["code"])
        return reply["result"]

    def close(self) -> None:
        if self.sock:
            self.sock.close()
            self.sock = None
