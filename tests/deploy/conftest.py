"""Fixtures of the deployment tests: the parsed Dockerfile and the local Cassandra node."""

from __future__ import annotations

import pytest

from tests.cassandra_node import ensure_node
from tests.deploy import dockerfile


@pytest.fixture(scope="session")
def stages() -> list[dockerfile.Stage]:
    return dockerfile.parse()


@pytest.fixture(scope="session")
def final_stage(stages: list[dockerfile.Stage]) -> dockerfile.Stage:
    """The stage a plain `docker build -f deploy/Dockerfile .` produces: the last one."""
    return stages[-1]


@pytest.fixture(scope="session")
def cassandra_hosts() -> str:
    """'host:port' of the local node: tools/cassandra/cassandra.sh start (idempotent), with
    PYTHON=sys.executable; CASSANDRA_TEST_HOSTS points at another node instead."""
    return ensure_node()
