"""Cassandra connection settings: the URL, the driver's cluster object and its policies."""

from __future__ import annotations

import random
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import (
    ConstantReconnectionPolicy,
    ConstantSpeculativeExecutionPolicy,
    DCAwareRoundRobinPolicy,
    LoadBalancingPolicy,
    TokenAwarePolicy,
    WrapperPolicy,
)

KEYSPACE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,47}$")
# A statement not answered after this long is sent to a second coordinator as well (all ours
# are idempotent); the first answer wins. Far above a healthy answer (docs/failover.md: p99 of
# a whole upload without a kill), far below the ~20 s a dead node takes to be declared down.
SPECULATE_AFTER_S = 0.25
SPECULATIVE_ATTEMPTS = 2  # up to three coordinators: with RF 3 one of them is alive
# One store operation (an upload's writes, a page of history) gets this long in all, retries
# included; past it the caller gets StoreUnavailable (a 503 with Retry-After), never a hang.
OPERATION_DEADLINE_S = 1.5
# A node that has just come back is cold (JIT, caches) and busy taking the hints of its downtime:
# as first coordinator it answered slowly for ~30 s in docs/failover.md. It is given a growing
# share of first places over this long instead of its full share at once.
WARM_UP_S = 60.0
# Preparing a statement (first use in a process) waits this long for one node, then asks the
# next: the driver's own 10 s, spent on a hung node, used to eat the whole operation's deadline.
PREPARE_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Address:
    hosts: list[str]
    port: int
    keyspace: str


def parse_url(url: str) -> Address:
    """cassandra://host1,host2:9042/keyspace (port defaults to 9042, keyspace to fashion_classifier)."""
    rest = url.removeprefix("cassandra://")
    hosts_part, _, keyspace = rest.partition("/")
    port = 9042
    if ":" in hosts_part:
        hosts_part, _, port_text = hosts_part.rpartition(":")
        port = int(port_text)
    hosts = [h for h in hosts_part.split(",") if h]
    if not hosts:
        raise ValueError(f"DATABASE_URL {url!r}: expected cassandra://host1,host2:9042/keyspace")
    return Address(hosts, port, keyspace or "fashion_classifier")


class SlowStart(WrapperPolicy):
    """Query plans that put a node which came up less than `warm_up_s` ago last, less often as it warms.

    The python driver sends a node its full share of requests as soon as its port answers (the
    Java driver 4 moves a replica up for less than a minute to the back of most plans). Here the
    chance of being moved back falls from 1 to 0 over `warm_up_s`: enough requests to warm it.
    """

    def __init__(
        self,
        child: LoadBalancingPolicy,
        *,
        warm_up_s: float = WARM_UP_S,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(child)
        self.warm_up_s, self._clock, self._draw = warm_up_s, clock, draw
        self._up_since: dict[Any, float] = {}

    def on_up(self, host: Any) -> None:
        self._up_since[host] = self._clock()
        self._child_policy.on_up(host)

    def on_down(self, host: Any) -> None:
        self._up_since.pop(host, None)
        self._child_policy.on_down(host)

    def make_query_plan(self, working_keyspace: Any = None, query: Any = None) -> Iterable[Any]:
        plan = list(self._child_policy.make_query_plan(working_keyspace, query))
        if not self._up_since:
            return plan
        cold = [host for host in plan if self._kept_back(host)]
        return [host for host in plan if host not in cold] + cold

    def _kept_back(self, host: Any) -> bool:
        since = self._up_since.get(host)
        if since is None:
            return False
        warmed = (self._clock() - since) / self.warm_up_s
        if warmed >= 1:
            self._up_since.pop(host, None)
            return False
        return self._draw() >= warmed


def new_cluster(hosts: list[str], port: int, consistency: int) -> Cluster:
    """The driver's Cluster with our policies; connect() it to get a session."""
    profile = ExecutionProfile(
        load_balancing_policy=SlowStart(TokenAwarePolicy(DCAwareRoundRobinPolicy())),
        consistency_level=consistency,
        request_timeout=OPERATION_DEADLINE_S,
        speculative_execution_policy=ConstantSpeculativeExecutionPolicy(
            SPECULATE_AFTER_S, SPECULATIVE_ATTEMPTS
        ),
    )
    return Cluster(
        hosts,
        port=port,
        protocol_version=5,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        reconnection_policy=ConstantReconnectionPolicy(1.0, max_attempts=None),
        connect_timeout=5,
        control_connection_timeout=5,
        idle_heartbeat_interval=5,
        # Prepared on the node asked only, not on all (and so not waiting for a hung one); any
        # other node that lacks it gets it prepared with the first request it is sent.
        prepare_on_all_hosts=False,
        # After DDL, the driver itself waits this long for the nodes to agree on the schema.
        max_schema_agreement_wait=30,
        # Without it, Nagle's algorithm meets the server's delayed ACK whenever a request
        # spans several packets (a stored picture): bench/service.py measured 59 ms instead of 7.
        sockopts=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )


def replication_map(text: str) -> dict[str, Any]:
    """'SimpleStrategy:1' or 'NetworkTopologyStrategy:dc1=3,dc2=3' -> CQL replication options."""
    strategy, _, options = text.partition(":")
    if strategy == "SimpleStrategy" and options.isdigit():
        return {"class": "SimpleStrategy", "replication_factor": int(options)}
    if strategy == "NetworkTopologyStrategy" and options:
        pairs = [item.split("=", 1) for item in options.split(",")]
        if all(len(p) == 2 and KEYSPACE_NAME.match(p[0]) and p[1].isdigit() for p in pairs):
            return {"class": "NetworkTopologyStrategy", **{dc: int(rf) for dc, rf in pairs}}
    raise ValueError(
        f"CASSANDRA_REPLICATION={text!r}: use SimpleStrategy:<factor> or NetworkTopologyStrategy:<dc>=<factor>,..."
    )


def cql_map(options: dict[str, Any]) -> str:
    return "{" + ", ".join(f"'{key}': '{value}'" for key, value in options.items()) + "}"


def consistency_level(name: str) -> int:
    level = ConsistencyLevel.name_to_value.get(name.upper())
    if level is None:
        raise ValueError(f"CASSANDRA_CONSISTENCY={name!r}: use e.g. ONE, QUORUM or LOCAL_QUORUM")
    return int(level)
