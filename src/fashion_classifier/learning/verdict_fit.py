"""Refitting the garment head on corrections of the verdict, with replay so it forgets nothing.

Users' examples: every "not a garment" correction (no garment) and every correction to a class
(a garment: the user said which one), each picture and its mirror. Replay: training images of
the data set (garments) and non-garments from the `train` sources (learning/non_garments.py),
half and half. The head is refitted only when the trained-on corrections include one that
corrects the verdict ("not a garment", or a class for a picture flagged as none); otherwise it
stays byte for byte the active one's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashion_classifier.learning.examples import NOT_GARMENT, Judged
from fashion_classifier.learning.fit import FitOptions
from fashion_classifier.learning.garment import GarmentHead, fit_garment_head, read_garment_head
from fashion_classifier.learning.heads import HeadModel
from fashion_classifier.learning.non_garments import REPLAY_PER_FAMILY, replay_inputs
from fashion_classifier.training import data


@dataclass(frozen=True, kw_only=True)
class VerdictOptions:
    users_share: float = 0.3  # of the fit's weight; the replayed garments and non-garments share the rest
    replay_garments: int = 2500
    replay_per_family: int = REPLAY_PER_FAMILY
    seed: int = 1
    # Pulled towards the active head 100 times harder than the class head: with the default pull,
    # the first measured run moved it far enough to flag 5.7 points fewer of the gate's non-garments.
    fit: FitOptions = field(default_factory=lambda: FitOptions(pull=0.1))


@dataclass(frozen=True)
class VerdictRefit:
    """The candidate's garment head and what it was fitted on."""

    active: GarmentHead | None  # None: the model has no garment head that learn can refit
    head: GarmentHead | None  # the candidate's: the active one unless refitted
    refitted: bool
    said_none: int = 0  # users' "not a garment" corrections trained on
    said_class: int = 0  # users' corrections to a class trained on (of pictures flagged or not)
    replayed: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.refitted:
            why = (
                "the model has none learn can refit"
                if self.active is None
                else "no correction of the verdict"
            )
            return f"garment head unchanged ({why})"
        return (
            f"garment head refitted on {self.said_none} 'not a garment' and {self.said_class} class corrections, "
            f"with replayed {', '.join(f'{v} {k}' for k, v in self.replayed.items())}"
        )

    def as_card(self) -> dict[str, Any]:
        return {
            "refitted": self.refitted,
            "not_a_garment_corrections": self.said_none,
            "class_corrections": self.said_class,
            "replayed": self.replayed,
        }


def refit_verdict(
    active: HeadModel,
    card: dict[str, Any],
    trained: list[Judged],
    dataset: data.FashionMNIST,
    *,
    cache: Path,
    options: VerdictOptions,
    caps: np.ndarray | None = None,
) -> VerdictRefit:
    """The garment head refitted on the trained-on corrections, or the active one if none corrects it.

    `caps`: the weight (1 = uncapped) of each trained-on correction, in order (learning/weights.py).
    """
    start = read_garment_head(active.model, card, active.names.features)
    users = [item for item in trained if item.corrected]
    factors = np.ones(len(users)) if caps is None else np.asarray(caps, dtype=np.float64)
    if start is None or not any(item.corrects_verdict for item in users):
        return VerdictRefit(start, start, refitted=False)
    views = active.features([np.stack([item.picture for item in users])])
    said = np.array([item.label != NOT_GARMENT for item in users])
    garments, non_garments, replayed = _replay(active, dataset, cache, options)
    examples = np.concatenate([views[0], views[1], garments, non_garments])
    targets = np.concatenate([said, said, np.ones(len(garments), bool), np.zeros(len(non_garments), bool)])
    replay_share = (1 - options.users_share) / 2
    weights = np.concatenate(
        [
            options.users_share * np.tile(_balanced(factors, said), 2) / 2,
            np.full(len(garments), replay_share / len(garments)),
            np.full(len(non_garments), replay_share / len(non_garments)),
        ]
    )
    head = fit_garment_head(examples, targets, weights, start, options=options.fit)
    return VerdictRefit(start, head, True, int((~said).sum()), int(said.sum()), replayed)


def _replay(
    active: HeadModel, dataset: data.FashionMNIST, cache: Path, options: VerdictOptions
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Features (both views as examples) of replayed garments and non-garments."""
    train, _ = data.train_validation_split(dataset.train)
    picks = np.random.default_rng(options.seed).choice(
        len(train.labels), options.replay_garments, replace=False
    )
    garments = active.features([train.images[picks][..., None].astype(np.float32) / 255.0])
    pictures, families = replay_inputs(cache, options.replay_per_family)
    non_garments = active.features([pictures])
    replayed = {
        "data_set_images": options.replay_garments,
        **{f"non_garments_{k}": v for k, v in families.items()},
    }
    return (
        np.concatenate([garments[0], garments[1]]),
        np.concatenate([non_garments[0], non_garments[1]]),
        replayed,
    )


def _balanced(factors: np.ndarray, said: np.ndarray) -> np.ndarray:
    """Each correction's share of the users' weight: "garment" and "not a garment" half each when
    both were said (dozens of one kind would otherwise drown a few of the other)."""
    if said.all() or not said.any():
        return factors / factors.sum()
    return np.where(said, 0.5 / factors[said].sum(), 0.5 / factors[~said].sum()) * factors
