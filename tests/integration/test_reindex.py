"""`fashion-classifier reindex`: embeddings for pictures kept before they existed; resumable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fashion_classifier.inference import Classifier
from fashion_classifier.reindex import Progress, reindex
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.storage import PredictionStore, open_store
from fashion_classifier.storage.migrations import SIMILAR_VERSION
from tests.cassandra_node import ROOT
from tests.pictures import dataset_png

MAX_PIXELS = 24_000_000


@pytest.fixture
def old_store(tmp_path: Path, classifier: Classifier) -> PredictionStore:
    """Twelve uploads kept by a release before embeddings, then the schema migrated."""
    url = f"sqlite:///{tmp_path}/old.db"
    store = open_store(url)
    store.migrate(target=SIMILAR_VERSION - 1)
    service = PredictionService(classifier, store)
    service.classify([Upload(f"{i}.png", dataset_png(i)[0]) for i in range(12)])
    store.migrate()
    return open_store(url)  # a process started after the migration


def embedded(store: PredictionStore, version: str) -> set[object]:
    ids = [r.id for r in store.list(limit=100).records]
    return set(store.embedded(ids, model_version=version))


def test_reindex_embeds_every_kept_picture_once(old_store: PredictionStore, classifier: Classifier) -> None:
    assert embedded(old_store, classifier.version) == set()
    first = reindex(classifier, old_store, max_pixels=MAX_PIXELS, page_size=5)
    assert (first.total, first.seen, first.embedded, first.already, first.unreadable) == (12, 12, 12, 0, 0)
    assert len(embedded(old_store, classifier.version)) == 12
    again = reindex(classifier, old_store, max_pixels=MAX_PIXELS, page_size=5)
    assert (again.embedded, again.already) == (0, 12)
    # The reindexed records now answer similar queries of this model version.
    some = old_store.list(limit=1).records[0]
    vector = old_store.embedding(some.id, model_version=classifier.version)
    assert vector is not None
    assert old_store.similar(vector, model_version=classifier.version, limit=1)[0].record.id == some.id


def test_an_interrupted_reindex_continues_where_it_stopped(
    old_store: PredictionStore, classifier: Classifier
) -> None:
    def stop_after_first_page(progress: Progress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reindex(classifier, old_store, max_pixels=MAX_PIXELS, page_size=5, report=stop_after_first_page)
    assert len(embedded(old_store, classifier.version)) == 5
    rest = reindex(classifier, old_store, max_pixels=MAX_PIXELS, page_size=5)
    assert (rest.embedded, rest.already) == (7, 5)


def test_the_command_shows_progress_and_a_summary(tmp_path: Path, old_store: PredictionStore) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/old.db"}
    done = subprocess.run(
        [sys.executable, "-m", "fashion_classifier.cli", "reindex"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "12/12 records" in done.stderr  # the progress line
    assert "12 records embedded, 0 already were" in done.stdout
