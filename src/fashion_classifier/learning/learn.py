"""`fashion-classifier learn`: corrections in, a checked candidate model out."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from fashion_classifier.learning.examples import NOT_GARMENT, Judged, Reading, read_judged
from fashion_classifier.learning.fit import FitOptions, fit_head
from fashion_classifier.learning.garment import GarmentHead, replace_garment_head
from fashion_classifier.learning.gate import STUDIO_PER_KIND, Decision, Figures, FixedSets, decide, figures
from fashion_classifier.learning.heads import Head, HeadModel, replace_class_head
from fashion_classifier.learning.non_garments import GATE_PER_FAMILY
from fashion_classifier.learning.verdict_fit import VerdictOptions, VerdictRefit, refit_verdict
from fashion_classifier.learning.weights import CapOptions, Capping, weigh_corrections
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
    non_garments_per_family: int = GATE_PER_FAMILY  # the gate's non-garments: the model card's 1,500
    verdict: VerdictOptions = field(default_factory=VerdictOptions)  # refitting the garment head
    fit: FitOptions = field(default_factory=FitOptions)
    caps: CapOptions = field(default_factory=CapOptions)  # no client, no burst above its share


@dataclass(frozen=True)
class ActiveSource:
    """The model learn starts from: its ONNX bytes and card, and its float twin's file if any."""

    onnx: bytes
    card: dict[str, Any]
    float_twin: Path | None = None

    @classmethod
    def from_file(cls, path: Path) -> ActiveSource:
        twin = path.with_name(path.name.replace(".int8", ""))
        return cls(
            path.read_bytes(),
            json.loads(path.with_suffix(".json").read_text()),
            twin if twin != path and twin.exists() else None,
        )

    @property
    def version(self) -> str:
        return str(self.card.get("version"))


@dataclass(frozen=True)
class Outcome:
    version: str
    path: Path  # the candidate's int8 ONNX file; its card beside it
    card: dict[str, Any]
    active: Figures
    candidate: Figures
    decision: Decision
    reading: Reading


def learn(
    service: PredictionService, source: ActiveSource, output: Path, options: LearnOptions, say: Say
) -> Outcome:
    reading = read_judged(service, max_uncorrected=options.max_uncorrected)
    say(
        f"read {len(reading.judged)} uploads, {reading.corrections} corrected; skipped {reading.skipped or 'none'}"
    )
    everything, held = split_by_time(reading.judged, options.held_back_share)
    # The class head learns classes; a "not a garment" correction teaches the garment head only.
    trained = [item for item in everything if item.label != NOT_GARMENT]
    if not any(item.corrected for item in everything):
        held_note = (
            f" ({reading.corrections} among the newest uploads, held back to check on)"
            if reading.corrections
            else ""
        )
        raise NothingToLearn(
            f"no corrections to learn from{held_note}: correct wrong answers on the result pages or with "
            "POST /api/v1/predictions/<id>/feedback, then run learn again"
        )
    capping = weigh_corrections(
        service.correction_log, [item.record_id for item in trained if item.corrected], options.caps
    )
    for line in capping.lines():
        say(line)
    active = HeadModel.from_bytes(source.onnx)
    dataset = data.load()
    head = _fit(active, trained, dataset, options, say, capping=capping)
    # The corrections the garment head may learn from, capped as the class head's are.
    verdict_caps = weigh_corrections(
        service.correction_log, [item.record_id for item in everything if item.corrected], options.caps
    )
    verdict = refit_verdict(
        active,
        source.card,
        everything,
        dataset,
        cache=output / ".sets",
        options=options.verdict,
        caps=verdict_caps.factors,
    )
    say(verdict.summary())
    say("checking on the test images, the studio photos, the non-garments and the held-back uploads")
    sets = FixedSets.build(
        active,
        dataset,
        output / ".sets",
        per_kind=options.studio_per_kind,
        per_family=options.non_garments_per_family,
    )
    views = active.features([np.stack([item.picture for item in held])]) if held else np.zeros((2, 0, 1))
    labels = np.array([item.label for item in held], dtype=np.int64)
    corrected = np.array([item.corrected for item in held], dtype=bool)
    before = figures(active.head, sets, views, labels, corrected, garment=verdict.active)
    after = figures(head, sets, views, labels, corrected, garment=verdict.head)
    decision = decide(before, after)
    card = _card(source.card, (before, after, decision), reading, options)
    card["learning"]["garment_head"] = verdict.as_card()
    card["learning"]["capped"] = capping.as_dict()
    path = _export(_with_verdict(active.with_head(head), verdict), (head, verdict), card, source, output)
    return Outcome(card["version"], path, card, before, after, decision, reading)


def split_by_time(judged: list[Judged], held_back_share: float) -> tuple[list[Judged], list[Judged]]:
    """Oldest first in, newest held back: the check is on uploads that came after the training's."""
    held_count = round(len(judged) * held_back_share)
    cut = len(judged) - held_count
    return judged[:cut], judged[cut:]


def _fit(
    active: HeadModel,
    trained: list[Judged],
    dataset: data.FashionMNIST,
    options: LearnOptions,
    say: Say,
    *,
    capping: Capping,
) -> Head:
    say("features of the users' uploads and of replayed data-set images")
    users, users_labels = _both_views(
        active.features([np.stack([item.picture for item in trained])]),
        np.array([item.label for item in trained], dtype=np.int64),
    )
    # Training images (never the test set) seen again, so that the head does not forget them.
    train, _ = data.train_validation_split(dataset.train)
    picks = np.random.default_rng(options.seed).choice(len(train.labels), options.replay, replace=False)
    replay, replay_labels = _both_views(
        active.features([train.images[picks][..., None].astype(np.float32) / 255.0]),
        train.labels[picks].astype(np.int64),
    )
    factors = np.tile(capping.per_upload([item.corrected for item in trained]), 2)  # both views alike
    weights = np.concatenate(
        [
            options.users_share * factors / factors.sum(),
            np.full(len(replay), (1 - options.users_share) / len(replay)),
        ]
    )
    say(f"fitting the class head on {len(users)} views of uploads and {len(replay)} of data-set images")
    examples, labels = np.concatenate([users, replay]), np.concatenate([users_labels, replay_labels])
    return fit_head(examples, labels, weights, active.head, options=options.fit, progress=_bar)


def _both_views(views: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each picture and its mirror as two examples (the server averages the two)."""
    return np.concatenate([views[0], views[1]]), np.concatenate([labels, labels])


def _card(
    active: dict[str, Any], gate: tuple[Figures, Figures, Decision], reading: Reading, options: LearnOptions
) -> dict[str, Any]:
    before, after, decision = gate
    return {
        **active,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        # The features (and so the embeddings) are the learned-from version's: similar search goes on.
        "embedding_version": active.get("embedding_version", active.get("version")),
        "learning": {
            "learned_from": active.get("version"),
            "method": "class head refitted on users' corrections and uncorrected uploads, with replayed "
            "training images; garment head refitted only when corrections say it erred (garment_head); "
            "features unchanged",
            "verdict_corrections": reading.verdict_corrections,
            "corrections": reading.corrections,
            "uploads": len(reading.judged),
            "skipped": reading.skipped,
            "options": {
                "held_back_share": options.held_back_share,
                "users_share": options.users_share,
                "replay": options.replay,
                "steps": options.fit.steps,
                "pull": options.fit.pull,
                **options.caps.as_dict(),
            },
            "gate": {
                "active": before.as_dict(),
                "candidate": after.as_dict(),
                "passed": decision.passed,
                "reasons": decision.reasons,
            },
        },
    }


def _with_verdict(model: onnx.ModelProto, verdict: VerdictRefit) -> onnx.ModelProto:
    """The model with the refitted garment head, if it was refitted."""
    refitted: GarmentHead | None = verdict.head if verdict.refitted else None
    return model if refitted is None else replace_garment_head(model, refitted)


def _export(
    candidate: onnx.ModelProto,
    heads: tuple[Head, VerdictRefit],
    card: dict[str, Any],
    source: ActiveSource,
    output: Path,
) -> Path:
    """The candidate's int8 file (and its float twin when the active one has one), with cards."""
    data_bytes = candidate.SerializeToString()
    digest = hashlib.sha256(data_bytes).hexdigest()
    card.update(version=f"{datetime.now(UTC):%Y%m%d}-{digest[:8]}", onnx_sha256=digest)
    folder = output / card["version"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fashion_cnn.int8.onnx"
    path.write_bytes(data_bytes)
    _write_json(path.with_suffix(".json"), card)
    if source.float_twin is not None:
        twin = _with_verdict(replace_class_head(onnx.load(str(source.float_twin)), heads[0]), heads[1])
        (folder / "fashion_cnn.onnx").write_bytes(twin.SerializeToString())
        float_card = json.loads(source.float_twin.with_suffix(".json").read_text())
        float_card.update(version=card["version"] + "-float", learning=card["learning"])
        _write_json(folder / "fashion_cnn.json", float_card)
    return path


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


def _bar(step: int, total: int) -> None:
    if sys.stderr.isatty() or step == total:
        filled = 30 * step // total
        end = "\n" if step == total else ""
        print(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] step {step}/{total}",
            end=end,
            file=sys.stderr,
            flush=True,
        )
