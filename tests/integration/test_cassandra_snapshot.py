"""Cassandra's own backup: `nodetool snapshot` of the keyspace, restored into a fresh node.

The node-level path of docs/backup.md, through tools/cassandra/cassandra.sh (snapshot, restore):
the records, corrections, pictures and embeddings read back the same from the new node. It needs
the suite's node to be one the script started (nodetool reaches it over its local JMX port), and
starts a second, empty node beside it (CASSANDRA_NODE_OFFSET + 5) for the restore.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from fashion_classifier.config import Settings
from fashion_classifier.inference import Classifier
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.storage import open_store
from fashion_classifier.storage.transfer import open_for_copy
from tests.cassandra_node import ROOT, cassandra_test_url, run_script
from tests.pictures import dataset_png

pytestmark = pytest.mark.cassandra
OFFSET = int(os.environ.get("CASSANDRA_NODE_OFFSET", "0"))
FRESH_OFFSET = OFFSET + 5
RUN = ROOT / "tools" / "cassandra" / ("run" if OFFSET == 0 else f"run-offset{OFFSET}")


@pytest.fixture
def fresh_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty node of its own ('host:port'), wiped afterwards."""
    monkeypatch.setenv("CASSANDRA_NODE_OFFSET", str(FRESH_OFFSET))
    monkeypatch.setenv("CASSANDRA_HEAP", "512m")
    run_script("wipe")
    run_script("start")
    try:
        yield f"127.0.0.{FRESH_OFFSET + 1}:9042"
    finally:
        run_script("wipe")


def everything(url: str) -> list[tuple[object, ...]]:
    """Each record with its correction, picture and embeddings, as the store keeps them."""
    store = open_for_copy(url, Settings(), role="source")
    items, _ = store.export_records(after=None, limit=1000)
    store.close()
    return [(i.record, i.picture, i.embeddings) for i in sorted(items, key=lambda i: i.record.id)]


def test_a_snapshot_restored_into_a_fresh_node_holds_every_record(
    classifier: Classifier, fresh_node: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyspace = f"fc_snapshot_{uuid.uuid4().hex[:8]}"
    ours = cassandra_test_url(keyspace)
    store = open_store(ours)
    store.migrate()
    service = PredictionService(classifier, store)
    made = service.classify([Upload(f"{i}.png", dataset_png(i)[0]) for i in range(5)])
    service.correct(made[1].id, "Coat")
    store.close()

    monkeypatch.setenv("CASSANDRA_NODE_OFFSET", str(OFFSET))
    run_script("snapshot", keyspace, "before-restore")  # flushes, then hard-links every SSTable
    restored = f"cassandra://{fresh_node}/{keyspace}"
    open_store(restored).migrate()  # the same release makes the same tables on the new node
    monkeypatch.setenv("CASSANDRA_NODE_OFFSET", str(FRESH_OFFSET))
    run_script("restore", keyspace, "before-restore", str(RUN / "node1"))

    assert everything(restored) == everything(ours)
    new = open_store(restored)
    listed = new.list(limit=10).records
    assert [r.id for r in listed] == [r.id for r in reversed(made)]  # the feed too: newest first
    corrected = new.get(made[1].id)
    assert corrected is not None and corrected.corrected_label == "Coat"
    assert new.image(made[0].id) == open_store(ours).image(made[0].id)
