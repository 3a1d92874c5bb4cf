"""Non-garment pictures for learn, from training/outliers.py, never from users.

  the gate's set   the model card's 1,500 pictures from the `eval` sources (300 per family,
                   seeds 777+): how many the verdict flags may not drop.
  replay           pictures from the `train` sources (what outlier exposure trained on) that
                   are installed, so a refitted garment head does not forget them.
Both are rendered once (a minute or two) and kept in learn's cache folder (`.sets`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.training import outliers

GATE_PER_FAMILY, GATE_SEED = 300, 777  # training/wild.py's test_sets: the model card's figures
REPLAY_PER_FAMILY, REPLAY_SEED = 250, 4100


def gate_inputs(cache: Path, per_family: int = GATE_PER_FAMILY) -> np.ndarray:
    """The model card's non-garments from sources never trained on, as model inputs."""
    path = cache / f"non-garments-eval-{per_family}-{GATE_SEED}.npz"
    if path.exists():
        with np.load(path) as saved:
            return np.asarray(saved["pictures"])
    uploads = [
        upload
        for i, family in enumerate(outliers.FAMILIES)
        for upload in outliers.pictures(family, per_family, split="eval", seed=GATE_SEED + i)
    ]
    pictures = np.concatenate([preprocess_bytes(upload) for upload in uploads])
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, pictures=pictures)
    return pictures


def replay_inputs(cache: Path, per_family: int = REPLAY_PER_FAMILY) -> tuple[np.ndarray, dict[str, int]]:
    """Non-garments from the `train` sources present on this machine, and how many per family."""
    makers = _train_makers()
    path = cache / f"non-garments-train-{per_family}-{REPLAY_SEED}-{'-'.join(sorted(makers))}.npz"
    if path.exists():
        with np.load(path) as saved:
            pictures = np.asarray(saved["pictures"])
    else:
        rng = np.random.default_rng(REPLAY_SEED)
        uploads = [outliers._encode(make(rng), rng) for make in makers.values() for _ in range(per_family)]
        pictures = np.concatenate([preprocess_bytes(upload) for upload in uploads])
        cache.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, pictures=pictures)
    return pictures, dict.fromkeys(sorted(makers), per_family)


Maker = Callable[[np.random.Generator], Image.Image]


def _train_makers() -> dict[str, Maker]:
    """One picture maker per family whose `train` sources are installed (synthetic needs none).

    outliers.pictures wants every source of a split; a serving machine often lacks the
    wallpapers and clip art, and learn can still replay the families it has.
    """
    fonts = outliers._files("/usr/share/fonts/truetype/dejavu", ("*.ttf",)) + outliers._files(
        "/usr/share/fonts/truetype/liberation", ("*.ttf",)
    )
    icons = [
        p
        for theme in ("Adwaita", "Tango", "oxygen")
        for p in outliers._files(f"/usr/share/icons/{theme}", ("*.png",))
    ]
    photos = outliers._files("/usr/share/backgrounds", ("*.jpg", "*.png", "*.webp"))
    makers: dict[str, Maker] = {"synthetic": lambda rng: outliers._synthetic(rng, extra_kinds=False)}
    if fonts:
        makers["glyphs"] = lambda rng: outliers._glyph(outliers._pick(fonts, rng), rng)
        makers["text"] = lambda rng: outliers._text_picture(fonts, rng)
    if icons:
        makers["icons"] = lambda rng: outliers._icon(outliers._pick(icons, rng), rng)
    if photos:
        makers["photos"] = lambda rng: outliers._photo_crop(outliers._pick(photos, rng), rng)
    return makers
