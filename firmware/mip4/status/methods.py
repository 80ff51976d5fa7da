"""The `mip4` ubus object's methods (status, interfaces, bindings, reregister, log): method name and
arguments in, a JSON-able reply out, from one status source. mip4d's ubus object (ubus/object.py)
and its control socket (the console, `mip4 status`) both answer through call().
"""
from __future__ import annotations

from typing import Any, Protocol

# ubus method -> argument -> type (what `ubus -v list mip4` shows; every argument is optional)
SIGNATURE: dict[str, dict[str, str]] = {
    "status": {},
    "interfaces": {},
    "bindings": {},
    "reregister": {},
    "log": {"since": "int", "limit": "int"},
}
WRITE = ("reregister",)  # the only method the rpcd ACL grants write access to
# arguments the transport adds to every call, not the caller: uhttpd's ubus JSON-RPC passes the rpcd
# session a call was allowed under (uhttpd ubus.c, uh_ubus_call); accepted and not used
TRANSPORT_ARGUMENTS = ("ubus_rpc_session",)


class MethodError(ValueError):
    """A bad call; `code` follows ubus's status codes (UBUS_STATUS_*)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


INVALID_ARGUMENT = 2  # UBUS_STATUS_INVALID_ARGUMENT
METHOD_NOT_FOUND = 3  # UBUS_STATUS_METHOD_NOT_FOUND
NOT_SUPPORTED = 8  # UBUS_STATUS_NOT_SUPPORTED


class Source(Protocol):
    def status(self) -> dict: ...
    def reregister(self) -> dict: ...
    def log(self, since: int, limit: int) -> list[dict]: ...


def call(source: Source, method: str, args: Any) -> dict:
    if method not in SIGNATURE:
        raise MethodError(METHOD_NOT_FOUND, "no method %r (methods: %s)" % (method, ", ".join(SIGNATURE)))
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise MethodError(INVALID_ARGUMENT, "%s: arguments must be a JSON object, not %r" % (method, args))
    for name, value in args.items():
        if name in TRANSPORT_ARGUMENTS:
            continue
        kind = SIGNATURE[method].get(name)
        if kind is None:
            allowed = ", ".join(SIGNATURE[method]) or "none"
            raise MethodError(INVALID_ARGUMENT, "%s: unknown argument %r (allowed: %s)" % (method, name, allowed))
        if kind == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise MethodError(INVALID_ARGUMENT, "%s: %s must be a non-negative integer, not %r" % (method, name, value))
    top = source.status()
    inner = top.get("status", {})
    if method == "status":
        return top
    if method == "interfaces":
        if "interfaces" not in inner:
            raise MethodError(NOT_SUPPORTED, "interfaces: this node runs role %r; only a mobile node has uplinks"
                              % top.get("role"))
        return {"interfaces": inner["interfaces"], "primary": inner.get("primary"), "mode": inner.get("mode")}
    if method == "bindings":
        if "bindings" not in inner:
            raise MethodError(NOT_SUPPORTED, "bindings: this node runs role %r; only a home agent has bindings"
                              % top.get("role"))
        return {"role": inner.get("role"), "address": inner.get("address"), "bindings": inner["bindings"]}
    if method == "reregister":
        if top.get("role") != "mn":
            raise MethodError(NOT_SUPPORTED, "reregister: only a mobile node registers (this is role %r)"
                              % top.get("role"))
        return source.reregister()
    return {"lines": source.log(args.get("since", 0), args.get("limit", 100))}
