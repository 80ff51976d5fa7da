"""Test-wide settings: hypothesis without per-example deadlines (CI machines are slow and shared), and the
`netns` and `slow` markers (pyproject.toml) for the tests below; tests/lab/conftest.py marks `lab`.

Kept in one table here rather than on each test so that the selection `make check` makes is visible in
one place; tests/test_markers.py checks the table against the tests (every entry names a test that
exists, every test module that makes host namespaces is in NETNS)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("mip4", deadline=None, print_blob=True)
settings.load_profile("mip4")

ROOT = Path(__file__).resolve().parents[1]

# Needs root: makes network namespaces (or, with unshare -m, a mount namespace) on the host and runs real
# processes in them. A file name marks every test in it; FILE::test one test.
NETNS = (
    "tests/ha/test_failover.py",  # two mip4d home agents, keepalived and etcd in namespaces (issue 27)
    "tests/hardening/test_bad_input.py",
    "tests/io/test_fa_plane.py",
    "tests/io/test_ha_one_host.py",
    "tests/io/test_host_kernel.py",
    "tests/io/test_rtnl_dumps.py",
    "tests/io/test_udp_tunnel_pmtu.py",
    "tests/io/test_dnav4.py::test_a_real_lease_is_bound_and_remembered_with_its_routers_mac",
    "tests/io/test_dnav4.py::test_back_on_a_known_network_the_remembered_lease_is_used_at_once_without_dhcp",
    "tests/io/test_dnav4.py::test_dhcp_confirms_the_remembered_lease",
    "tests/io/test_dnav4.py::test_dhcp_giving_another_address_replaces_the_remembered_one",
    "tests/io/test_dnav4.py::test_another_router_at_the_remembered_address_is_another_network",
    "tests/io/test_udp_tunnels.py",
    "tests/router/test_daemon_router.py",
    "tests/test_bench.py::test_quick_bench_writes_every_figure",  # mip4d as i-HA in a namespace (tests/bench/netns.py)
)

# Over about 5 s each on the 2-core test machine (pytest --durations, an otherwise idle machine): together
# about 77 s of the 135 s that everything but the lab took. make check leaves them out, make test runs them.
SLOW = (
    "tests/test_bench.py::test_quick_bench_writes_every_figure",  # 55 s: make bench QUICK=1
    "tests/router/test_package.py::test_make_package_builds_the_same_files_again",  # 9 s: make package
    "tests/router/test_owrt_mip4d.py::test_mip4d_waits_for_missing_and_down_uplinks_and_takes_them_from_netifd",  # 12 s
    "tests/router/test_owrt_mip4d.py::test_mip4d_comes_back_on_ubus_after_ubusd_restarts",  # 9 s: 5 s between tries
    # headless Chromium on the real LuCI in the sandbox; the status view waits out LuCI's 5 s poll interval
    "tests/router/test_luci.py::test_status_view_shows_live_data_updates_in_place_and_survives_a_failed_call",  # 34 s
    "tests/router/test_luci.py::test_settings_view_saves_through_rollback_apply_and_refuses_bad_values",  # 20 s
    "tests/router/test_luci.py::test_save_and_apply_in_luci_reaches_the_running_mip4d_through_procd",  # 15 s
    "tests/ha/test_failover.py",  # 4 to 9 s each: etcd, two mip4d, keepalived started and failed over
    "tests/hardening/test_bad_input.py",  # 9 to 11 s each: 100,000 bad datagrams at a real mip4d per role
    "tests/io/test_udp_tunnels.py::test_udp_tunnel_through_a_nat_carries_data_and_keepalives_and_drops_strangers",
)


def _matches(nodeid: str, entry: str) -> bool:
    """FILE matches every test in it; FILE::test that test and its parametrized cases."""
    if "::" not in entry:
        return nodeid.split("::", 1)[0] == entry
    return nodeid == entry or nodeid.startswith(entry + "[")


# Fixtures that run OpenWrt's userland in its own namespaces (tests/router/owrt.py): a test using one is
# `netns` without an entry above.
OWRT_FIXTURES = {"owrt_root"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        nodeid = item.path.relative_to(ROOT).as_posix() + item.nodeid[len(item.nodeid.split("::", 1)[0]):]
        if any(_matches(nodeid, e) for e in NETNS) or OWRT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.netns)
        if any(_matches(nodeid, e) for e in SLOW):
            item.add_marker(pytest.mark.slow)
