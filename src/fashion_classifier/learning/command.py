"""`fashion-classifier learn`: the command's options, its console output and exit status.

Exit status: 0 when the candidate passed the gate (and, with --promote, now answers); 1 when the
gate refused it (with --promote: nothing kept, nothing changed); 2 when there is nothing to learn
from, or another promotion won meanwhile.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fashion_classifier.config import Settings

if TYPE_CHECKING:
    from fashion_classifier.learning.learn import ActiveSource, Outcome
    from fashion_classifier.service import PredictionService

DEFAULT_OUTPUT = Path("models/candidates")


def add_learn(commands: Any) -> None:
    parser = commands.add_parser(
        "learn",
        help="refit the active model's class head on users' corrections (and the uploads nobody "
        "corrected), check it against the active model, keep it as a candidate version",
    )
    parser.add_argument(
        "--promote", action="store_true", help="make it the active version if the gate passes"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="where candidate files are written"
    )
    parser.add_argument(
        "--held-back", type=float, default=0.2, help="share of the newest uploads kept to check on"
    )
    parser.add_argument(
        "--users-share", type=float, default=0.3, help="weight of users' uploads against replay"
    )
    parser.add_argument("--max-uncorrected", type=int, default=5000, help="newest uncorrected uploads read")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument(
        "--client-share", type=float, default=0.05, help="most of the corrections' weight one client may hold"
    )
    parser.add_argument(
        "--burst-share",
        type=float,
        default=0.10,
        help="most of it the corrections of one burst window may hold",
    )
    parser.add_argument("--burst-minutes", type=float, default=10.0, help="a burst window, in minutes")
    parser.set_defaults(run=run_learn)


def run_learn(args: argparse.Namespace) -> int:
    # Imported here: learning needs onnx (the train extra), which serving does without.
    from fashion_classifier.learning.fit import FitOptions
    from fashion_classifier.learning.learn import LearnOptions, NothingToLearn, learn
    from fashion_classifier.learning.weights import CapOptions
    from fashion_classifier.service import PredictionService

    if not 0 <= args.held_back < 1 or not 0 < args.users_share < 1:
        raise ValueError("--held-back must be in [0, 1) and --users-share in (0, 1)")
    if not (0 < args.client_share <= 1 and 0 < args.burst_share <= 1 and args.burst_minutes > 0):
        raise ValueError("--client-share and --burst-share must be in (0, 1], --burst-minutes above 0")
    settings = Settings.from_env()
    options = LearnOptions(
        held_back_share=args.held_back,
        users_share=args.users_share,
        max_uncorrected=args.max_uncorrected,
        fit=FitOptions(steps=args.steps),
        caps=CapOptions(
            client_share=args.client_share,
            burst_share=args.burst_share,
            burst_window=timedelta(minutes=args.burst_minutes),
        ),
    )
    service = PredictionService.from_settings(settings, with_model=False)
    try:
        source = active_source(service, settings)
        outcome = learn(service, source, args.output, options, say=_say)
        _report(outcome)
        return _keep(service, outcome, source, promote=args.promote)
    except NothingToLearn as exc:
        print(f"fashion-classifier learn: {exc}", file=sys.stderr)
        return 2
    finally:
        service.close()


def active_source(service: PredictionService, settings: Settings) -> ActiveSource:
    """The version every worker answers with; MODEL_PATH's files on a store that keeps none yet."""
    from fashion_classifier.learning.learn import ActiveSource

    active = service.models.active()
    from_file = ActiveSource.from_file(settings.model_path)
    if active is None or active.version == from_file.version:
        return from_file  # the same model, and its float twin beside it
    kept, onnx = service.models.read(active.version)
    return ActiveSource(onnx, dict(kept.card))


def _keep(service: PredictionService, outcome: Outcome, source: ActiveSource, *, promote: bool) -> int:
    if promote and not outcome.decision.passed:
        print("not promoted, and not kept: the gate refused it (above); the active version is unchanged")
        return 1
    kept = service.models.register(outcome.path.read_bytes(), outcome.card, created_by=f"learn ({_user()})")
    if not promote:
        print(
            f"kept as candidate {kept.version}: `fashion-classifier models promote {kept.version}` makes it answer"
        )
        return 0 if outcome.decision.passed else 1
    # Only if the version learnt from still answers: of two runs from it, the first promotes.
    replacing = source.version if service.models.active() is not None else None
    service.models.promote(kept.version, replacing=replacing)
    print(f"promoted {kept.version}: every worker answers with it within MODEL_POLL_SECONDS")
    return 0


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
        ("non-garments flagged", outcome.active.non_garments_flagged, outcome.candidate.non_garments_flagged),
        ("test images kept", outcome.active.test_kept, outcome.candidate.test_kept),
        ("studio photos kept", outcome.active.studio_kept, outcome.candidate.studio_kept),
    )
    print(f"{'set':<24}{'active':>10}{'candidate':>12}")
    for name, before, after in rows:
        print(f"{name:<24}{before:>10.2%}{after:>12.2%}")
    garment = outcome.card["learning"]["garment_head"]
    print(
        f"garment head refitted ({garment['not_a_garment_corrections']} 'not a garment', "
        f"{garment['class_corrections']} class corrections)"
        if garment["refitted"]
        else "garment head unchanged: no correction of the verdict to learn from"
    )
    print(f"candidate {outcome.version}: {outcome.path}")
    capped = outcome.card["learning"]["capped"]
    print(
        f"corrections capped: {len(capped['capped_clients'])} clients, {len(capped['capped_bursts'])} bursts; "
        f"{capped['corrections']} corrections weigh as {capped['weight']}"
    )
    skipped = outcome.card["learning"]["skipped"]
    if skipped:
        print(f"skipped: {json.dumps(skipped)}")
    print(
        "gate: passed" if outcome.decision.passed else "gate: refused: " + "; ".join(outcome.decision.reasons)
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's user with no name
        return "unknown"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
