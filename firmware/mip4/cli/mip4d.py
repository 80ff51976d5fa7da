"""mip4d as the router package runs it: io/daemon.py with the ubus layer wired in, so that io never
imports the layer above it. Where a ubusd answers (OpenWrt; MIP4_UBUS_SOCKET names another socket),
mip4d registers the ubus object `mip4` itself and follows netifd's interface events and status;
where none does (the UML lab, host tests) it runs on rtnetlink and its own udhcpc, as before.
"""
from __future__ import annotations

import mip4.io  # noqa: F401  first: it imports asyncio without ssl (io/__init__.py: 5 MB of a router's RSS)

# isort: split
import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from mip4.io import daemon
from mip4.io.settings import RouterOptions
from mip4.status.methods import Source
from mip4.ubus import DEFAULT_SOCKET

if TYPE_CHECKING:  # imported only where a ubusd runs: libubus needs ctypes (issue 25: not off OpenWrt)
    from mip4.ubus.netifd import NetifdEvents
    from mip4.ubus.object import Mip4Object

log = logging.getLogger("mip4d")


def ubus_socket() -> str | None:
    """ubusd's socket, if there is one."""
    path = os.environ.get("MIP4_UBUS_SOCKET") or DEFAULT_SOCKET
    return path if os.path.exists(path) else None


def netifd(options: RouterOptions, on_link: Callable[[str, bool], None], on_address: Callable[[str, str | None], None],
           on_gateway: Callable[[str, str | None], None]) -> NetifdEvents | None:
    """OpenWrt: netifd's ifup/ifdown, addresses and routers for the uplinks the config names."""
    path = ubus_socket()
    if not options.netifd or path is None:
        return None
    from mip4.ubus.netifd import NetifdEvents

    return NetifdEvents(options.netifd, on_link, on_address, on_gateway, path)


def ubus_object(source: Source) -> Mip4Object | None:
    """OpenWrt: the ubus object `mip4`, answered on mip4d's event loop."""
    path = ubus_socket()
    if path is None:
        return None
    from mip4.ubus.libubus import UbusError
    from mip4.ubus.object import Mip4Object

    try:
        obj = Mip4Object(source, path)
    except (UbusError, OSError) as e:  # mip4d runs on; `mip4 status` still has the control socket
        log.error("ubus object mip4 not registered: %s", e)
        return None
    obj.attach(asyncio.get_running_loop())
    return obj


def main(argv: list[str] | None = None) -> int:
    return daemon.main(argv, link_sources=(netifd,), publishers=(ubus_object,))


if __name__ == "__main__":
    sys.exit(main())
