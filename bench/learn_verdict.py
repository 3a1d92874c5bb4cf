"""Learning from corrections of the verdict, measured on pictures `learn` never saw.

Users upload, through the service into a new SQLite store, crops of two microscope pictures
(scikit-image's "cell" and "ihc": no source the model or the gate ever used) and photos of
validation garments lying upside down; the crops the model calls garments are corrected "Not a
garment", the garments it flags are corrected to their class. `learn` runs with its defaults;
then the active and the candidate models judge, as the server does: other crops of those two
pictures, crops of a third one nobody uploaded ("retina"), upside-down *test* garments, and the
gate's fixed sets (in the candidate's card). Writes docs/benchmarks/learn_verdict.json.

  .venv/bin/python bench/learn_verdict.py [--uploads 400] [--only not-a-garment|class] [--name NAME]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import skimage
from PIL import Image

from fashion_classifier.config import Settings
from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES, NOT_A_GARMENT
from fashion_classifier.learning.learn import ActiveSource, LearnOptions, learn
from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.training import data

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
UPLOADED, NEVER_UPLOADED = ("cell", "ihc"), ("retina",)


def crops(names: tuple[str, ...], count: int, seed: int) -> list[bytes]:
    """Square crops (a third to all of the short side), at most 400 px, as a phone would send."""
    rng = np.random.default_rng(seed)
    folder = Path(skimage.__file__).parent / "data"
    found = {p.stem: p for p in folder.iterdir() if p.stem in names and p.suffix in (".png", ".jpg")}
    result = []
    for i in range(count):
        with Image.open(found[names[i % len(names)]]) as opened:
            picture = opened.convert("RGB")
        side = int(min(picture.size) * rng.uniform(0.33, 1.0))
        left = int(rng.integers(0, picture.width - side + 1))
        top = int(rng.integers(0, picture.height - side + 1))
        crop = picture.crop((left, top, left + side, top + side))
        crop.thumbnail((400, 400))
        result.append(png(crop))
    return result


def upside_down(images: np.ndarray) -> list[bytes]:
    return [png(Image.fromarray(image[::-1].copy())) for image in images]


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=400, help="of each kind")
    parser.add_argument(
        "--only", choices=("not-a-garment", "class"), help="users correct only this kind of wrong verdict"
    )
    parser.add_argument("--name", default="learn_verdict")
    args = parser.parse_args()
    dataset = data.load()
    _, validation = data.train_validation_split(dataset.train)
    work = Path(tempfile.mkdtemp(prefix="bench-learn-verdict-"))
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{work}/store.db"})
    service = PredictionService.from_settings(settings)
    service.migrate()
    slides, garments = crops(UPLOADED, args.uploads, seed=11), upside_down(validation.images[: args.uploads])
    said_none = said_class = 0
    for number, (slide, garment) in enumerate(zip(slides, garments, strict=True)):
        (record,) = service.classify([Upload(f"slide-{number}.png", slide)])
        if record.prediction.is_garment and args.only != "class":
            service.correct(record.id, NOT_A_GARMENT)
            said_none += 1
        (record,) = service.classify([Upload(f"garment-{number}.png", garment)])
        if not record.prediction.is_garment and args.only != "not-a-garment":
            service.correct(record.id, CLASSES[validation.labels[number]])
            said_class += 1
    say(f"{2 * args.uploads} uploads: {said_none} corrected 'not a garment', {said_class} to their class")
    started = time.monotonic()
    outcome = learn(
        service, ActiveSource.from_file(settings.model_path), work / "candidates", LearnOptions(), say=say
    )
    learn_seconds = time.monotonic() - started
    service.close()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "uploads": 2 * args.uploads,
        "corrected_not_a_garment": said_none,
        "corrected_to_a_class": said_class,
        "learn_seconds": round(learn_seconds, 1),
        "garment_head": outcome.card["learning"]["garment_head"],
        "gate": outcome.card["learning"]["gate"],  # active and candidate figures, passed, reasons
        **_measure(settings.model_path, outcome.path, dataset, args.uploads),
    }
    OUT.joinpath(f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


def _measure(active: Path, candidate: Path, dataset: data.FashionMNIST, count: int) -> dict:
    """Share judged garments, as served, on pictures of the uploads' kinds that `learn` never saw."""
    test = dataset.test
    sets = {
        "other_crops_of_uploaded_pictures": crops(UPLOADED, count, seed=907),
        "crops_of_a_picture_never_uploaded": crops(NEVER_UPLOADED, count, seed=908),
        "upside_down_test_garments": upside_down(test.images[:count]),
    }
    inputs = {
        name: np.concatenate([preprocess_bytes(p) for p in pictures]) for name, pictures in sets.items()
    }
    figures: dict = {}
    for name, path in (("active", active), ("candidate", candidate)):
        model = Classifier.load(path)
        figures[name] = {
            f"{set_name}_judged_garments": round(
                float(np.mean([p.is_garment for p in model.predict_batch(batch)])), 4
            )
            for set_name, batch in inputs.items()
        }
        right = [
            p.label == CLASSES[label]
            for p, label in zip(
                model.predict_batch(inputs["upside_down_test_garments"]), test.labels[:count], strict=True
            )
        ]
        figures[name]["upside_down_test_garments_right_class"] = round(float(np.mean(right)), 4)
    return figures


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
