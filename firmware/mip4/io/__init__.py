"""Adapters that give the Sans-IO core real I/O: sockets, rtnetlink, the kernel data plane, DHCP, the daemon."""
