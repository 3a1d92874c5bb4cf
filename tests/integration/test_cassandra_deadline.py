"""A Cassandra node that stops answering (connection open, nothing comes back) must not hang uploads.

The store reaches the real node through a small TCP relay that the test can freeze: requests
then go unanswered, as with a hung or overloaded node. The operation must end with
StoreUnavailable naming the deadline (a 503 with Retry-After for the user), not wait for the
driver's connection heartbeat or the kernel. The 3-node behaviour (speculative execution to a
second coordinator) is tests/cluster/test_slow_node.py.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator

import pytest

from fashion_classifier.storage import PredictionStore, StoreUnavailable, open_store
from fashion_classifier.storage.cassandra_session import (
    OPERATION_DEADLINE_S,
    SPECULATE_AFTER_S,
    SPECULATIVE_ATTEMPTS,
    new_cluster,
)
from tests.cassandra_node import ensure_node
from tests.integration.test_store_contract import IMAGE, make_record

pytestmark = pytest.mark.cassandra


class Relay(threading.Thread):
    """Forwards TCP connections on a free local port to the node; `frozen` swallows client bytes."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]

    def run(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if not (from_client and self.frozen.is_set()):
                    sink.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def relay() -> Iterator[Relay]:
    host, _, port = ensure_node().split(",")[0].partition(":")
    running = Relay((host, int(port or 9042)))
    running.start()
    yield running
    running.close()


@pytest.fixture
def store(relay: Relay) -> Iterator[PredictionStore]:
    opened = open_store(f"cassandra://127.0.0.1:{relay.port}/fc_deadline_{uuid.uuid4().hex[:8]}")
    opened.migrate()
    yield opened
    opened.close()


def test_a_node_that_stops_answering_gets_a_deadline_error_not_a_hang(
    store: PredictionStore, relay: Relay
) -> None:
    record = make_record()
    store.add(record, IMAGE)
    assert store.get(record.id) == record  # statements prepared while the node answers
    assert store.list(limit=5).records == [record]
    relay.frozen.set()
    with pytest.raises(StoreUnavailable, match=f"no answer within the {OPERATION_DEADLINE_S:.1f} s deadline"):
        store.add(make_record(), IMAGE)
    with pytest.raises(StoreUnavailable, match="deadline"):
        store.get(record.id)
    with pytest.raises(StoreUnavailable, match="deadline"):
        store.list(limit=5)


def test_slow_statements_are_sent_to_another_coordinator_before_the_deadline() -> None:
    """The driver setting behind tests/cluster/test_slow_node.py, checked without a cluster."""
    profile = new_cluster(["127.0.0.1"], 9042, 4).profile_manager.default
    policy = profile.speculative_execution_policy
    plan = policy.new_plan("keyspace", None)
    delays = [plan.next_execution(None) for _ in range(SPECULATIVE_ATTEMPTS + 1)]
    assert delays == [SPECULATE_AFTER_S] * SPECULATIVE_ATTEMPTS + [-1]
    assert SPECULATE_AFTER_S * SPECULATIVE_ATTEMPTS < OPERATION_DEADLINE_S
    assert profile.request_timeout <= OPERATION_DEADLINE_S
