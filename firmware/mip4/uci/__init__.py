"""UCI: OpenWrt's config file format (/etc/config/mip4), read by our own parser and mapped onto Settings."""
