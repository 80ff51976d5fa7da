from __future__ import annotations

import pytest

from .etcd import EtcdCluster


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory):
    """A three-member etcd cluster on loopback, for the module's tests."""
    cluster = EtcdCluster(tmp_path_factory.mktemp("etcd"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def own_etcd(tmp_path):
    """A cluster of the test's own, which it may take down."""
    cluster = EtcdCluster(tmp_path / "etcd")
    (tmp_path / "etcd").mkdir()
    cluster.start()
    yield cluster
    cluster.stop()
