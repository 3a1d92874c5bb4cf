"""Learning from corrections, measured on a renderer the model was never tuned on.

1,000 photos staged by renderer B (training/studio.py) of validation garments are uploaded to a
new SQLite store through the service; the wrong answers are corrected with the true class, as a
user would; `learn` runs; then the active and the candidate models classify 1,000 *other* renderer-B
photos (of test garments, another seed) and the 10,000 test images, as the server would (flip
averaging included). Also times `learn` itself. Writes docs/benchmarks/learn.md and .json.

  .venv/bin/python bench/learn.py [--uploads 1000] [--correct-all]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from fashion_classifier.config import Settings
from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES
from fashion_classifier.learning.learn import ActiveSource, LearnOptions, learn
from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.training import data, studio

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--users-seed", type=int, default=101)
    parser.add_argument("--eval-seed", type=int, default=303)
    parser.add_argument("--correct-all", action="store_true", help="correct every upload (a timing run)")
    parser.add_argument(
        "--poison",
        type=float,
        default=0.0,
        help="share of all corrections that are deliberately wrong (right answers 'corrected' to another class)",
    )
    parser.add_argument("--name", default="learn")
    args = parser.parse_args()
    dataset = data.load()
    _, validation = data.train_validation_split(dataset.train)
    work = Path(tempfile.mkdtemp(prefix="bench-learn-"))
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{work}/store.db"})
    service = PredictionService.from_settings(settings)
    service.migrate()
    started = time.monotonic()
    photos = studio.shoot_set(
        validation.images, validation.labels, per_kind=args.uploads // 5, seed=args.users_seed
    )
    order = np.random.default_rng(args.users_seed).permutation(len(photos))  # kinds mixed in time
    corrected, right = 0, []
    for index in order:
        photo = photos[index]
        (record,) = service.classify([Upload(f"photo-{index}.{photo.kind}", photo.data)])
        truth = CLASSES[photo.label]
        if args.correct_all or record.label != truth:
            service.correct(record.id, truth)
            corrected += 1
        else:
            right.append((record, photo.label))
    poisoned = _poison(service, right, round(corrected * args.poison / (1 - args.poison)), args.users_seed)
    say(
        f"{len(photos)} uploads, {corrected} corrected, {poisoned} wrongly ({time.monotonic() - started:.0f} s)"
    )
    learn_started = time.monotonic()
    outcome = learn(
        service, ActiveSource.from_file(settings.model_path), work / "candidates", LearnOptions(), say=say
    )
    learn_seconds = time.monotonic() - learn_started
    service.close()
    figures = _measure(settings.model_path, outcome.path, dataset, args)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "uploads": len(photos),
        "corrected": corrected,
        "poisoned": poisoned,
        "learn_seconds": round(learn_seconds, 1),
        "gate": outcome.card["learning"]["gate"],  # active and candidate figures, passed, reasons
        **figures,
    }
    OUT.joinpath(f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


def _poison(service: PredictionService, right: list, count: int, seed: int) -> int:
    """An attacker 'corrects' right answers to another class, spread over the uploads' time."""
    rng = np.random.default_rng(seed)
    for position in rng.choice(len(right), min(count, len(right)), replace=False):
        record, label = right[position]
        wrong = (label + int(rng.integers(1, len(CLASSES)))) % len(CLASSES)
        service.correct(record.id, CLASSES[wrong])
    return min(count, len(right))


def _measure(
    active_path: Path, candidate_path: Path, dataset: data.FashionMNIST, args: argparse.Namespace
) -> dict:
    """Both models as served, on photos and images `learn` never saw."""
    test = dataset.test
    shots = studio.shoot_set(test.images, test.labels, per_kind=200, seed=args.eval_seed)
    photos = np.concatenate([preprocess_bytes(shot.data) for shot in shots])
    labels = np.array([shot.label for shot in shots])
    figures = {}
    for name, path in (("active", active_path), ("candidate", candidate_path)):
        model = Classifier.load(path)
        figures[name] = {
            "other_studio_photos": round(float(np.mean(model.probabilities(photos).argmax(1) == labels)), 4),
            "test_images": round(
                float(np.mean(model.dataset_probabilities(test.images).argmax(1) == test.labels)), 4
            ),
        }
    return figures


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
