"""Pictures for tests, made in memory: data-set images, product-style photos, hostile files."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_classifier.training import data


@functools.cache
def fmnist_test() -> data.Split:
    """The real Fashion-MNIST test set (dataset-fashion-mnist, installed by make test)."""
    return data.load().test


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def dataset_png(index: int) -> tuple[bytes, int]:
    """Test image `index` saved as a 28x28 PNG, with its true label."""
    split = fmnist_test()
    return encode(Image.fromarray(split.images[index])), int(split.labels[index])


def first_of_class(label: int) -> int:
    return int(np.flatnonzero(fmnist_test().labels == label)[0])


def product_photo(index: int, *, size: tuple[int, int] = (640, 480), fmt: str = "JPEG") -> bytes:
    """A dark garment on a light background, off-centre in a bigger frame."""
    garment = Image.fromarray(255 - fmnist_test().images[index]).resize((300, 300), Image.Resampling.BICUBIC)
    canvas = Image.new("L", size, 255)
    canvas.paste(garment, (size[0] - 340, 60))
    return encode(canvas.convert("RGB"), fmt)


def not_a_garment() -> bytes:
    """A scanned page of text (scikit-image's sample "page"), from no source the model trained on."""
    import skimage

    return (Path(skimage.__file__).parent / "data" / "page.png").read_bytes()
