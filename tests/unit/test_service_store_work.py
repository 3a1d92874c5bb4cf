"""The service opened for store work only (migrate, feedback export): no model needed."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import pytest
from PIL import Image

from fashion_classifier.records import Prediction, Record, StoredImage
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.storage import LATEST_VERSION
from tests.fakes import MemoryStore

PICTURE = StoredImage(b"jpeg bytes", "image/jpeg")


def record(label: str = "Coat") -> Record:
    return Record(
        id=uuid.uuid4(),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        filename="coat.jpg",
        prediction=Prediction(label, tuple([0.1] * 10)),
        model_version="test",
        width=10,
        height=10,
    )


def test_a_new_store_is_migrated_and_an_existing_one_left_alone() -> None:
    store = MemoryStore()
    store.version = 0
    service = PredictionService(None, store)
    assert service.migrate(only_if_new=True) != []
    assert service.schema_version() == LATEST_VERSION
    assert service.migrate(only_if_new=True) == []


def test_only_corrected_records_are_exported_with_their_pictures() -> None:
    store = MemoryStore()
    kept, ignored = record(), record()
    store.add_many([(kept, PICTURE), (ignored, PICTURE)])
    store.set_correction(kept.id, "Dress")
    exported = list(PredictionService(None, store).corrected_pictures())
    assert [(r.id, r.corrected_label, image) for r, image in exported] == [(kept.id, "Dress", PICTURE)]


def test_a_service_without_its_model_says_so_instead_of_classifying() -> None:
    png = io.BytesIO()
    Image.new("L", (28, 28)).save(png, format="PNG")
    store = MemoryStore()
    with pytest.raises(RuntimeError, match="without its model"):
        PredictionService(None, store).classify([Upload("a.png", png.getvalue())])
    assert store.records == {}


def test_a_worker_starts_while_its_store_is_down_and_connects_when_it_is_up() -> None:
    store = MemoryStore()
    store.down = True
    service = PredictionService(None, store)
    service.warm_up()  # logs, does not raise: the worker must boot and answer 503 until the store is up
    store.down = False
    service.warm_up()
    service.check_ready()
