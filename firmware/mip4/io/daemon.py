"""mip4d: one Sans-IO machine (MN, HA or FA) on real sockets, rtnetlink and the kernel data plane.

The role's module does the work (router.py for an MN, agent.py for an HA or FA; role.py what they
share, driver.py the loop glue); this one starts, reloads and stops it. Link events from above io
(netifd over ubus) come in as `link_sources`, and the status publishers (the ubus object `mip4`)
as `publishers`, wired by the caller (cli/mip4d.py): io imports nothing above it.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from ..core.config import ConfigError, ForeignAgentConfig, HomeAgentConfig, MobileNodeConfig
from ..status.methods import Source
from ..uci.config import load_any
from .role import LEVELS, Role
from .settings import Settings

if TYPE_CHECKING:  # a role's module is imported when it runs (create): a mobile router has no agent's code
    from .router import LinkSourceFactory

log = logging.getLogger("mip4d")


class Publisher(Protocol):
    """Answers status calls from `source` (the running role; replaced when a reload restarts it)."""

    source: Source

    def close(self) -> None: ...


PublisherFactory = Callable[[Source], Publisher | None]  # None: not wanted here (no ubusd)


def create(settings: Settings, link_sources: Sequence[LinkSourceFactory] = ()) -> Role:
    """The role for the config's machine (call on the running loop). Only that role's modules are
    imported: a mobile router loads no agent's core, an agent no mobile node's (issue 25: its RSS)."""
    machine = settings.machine
    if isinstance(machine, MobileNodeConfig):
        from .router import RouterRole
        return RouterRole(settings, link_sources)
    if isinstance(machine, HomeAgentConfig):
        from .agent import HomeAgentRole
        return HomeAgentRole(settings)
    if isinstance(machine, ForeignAgentConfig):
        from .agent import ForeignAgentRole
        return ForeignAgentRole(settings)
    raise TypeError("no role for %r" % (type(machine).__name__,))


async def run(settings: Settings, path: str | None = None,
              link_sources: Sequence[LinkSourceFactory] = (), publishers: Sequence[PublisherFactory] = ()) -> int:
    """Run until SIGTERM/SIGINT. SIGHUP (procd's reload) re-reads `path`: a bad file is logged and the
    running configuration kept; a good, changed one replaces the daemon (clean stop, then start).
    The publishers start with the first daemon and answer from each one after it."""
    stopping, reloading = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, reloading.set)
    published: list[Publisher] = []
    try:
        return await _run(settings, path, link_sources, publishers, published, stopping, reloading)
    finally:
        for p in published:
            p.close()


async def _run(settings: Settings, path: str | None, link_sources: Sequence[LinkSourceFactory],
               publishers: Sequence[PublisherFactory], published: list[Publisher], stopping: asyncio.Event,
               reloading: asyncio.Event) -> int:
    loop = asyncio.get_running_loop()
    while True:
        daemon = create(settings, link_sources)
        try:
            await daemon.start()
        except Exception:
            log.exception("start failed; removing what was installed")
            await daemon.stop()
            return 1
        for p in published:
            p.source = daemon
        if not published:
            published.extend(p for p in (make(daemon) for make in publishers) if p is not None)
        while True:
            reloading.clear()
            stop_wait, reload_wait = loop.create_task(stopping.wait()), loop.create_task(reloading.wait())
            await asyncio.wait((stop_wait, reload_wait), return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            reload_wait.cancel()
            if stopping.is_set():
                log.info("signal received: stopping")
                await daemon.stop()
                return 0
            new = _reload(path, settings)
            if new is not None:
                break
        log.info("reload: new configuration from %s; restarting", path)
        await daemon.stop()
        settings = new


def _reload(path: str | None, running: Settings) -> Settings | None:
    if path is None:
        return None
    try:
        new = load_any(path).settings
    except ConfigError as e:
        log.error("reload: config error, keeping the running configuration: %s", e)
        return None
    if new == running:
        log.info("reload: %s unchanged", path)
        return None
    return new


def _help_formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's own, told the terminal's width: without it, each add_argument imports shutil to ask (with
    bz2 and lzma: 0.7 MB of a mobile router's RSS, issue 25)."""
    try:
        width = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
    except (ValueError, OSError):
        width = 80
    return argparse.HelpFormatter(prog, width=width - 2)  # as shutil.get_terminal_size() less 2


def main(argv: list[str] | None = None, link_sources: Sequence[LinkSourceFactory] = (),
         publishers: Sequence[PublisherFactory] = ()) -> int:
    parser = argparse.ArgumentParser(prog="mip4d", description="mip4 daemon: mobile node, home agent or foreign agent",
                                     formatter_class=_help_formatter)
    parser.add_argument("--config", required=True, help="config file: UCI (/etc/config/mip4) or JSON")
    parser.add_argument("--role", choices=("mn", "ha", "fa"), help="must match the config file's role")
    parser.add_argument("--log-level", choices=sorted(LEVELS), help="default: the file's log_level, else info")
    args = parser.parse_args(argv)
    try:
        config = load_any(args.config)
    except ConfigError as e:
        print("mip4d: config error: %s" % e, file=sys.stderr)
        return 2
    settings = config.settings
    logging.basicConfig(level=LEVELS[args.log_level or config.log_level], stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("pyroute2", "asyncio"):  # their debug output would drown ours
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.role and args.role != settings.role:
        print("mip4d: --role %s but %s says role %s" % (args.role, args.config, settings.role), file=sys.stderr)
        return 2
    return asyncio.run(run(settings, args.config, link_sources, publishers))


if __name__ == "__main__":
    sys.exit(main())
