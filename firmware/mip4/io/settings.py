"""The daemon's settings, re-exported for the io layer; they are parsed at the config level
(mip4.config.settings), which the UCI reader (mip4.uci) shares without importing io."""
from __future__ import annotations

from ..config.settings import ROLES, RouterOptions, Settings, VpnOptions, load, parse
from ..core.config import ConfigError

__all__ = ["ROLES", "ConfigError", "RouterOptions", "Settings", "VpnOptions", "load", "parse"]
