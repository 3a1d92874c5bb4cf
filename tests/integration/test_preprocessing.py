"""From upload bytes to the model's input: real pictures in, data-set-like 28x28 out."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageFile

from fashion_classifier.preprocessing import (
    ImageTooLarge,
    InvalidImage,
    UnsupportedImageType,
    load_image,
    preprocess_bytes,
)
from tests.pictures import encode, fmnist_test, product_photo


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def dataset_image(index: int) -> np.ndarray:
    return fmnist_test().images[index].astype(np.float32) / 255.0


def test_dataset_png_comes_through_unchanged() -> None:
    image = fmnist_test().images[0]
    result = preprocess_bytes(encode(Image.fromarray(image)))
    assert result.shape == (1, 28, 28, 1)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result[0, :, :, 0], image / 255.0, atol=1e-6)


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4])
def test_dark_garment_on_light_background_looks_like_the_dataset(index: int) -> None:
    result = preprocess_bytes(product_photo(index))[0, :, :, 0]
    assert similarity(result, dataset_image(index)) > 0.9


def test_transparent_cutout_is_composited_on_white() -> None:
    garment = fmnist_test().images[5]
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[..., :3] = 40  # a dark garment colour everywhere...
    rgba[..., 3] = np.asarray(Image.fromarray(garment).resize((280, 280)))  # ...visible where the garment is
    result = preprocess_bytes(encode(Image.fromarray(rgba, "RGBA")))[0, :, :, 0]
    assert similarity(result, dataset_image(5)) > 0.8


def test_exif_rotated_phone_picture_is_turned_upright() -> None:
    upright = Image.open(io.BytesIO(product_photo(7)))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # how a phone held sideways stores it
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = encode(stored, "JPEG", exif=exif.tobytes())
    checked = load_image(rotated)
    assert (checked.width, checked.height) == upright.size  # 640x480 as the person sees it
    assert similarity(preprocess_bytes(rotated), preprocess_bytes(product_photo(7))) > 0.95


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (5000, 4000)])
def test_tiny_and_huge_pictures_are_accepted(size: tuple[int, int]) -> None:
    picture = Image.new("RGB", size, (250, 250, 250))
    picture.paste((20, 20, 20), (size[0] // 4, size[1] // 4, max(size[0] // 2, 1), max(size[1] // 2, 1)))
    result = preprocess_bytes(encode(picture, "JPEG"))
    assert result.shape == (1, 28, 28, 1)
    assert np.isfinite(result).all()


@pytest.mark.parametrize(
    "mode",
    ["CMYK", "P", "I;16", "LA", "1"],
)
def test_unusual_pixel_formats_are_read(mode: str) -> None:
    base = Image.fromarray(255 - np.asarray(Image.fromarray(fmnist_test().images[3]).resize((112, 112))))
    picture = (
        base.convert("I").point(lambda v: v * 256).convert("I;16") if mode == "I;16" else base.convert(mode)
    )
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "1" else "PNG")
    result = preprocess_bytes(encode(picture, fmt))[0, :, :, 0]
    assert similarity(result, dataset_image(3)) > 0.7


def test_animated_gif_uses_its_first_frame() -> None:
    frames = [Image.fromarray(fmnist_test().images[i]).convert("P") for i in (10, 11)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    result = preprocess_bytes(buffer.getvalue())[0, :, :, 0]
    assert similarity(result, dataset_image(10)) > 0.9


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.png", b"not really")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        b"<!doctype html><html><body><script>alert(1)</script></body></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF",
        zip_bytes(),
        bytes(range(256)) * 8,
    ],
    ids=["html", "svg", "pdf", "zip", "noise"],
)
def test_non_pictures_are_refused_by_content(content: bytes) -> None:
    with pytest.raises(UnsupportedImageType, match="not a picture"):
        load_image(content)


def test_empty_file_is_refused() -> None:
    with pytest.raises(InvalidImage, match="empty"):
        load_image(b"")


def test_truncated_picture_is_refused() -> None:
    whole = product_photo(0, fmt="PNG")
    with pytest.raises(InvalidImage, match=r"truncated|damaged"):
        load_image(whole[: len(whole) // 2])


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = encode(Image.new("L", (10_000, 10_000)), "PNG")  # ~100 KB that expands to 100 megapixels
    assert len(bomb) < 200_000
    with pytest.raises(ImageTooLarge, match="megapixels"):
        load_image(bomb)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_too_many_pixels_is_refused_without_decoding(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # 25 megapixels: over our limit (24), under Pillow's own bomb check (89), so ours must catch it.
    picture = encode(Image.new("RGB", (5_000, 5_000), (250, 250, 250)), fmt)

    def decoding(*args: object) -> None:
        raise AssertionError("the pixels were decoded before the pixel limit was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decoding)
    with pytest.raises(ImageTooLarge, match="5000x5000 pixels"):
        load_image(picture)


def test_too_many_bytes_is_refused() -> None:
    with pytest.raises(ImageTooLarge, match="MB"):
        load_image(b"\x89PNG" + b"\0" * 2_000, max_bytes=1_000)
