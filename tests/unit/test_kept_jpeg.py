"""A JPEG kept as sent: the picture stays, none of the client's metadata does."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from fashion_classifier.inference import Classifier
from fashion_classifier.kept_jpeg import without_metadata
from fashion_classifier.service import PredictionService, Upload
from tests.fakes import MemoryStore
from tests.pictures import product_photo

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description GPSLatitude="48,51.5N"/></x:xmpmeta>'


def phone_photo(*, orientation: int = 1, progressive: bool = False) -> bytes:
    """A 640x480 JPEG carrying everything a phone or an editor adds about the picture and its maker."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0)}  # GPSInfo
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.open(io.BytesIO(product_photo(0))).save(
        out,
        "JPEG",
        quality=90,
        exif=exif.tobytes(),
        icc_profile=icc,
        comment=b"shot at 12 Secret Street",
        xmp=XMP,
        progressive=progressive,
    )
    return out.getvalue() + b"TRAILING-SECRET"


@pytest.mark.parametrize("progressive", [False, True])
def test_kept_bytes_show_the_same_picture_without_any_metadata(progressive: bool) -> None:
    sent = phone_photo(progressive=progressive)
    kept = without_metadata(sent, max_side=1024)
    assert kept is not None and len(kept) < len(sent)
    for secret in (b"SecretCam", b"Secret Street", b"GPSLatitude", b"TRAILING", b"Exif", b"ICC_PROFILE"):
        assert secret not in kept
    picture = Image.open(io.BytesIO(kept))
    assert picture.size == (640, 480)
    assert dict(picture.getexif()) == {} and "icc_profile" not in picture.info and "xmp" not in picture.info
    assert "comment" not in picture.info
    original = np.asarray(Image.open(io.BytesIO(sent)).convert("RGB"), dtype=int)
    assert np.array_equal(np.asarray(picture.convert("RGB"), dtype=int), original)


def test_pictures_that_need_their_metadata_or_are_too_big_are_refused() -> None:
    assert without_metadata(phone_photo(orientation=6), max_side=1024) is None  # turned by EXIF
    assert without_metadata(product_photo(0, size=(2000, 1000)), max_side=1024) is None
    cmyk = io.BytesIO()
    Image.open(io.BytesIO(product_photo(0))).convert("CMYK").save(cmyk, "JPEG")
    assert without_metadata(cmyk.getvalue(), max_side=1024) is None
    assert without_metadata(product_photo(0, fmt="PNG"), max_side=1024) is None
    assert without_metadata(phone_photo()[:5000], max_side=1024) is None  # cut short


def test_the_service_keeps_a_rotated_phone_photo_upright_and_re_encoded(classifier: Classifier) -> None:
    store = MemoryStore()
    service = PredictionService(classifier, store)
    (record,) = service.classify([Upload("phone.jpg", phone_photo(orientation=6))])
    stored = store.image(record.id)
    assert stored is not None and b"SecretCam" not in stored.data
    assert Image.open(io.BytesIO(stored.data)).size == (480, 640)
    assert (record.width, record.height) == (480, 640)
