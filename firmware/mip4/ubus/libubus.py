"""A ubus object server on libubus itself (ctypes), for what OpenWrt's python3-ubus (PyPI `ubus` 0.1.3)
cannot do. Its C method handler (ubus_python.c, ubus_python_method_handler):
- checks every call against the declared signature as an exact set (`test_policies`: each declared
  argument present, nothing else), so a method cannot take optional arguments, and one declared
  without `ubus_rpc_session` refuses every call uhttpd forwards (uhttpd adds it to each call) while one
  declared with it refuses `ubus call mip4 status` from the shell;
- ignores what the Python method returns: a call ends with status 0, or 9 (UBUS_STATUS_UNKNOWN_ERROR)
  when it raised; no other ubus status code can be answered.
libubus has neither limit: a method handler gets the arguments as they came and returns the status.
So the `mip4` object is registered here, on its own connection: libubus, libubox and libblobmsg_json
are the libraries python3-ubus itself links (always on OpenWrt), the copies it loaded.

The structures are libubus.h's and libubox's (avl.h, uloop.h, blob.h) of the pinned sources
(build/owrt/SOURCES.txt), as far as this module reads or fills them. No uloop: the caller watches
`fileno()` and calls `dispatch()` when it is readable (libubus's own ubus_handle_event), so the
connection runs on whatever loop the caller has (asyncio's add_reader in mip4d, select in a thread).
"""
from __future__ import annotations

import ctypes
import glob
import json
import logging
import os
import select
import threading
from collections.abc import Callable
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    byref,
    c_bool,
    c_byte,
    c_char_p,
    c_int,
    c_uint,
    c_uint8,
    c_uint32,
    c_ulong,
    c_void_p,
)
from typing import Any

log = logging.getLogger("mip4.ubus")

STATUS_OK, INVALID_ARGUMENT, UNKNOWN_ERROR = 0, 2, 9  # ubusmsg.h: enum ubus_msg_status
BLOBMSG_TYPE = {"string": 3, "int": 5, "bool": 7, "table": 2, "array": 1}  # blobmsg.h (int: INT32, bool: INT8)
ULOOP_READ = 1


class _ListHead(Structure):
    _fields_ = [("next", c_void_p), ("prev", c_void_p)]


class _AvlNode(Structure):
    _fields_ = [("list", _ListHead), ("parent", c_void_p), ("left", c_void_p), ("right", c_void_p),
                ("key", c_void_p), ("balance", c_byte), ("leader", c_bool)]


class _AvlTree(Structure):
    _fields_ = [("list_head", _ListHead), ("root", c_void_p), ("count", c_uint), ("allow_dups", c_bool),
                ("comp", c_void_p), ("cmp_ptr", c_void_p)]


_FD_HANDLER = CFUNCTYPE(None, c_void_p, c_uint)


class _UloopFd(Structure):
    _fields_ = [("cb", _FD_HANDLER), ("fd", c_int), ("eof", c_bool), ("error", c_bool), ("registered", c_bool),
                ("flags", c_uint8)]


class _ContextHead(Structure):
    """struct ubus_context up to `sock` (the rest is libubus's)."""

    _fields_ = [("requests", _ListHead), ("objects", _AvlTree), ("pending", _ListHead), ("sock", _UloopFd)]


# int (*ubus_handler_t)(ctx, obj, req, const char *method, struct blob_attr *msg)
_HANDLER = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p, c_char_p, c_void_p)


class _Policy(Structure):
    _fields_ = [("name", c_char_p), ("type", c_int)]


class _Method(Structure):
    _fields_ = [("name", c_char_p), ("handler", _HANDLER), ("mask", c_ulong), ("tags", c_ulong),
                ("policy", POINTER(_Policy)), ("n_policy", c_int)]


class _ObjectType(Structure):
    _fields_ = [("name", c_char_p), ("id", c_uint32), ("methods", POINTER(_Method)), ("n_methods", c_int)]


class _Object(Structure):
    _fields_ = [("avl", _AvlNode), ("name", c_char_p), ("id", c_uint32), ("path", c_char_p),
                ("type", POINTER(_ObjectType)), ("subscribe_cb", c_void_p), ("has_subscribers", c_bool),
                ("methods", POINTER(_Method)), ("n_methods", c_int)]


class _BlobBuf(Structure):
    _fields_ = [("head", c_void_p), ("grow", c_void_p), ("buflen", c_int), ("buf", c_void_p)]


def _library(name: str) -> str:
    """The file of lib`name`: the copy python3-ubus loaded, else /usr/lib's. OpenWrt installs only the
    versioned file (libubus.so.20231128, the soname), the host tests' build only libubus.so."""
    prefix = "/lib%s.so" % name
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if prefix in path and path.rsplit("/", 1)[-1].startswith(prefix[1:]):
                    return path
    except OSError:
        pass
    found = sorted(glob.glob("/usr/lib" + prefix + "*"))
    return found[0] if found else prefix[1:]


class _Libs:
    def __init__(self) -> None:
        try:  # python3-ubus links these three: its copies are the ones to use (same libubus, one copy)
            import ubus  # noqa: F401
        except ImportError:
            pass
        self.ubus = ctypes.CDLL(_library("ubus"))
        self.ubox = ctypes.CDLL(_library("ubox"))
        self.json = ctypes.CDLL(_library("blobmsg_json"))
        self.libc = ctypes.CDLL(None)
        self.ubus.ubus_connect.restype = c_void_p
        self.ubus.ubus_connect.argtypes = [c_char_p]
        self.ubus.ubus_free.argtypes = [c_void_p]
        self.ubus.ubus_add_object.argtypes = [c_void_p, POINTER(_Object)]
        self.ubus.ubus_remove_object.argtypes = [c_void_p, POINTER(_Object)]
        self.ubus.ubus_send_reply.argtypes = [c_void_p, c_void_p, c_void_p]
        self.ubus.ubus_strerror.restype = c_char_p
        self.ubox.blob_buf_init.argtypes = [POINTER(_BlobBuf), c_int]
        self.ubox.blob_buf_free.argtypes = [POINTER(_BlobBuf)]
        self.json.blobmsg_add_json_from_string.argtypes = [POINTER(_BlobBuf), c_char_p]
        self.json.blobmsg_add_json_from_string.restype = c_bool
        self.json.blobmsg_format_json_with_cb.argtypes = [c_void_p, c_bool, c_void_p, c_void_p, c_int]
        self.json.blobmsg_format_json_with_cb.restype = c_void_p
        self.libc.free.argtypes = [c_void_p]


_libs: _Libs | None = None


def _lib() -> _Libs:
    global _libs
    if _libs is None:
        _libs = _Libs()
    return _libs


class UbusError(OSError):
    pass


# name -> (argument name -> "int" | "string" | ..., handler(args) -> (status, reply or None))
Handler = Callable[[dict], "tuple[int, dict | None]"]


class ObjectServer:
    """One libubus connection to `socket_path` serving one object `name` whose methods are
    `methods`: method -> (signature, handler). The signature is what `ubus -v list` shows (libubus
    does not enforce it); the handler gets every argument sent and returns (ubus status, reply)."""

    def __init__(self, socket_path: str, name: str, methods: dict[str, tuple[dict[str, str], Handler]]) -> None:
        lib = _lib()
        self.name = name
        self.ctx = lib.ubus.ubus_connect(socket_path.encode())
        if not self.ctx:
            raise UbusError("cannot connect to ubusd at %s" % socket_path)
        self._keep: list[Any] = []  # what C holds pointers into lives as long as the object
        n = len(methods)
        self._methods = (_Method * n)()
        for i, (method, (signature, handler)) in enumerate(sorted(methods.items())):
            policy = (_Policy * max(len(signature), 1))()
            for j, (arg, kind) in enumerate(sorted(signature.items())):
                policy[j].name, policy[j].type = self._bytes(arg), BLOBMSG_TYPE[kind]
            self._keep.append(policy)
            self._methods[i].name = self._bytes(method)
            self._methods[i].handler = self._callback(handler)
            self._methods[i].policy, self._methods[i].n_policy = policy, len(signature)
        self._type = _ObjectType(name=self._bytes(name), id=0, methods=self._methods, n_methods=n)
        self._object = _Object(name=self._bytes(name), type=ctypes.pointer(self._type), methods=self._methods,
                               n_methods=n)
        ret = lib.ubus.ubus_add_object(self.ctx, byref(self._object))
        if ret:
            lib.ubus.ubus_free(self.ctx)
            self.ctx = None
            raise UbusError("ubus object %s: %s" % (name, lib.ubus.ubus_strerror(ret).decode()))
        self._head = _ContextHead.from_address(self.ctx)

    def _bytes(self, s: str) -> bytes:
        b = s.encode()
        self._keep.append(b)
        return b

    def _callback(self, handler: Handler) -> Any:  # noqa: ANN401
        def call(ctx: int, _obj: int, req: int, method: bytes, msg: int) -> int:
            try:
                status, reply = handler(_args(msg))
                if reply is not None and status == STATUS_OK:
                    _reply(ctx, req, reply)
                return status
            except Exception:  # a bug of ours: the caller gets a status, the log the traceback
                log.exception("ubus %s %s failed", self.name, method.decode(errors="replace"))
                return UNKNOWN_ERROR

        cb = _HANDLER(call)
        self._keep.append(cb)
        return cb

    def fileno(self) -> int:
        return self._head.sock.fd if self.ctx else -1

    @property
    def lost(self) -> bool:
        """ubusd closed the connection (it restarted or stopped)."""
        return bool(self.ctx) and self._head.sock.eof

    def dispatch(self) -> None:
        """Read and handle what ubusd sent (libubus.h's ubus_handle_event): call when fileno() is readable."""
        if self.ctx:
            self._head.sock.cb(ctypes.addressof(self._head.sock), ULOOP_READ)

    def close(self) -> None:
        if self.ctx:
            lib = _lib()
            if not self.lost:
                lib.ubus.ubus_remove_object(self.ctx, byref(self._object))
            lib.ubus.ubus_free(self.ctx)
            self.ctx = None


def _args(msg: int) -> dict:
    lib = _lib()
    text = lib.json.blobmsg_format_json_with_cb(msg, True, None, None, -1)
    if not text:
        return {}
    try:
        args = json.loads(ctypes.string_at(text).decode())
    finally:
        lib.libc.free(text)
    return args if isinstance(args, dict) else {}


def _reply(ctx: int, req: int, reply: dict) -> None:
    lib = _lib()
    buf = _BlobBuf()
    lib.ubox.blob_buf_init(byref(buf), 0)
    try:
        if not lib.json.blobmsg_add_json_from_string(byref(buf), json.dumps(reply, default=str).encode()):
            raise ValueError("reply is not a JSON object")
        lib.ubus.ubus_send_reply(ctx, req, buf.head)
    finally:
        lib.ubox.blob_buf_free(byref(buf))


class DispatchThread:
    """An ObjectServer answered on a thread of its own (select on its connection and a wake-up pipe)
    until close(), for a process without an event loop for it."""

    def __init__(self, server: ObjectServer) -> None:
        self.server = server
        self.wake_r, self.wake_w = os.pipe()
        self.thread = threading.Thread(target=self._run, daemon=True, name="ubus-" + server.name)
        self.thread.start()

    def _run(self) -> None:
        fd = self.server.fileno()
        while not self.server.lost:
            ready, _, _ = select.select([fd, self.wake_r], [], [])
            if self.wake_r in ready:
                return
            self.server.dispatch()

    def close(self) -> None:
        os.write(self.wake_w, b"x")
        self.thread.join(10)
        os.close(self.wake_r)
        os.close(self.wake_w)
