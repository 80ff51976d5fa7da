"""An idle mip4d (issue 25): it loads only its own role's code, and rewrites its status file once a second
only while something in it can change besides its clocks."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from mip4.core.config import HomeAgentConfig, MobileNodeEntry
from mip4.io.daemon import create
from mip4.io.settings import Settings
from tests.core.replies import I_SA

ROOT = Path(__file__).resolve().parents[2]


def _loaded_by(module: str, names: tuple[str, ...]) -> list[str]:
    """Which of `names` a fresh interpreter has loaded after importing `module` alone."""
    probe = "import sys, %s; print([m for m in %r if m in sys.modules])" % (module, names)
    env = dict(os.environ, PYTHONPATH="%s:%s" % (ROOT / "firmware", ROOT))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.replace("'", '"'))  # a list of our own names


def test_the_daemon_module_loads_no_role_before_it_knows_which():
    assert _loaded_by("mip4.io.daemon", ("mip4.io.agent", "mip4.io.router", "mip4.core.home_agent",
                                         "mip4.core.foreign_agent", "mip4.core.mobile_node", "shutil")) == []


def test_the_packaged_mip4d_loads_no_tls_no_argparse_and_no_cli_subcommand():
    """/usr/bin/mip4d runs mip4.cli.mip4d, which imported asyncio before mip4.io could keep ssl out (5 MB)."""
    heavy = ("ssl", "_ssl", "argparse", "shutil", "mip4.cli.console", "mip4.cli.wire")
    assert _loaded_by("mip4.cli.mip4d", heavy) == []


def test_options_as_procd_passes_them_read_as_argparse_reads_them():
    from mip4.io import daemon

    assert vars(daemon._parse_args(["--config", "/etc/config/mip4", "--log-level=debug"])) == {
        "config": "/etc/config/mip4", "role": None, "log_level": "debug"}
    assert vars(daemon._parse_args(["--conf", "x", "--role", "mn"])) == {  # argparse's abbreviation, by argparse
        "config": "x", "role": "mn", "log_level": None}
    for bad in (["--role", "mn"], ["--config"], ["--config", "x", "--role", "xx"]):
        try:
            daemon._parse_args(bad)
        except SystemExit as e:  # argparse's usage error, as before
            assert e.code == 2
        else:
            raise AssertionError(bad)


def test_the_status_file_is_rewritten_each_second_only_while_it_can_change(tmp_path):
    status = tmp_path / "status.json"
    settings = Settings("ha", HomeAgentConfig(address="10.1.0.1", role="i-ha", trusted_networks=("10.0.0.0/8",),
                                              mobile_nodes={"10.1.0.10": MobileNodeEntry(I_SA)}),
                        status_file=str(status), seed=1)

    async def scenario() -> list[bool]:
        daemon = create(settings)
        try:
            seen = [daemon.status_may_change()]  # never written
            daemon._write_status()
            seen.append(daemon.status_may_change())  # no binding, no timer, nothing fed: only its clocks move
            daemon.driver.put(object())  # work queued since
            seen.append(daemon.status_may_change())
            daemon._write_status()
            seen.append(daemon.status_may_change())
            return seen
        finally:
            daemon.ipr.close()
            daemon.udp_tunnels.close_all()

    assert asyncio.run(scenario()) == [True, False, True, False]
    assert json.loads(status.read_text())["role"] == "ha"


def test_the_recent_log_keeps_the_daemons_levels_and_every_verdicts_reason():
    from mip4.core.actions import Log
    from mip4.status.model import StatusModel

    class Machine:
        def status(self, now: float) -> dict:
            return {}

    model = StatusModel(Machine(), levels=frozenset({"info", "warning", "error"}))
    model.record([Log("debug", "registered", "a refresh"), Log("info", "registered", "a registration"),
                  Log("debug", "state", "wan: down -> waiting", {"iface": "wan"})], 1.0, 2.0)
    assert [line["message"] for line in model.lines] == ["a registration"]
    assert model.reasons == {"wan": "wan: down -> waiting"}
