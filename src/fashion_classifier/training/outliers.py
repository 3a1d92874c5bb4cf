"""Pictures that are not garments, in five families, from two disjoint sets of sources.

`train` sources feed outlier exposure in training and the threshold choice; `eval` sources are
only ever used to report how well the verdict works. No file, font or icon theme is in both.

  family     train sources                              eval sources
  photos     Debian's GNOME and MATE wallpapers          scikit-image's sample photographs,
             (nature photos, abstract art), and Tux      matplotlib's Grace Hopper portrait
             Paint's stamps (animals, food, things;
             never its clothes) set in those scenes
  glyphs     digits and letters in DejaVu and            the same characters in the URW base 35
             Liberation fonts, light on black, 28x28     and GNU FreeFont fonts
  icons      the Adwaita, Tango and Oxygen icon themes   the GNOME and elementary-xfce themes
             and Tux Paint's stamps as cut-outs
  text       pages and UI mock-ups in DejaVu/Liberation  the same kinds of picture in URW/FreeFont
  synthetic  noise, flat colours, linear gradients       (other seeds) plus radial gradients,
                                                         plasma noise and checkerboards
"""

from __future__ import annotations

import functools
import io
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FAMILIES = ("photos", "glyphs", "icons", "text", "synthetic")
CHARACTERS = string.digits + string.ascii_letters
INSTALL_HINT = (
    "outlier sources missing: apt-get install gnome-backgrounds mate-backgrounds fonts-dejavu-core "
    "fonts-liberation fonts-urw-base35 fonts-freefont-ttf gnome-icon-theme elementary-xfce-icon-theme "
    "tango-icon-theme oxygen-icon-theme tuxpaint-stamps-default ukui-wallpapers plasma-workspace-wallpapers; "
    "pip install scikit-image matplotlib"
)


# Tux Paint's stamps hold garments too: never let one be a "non-garment". The words match too much
# ("garbagecan", "chick-hatched"): that only leaves out a few pictures that were not garments.
GARMENT_WORDS = ("cloth", "hat", "shirt", "shoe", "boot", "sock", "dress", "bag", "pants", "jean", "coat")


@dataclass(frozen=True)
class Sources:
    photos: list[Path]
    fonts: list[Path]
    icons: list[Path]
    stamps: tuple[Path, ...] = ()  # RGBA cut-outs of things: set in scenes (photos) or alone (icons)


def sources(split: str) -> Sources:
    """The files one split draws from (split is "train" or "eval")."""
    if split == "train":
        photos = _files("/usr/share/backgrounds", ("*.jpg", "*.png", "*.webp")) + _plasma_wallpapers()
        fonts = _files("/usr/share/fonts/truetype/dejavu", ("*.ttf",)) + _files(
            "/usr/share/fonts/truetype/liberation", ("*.ttf",)
        )
        icons = [
            p
            for theme in ("Adwaita", "Tango", "oxygen")
            for p in _files(f"/usr/share/icons/{theme}", ("*.png",))
        ]
        stamps = tuple(
            p
            for p in _files("/usr/share/tuxpaint/stamps", ("*.png",))
            if not any(
                word in str(p.relative_to("/usr/share/tuxpaint/stamps")).lower() for word in GARMENT_WORDS
            )
        )
        if not (photos and fonts and icons and stamps):
            raise FileNotFoundError(INSTALL_HINT)
        return Sources(photos, fonts, icons, stamps)
    else:
        photos = _eval_photos()
        fonts = _files("/usr/share/fonts/opentype/urw-base35", ("*.otf",)) + _files(
            "/usr/share/fonts/truetype/freefont", ("*.ttf",)
        )
        fonts = [f for f in fonts if "Symbol" not in f.name and "D050000L" not in f.name]  # no letters
        icons = _files("/usr/share/icons/gnome", ("*.png",)) + _files(
            "/usr/share/icons/elementary-xfce", ("*.png",)
        )
    if not (photos and fonts and icons):
        raise FileNotFoundError(INSTALL_HINT)
    return Sources(photos, fonts, icons)


def pictures(family: str, count: int, *, split: str, seed: int) -> list[bytes]:
    """`count` uploads (encoded bytes) of one family from one split's sources."""
    rng = np.random.default_rng(seed)
    src = sources(split)
    make: dict[str, Callable[[], Image.Image]] = {
        "photos": lambda: (
            _photo_crop(_pick(src.photos, rng), rng)
            if not src.stamps or rng.random() < 0.5
            else _stamp_in_scene(_pick(src.stamps, rng), _photo_crop(_pick(src.photos, rng), rng), rng)
        ),
        "glyphs": lambda: _glyph(_pick(src.fonts, rng), rng),
        "icons": lambda: (
            _icon(_pick(src.icons, rng), rng)
            if not src.stamps or rng.random() < 0.7
            else _icon(_pick(src.stamps, rng), rng)
        ),
        "text": lambda: _text_picture(src.fonts, rng),
        "synthetic": lambda: _synthetic(rng, extra_kinds=split == "eval"),
    }
    return [_encode(make[family](), rng) for _ in range(count)]


def _pick(paths: list[Path] | tuple[Path, ...], rng: np.random.Generator) -> Path:
    return paths[int(rng.integers(len(paths)))]


def _files(folder: str, patterns: tuple[str, ...]) -> list[Path]:
    root = Path(folder)
    return sorted(p for pattern in patterns for p in root.rglob(pattern)) if root.is_dir() else []


def _plasma_wallpapers() -> list[Path]:
    """One file of each Plasma wallpaper (photographs of places and things), the size nearest
    1920 px wide: each comes in several sizes named like 1920x1080.jpg."""

    def off_1920(path: Path) -> int:
        width = path.stem.split("x")[0]
        return abs(int(width) - 1920) if width.isdigit() else 10**6

    return [
        min(sizes, key=off_1920)
        for folder in _files("/usr/share/wallpapers", ("*/contents/images",))
        if (sizes := _files(str(folder), ("*.jpg", "*.png")))
    ]


def _eval_photos() -> list[Path]:
    found: list[Path] = []
    try:
        import skimage

        data = Path(skimage.__file__).parent / "data"
        names = ("astronaut", "camera", "chelsea", "coffee", "rocket", "motorcycle_left", "horse")
        found += [p for p in data.iterdir() if p.stem in (*names, "hubble_deep_field", "coins", "moon")]
    except ImportError:
        pass
    try:
        import matplotlib

        found += _files(str(Path(matplotlib.get_data_path()) / "sample_data"), ("grace_hopper.jpg",))
    except ImportError:
        pass
    return sorted(found)


@functools.cache
def _photo(path: Path) -> Image.Image:
    """A photograph decoded once, at most 1,200 px a side (wallpapers are 4K)."""
    with Image.open(path) as opened:
        photo = opened.convert("RGB")
    photo.thumbnail((1200, 1200))
    return photo


def _photo_crop(path: Path, rng: np.random.Generator) -> Image.Image:
    """A random part (a quarter to all) of a photograph, at phone-picture sizes."""
    photo = _photo(path)
    width, height = photo.size
    share = rng.uniform(0.25, 1.0)
    w, h = max(16, int(width * share)), max(16, int(height * share * rng.uniform(0.7, 1.3)))
    w, h = min(w, width), min(h, height)
    left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    crop = photo.crop((left, top, left + w, top + h))
    crop.thumbnail((int(rng.integers(200, 800)),) * 2)
    return crop


def _stamp_in_scene(stamp: Path, scene: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A thing photographed in a place: a stamp pasted, at a random size, onto a scene."""
    with Image.open(stamp) as opened:
        thing = opened.convert("RGBA")
    thing.thumbnail((int(min(scene.size) * rng.uniform(0.4, 0.95)),) * 2)
    left = int(rng.integers(0, scene.width - thing.width + 1))
    top = int(rng.integers(0, scene.height - thing.height + 1))
    scene = scene.copy()
    scene.paste(thing, (left, top), thing)
    return scene


def _glyph(font_path: Path, rng: np.random.Generator) -> Image.Image:
    """A digit or letter drawn like Fashion-MNIST: light on black, fitted into 28x28."""
    font = ImageFont.truetype(str(font_path), size=int(rng.integers(40, 90)))
    char = CHARACTERS[int(rng.integers(len(CHARACTERS)))]
    big = Image.new("L", (128, 128))
    ImageDraw.Draw(big).text((64, 64), char, fill=int(rng.integers(170, 256)), font=font, anchor="mm")
    box = big.getbbox() or (0, 0, 128, 128)
    glyph = big.crop(box)
    glyph.thumbnail((int(rng.integers(16, 23)),) * 2, Image.Resampling.LANCZOS)
    frame = Image.new("L", (28, 28))
    frame.paste(glyph, ((28 - glyph.width) // 2, (28 - glyph.height) // 2))
    return frame.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BILINEAR)


def _icon(path: Path, rng: np.random.Generator) -> Image.Image:
    with Image.open(path) as opened:
        icon = opened.convert("RGBA")
    if icon.width < 64 and rng.random() < 0.5:
        icon = icon.resize((icon.width * 4, icon.height * 4), Image.Resampling.NEAREST)
    return icon


def _text_picture(fonts: list[Path], rng: np.random.Generator) -> Image.Image:
    """A page of text, a dark terminal, or a window with a title bar and buttons."""
    width, height = int(rng.integers(240, 900)), int(rng.integers(160, 700))
    dark = rng.random() < 0.3
    page = Image.new(
        "RGB", (width, height), (30, 30, 36) if dark else tuple(int(v) for v in rng.integers(225, 256, 3))
    )
    draw = ImageDraw.Draw(page)
    ink = (220, 220, 220) if dark else tuple(int(v) for v in rng.integers(0, 90, 3))
    top = 8
    if rng.random() < 0.4:  # a window's title bar and a button: a screenshot
        bar = int(rng.integers(18, 40))
        draw.rectangle((0, 0, width, bar), fill=tuple(int(v) for v in rng.integers(60, 200, 3)))
        draw.rounded_rectangle((width - 90, height - 40, width - 10, height - 12), 6, outline=ink, width=2)
        top = bar + 8
    size = int(rng.integers(10, 28))
    font = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), size=size)
    words = ["".join(rng.choice(list(string.ascii_lowercase), int(rng.integers(2, 10)))) for _ in range(400)]
    y, i = top, 0
    while y < height - size - 45:
        line = " ".join(words[i : i + int(rng.integers(3, 14))])
        draw.text((int(rng.integers(6, 30)), y), line, fill=ink, font=font)
        y, i = y + int(size * rng.uniform(1.2, 1.8)), (i + 14) % 380
    return page


def _synthetic(rng: np.random.Generator, *, extra_kinds: bool) -> Image.Image:
    kinds = ["noise", "flat", "linear"] + (["radial", "plasma", "checks"] if extra_kinds else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    side = int(rng.choice([28, 64, 200, 500]))
    yy, xx = np.mgrid[0:side, 0:side] / max(side - 1, 1)
    colours = rng.uniform(0, 255, (2, 3))
    if kind == "noise":
        pixels = (
            rng.uniform(0, 255, (side, side, 3))
            if rng.random() < 0.5
            else rng.normal(128, 60, (side, side, 1)).repeat(3, 2)
        )
    elif kind == "flat":
        pixels = np.ones((side, side, 3)) * colours[0]
    elif kind == "plasma":
        small = rng.uniform(0, 255, (int(rng.integers(3, 9)),) * 2 + (3,)).astype(np.uint8)
        return Image.fromarray(small, "RGB").resize((side, side), Image.Resampling.BICUBIC)
    elif kind == "checks":
        cell = max(2, side // int(rng.integers(2, 12)))
        on = ((np.arange(side)[:, None] // cell + np.arange(side)[None, :] // cell) % 2)[..., None]
        pixels = colours[0] * on + colours[1] * (1 - on)
    else:
        t = (
            np.hypot(xx - 0.5, yy - 0.5) * 1.4
            if kind == "radial"
            else (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) % 1
        )
        pixels = colours[0] * (1 - t[..., None]) + colours[1] * t[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _encode(picture: Image.Image, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    if picture.mode == "RGB" and rng.random() < 0.5:
        picture.save(buffer, format="JPEG", quality=int(rng.integers(60, 95)))
    else:
        picture.save(buffer, format="PNG")
    return buffer.getvalue()
