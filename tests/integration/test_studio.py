"""Renderer B (training/studio.py): the photos the model card reports on must be the same each run."""

from __future__ import annotations

from fashion_classifier.training import studio
from tests.pictures import fmnist_test


def test_the_same_seed_shoots_the_same_photos_byte_for_byte() -> None:
    test = fmnist_test()
    first = studio.shoot_set(test.images, test.labels, per_kind=3, seed=7)
    again = studio.shoot_set(test.images, test.labels, per_kind=3, seed=7)
    assert [photo.data for photo in first] == [photo.data for photo in again]
    other = studio.shoot_set(test.images, test.labels, per_kind=3, seed=8)
    assert [photo.data for photo in first] != [photo.data for photo in other]
