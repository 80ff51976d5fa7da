"""mip4: Mobile IPv4 traversal across IPsec-based VPN gateways (RFC 5265)."""

__version__ = "0.1.0"
