# Pinned copy of openwrt/packages lang/python/python3-version.mk at commit
# 0521bb56793387788798e4a69b84d96766ed54e2 (2026-08-22): the Python of OpenWrt's packages feed. build/mkipk.py
# (make package without the SDK) reads PYTHON3_VERSION here; in the SDK, python3-package.mk includes the
# feed's own copy. Update both together (tests/router/test_package.py checks the feed Makefiles use none else).

#
# Copyright (C) 2007-2016 OpenWrt.org
#
# This is free software, licensed under the GNU General Public License v2.
# See /LICENSE for more information.
#

# Note: keep in sync with pip
PYTHON3_VERSION_MAJOR:=3
PYTHON3_VERSION_MINOR:=14
PYTHON3_VERSION_MICRO:=5

PYTHON3_VERSION:=$(PYTHON3_VERSION_MAJOR).$(PYTHON3_VERSION_MINOR)

PYTHON3_PIP_PKG_RELEASE:=1
PYTHON3_PIP_VERSION:=26.1.1
