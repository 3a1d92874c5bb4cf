"""`fashion-classifier learn`: corrections in, a checked candidate model out."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnx

from fashion_classifier.learning.examples import Judged, Reading, read_judged
from fashion_classifier.learning.fit import FitOptions, fit_head
from fashion_classifier.learning.gate import STUDIO_PER_KIND, Decision, Figures, FixedSets, decide, figures
from fashion_classifier.learning.heads import Head, HeadModel, replace_class_head
from fashion_classifier.service import PredictionService
from fashion_classifier.training import data

Say = Callable[[str], None]


class NothingToLearn(RuntimeError):
    """The store holds no correction, or too few to both learn from and check on."""


@dataclass(frozen=True, kw_only=True)
class LearnOptions:
    held_back_share: float = 0.2  # the newest uploads: the candidate's own check, never trained on
    max_uncorrected: int = 5000
    # How much the users' uploads weigh against the replayed data-set images (0 to 1).
    users_share: float = 0.3
    replay: int = 5000
    seed: int = 0
    studio_per_kind: int = STUDIO_PER_KIND  # the gate's studio set: the model card's unless a test says less
    fit: FitOptions = field(default_factory=FitOptions)


@dataclass(frozen=True)
class Outcome:
    version: str
    path: Path
    active: Figures
    candidate: Figures
    decision: Decision
    reading: Reading


def learn(
    service: PredictionService, model_path: Path, output: Path, options: LearnOptions, say: Say
) -> Outcome:
    reading = read_judged(service, max_uncorrected=options.max_uncorrected)
    say(
        f"read {len(reading.judged)} uploads, {reading.corrections} corrected; skipped {reading.skipped or 'none'}"
    )
    trained, held = split_by_time(reading.judged, options.held_back_share)
    if not any(item.corrected for item in trained):
        raise NothingToLearn(
            "no corrections to learn from: correct wrong answers on the result pages or with "
            "POST /api/v1/predictions/<id>/feedback, then run learn again"
        )
    active = HeadModel(onnx.load(str(model_path)))
    dataset = data.load()
    say("features of the users' uploads and of replayed data-set images")
    users, users_labels = _features(active, trained)
    replay, replay_labels = _replay(active, dataset, options)
    examples = np.concatenate([users, replay])
    labels = np.concatenate([users_labels, replay_labels])
    weights = np.concatenate(
        [
            np.full(len(users), options.users_share / len(users)),
            np.full(len(replay), (1 - options.users_share) / len(replay)),
        ]
    )
    say(f"fitting the class head on {len(users)} views of uploads and {len(replay)} of data-set images")
    head = fit_head(examples, labels, weights, active.head, options=options.fit, progress=_bar)
    say("checking on the test images, the studio photos and the held-back uploads")
    sets = FixedSets.build(active, dataset, output / ".sets", per_kind=options.studio_per_kind)
    held_views = active.features([np.stack([item.picture for item in held])]) if held else np.zeros((2, 0, 1))
    held_labels = np.array([item.label for item in held], dtype=np.int64)
    corrected = np.array([item.corrected for item in held], dtype=bool)
    before = figures(active.head, sets, held_views, held_labels, corrected)
    after = figures(head, sets, held_views, held_labels, corrected)
    decision = decide(before, after)
    version, path = _export(
        active=active,
        head=head,
        model_path=model_path,
        output=output,
        gate=(before, after, decision),
        reading=reading,
        options=options,
    )
    return Outcome(version, path, before, after, decision, reading)


def split_by_time(judged: list[Judged], held_back_share: float) -> tuple[list[Judged], list[Judged]]:
    """Oldest first in, newest held back: the check is on uploads that came after the training's."""
    held_count = round(len(judged) * held_back_share)
    cut = len(judged) - held_count
    return judged[:cut], judged[cut:]


def _features(model: HeadModel, judged: list[Judged]) -> tuple[np.ndarray, np.ndarray]:
    views = model.features([np.stack([item.picture for item in judged])])
    labels = np.array([item.label for item in judged], dtype=np.int64)
    return np.concatenate([views[0], views[1]]), np.concatenate([labels, labels])


def _replay(
    model: HeadModel, dataset: data.FashionMNIST, options: LearnOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Training images (never the test set) seen again, so that the head does not forget them."""
    train, _ = data.train_validation_split(dataset.train)
    picks = np.random.default_rng(options.seed).choice(len(train.labels), options.replay, replace=False)
    views = model.features([train.images[picks][..., None].astype(np.float32) / 255.0])
    labels = train.labels[picks].astype(np.int64)
    return np.concatenate([views[0], views[1]]), np.concatenate([labels, labels])


def _export(
    *,
    active: HeadModel,
    head: Head,
    model_path: Path,
    output: Path,
    gate: tuple[Figures, Figures, Decision],
    reading: Reading,
    options: LearnOptions,
) -> tuple[str, Path]:
    """The candidate's int8 file (and its float twin when the active one has one), with cards."""
    before, after, decision = gate
    card = json.loads(model_path.with_suffix(".json").read_text())
    data_bytes = active.with_head(head).SerializeToString()
    digest = hashlib.sha256(data_bytes).hexdigest()
    now = datetime.now(UTC)
    version = f"{now:%Y%m%d}-{digest[:8]}"
    folder = output / version
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / model_path.name
    path.write_bytes(data_bytes)
    learned = {
        "learned_from": card.get("version"),
        "method": "class head refitted on users' corrections and uncorrected uploads, with replayed "
        "training images; features and garment head unchanged (learning/)",
        "corrections": reading.corrections,
        "uploads": len(reading.judged),
        "skipped": reading.skipped,
        "options": {
            "held_back_share": options.held_back_share,
            "users_share": options.users_share,
            "replay": options.replay,
            "steps": options.fit.steps,
            "pull": options.fit.pull,
        },
        "gate": {
            "active": before.as_dict(),
            "candidate": after.as_dict(),
            "passed": decision.passed,
            "reasons": decision.reasons,
        },
    }
    # The features (and so the embeddings) are the learned-from version's: similar search goes on.
    embedding_version = card.get("embedding_version", card.get("version"))
    card.update(
        version=version,
        created=now.isoformat(timespec="seconds"),
        onnx_sha256=digest,
        embedding_version=embedding_version,
        learning=learned,
    )
    path.with_suffix(".json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    _export_float_twin(model_path, folder, head, card)
    return version, path


def _export_float_twin(model_path: Path, folder: Path, head: Head, card: dict) -> None:
    twin = model_path.with_name(model_path.name.replace(".int8", ""))
    if twin == model_path or not twin.exists():
        return
    float_model = replace_class_head(onnx.load(str(twin)), head)
    (folder / twin.name).write_bytes(float_model.SerializeToString())
    float_card = json.loads(twin.with_suffix(".json").read_text())
    float_card.update(version=card["version"] + "-float", learning=card["learning"])
    (folder / twin.with_suffix(".json").name).write_text(
        json.dumps(float_card, indent=1, ensure_ascii=False) + "\n"
    )


def _bar(step: int, total: int) -> None:
    import sys

    if sys.stderr.isatty() or step == total:
        width = 30
        filled = width * step // total
        end = "\n" if step == total else ""
        print(
            f"\r[{'#' * filled}{'.' * (width - filled)}] step {step}/{total}",
            end=end,
            file=sys.stderr,
            flush=True,
        )
