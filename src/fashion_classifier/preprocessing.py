"""Upload bytes -> checked picture -> the model's 1x28x28x1 float32 input.

Fashion-MNIST shows a light garment on black, its longer side filling the 28x28 frame. Real
uploads are product photos: dark or coloured garments on light backgrounds, any size, off-centre,
transparent cut-outs, phone pictures rotated by EXIF. We bring them to the data set's look.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fashion_classifier.config import DEFAULT_MAX_UPLOAD_BYTES, Limits

ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"})
DEFAULT_MAX_PIXELS = Limits().max_pixels
SIDE = 28  # the data set scales each garment's longer side to 28 px and centres the shorter one
EXIF_ORIENTATION = 0x0112
WORK_SIDE = 112  # analyse big photos at this size: enough for a bounding box, cheap
# Pictures above this many pixels are shrunk right after decoding (nothing downstream needs more
# than the stored copy's 1024 px), and only one of them is decoded at a time in a process: a
# 24-megapixel RGBA picture is 96 MB decoded, and four threads doing that at once would be 400.
BIG_PICTURE_PIXELS = 4_000_000
_BIG_DECODES = threading.Lock()
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L")
# EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class InvalidImage(ValueError):
    """The bytes are not a picture we accept; the message says why and what to send instead."""


class UnsupportedImageType(InvalidImage):
    """The content is not one of the allowed picture formats (whatever the file is called)."""


class ImageTooLarge(InvalidImage):
    """Too many bytes or too many pixels."""


@dataclass(frozen=True)
class CheckedImage:
    """A decoded, EXIF-upright picture with its original size."""

    image: Image.Image
    width: int
    height: int


def load_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    min_side: int = WORK_SIDE * 2,
    grey: bool = False,
) -> CheckedImage:
    """Decode upload bytes safely: size, format and pixel count are checked before the full decode.

    `min_side`: the largest side anything made from these pixels needs (JPEGs are decoded at the
    smallest DCT scale keeping both sides >= it; pictures over BIG_PICTURE_PIXELS are shrunk to it).
    `grey`: a JPEG's brightness only, all the model uses (colour is not even computed).
    """
    if not data:
        raise InvalidImage("the file is empty; choose a PNG, JPEG, WebP, GIF, BMP or TIFF picture")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"the file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    image = _open(data)
    orientation = _orientation(image)
    width, height = image.size
    if orientation in (5, 6, 7, 8):  # turned sideways
        width, height = height, width
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the picture is {width}x{height} pixels; the limit is {max_pixels / 1e6:.0f} megapixels"
        )
    if width * height <= BIG_PICTURE_PIXELS:
        return _decode(image, width, height, min_side, grey=grey)
    with _BIG_DECODES:
        return _decode_big(image, orientation, min_side, (width, height))


def pixel_count(data: bytes, *, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> int:
    """Pixels the picture would decode to, read from its header alone."""
    if not data:
        raise InvalidImage("the file is empty; choose a PNG, JPEG, WebP, GIF, BMP or TIFF picture")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"the file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    width, height = _open(data).size
    return width * height


def _open(data: bytes) -> Image.Image:
    """Read the header only; the format comes from the content, never from the file name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=sorted(ALLOWED_FORMATS))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageTooLarge(
            "the picture has too many pixels (over 89 megapixels); send a smaller picture"
        ) from None
    except UnidentifiedImageError:
        raise UnsupportedImageType(
            "the file is not a picture we can read; send a PNG, JPEG, WebP, GIF, BMP or TIFF image"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidImage(f"the picture's header is damaged ({exc}); save it again and retry") from None
    return image


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 = upright; 5-8 turn the picture sideways)."""
    try:
        if image.format == "PNG":
            # PngImageFile.getexif() decodes every pixel to look for an eXIf chunk after them:
            # that would decode a hostile picture before the pixel limit. Read an early one only.
            exif = Image.Exif()
            exif.load(image.info.get("exif", b""))
        else:
            exif = image.getexif()
        orientation = exif.get(EXIF_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError):
        orientation = 1  # unreadable EXIF: keep the stored orientation
    return orientation if isinstance(orientation, int) else 1


def _decode_big(image: Image.Image, orientation: int, min_side: int, size: tuple[int, int]) -> CheckedImage:
    """Decode, shrink to `min_side` at once (the full-size pixels are freed on return), turn upright."""
    with _decoding_errors():
        if image.format == "JPEG":
            image.draft(image.mode, (min_side, min_side))
        image.seek(0)
        image.load()
    small = shrink(image, min_side)
    del image
    if orientation in UPRIGHT:
        small = small.transpose(UPRIGHT[orientation])
    return CheckedImage(image=small, width=size[0], height=size[1])


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """A copy whose longer side is at most `max_side`, made without any full-size intermediate."""
    if image.mode in SIXTEEN_BIT_MODES:  # Pillow cannot resample these: every n-th pixel, then 8 bits
        step = max(1, max(image.size) // max_side)
        image = normalise_mode(Image.fromarray(np.ascontiguousarray(np.asarray(image)[::step, ::step])))
    if image.mode in ("1", "P"):  # no box reduction for these; as RGB(A) they are 3-4x bigger
        image = normalise_mode(image)
    factor = max(image.size) // max_side
    small = image.reduce(factor) if factor >= 2 else image.copy()
    small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return small


def _decode(image: Image.Image, width: int, height: int, min_side: int, *, grey: bool) -> CheckedImage:
    fmt = image.format or "unknown"
    with _decoding_errors():
        if fmt == "JPEG":
            # Decode at 1/2../1/8 scale straight from the DCT data: big photos cost little.
            image.draft("L" if grey else image.mode, (min_side, min_side))
        image.seek(0)  # animated pictures: the first frame
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # upright; no copy when already upright
    return CheckedImage(image=image, width=width, height=height)


@contextmanager
def _decoding_errors() -> Iterator[None]:
    """Decoding failures as InvalidImage / ImageTooLarge, with what to do about them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageTooLarge("the picture expands to too many pixels; send a smaller picture") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidImage(f"the picture is truncated or damaged ({exc}); save it again and retry") from None


def to_model_input(image: Image.Image) -> np.ndarray:
    """A picture -> float32 (1, 28, 28, 1) in [0, 1], light garment on black, centred."""
    grey = _to_grey(image)
    if grey.shape == (SIDE, SIDE) and _looks_like_dataset_image(grey):
        return (grey.astype(np.float32) / 255.0).reshape(1, SIDE, SIDE, 1)
    return _normalise_photo(grey).reshape(1, SIDE, SIDE, 1)


def preprocess_bytes(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    return to_model_input(load_image(data, max_pixels=max_pixels).image)


def normalise_mode(image: Image.Image) -> Image.Image:
    """Any decoded picture -> L, RGB or RGBA (8 bits per channel), keeping transparency."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16/32-bit grey: stretch to 8 bits (a plain convert would clip most values to white).
        wide = np.asarray(image, dtype=np.float32)  # float64 would be 8 bytes a pixel
        return Image.fromarray((wide / max(float(wide.max()), 1.0) * 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return image.convert("RGBA")
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


def _to_grey(image: Image.Image) -> np.ndarray:
    """Greyscale uint8; transparency is composited on white (cut-outs are product photos)."""
    image = normalise_mode(image)
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    image = image.convert("L")  # before shrinking: one channel to resample instead of three
    if max(image.size) > WORK_SIDE * 2:
        image.thumbnail((WORK_SIDE * 2, WORK_SIDE * 2), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def _looks_like_dataset_image(grey: np.ndarray) -> bool:
    """28x28 with a black border: already in the data set's form, leave it alone."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(border)) < 40


def _normalise_photo(grey: np.ndarray) -> np.ndarray:
    """Make the garment light on black, crop it to its bounding box, fit and centre it in 28x28."""
    foreground = _foreground(grey)
    mask = foreground > max(0.12 * float(foreground.max()), 8.0)
    if not mask.any():
        return np.zeros((SIDE, SIDE), dtype=np.float32)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = foreground[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _fit_and_centre(crop)


def _foreground(grey: np.ndarray) -> np.ndarray:
    """Distance from the background (read off the border), so any background becomes black."""
    values = grey.astype(np.float32)
    background = _background_plane(values)
    # On a light background the garment is the darker part; on a dark one, the lighter part.
    distance = background - values if float(background.mean()) >= 128 else values - background
    distance = np.clip(distance, 0, None)
    peak = float(np.percentile(distance, 99.5))
    if peak < 1.0:
        return distance
    return np.clip(distance * (255.0 / peak), 0, 255)


def _background_plane(values: np.ndarray) -> np.ndarray:
    """The background as a tilted plane fitted to the border pixels.

    Real photos are lit unevenly: a flat background tone turns one side of the picture into
    "garment". Border pixels far from a first fit (the garment touching the edge) are dropped
    before the second.
    """
    height, width = values.shape
    ys, xs = _border_coordinates(height, width)
    design = np.stack([np.ones(len(xs)), xs / width, ys / height], axis=1)
    target = values[ys, xs]
    spread = float(np.median(np.abs(target - np.median(target))))
    keep = np.abs(target - np.median(target)) <= max(3 * spread, 4.0)
    for _ in range(2):
        coef = np.linalg.lstsq(design[keep], target[keep], rcond=None)[0]
        residual = np.abs(target - design @ coef)
        keep = residual <= max(3 * float(np.median(residual)), 4.0)
    across = (coef[1] * np.arange(width) / width).astype(np.float32)
    down = (coef[0] + coef[2] * np.arange(height) / height).astype(np.float32)
    return down[:, None] + across[None, :]


def _border_coordinates(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """y and x of every border pixel, each once, in row-major order (as a boolean mask gives them)."""
    columns, rows = np.arange(width), np.arange(height)
    flat = np.concatenate([columns, (height - 1) * width + columns, rows * width, rows * width + width - 1])
    return np.divmod(np.unique(flat), width)


def _fit_and_centre(crop: np.ndarray) -> np.ndarray:
    height, width = crop.shape
    scale = SIDE / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = Image.fromarray(crop.astype(np.uint8)).resize(new_size, Image.Resampling.LANCZOS)
    patch = np.asarray(small, dtype=np.float32) / 255.0
    frame = np.zeros((SIDE, SIDE), dtype=np.float32)
    # An odd leftover pixel goes above / to the left, as in the data set.
    top, left = (SIDE - patch.shape[0] + 1) // 2, (SIDE - patch.shape[1] + 1) // 2
    frame[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return frame
