"""The randomised photo pipeline the model trains on: renderer A, the one we tune on.

Each training garment is staged the way real product photos look (lighting gradients,
textured or tinted backgrounds, vignetting, a shadow, colour casts, sensor noise, blur, JPEG,
any size and place, a little rotation, cut-outs), encoded as an upload would be, and sent
through the service's own preprocessing. The model thus learns from the preprocessing's real
mistakes instead of from the clean crops it was tuned to produce.

Accuracy on photos is reported on renderer B (training/studio.py), which shares no code with
this module nor with photos.py.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from fashion_classifier.preprocessing import preprocess_bytes


def staged_photo(garment: np.ndarray, rng: np.random.Generator) -> bytes:
    """One upload (bytes) of a 28x28 data-set garment (uint8, light on black)."""
    coverage = _garment_coverage(garment, rng)
    if rng.random() < 0.12:
        return _encode(_as_cutout(coverage, rng), "PNG", rng)
    height, width = _canvas_size(coverage.shape, rng)
    scene = _background(height, width, rng)
    top = int(rng.integers(0, height - coverage.shape[0] + 1))
    left = int(rng.integers(0, width - coverage.shape[1] + 1))
    alpha = np.zeros((height, width), np.float32)
    alpha[top : top + coverage.shape[0], left : left + coverage.shape[1]] = coverage
    if rng.random() < 0.5:
        scene = _drop_shadow(scene, alpha, rng)
    scene = (
        scene * (1 - alpha[..., None])
        + _garment_colours(coverage.shape, top, left, scene, rng) * alpha[..., None]
    )
    scene = _camera(scene, rng)
    fmt = str(rng.choice(["JPEG", "PNG", "WEBP"], p=[0.6, 0.2, 0.2]))
    return _encode(Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8), "RGB"), fmt, rng)


def model_inputs(images: np.ndarray, seed: int) -> np.ndarray:
    """(n, 28, 28) data-set garments -> (n, 28, 28) uint8 as the service would see their photos."""
    rng = np.random.default_rng(seed)
    out = np.empty(images.shape, np.uint8)
    for i, garment in enumerate(images):
        out[i] = np.round(preprocess_bytes(staged_photo(garment, rng))[0, ..., 0] * 255)
    return out


def _garment_coverage(garment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(48, 200))  # the preprocessing works at 224 px at most
    layer = Image.fromarray(garment).resize((side, side), Image.Resampling.BICUBIC)
    layer = layer.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BICUBIC, expand=True)
    return np.asarray(layer, np.float32) / 255.0


def _canvas_size(shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, int]:
    margin = rng.uniform(1.05, 2.2, 2)
    return int(shape[0] * margin[0]) + 4, int(shape[1] * margin[1]) + 4


def _background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Light or mid-tone paper, wall or table: tinted, lit unevenly, sometimes textured."""
    base = rng.uniform(150, 255) if rng.random() < 0.85 else rng.uniform(20, 90)
    tint = base * (1 + rng.normal(0, 0.06, 3))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy, xx = yy / height - 0.5, xx / width - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0, 0.35) * (np.cos(angle) * xx + np.sin(angle) * yy)
    if rng.random() < 0.5:  # vignetting
        light *= 1 - rng.uniform(0, 0.5) * (xx**2 + yy**2)
    scene = tint[None, None, :] * light[..., None]
    if rng.random() < 0.4:
        scene = scene + _texture(height, width, rng)[..., None]
    return scene


def _texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Low-frequency blotches or fine grain (wood, fabric, concrete)."""
    cells = int(rng.integers(3, 40))
    small = rng.normal(0, rng.uniform(3, 14), (cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(small, "F").resize((width, height), Image.Resampling.BICUBIC))


def _drop_shadow(scene: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dy, dx = (int(v) for v in rng.integers(-12, 13, 2))
    shadow = np.roll(alpha, (dy, dx), axis=(0, 1))
    blurred = Image.fromarray((shadow * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(float(rng.uniform(2, 10)))
    )
    darkness = rng.uniform(0.1, 0.45) * np.asarray(blurred, np.float32) / 255.0
    return scene * (1 - darkness[..., None])


def _garment_colours(
    shape: tuple[int, ...], top: int, left: int, scene: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A garment's colour for the whole canvas: plain, shaded or striped; mostly darker than the scene."""
    height, width = scene.shape[:2]
    background = float(scene.mean())
    hue = rng.uniform(0, 1, 3)
    hue = hue / max(float(hue.max()), 1e-3)
    brightness = rng.uniform(0.1, 0.7) if background > 120 else rng.uniform(0.6, 1.0)
    colour = np.ones((height, width, 3), np.float32) * hue * brightness * 255
    if rng.random() < 0.25:  # stripes or checks: patterned fabric
        period = int(rng.integers(4, 16))
        rows = (np.arange(height) // period) % 2
        colour *= (1 - 0.35 * rows)[:, None, None]
    if rng.random() < 0.5:  # knit, tweed, print: grain in the fabric itself
        grain = rng.normal(1, rng.uniform(0.05, 0.4), (height, width, 1)).astype(np.float32)
        colour *= np.clip(grain, 0.2, 1.8)
    return colour


def _camera(scene: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour cast, blur and sensor noise."""
    scene = scene * (1 + rng.normal(0, 0.05, 3))[None, None, :]
    if rng.random() < 0.4:
        radius = float(rng.uniform(0.5, 2.0))
        picture = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8), "RGB")
        scene = np.asarray(picture.filter(ImageFilter.GaussianBlur(radius)), np.float32)
    return scene + rng.normal(0, rng.uniform(0.5, 10), scene.shape).astype(np.float32)


def _as_cutout(coverage: np.ndarray, rng: np.random.Generator) -> Image.Image:
    colour = rng.uniform(0, 200, 3)
    rgb = np.ones((*coverage.shape, 3), np.float32) * colour * (0.5 + 0.5 * coverage[..., None])
    alpha = np.clip(coverage * rng.uniform(2, 5), 0, 1) * 255
    return Image.fromarray(np.dstack([rgb, alpha]).clip(0, 255).astype(np.uint8), "RGBA")


def _encode(picture: Image.Image, fmt: str, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    options = {"quality": int(rng.integers(55, 96))} if fmt in ("JPEG", "WEBP") else {}
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()
