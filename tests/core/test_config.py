"""Configuration the protocol core checks on load (the UCI layer of issue 8 builds on these)."""
from __future__ import annotations

import pytest

from mip4.core.config import ConfigError, HomeAgentConfig, SecurityAssociation
from mip4.core.mobile_node import MobileNode

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
