"""The service: check every picture, classify, record; errors leave nothing behind."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fashion_classifier.labels import CLASSES
from fashion_classifier.preprocessing import InvalidImage, UnsupportedImageType
from fashion_classifier.service import BadRequest, PredictionService, RecordNotFound, Upload
from fashion_classifier.storage import StoreUnavailable
from tests.fakes import MemoryStore
from tests.pictures import dataset_png, first_of_class, product_photo


def test_a_data_set_picture_is_classified_and_recorded(
    service: PredictionService, store: MemoryStore
) -> None:
    png, label = dataset_png(first_of_class(9))  # an ankle boot
    (record,) = service.classify([Upload("boot.png", png)])
    assert record.label == CLASSES[label] == "Ankle boot"
    assert abs(sum(record.prediction.probabilities) - 1) < 1e-4
    assert record.model_version == service.model_version
    assert store.get(record.id) == record
    assert store.image(record.id) is not None


def test_several_files_keep_their_order(service: PredictionService) -> None:
    uploads = [Upload(f"{i}.png", dataset_png(first_of_class(i))[0]) for i in (1, 8, 7)]
    records = service.classify(uploads)
    assert [r.filename for r in records] == ["1.png", "8.png", "7.png"]
    assert [r.label for r in records] == ["Trouser", "Bag", "Sneaker"]
    assert len({r.id for r in records}) == 3


def test_one_bad_file_rejects_the_request_and_writes_nothing(
    service: PredictionService, store: MemoryStore
) -> None:
    good = Upload("ok.png", dataset_png(0)[0])
    bad = Upload("evil.png", b"<html><script>alert(1)</script></html>")
    with pytest.raises(UnsupportedImageType, match=r"evil\.png"):
        service.classify([good, bad])
    assert store.records == {}


def test_the_stored_copy_is_re_encoded_and_bounded(service: PredictionService, store: MemoryStore) -> None:
    (record,) = service.classify([Upload("photo.jpg", product_photo(0, size=(3000, 2000)))])
    stored = store.image(record.id)
    assert stored is not None and stored.content_type == "image/jpeg"
    assert max(Image.open(io.BytesIO(stored.data)).size) == 1024
    assert (record.width, record.height) == (3000, 2000)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_the_stored_copy_keeps_none_of_the_clients_metadata(
    service: PredictionService, store: MemoryStore, fmt: str
) -> None:
    # A phone photo small enough to be kept at its own size still loses its camera and GPS tags.
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0)}  # GPSInfo
    picture = io.BytesIO()
    Image.open(io.BytesIO(product_photo(0, size=(640, 480)))).save(picture, fmt, exif=exif.tobytes())
    (record,) = service.classify([Upload("phone.jpg", picture.getvalue())])
    stored = store.image(record.id)
    assert stored is not None
    kept = Image.open(io.BytesIO(stored.data))
    assert kept.size == (640, 480)
    assert dict(kept.getexif()) == {}
    assert b"SecretCam" not in stored.data


def test_file_names_are_kept_as_data_without_control_characters(service: PredictionService) -> None:
    name = "../../etc/passwd\x00<script>alert(1)</script>.png"
    (record,) = service.classify([Upload(name, dataset_png(0)[0])])
    assert record.filename == "../../etc/passwd<script>alert(1)</script>.png"


def test_no_files_and_too_many_files_are_bad_requests(service: PredictionService) -> None:
    with pytest.raises(BadRequest, match="no file"):
        service.classify([])
    with pytest.raises(BadRequest, match="at most 16"):
        service.classify([Upload("x.png", b"")] * 17)


def test_store_down_is_reported_not_swallowed(service: PredictionService, store: MemoryStore) -> None:
    store.down = True
    with pytest.raises(StoreUnavailable):
        service.classify([Upload("a.png", dataset_png(0)[0])])


def test_feedback_is_kept_and_unknown_classes_are_refused(service: PredictionService) -> None:
    (record,) = service.classify([Upload("a.png", dataset_png(0)[0])])
    assert service.correct(record.id, "Coat").corrected_label == "Coat"
    assert service.get(record.id).corrected_label == "Coat"
    with pytest.raises(BadRequest, match="unknown class"):
        service.correct(record.id, "Hat")


def test_unknown_records_are_not_found(service: PredictionService) -> None:
    import uuid

    with pytest.raises(RecordNotFound):
        service.get(uuid.uuid4())
    with pytest.raises(RecordNotFound):
        service.correct(uuid.uuid4(), "Coat")


def test_empty_upload_names_the_problem(service: PredictionService) -> None:
    with pytest.raises(InvalidImage, match="empty"):
        service.classify([Upload("nothing.png", b"")])


def test_history_rejects_bad_limits_and_classes(service: PredictionService) -> None:
    with pytest.raises(BadRequest):
        service.history(limit=0)
    with pytest.raises(BadRequest):
        service.history(limit=10, label="Hat")
