"""pyroute2's rtnetlink sockets without the rest of pyroute2 (issue 25): the one place io imports it.

`import pyroute2` runs its `__init__`, which imports every netlink family it has (226 modules,
sqlite3 among them: 12.9 MB of a 38.9 MB mobile router). mip4 uses the rtnetlink part only, so this
module registers the package without running its `__init__` (anything else asked of `pyroute2` later
runs it then, once: `from pyroute2 import Conntrack` still works) and imports the submodules mip4
uses. Some of those import a standard module for a feature mip4 never calls: ssl (probe_msg's TLS
probe), unittest.mock (a placeholder queue of the synchronous IPRSocket), ctypes (annotations;
setns() for a netns= socket), multiprocessing (child processes, for netns) and those _HEAVY names. While they are
imported each of those is a stand-in that loads the real module on first use, and afterwards the
name is free again, so other importers get the real thing. The daemon's process thus never loads
ssl, ctypes, unittest.mock or multiprocessing (tests/io/test_rtnl.py).
"""
from __future__ import annotations

import asyncio
import importlib
import importlib.util
import sys
import types
import weakref
from typing import Any

# shutil (with bz2 and lzma: 0.7 MB) for probe_msg, pkgutil for ifinfmsg's plugins, urllib.parse for
# remote targets: all imported by pyroute2's modules, called by nothing mip4 does
_HEAVY = ("ssl", "ctypes", "ctypes.util", "unittest", "unittest.mock", "multiprocessing", "shutil", "bz2", "lzma",
          "pkgutil", "urllib.parse")


class _Deferred(types.ModuleType):
    """A stand-in for a standard module that imports the real one when an attribute is first read."""

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        if name.startswith("__"):
            raise AttributeError(name)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


class _Later:
    """What a class body makes at import time (unittest.mock.Mock()): made for real when first used."""

    def __init__(self, module: str, name: str) -> None:
        self._where = (module, name)
        self._made: Any = None

    def __call__(self) -> _Later:
        return _Later(*self._where)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        if name.startswith("_"):
            raise AttributeError(name)
        if self._made is None:
            module, factory = self._where
            self._made = getattr(importlib.import_module(module), factory)()
        return getattr(self._made, name)


def _on_call(module: str, name: str) -> type:
    """A stand-in for `module.name` as pyroute2 reads it at import time (ctypes.CDLL in annotations,
    multiprocessing.Pipe in its config): calling it (setns() for a netns= socket, a child process)
    loads the real module and calls the real thing."""

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return type(name, (), {"__new__": new, "__module__": module})


class _LaterMapping:
    """A stand-in for a dict pyroute2 reads at import time (tcmsg.plugins): the real one on first use."""

    def __init__(self, module: str, name: str) -> None:
        self._where = (module, name)

    def _real(self) -> Any:  # noqa: ANN401
        module, name = self._where
        return getattr(importlib.import_module(module), name)

    def __getitem__(self, key: Any) -> Any:  # noqa: ANN401
        return self._real()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._real()

    def __iter__(self) -> Any:  # noqa: ANN401
        return iter(self._real())

    def __len__(self) -> int:
        return len(self._real())

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401  (get, keys, items)
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._real(), name)


# Traffic control: 37 modules (0.7 MB) that only pyroute2's tc() and tc messages use, neither of which mip4
# has; a tc message that arrives all the same (a qdisc on a new tunnel) makes its class for real. And the
# netlink engine of a mock socket (use_socket=False), which mip4 never opens.
_TC = "pyroute2.netlink.rtnl.tcmsg"
_MOCK = "pyroute2.iproute.ipmock"


def module_loaded(name: str) -> bool:
    """Whether the real module `name` has been imported (not a stand-in of this module)."""
    return name in sys.modules and not isinstance(sys.modules[name], _Deferred)


def _import_lean() -> None:
    if "pyroute2.iproute.linux" in sys.modules:
        return
    if "pyroute2" not in sys.modules:
        spec = importlib.util.find_spec("pyroute2")
        if spec is None or spec.loader is None:
            raise ImportError("pyroute2 is not installed (pyproject.toml names it)")
        package = importlib.util.module_from_spec(spec)
        loader = spec.loader

        def rest_of_pyroute2(name: str) -> Any:  # noqa: ANN401  (PEP 562)
            if name.startswith("__") or package.__dict__.get("_mip4_full"):
                raise AttributeError(name)
            if importlib.util.find_spec("pyroute2." + name) is not None:  # `from pyroute2 import config`
                return importlib.import_module("pyroute2." + name)
            package.__dict__["_mip4_full"] = True
            loader.exec_module(package)  # its __init__, now that something asks for more than rtnetlink
            return getattr(package, name)

        package.__getattr__ = rest_of_pyroute2  # type: ignore[method-assign]
        sys.modules["pyroute2"] = package
    standins = {}
    for name in _HEAVY:
        if name not in sys.modules:
            standins[name] = sys.modules[name] = _Deferred(name)
    if "ctypes" in standins:
        standins["ctypes"].CDLL = _on_call("ctypes", "CDLL")  # type: ignore[attr-defined]
        standins["ctypes"].util = sys.modules["ctypes.util"]  # type: ignore[attr-defined]
    if "multiprocessing" in standins:  # pyroute2.config: for child processes (netns), which mip4 never starts
        for name in ("Pipe", "Queue", "Process"):
            setattr(standins["multiprocessing"], name, _on_call("multiprocessing", name))
    if "unittest.mock" in standins:
        standins["unittest.mock"].Mock = _Later("unittest.mock", "Mock")  # type: ignore[attr-defined]
        if "unittest" in standins:
            standins["unittest"].mock = standins["unittest.mock"]  # type: ignore[attr-defined]
    if _TC not in sys.modules:
        tc = standins[_TC] = sys.modules[_TC] = _Deferred(_TC)
        tc.tcmsg = _on_call(_TC, "tcmsg")  # type: ignore[attr-defined]
        tc.plugins = _LaterMapping(_TC, "plugins")  # type: ignore[attr-defined]
    if _MOCK not in sys.modules:
        mock = standins[_MOCK] = sys.modules[_MOCK] = _Deferred(_MOCK)
        mock.IPEngine = _on_call(_MOCK, "IPEngine")  # type: ignore[attr-defined]
    try:
        importlib.import_module("pyroute2.iproute.linux")
        importlib.import_module("pyroute2.netlink.exceptions")
        importlib.import_module("pyroute2.netlink.rtnl.ndmsg")
    finally:
        for name, standin in standins.items():
            if sys.modules.get(name) is standin:
                del sys.modules[name]


_import_lean()

from pyroute2.iproute.linux import AsyncIPRoute, IPRoute  # noqa: E402
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.rtnl.ndmsg import NTF_PROXY  # noqa: E402

__all__ = ["NTF_PROXY", "AsyncIPRoute", "IPRoute", "NetlinkError", "dump", "module_loaded"]

_DUMPING: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


async def dump(ipr: AsyncIPRoute, method: str, *args: Any, **kwargs: Any) -> list:  # noqa: ANN401
    """`ipr.<method>(...)`'s dump, read to its end before another dump starts on the same socket. The
    kernel runs one dump per netlink socket and refuses a second meanwhile with EBUSY
    (netlink_dump_start); two of mip4d's tasks sharing its socket (an uplink's Attach and the DHCP
    hook's lease) met so in a carrier storm, and the failed Attach left the uplink without its route."""
    lock = _DUMPING.get(ipr)
    if lock is None:
        lock = _DUMPING[ipr] = asyncio.Lock()
    async with lock:
        return [msg async for msg in await getattr(ipr, method)(*args, **kwargs)]
