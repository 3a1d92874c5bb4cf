"""`fashion-classifier learn`: the command's options, its console output and exit status.

Exit status: 0 when the candidate passed the gate, 1 when the gate refused it (the candidate is
written all the same, with the reasons in its card), 2 when there is nothing to learn from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fashion_classifier.config import Settings

if TYPE_CHECKING:
    from fashion_classifier.learning.learn import Outcome

DEFAULT_OUTPUT = Path("models/candidates")


def add_learn(commands: Any) -> None:
    parser = commands.add_parser(
        "learn",
        help="refit the model's class head on users' corrections (and the uploads nobody corrected), "
        "check it against the active model, write it as a candidate",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where candidates are written")
    parser.add_argument(
        "--held-back", type=float, default=0.2, help="share of the newest uploads kept to check on"
    )
    parser.add_argument(
        "--users-share", type=float, default=0.3, help="weight of users' uploads against replay"
    )
    parser.add_argument("--max-uncorrected", type=int, default=5000, help="newest uncorrected uploads read")
    parser.add_argument("--steps", type=int, default=300)
    parser.set_defaults(run=run_learn)


def run_learn(args: argparse.Namespace) -> int:
    # Imported here: learning needs onnx (the train extra), which serving does without.
    from fashion_classifier.learning.fit import FitOptions
    from fashion_classifier.learning.learn import ActiveSource, LearnOptions, NothingToLearn, learn
    from fashion_classifier.service import PredictionService

    if not 0 <= args.held_back < 1 or not 0 < args.users_share < 1:
        raise ValueError("--held-back must be in [0, 1) and --users-share in (0, 1)")
    settings = Settings.from_env()
    options = LearnOptions(
        held_back_share=args.held_back,
        users_share=args.users_share,
        max_uncorrected=args.max_uncorrected,
        fit=FitOptions(steps=args.steps),
    )
    service = PredictionService.from_settings(settings, with_model=False)
    try:
        outcome = learn(service, ActiveSource.from_file(settings.model_path), args.output, options, say=_say)
    except NothingToLearn as exc:
        print(f"fashion-classifier learn: {exc}", file=sys.stderr)
        return 2
    finally:
        service.close()
    _report(outcome)
    return 0 if outcome.decision.passed else 1


def _report(outcome: Outcome) -> None:
    rows = (
        ("10,000 test images", outcome.active.test, outcome.candidate.test),
        ("2,000 studio photos", outcome.active.studio, outcome.candidate.studio),
        ("held-back uploads", outcome.active.held_back, outcome.candidate.held_back),
        (
            "held-back corrections",
            outcome.active.held_back_corrections,
            outcome.candidate.held_back_corrections,
        ),
    )
    print(f"{'set':<24}{'active':>10}{'candidate':>12}")
    for name, before, after in rows:
        print(f"{name:<24}{before:>10.2%}{after:>12.2%}")
    print("non-garments: unchanged (the garment head and the features are not refitted)")
    print(f"candidate {outcome.version}: {outcome.path}")
    if outcome.decision.passed:
        print("gate: passed")
    else:
        print("gate: refused: " + "; ".join(outcome.decision.reasons))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
