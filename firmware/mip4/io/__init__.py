"""Adapters that give the Sans-IO core real I/O: sockets, rtnetlink, the kernel data plane, DHCP, the daemon.

asyncio is imported here first, without ssl (issue 25): asyncio imports ssl for TLS transports, which
mip4 never opens, and ssl costs a router 5 MB of its daemon's RSS. asyncio's own imports of ssl are
optional (`try: import ssl`), so with the name blocked for that one import it runs without TLS; the
name is free again at once, for anything else in the process that wants ssl.
"""
import sys

if "asyncio" not in sys.modules and "ssl" not in sys.modules:
    sys.modules["ssl"] = None  # type: ignore[assignment]
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]
