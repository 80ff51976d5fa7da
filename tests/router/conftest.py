"""Fixtures for the router tests on OpenWrt's real userland (tests/router/owrt.py)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.router import owrt


@pytest.fixture(scope="session")
def owrt_root() -> Path:
    return owrt.userland()


@pytest.fixture(scope="session")
def ipk_layers(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return owrt.package_layers(tmp_path_factory.mktemp("ipk"))


@pytest.fixture
def ow(owrt_root: Path, ipk_layers: list[Path], tmp_path: Path) -> Iterator[owrt.OpenWrt]:
    """A booted OpenWrt userland (ubusd, procd) with mip4's two packages installed, rpcd and uhttpd up."""
    with owrt.with_packages(owrt_root, tmp_path / "ow", ipk_layers) as sandbox:
        sandbox.boot()
        owrt.start_web(sandbox)
        yield sandbox


@pytest.fixture
def ubusd(owrt_root: Path, ipk_layers: list[Path], tmp_path: Path) -> Iterator[owrt.OpenWrt]:
    """A booted OpenWrt userland (ubusd, procd) with mip4's packages, without rpcd and uhttpd."""
    with owrt.with_packages(owrt_root, tmp_path / "ow", ipk_layers) as sandbox:
        sandbox.boot()
        yield sandbox
