"""A node that hangs (SIGSTOP: connections open, no answers) must not hold requests up.

Requests sent to it as coordinator are sent to a second coordinator after SPECULATE_AFTER_S
(speculative execution). An upload's logged batch waits for the hung node (its batchlog goes to
both other nodes) until gossip declares it down, ~10 s: after BATCHLOG_WAIT_S the store writes
the same rows one by one, which QUORUM of the live replicas acknowledges. The read test fails
without speculative execution; the write test without that fallback.

The reads run at consistency ONE so that only the coordinator is tested: at QUORUM a
coordinator may also pick the hung node as its second replica and wait on it, which is the
server's speculative_retry to handle, not the driver's (docs/failover.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from fashion_classifier.storage import PredictionStore, open_store
from tests.cassandra_node import cluster_url, run_script
from tests.integration.test_store_contract import IMAGE, make_record

pytestmark = pytest.mark.cluster


@pytest.fixture
def url() -> str:
    return cluster_url(f"fc_slow_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def store(url: str) -> Iterator[PredictionStore]:
    opened = open_store(url, consistency="QUORUM", replication="NetworkTopologyStrategy:datacenter1=3")
    opened.migrate()
    yield opened
    opened.close()


def test_reads_go_around_a_hung_coordinator(url: str, store: PredictionStore) -> None:
    records = [make_record(timedelta(seconds=i), garment_score=0.7) for i in range(30)]
    for record in records:
        store.add(record, IMAGE)
    reader = open_store(url, consistency="ONE")
    assert reader.get(records[0].id) == records[0]  # statements prepared while all nodes answer
    assert len(reader.list(limit=5, garment=True).records) == 5
    run_script("pause", "2")
    try:
        # Token-aware routing sends about a third of these to node 2 first.
        found = [reader.get(record.id) for record in records]
        pages = [reader.list(limit=5, garment=True) for _ in range(10)]
    finally:
        run_script("resume", "2")
        reader.close()
    assert found == records
    assert all(len(page.records) == 5 for page in pages)


def test_writes_go_around_a_hung_node(store: PredictionStore) -> None:
    """Its logged batch waits for the hung node's batchlog: the rows are then written one by one."""
    store.add(make_record(timedelta(hours=-1)), IMAGE)  # statements prepared while all nodes answer
    records = [make_record(timedelta(seconds=i)) for i in range(10)]
    run_script("pause", "2")
    try:
        for record in records:
            store.add(record, IMAGE)
        listed = store.list(limit=20, label="Coat")
    finally:
        run_script("resume", "2")
    assert {r.id for r in records} <= {r.id for r in listed.records}
