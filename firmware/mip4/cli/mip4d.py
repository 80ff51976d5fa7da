"""mip4d as the router package runs it: io/daemon.py with netifd's link events (ubus) wired in, so
that io never imports the ubus layer above it."""
from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable

from mip4.io import daemon
from mip4.io.settings import RouterOptions
from mip4.ubus.netifd import NetifdEvents


def netifd(options: RouterOptions, on_link: Callable[[str, bool], None],
           on_address: Callable[[str, str | None], None]) -> NetifdEvents | None:
    """OpenWrt: netifd's ifup/ifdown for the uplinks the config names, when there is a `ubus`."""
    ubus = os.environ.get("MIP4_UBUS") or shutil.which("ubus")
    if not options.netifd or not ubus:
        return None
    return NetifdEvents(options.netifd, on_link, on_address, ubus)


def main(argv: list[str] | None = None) -> int:
    return daemon.main(argv, link_sources=(netifd,))


if __name__ == "__main__":
    sys.exit(main())
