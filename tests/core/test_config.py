"""Configuration the protocol core checks on load (the UCI layer of issue 8 builds on these)."""
from __future__ import annotations

import dataclasses
import math
import re

import pytest

from mip4.config.settings import RouterOptions, VpnOptions
from mip4.core.actions import SendIcmp
from mip4.core.config import (
    LIMITS,
    ConfigError,
    ForeignAgentConfig,
    HomeAgentConfig,
    MobileNodeConfig,
    MobileNodeEntry,
    SecurityAssociation,
    Timing,
)
from mip4.core.foreign_agent import ForeignAgent
from mip4.core.mobile_node import MobileNode
from mip4.wire import AgentAdvertisement, decode_icmp

from .replies import I_SA, NOW, mn_config, rng


def test_t_monitor_defaults_to_60_and_shows_in_status():
    """R-3.2.4-d: default 60 s, configurable, shown in status; N must stay below T_MONITOR."""
    assert mn_config().t_monitor == 60.0
    assert MobileNode(mn_config(t_monitor=90.0), rng()).status(NOW)["t_monitor"] == 90.0
    with pytest.raises(ConfigError, match="t_monitor_grace"):
        mn_config(t_monitor=10.0, t_monitor_grace=10.0)
    with pytest.raises(ConfigError, match="t_monitor"):
        mn_config(t_monitor=0)


def test_i_ha_key_must_be_long():
    """R-6.2-b: a short i-HA key would let a guesser forge TNC replies."""
    with pytest.raises(ConfigError, match="at least 16"):
        mn_config(i_sa=SecurityAssociation(1000, b"short"))


def test_x_mip_and_i_mip_keys_differ():
    """R-6.2-c: separate credentials per layer."""
    with pytest.raises(ConfigError, match="differ"):
        mn_config(x_sa=SecurityAssociation(2000, I_SA.key))


@pytest.mark.parametrize("spi", [0, 255, -1, 2**32])
def test_reserved_spis_refused(spi):
    with pytest.raises(ConfigError, match="spi"):
        SecurityAssociation(spi, b"k" * 16)


@pytest.mark.parametrize("bad,match", [
    (dict(trusted_networks=("0.0.0.0/0",)), "every address"),
    (dict(trusted_networks=("10.0.0.0/33",)), "not an IPv4 prefix"),
    (dict(role="z-ha"), "role"),
    (dict(address="10.1.0"), "address"),
])
def test_home_agent_config_errors_name_the_option(bad, match):
    """R-4.3-b: the trusted list holds only internal prefixes; 0.0.0.0/0 is refused."""
    kw = dict(address="10.1.0.1", role="i-ha", mobile_nodes={}, trusted_networks=("10.0.0.0/8",))
    kw.update(bad)
    with pytest.raises(ConfigError, match=match):
        HomeAgentConfig(**kw)


def test_bad_addresses_are_named():
    with pytest.raises(ConfigError, match="x_ha: '300.1.1.1'"):
        mn_config(x_ha="300.1.1.1")


# -- issue 28 item 6: values the checks let through and that broke the node ---------------------------------


@pytest.mark.parametrize("timing, match", [
    (dict(retransmit_initial=0.0), "retransmit_initial: 0.0 must be 0.1..60 seconds"),  # every retry at once
    (dict(lifetime=0), "lifetime: 0 must be 1..65535 seconds"),  # accepted as a deregistration, again and again
    (dict(lifetime=70000), "lifetime: 70000 must be 1..65535 seconds"),  # CodecError from the core (16 bits)
    (dict(renew_fraction=0.0), "renew_fraction: 0.0 must be 0.25..0.95"),  # renewed as soon as accepted
    (dict(renew_fraction=1.5), "renew_fraction: 1.5 must be 0.25..0.95"),  # renewed after the binding expired
    (dict(retransmit_initial=4.0, retransmit_max=2.0), "retransmit_max: 2.0 must not be below retransmit_initial"),
    (dict(deregister_attempts=0), "deregister_attempts: 0 must be 1..100"),
])
def test_registration_timing_that_would_storm_or_raise_is_refused(timing, match):
    """RFC 5944 3.6.3 (backoff from an initial timeout, re-register before expiry), 3.3 (16-bit lifetime)."""
    with pytest.raises(ConfigError, match=re.escape(match)):
        Timing(**timing)


def test_a_re_registration_period_of_under_a_second_is_refused():
    """R-3.2.4-a/d: inside, the MN re-registers every T_MONITOR - N; N = T_MONITOR - 0.001 made that every
    millisecond (as fast as the replies came back)."""
    with pytest.raises(ConfigError, match="t_monitor_grace: 59.999 must be at least 0 and below t_monitor"):
        mn_config(t_monitor=60.0, t_monitor_grace=59.999)
    with pytest.raises(ConfigError, match=re.escape("t_monitor: 0.5 must be 2..86400 seconds (RFC 5265 3.2.4")):
        mn_config(t_monitor=0.5, t_monitor_grace=0.0)
    assert mn_config(t_monitor=60.0, t_monitor_grace=59.0).t_monitor_grace == 59.0


def test_an_nai_that_does_not_fit_its_extension_is_refused():
    """RFC 2794 2: the NAI is the body of one extension, 255 octets at most (longer raised CodecError in
    the MN at its first request)."""
    with pytest.raises(ConfigError, match="nai: 256 octets; an NAI has 1..255"):
        mn_config(nai=b"m" * 256)
    assert mn_config(nai=b"m" * 255).nai == b"m" * 255


def _advertised(agent: ForeignAgent) -> AgentAdvertisement:
    (sent,) = [a for a in agent.start(NOW) if isinstance(a, SendIcmp)]
    return decode_icmp(sent.message.payload)


@pytest.mark.parametrize("interval", [1.0, 1.5, 3.0, 10.0, 600.0, 1800.0])
def test_the_advertised_lifetime_is_three_advertisement_intervals(interval):
    """RFC 1256 (RFC 5944 2.3.1): the advertisement Lifetime defaults to 3 x MaxAdvertisementInterval. It
    was a fixed 9 s: with an interval of 10 s visitors dropped the agent before each advertisement."""
    agent = ForeignAgent(ForeignAgentConfig(links={"acc": "203.0.113.1"}, advertisement_interval=interval), rng())
    assert _advertised(agent).lifetime == math.ceil(3 * interval)
    assert agent.get_timer() == NOW + interval


@pytest.mark.parametrize("kw, match", [
    (dict(advertisement_interval=0.0), "advertisement_interval: 0.0 must be 1..1800 seconds"),  # no pause at all
    (dict(advertisement_interval=-3.0), "advertisement_interval: -3.0 must be 1..1800 seconds"),
    (dict(advertisement_interval=10.0, advertisement_lifetime=9), "advertisement_lifetime: 9 must be at least 3 x "
     "advertisement_interval (10.0)"),
    (dict(advertisement_lifetime=70000), "advertisement_lifetime: 70000 must be 3..9000 seconds"),  # 16-bit field
    (dict(pending_timeout=0.0), "pending_timeout: 0.0 must be 1..600 seconds"),  # every relayed request timed out
    (dict(max_visitors=0), "max_visitors: 0 must be 1..1000000 visitors"),  # every registration denied
])
def test_foreign_agent_values_that_broke_it_are_refused(kw, match):
    with pytest.raises(ConfigError, match=re.escape(match)):
        ForeignAgentConfig(links={"acc": "203.0.113.1"}, **kw)


@pytest.mark.parametrize("kw, match", [
    (dict(replay_window=-1.0), "replay_window: -1.0 must be 2..600 seconds"),  # every request stale (code 133)
    (dict(max_bindings=0), "max_bindings: 0 must be 1..64 bindings"),
    (dict(max_lifetime=0x10000), "max_lifetime: 65536 must be 1..65535 seconds"),
])
def test_home_agent_values_that_broke_it_are_refused(kw, match):
    with pytest.raises(ConfigError, match=re.escape(match)):
        HomeAgentConfig(address="10.1.0.1", role="i-ha", mobile_nodes={}, **kw)


def test_every_limit_names_a_field_of_its_section():
    """The table and the dataclasses cannot drift: each LIMITS entry is a field where check_limits looks."""
    sections = {"mn": MobileNodeConfig, "mn.timing": Timing, "ha": HomeAgentConfig, "ha.mobile_nodes": MobileNodeEntry,
                "fa": ForeignAgentConfig, "router": RouterOptions, "vpn": VpnOptions}
    for path, limit in LIMITS.items():
        section, _, name = path.rpartition(".")
        assert name in {f.name for f in dataclasses.fields(sections[section])}, path
        assert limit.low <= limit.high and limit.why, path


def test_a_home_agents_binding_store_is_etcd_client_urls_and_a_standby_needs_one():
    """Issue 27: store_endpoints are http(s)://host:port, nothing after; start_standby without a store
    would wait for bindings from nowhere."""
    base = dict(address="10.1.0.1", role="i-ha", mobile_nodes={})
    ok = HomeAgentConfig(**base, store_endpoints=("http://10.1.0.5:2379", "https://etcd.example:2379"),
                         start_standby=True)
    assert ok.store_endpoints[1] == "https://etcd.example:2379"
    for bad in ("10.1.0.5:2379", "http://10.1.0.5:2379/v3", "unix:///run/etcd.sock", ""):
        with pytest.raises(ConfigError, match="store_endpoints: .* is not an etcd client URL"):
            HomeAgentConfig(**base, store_endpoints=(bad,))
    with pytest.raises(ConfigError, match="start_standby: a standby needs store_endpoints"):
        HomeAgentConfig(**base, start_standby=True)
