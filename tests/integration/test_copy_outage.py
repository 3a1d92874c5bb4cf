"""A Cassandra source that goes away in the middle of `copy`: a clear error, a target without
half-written records, and the same command finishing the copy once the node is back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from fashion_classifier import copying
from fashion_classifier.config import Settings
from fashion_classifier.copying import Checkpoint, Progress, copy, verify
from fashion_classifier.inference import Classifier
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.storage import StoreUnavailable, open_store
from fashion_classifier.storage.transfer import open_for_copy
from tests.cassandra_node import cassandra_test_url, run_script
from tests.pictures import dataset_png

pytestmark = pytest.mark.cassandra


def test_the_node_going_down_mid_copy_stops_it_cleanly_and_a_rerun_finishes(
    tmp_path: Path, classifier: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copying, "RETRY_PAUSE_S", 0.2)  # give up after ~4 s, not ~40
    cluster = cassandra_test_url(f"fc_copy_down_{uuid.uuid4().hex[:8]}")
    store = open_store(cluster)
    store.migrate()
    service = PredictionService(classifier, store)
    for start in (0, 4):
        service.classify([Upload(f"{i}.png", dataset_png(i)[0]) for i in range(start, start + 4)])
    store.close()
    backup = f"sqlite:///{tmp_path}/backup.db"
    open_store(backup).migrate()
    checkpoint = Checkpoint.for_pair(cluster, backup, tmp_path / "checkpoint.json")

    def stop_the_node_after_the_first_page(progress: Progress) -> None:
        if progress.seen == 3:
            run_script("stop")

    source, target = (
        open_for_copy(cluster, Settings(), role="source"),
        open_for_copy(backup, Settings(), role="target"),
    )
    try:
        with pytest.raises(
            StoreUnavailable, match="the copy stopped after 3 records: run the same command again"
        ):
            copy(
                source, target, checkpoint=checkpoint, page_size=3, report=stop_the_node_after_the_first_page
            )
    finally:
        run_script("start")
        source.close()
    kept = open_store(backup)
    halfway = kept.list(limit=100).records
    assert len(halfway) == 3 and all(kept.image(record.id) is not None for record in halfway)
    assert checkpoint.path.exists()

    source = open_for_copy(cluster, Settings(), role="source")
    (finished, _) = copy(source, target, checkpoint=checkpoint, page_size=3)  # records, model versions
    assert (finished.seen, finished.written, finished.skipped) == (8, 8, 0)
    (checked, _) = verify(source, target)
    assert (checked.unchanged, checked.skipped) == (8, 0)
    source.close()
    target.close()
