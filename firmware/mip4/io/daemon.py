"""mip4d: one Sans-IO machine (MN, HA or FA) on real sockets, rtnetlink and the kernel data plane.

The role's module does the work (router.py for an MN, agent.py for an HA or FA; role.py what they
share, driver.py the loop glue); this one starts, reloads and stops it. Link events from above io
(netifd over ubus) come in as `link_sources`, and the status publishers (the ubus object `mip4`)
as `publishers`, wired by the caller (cli/mip4d.py): io imports nothing above it.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

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


# mip4d's options: name -> (choices or None, help). What procd passes is read without argparse, which
# stays out of a mobile router's RSS (0.4 MB, issue 25); anything else (help, a mistake) goes to argparse.
OPTIONS: dict[str, tuple[tuple[str, ...] | None, str]] = {
    "--config": (None, "config file: UCI (/etc/config/mip4) or JSON"),
    "--role": (("mn", "ha", "fa"), "must match the config file's role"),
    "--log-level": (tuple(sorted(LEVELS)), "default: the file's log_level, else info"),
}


def _plain_options(argv: Sequence[str]) -> dict[str, str] | None:
    """`--name value` or `--name=value`, each of OPTIONS at most once, --config given; else None."""
    out: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name not in OPTIONS or name in out:
            return None
        if not eq:
            value = next(args, "")
        choices = OPTIONS[name][0]
        if not value or value.startswith("-") or (choices is not None and value not in choices):
            return None
        out[name] = value
    return out if "--config" in out else None


def _parse_args(argv: Sequence[str]) -> Any:  # noqa: ANN401  (argparse's Namespace or its like)
    plain = _plain_options(argv)
    if plain is not None:
        return SimpleNamespace(config=plain["--config"], role=plain.get("--role"), log_level=plain.get("--log-level"))
    import argparse

    parser = argparse.ArgumentParser(prog="mip4d", description="mip4 daemon: mobile node, home agent or foreign agent")
    for name, (choices, text) in OPTIONS.items():
        parser.add_argument(name, choices=choices, required=name == "--config", help=text)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, link_sources: Sequence[LinkSourceFactory] = (),
         publishers: Sequence[PublisherFactory] = ()) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
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
