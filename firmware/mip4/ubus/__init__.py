"""OpenWrt's ubus: netifd's interface events as link triggers (netifd.py) and the `mip4` object (rpcd.py)."""
