"""Product-style photos rendered from data-set garments, to measure the model on real-world looks.

Each garment of the test set is drawn in a colour on a light background, at a random size and
place, a little rotated, with sensor noise, saved as JPEG, PNG or WebP; some as transparent
cut-outs, some as phone pictures whose pixels are stored sideways with an EXIF orientation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

EXIF_ORIENTATION = 0x0112
# EXIF orientation -> how the camera stored the pixels (viewers undo it).
STORED_SIDEWAYS = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}


@dataclass(frozen=True)
class Photo:
    data: bytes
    label: int
    kind: str  # jpeg, png, webp, cutout, exif


def render(garment: np.ndarray, label: int, rng: np.random.Generator) -> Photo:
    """One photo of a 28x28 data-set garment (uint8, light on black)."""
    kind = str(rng.choice(["jpeg", "png", "webp", "cutout", "exif"], p=[0.35, 0.15, 0.15, 0.15, 0.2]))
    shade = _garment_layer(garment, rng)
    if kind == "cutout":
        return Photo(_save(_cutout(shade, rng), "PNG"), label, kind)
    picture = _on_background(shade, rng)
    if kind == "exif":
        return Photo(_save_with_orientation(picture, rng), label, kind)
    fmt = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[kind]
    return Photo(_save(picture, fmt, quality=int(rng.integers(70, 96))), label, kind)


def render_set(images: np.ndarray, labels: np.ndarray, *, count: int, seed: int = 7) -> list[Photo]:
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(labels), size=count, replace=False)
    return [render(images[i], int(labels[i]), rng) for i in picks]


def _garment_layer(garment: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """The garment's coverage (L), upscaled smoothly and slightly rotated."""
    side = int(rng.integers(120, 360))
    layer = Image.fromarray(garment).resize((side, side), Image.Resampling.BICUBIC)
    return layer.rotate(float(rng.uniform(-10, 10)), resample=Image.Resampling.BICUBIC, expand=True)


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A garment colour clearly darker than the background (any hue)."""
    colour = rng.uniform(0, 1, 3)
    return colour * rng.uniform(0.15, 0.65) / max(colour.max(), 1e-3) * 255


def _on_background(shade: Image.Image, rng: np.random.Generator) -> Image.Image:
    width, height = int(rng.integers(320, 800)), int(rng.integers(320, 800))
    side = max(shade.size)
    width, height = max(width, side + 20), max(height, side + 20)
    background = rng.uniform(215, 255, 3)
    canvas = np.ones((height, width, 3)) * background
    alpha = np.zeros((height, width))
    top, left = int(rng.integers(0, height - shade.size[1])), int(rng.integers(0, width - shade.size[0]))
    alpha[top : top + shade.size[1], left : left + shade.size[0]] = np.asarray(shade) / 255.0
    canvas = canvas * (1 - alpha[..., None]) + _colour(rng) * alpha[..., None]
    canvas += rng.normal(0, rng.uniform(1, 8), canvas.shape)
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")


def _cutout(shade: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A transparent-background product picture: colour where the garment is, alpha elsewhere."""
    coverage = np.asarray(shade, dtype=np.float64) / 255.0
    rgb = np.ones((*coverage.shape, 3)) * _colour(rng)
    alpha = np.clip(coverage * 3, 0, 1) * 255  # solid garment, soft edge
    shaded = rgb * (0.6 + 0.4 * coverage[..., None])
    rgba = np.dstack([np.clip(shaded, 0, 255), alpha]).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def _save_with_orientation(picture: Image.Image, rng: np.random.Generator) -> bytes:
    orientation = int(rng.choice(list(STORED_SIDEWAYS)))
    # Store the pixels the way a phone does; the EXIF tag tells viewers how to turn them back.
    stored = picture.transpose(STORED_SIDEWAYS[orientation])
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def _save(picture: Image.Image, fmt: str, *, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()
