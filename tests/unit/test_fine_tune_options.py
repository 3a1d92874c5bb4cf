"""`fashion-classifier fine-tune`: the options of a further round reach the training's config."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from fashion_classifier import cli
from fashion_classifier.training.robust import RobustConfig


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> list[RobustConfig]:
    """Stands in for training.ship (hours of training): records the config it was given."""
    configs: list[RobustConfig] = []

    def ship(work_dir: Path, output: Path, config: RobustConfig) -> dict[str, Any]:
        configs.append(config)
        figures = {"accuracy": 0.9, "flagged": 0.9, "auroc": 0.99}
        return {
            "version": "test",
            "test_set": figures,
            "measured": {"studio": figures, "non_garments": figures},
        }

    module = types.ModuleType("fashion_classifier.training.ship")
    module.ship = ship  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fashion_classifier.training.ship", module)
    return configs


def test_a_further_round_takes_its_epochs_learning_rate_and_seed(shipped: list[RobustConfig]) -> None:
    argv = ["fine-tune", "--start-from", "earlier.keras", "--epochs", "6", "--learning-rate", "1.5e-4"]
    assert cli.main([*argv, "--seed", "7"]) == 0
    [config] = shipped
    assert (config.start_from, config.epochs, config.learning_rate, config.seed) == (
        "earlier.keras",
        6,
        1.5e-4,
        7,
    )


def test_without_options_the_defaults_hold(shipped: list[RobustConfig]) -> None:
    assert cli.main(["fine-tune"]) == 0
    [config] = shipped
    default = RobustConfig()
    assert (config.epochs, config.learning_rate, config.seed) == (
        default.epochs,
        default.learning_rate,
        default.seed,
    )
