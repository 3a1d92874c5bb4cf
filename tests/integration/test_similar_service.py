"""The service's similar-picture search over the store interface (the in-memory fake)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from fashion_classifier.service import BadRequest, PredictionService, RecordNotFound, Upload
from tests.fakes import MemoryStore
from tests.pictures import dataset_png, first_of_class


def test_every_upload_is_kept_with_its_unit_length_embedding(
    service: PredictionService, store: MemoryStore
) -> None:
    (record,) = service.classify([Upload("boot.png", dataset_png(first_of_class(9))[0])])
    vector = store.embeddings[(record.id, service.model_version)]
    assert len(vector) == 256
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_similar_leaves_out_the_record_itself_and_finds_its_kind_first(service: PredictionService) -> None:
    bag, boot, other_bag = service.classify(
        [Upload(f"{i}.png", dataset_png(i)[0]) for i in (first_of_class(8), first_of_class(9), 30)]
    )
    assert other_bag.label == "Bag"
    found = service.similar(bag.id, limit=5)
    assert [n.record.id for n in found] == [other_bag.id, boot.id]


@pytest.mark.parametrize("limit", [0, 51])
def test_a_limit_outside_1_to_50_is_a_bad_request(service: PredictionService, limit: int) -> None:
    with pytest.raises(BadRequest, match="between 1 and 50"):
        service.similar(uuid.uuid4(), limit=limit)


def test_similar_to_an_unknown_record_is_not_found(service: PredictionService) -> None:
    with pytest.raises(RecordNotFound):
        service.similar(uuid.uuid4(), limit=3)


def test_search_keeps_nothing(service: PredictionService, store: MemoryStore) -> None:
    (kept,) = service.classify([Upload("bag.png", dataset_png(first_of_class(8))[0])])
    found = service.search(Upload("query.png", dataset_png(30)[0]), limit=3)
    assert [n.record.id for n in found] == [kept.id]
    assert list(store.records) == [kept.id]
