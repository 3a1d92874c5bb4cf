"""The local Cassandra node the suite talks to (tools/cassandra, started on demand)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "cassandra" / "cassandra.sh"


@functools.cache
def ensure_node() -> str:
    """Start the node unless CASSANDRA_TEST_HOSTS points at one; returns host list 'h1,h2:port'."""
    if hosts := os.environ.get("CASSANDRA_TEST_HOSTS"):
        return hosts
    subprocess.run([str(SCRIPT), "start"], check=True, env={**os.environ, "PYTHON": sys.executable})
    return "127.0.0.1:9042"


def cassandra_test_url(keyspace: str) -> str:
    return f"cassandra://{ensure_node()}/{keyspace}"


def run_script(*args: str) -> None:
    # A node restarting on a busy machine can take minutes: wait longer than the script's 180 s.
    env = {"CASSANDRA_START_TIMEOUT": "900", **os.environ, "PYTHON": sys.executable}
    subprocess.run([str(SCRIPT), *args], check=True, env=env)


def cluster_url(keyspace: str) -> str:
    """The 3-node cluster of `make test-cluster` (CASSANDRA_NODE_OFFSET moves it, as in cassandra.sh)."""
    offset = int(os.environ.get("CASSANDRA_NODE_OFFSET", "0"))
    hosts = ",".join(f"127.0.0.{offset + k}" for k in (1, 2, 3))
    return f"cassandra://{hosts}:9042/{keyspace}"
