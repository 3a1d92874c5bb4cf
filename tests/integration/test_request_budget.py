"""The service's per-request pixel budget and one-picture-at-a-time decoding (store: the fake)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fashion_classifier.inference import Classifier
from fashion_classifier.preprocessing import BIG_PICTURE_PIXELS, ImageTooLarge
from fashion_classifier.service import Limits, PredictionService, Upload
from tests.fakes import MemoryStore
from tests.pictures import encode, product_photo


def test_a_request_over_its_pixel_budget_is_refused_whole_and_nothing_is_kept(
    classifier: Classifier,
) -> None:
    store = MemoryStore()
    service = PredictionService(classifier, store, limits=Limits(max_request_pixels=1_000_000))
    photos = [Upload(f"photo{n}.jpg", product_photo(n, size=(640, 480))) for n in range(4)]  # 1.2 Mpx
    with pytest.raises(ImageTooLarge, match="add up to 1 megapixels"):
        service.classify(photos)
    assert store.records == {}
    assert len(service.classify(photos[:3])) == 3  # 0.9 Mpx: within the budget


@pytest.mark.parametrize("mode", ["RGBA", "I;16", "P", "RGB"])
def test_a_big_picture_keeps_its_size_and_is_stored_shrunk(classifier: Classifier, mode: str) -> None:
    side = 2100  # 4.4 Mpx: above BIG_PICTURE_PIXELS, so shrunk right after decoding
    assert side * side > BIG_PICTURE_PIXELS
    picture = Image.new("RGB", (side, side), "white")
    picture.paste((30, 30, 30), (500, 300, 1600, 1900))  # a dark garment-like block
    converted = picture.convert("I") if mode == "I;16" else picture.convert(mode)
    data = encode(converted.convert("I;16") if mode == "I;16" else converted)
    store = MemoryStore()
    (record,) = PredictionService(classifier, store).classify([Upload("big.png", data)])
    assert (record.width, record.height) == (side, side)
    image = store.images[record.id]
    with Image.open(io.BytesIO(image.data)) as kept:
        assert max(kept.size) == 1024
