"""The kept model versions as people read them: each one's figures, which one answers, since when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fashion_classifier.model_registry import ModelRegistry
from fashion_classifier.records import ActiveModel

# test: the 10,000 Fashion-MNIST test images; studio: the card's 2,000 renderer-B photos;
# non_garments: share of non-garment pictures flagged; held_back_corrections: of the corrections
# `learn` held back from training, the share the version answers as the user said.
FIGURES = ("test", "studio", "non_garments", "held_back_corrections")


@dataclass(frozen=True)
class VersionSummary:
    """One kept version, with the figures its model card has (None where it has none)."""

    version: str
    created_at: datetime
    created_by: str
    learned_from: str | None
    figures: dict[str, float | None]
    active: bool
    previous: bool


@dataclass(frozen=True)
class ModelsOverview:
    """Every kept version, newest first, and the pointer that says which answers."""

    versions: list[VersionSummary]
    active: ActiveModel | None


def card_figures(card: Mapping[str, Any]) -> dict[str, float | None]:
    """The card's gate figures (a version made by `learn`), else its measured ones; None where absent.

    A card made by `learn` copies its parent's `measured`: where its gate measured no non-garments
    (a `learn` that kept the garment head as it was), the parent's figure is its own.
    """
    candidate = _mapping(_mapping(_mapping(card.get("learning")).get("gate")).get("candidate"))
    measured = _mapping(card.get("measured"))
    return {
        "test": _number(candidate.get("test"), _mapping(card.get("test_set")).get("accuracy")),
        "studio": _number(candidate.get("studio"), _mapping(measured.get("studio")).get("accuracy")),
        "non_garments": _number(
            candidate.get("non_garments_flagged"), _mapping(measured.get("non_garments")).get("flagged")
        ),
        "held_back_corrections": _number(candidate.get("held_back_corrections")),
    }


def overview(registry: ModelRegistry) -> ModelsOverview:
    """Read the kept versions and the active pointer (two reads of the store)."""
    versions, active = registry.list(), registry.active()
    summaries = [
        VersionSummary(
            version=kept.version,
            created_at=kept.created_at,
            created_by=kept.created_by,
            learned_from=_text(_mapping(kept.card.get("learning")).get("learned_from")),
            figures=card_figures(kept.card),
            active=active is not None and kept.version == active.version,
            previous=active is not None and kept.version == active.previous,
        )
        for kept in versions
    ]
    return ModelsOverview(summaries, active)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(*candidates: object) -> float | None:
    """The first that is a number (a card is JSON someone wrote: anything else is no figure)."""
    for value in candidates:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _text(value: object) -> str | None:
    return str(value) if value else None
