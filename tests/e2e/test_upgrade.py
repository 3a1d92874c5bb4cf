"""Upgrading a live store: `fashion-classifier migrate` runs while a real server takes uploads."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fashion_classifier.inference import Classifier
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.storage import open_store
from fashion_classifier.storage.migrations import VersionCache
from tests.cassandra_node import cassandra_test_url
from tests.e2e.conftest import Server, launch_server, migrate, stop_server, wait_until_ready
from tests.fakes import MemoryStore
from tests.integration.test_migrations import create_schema_of_main
from tests.pictures import dataset_png


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/upgrade.db"
    return cassandra_test_url(f"fc_upgrade_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def old_server(url: str, tmp_path: Path) -> Iterator[Server]:
    """A server on a store whose schema is that of the release before migrations."""
    create_schema_of_main(url)
    server = launch_server(url, tmp_path / "server.log")
    assert wait_until_ready(server, seconds=120), server.logs()
    yield server
    stop_server(server)


def upload(server: Server, index: int) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/predictions",
        files={"file": (f"picture{index}.png", dataset_png(index)[0], "image/png")},
        timeout=60,
    )


def history_ids(server: Server) -> set[str]:
    ids: set[str] = set()
    cursor = ""
    while True:
        answer = requests.get(f"{server.url}/api/v1/predictions?limit=100&cursor={cursor}", timeout=60)
        assert answer.status_code == 200, answer.text[:300]
        ids |= {p["id"] for p in answer.json()["predictions"]}
        cursor = answer.json()["next_cursor"]
        if not cursor:
            return ids


class Traffic(threading.Thread):
    """Uploads and history reads, one after another, until stopped; keeps every non-2xx answer."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server, self.stop = server, threading.Event()
        self.answers: list[int] = []

    def run(self) -> None:
        index = 100
        while not self.stop.is_set():
            index += 1
            self.answers.append(upload(self.server, index).status_code)
            listing = requests.get(f"{self.server.url}/api/v1/predictions?limit=5", timeout=60)
            self.answers.append(listing.status_code)


def test_migrating_under_load_fails_no_request_and_keeps_old_records(
    url: str, old_server: Server, classifier: Classifier
) -> None:
    old_ids = [upload(old_server, i).json()["predictions"][0]["id"] for i in range(4)]
    traffic = [Traffic(old_server) for _ in range(2)]
    for thread in traffic:
        thread.start()
    output = migrate(url)
    time.sleep(VersionCache().ttl_s + 2)  # the server re-reads the schema version this often
    for thread in traffic:
        thread.stop.set()
        thread.join(timeout=120)
    new_ids = [upload(old_server, i).json()["predictions"][0]["id"] for i in range(4)]

    answers = [status for thread in traffic for status in thread.answers]
    assert "applied migration 2 garment verdict" in output
    assert len(answers) > 4 and {*answers} <= {200, 201}, answers
    assert set(old_ids) <= history_ids(old_server)

    store = open_store(url, consistency="ONE")
    # The service's own verdict for each picture (None until the model gives one).
    expected = PredictionService(classifier, MemoryStore()).classify(
        [Upload(f"picture{i}.png", dataset_png(i)[0]) for i in range(4)]
    )
    for record_id in old_ids:
        assert store.get(uuid.UUID(record_id)).prediction.garment_score is None  # type: ignore[union-attr]
    for record_id, want in zip(new_ids, expected, strict=True):
        kept = store.get(uuid.UUID(record_id)).prediction  # type: ignore[union-attr]
        assert kept.is_garment == want.prediction.is_garment
        assert kept.garment_score == pytest.approx(want.prediction.garment_score)
    store.close()
