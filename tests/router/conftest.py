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
    # where the .ipk files put mip4: OpenWrt's python3 version (bytecode in mip4, the .py in mip4-src, which
    # Debian's python3 here runs)
    py = "/" + next(ipk_layers[0].glob("usr/lib/python3*/site-packages")).relative_to(ipk_layers[0]).as_posix()
    with owrt.OpenWrt(owrt_root, tmp_path / "ow", layers=ipk_layers,
                      binds={owrt.site_packages(): "/usr/local/lib/python3.11/dist-packages"},
                      env={"PYTHONPATH": py}) as sandbox:
        sandbox.boot()
        owrt.start_web(sandbox)
        yield sandbox
