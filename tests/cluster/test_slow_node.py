"""A node that hangs (SIGSTOP: connections open, no answers) must not hold requests up.

Reads sent to it as coordinator are sent to a second coordinator after SPECULATE_AFTER_S
(speculative execution); a write that cannot finish (a logged batch waits for the hung node's
batchlog until gossip declares it down, ~10 s) ends at the store's deadline with
StoreUnavailable, which the web layer answers with 503 and Retry-After. Both tests fail if
speculative execution or the deadline is taken away.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from fashion_classifier.storage import PredictionStore, StoreUnavailable, open_store
from fashion_classifier.storage.cassandra_session import OPERATION_DEADLINE_S
from tests.cassandra_node import cluster_url, run_script
from tests.integration.test_store_contract import IMAGE, make_record

pytestmark = pytest.mark.cluster


@pytest.fixture
def store() -> Iterator[PredictionStore]:
    opened = open_store(
        cluster_url(f"fc_slow_{uuid.uuid4().hex[:8]}"),
        consistency="QUORUM",
        replication="NetworkTopologyStrategy:datacenter1=3",
    )
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def paused_node() -> Iterator[None]:
    run_script("pause", "2")
    try:
        yield
    finally:
        run_script("resume", "2")


def test_reads_go_around_a_hung_coordinator(store: PredictionStore) -> None:
    records = [make_record(timedelta(seconds=i), garment_score=0.7) for i in range(30)]
    for record in records:
        store.add(record, IMAGE)
    store.list(limit=5)  # every statement prepared while all nodes answer
    run_script("pause", "2")
    try:
        # Token-aware routing sends about a third of these to node 2 first.
        found = [store.get(record.id) for record in records]
        pages = [store.list(limit=5, garment=True) for _ in range(10)]
    finally:
        run_script("resume", "2")
    assert found == records
    assert all(len(page.records) == 5 for page in pages)


def test_a_write_that_cannot_finish_ends_at_the_deadline_with_a_retry_message(
    store: PredictionStore, paused_node: None
) -> None:
    with pytest.raises(StoreUnavailable, match=f"no answer within the {OPERATION_DEADLINE_S:.1f} s deadline"):
        for i in range(5):  # each is a logged batch: its batchlog waits for the hung node
            store.add(make_record(timedelta(seconds=i)), IMAGE)
