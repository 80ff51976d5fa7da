"""OpenWrt's ubus: the `mip4` object (object.py, on libubus: libubus.py) and netifd's interface events
and status as link triggers (netifd.py, through python3-ubus)."""

DEFAULT_SOCKET = "/var/run/ubus/ubus.sock"  # ubusd's socket on OpenWrt
