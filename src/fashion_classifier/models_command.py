"""`fashion-classifier models list | add PATH | promote VERSION | rollback`: the versions kept in the store.

Exit status 2 (with one line saying why) for an unknown version, a promotion that lost to
another one, a rollback with nothing before, a file that is no usable model.
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import Any

from fashion_classifier.config import Settings
from fashion_classifier.records import ModelVersion


def add_models(commands: Any) -> None:
    models = commands.add_parser(
        "models",
        help="the model versions kept in the store: list them, add one, promote one, roll back "
        "(every worker switches within MODEL_POLL_SECONDS, no restart)",
    )
    actions = models.add_subparsers(dest="models_command", required=True)
    actions.add_parser("list", help="every kept version, newest first, and which one answers").set_defaults(
        run=_list
    )
    add = actions.add_parser(
        "add", help="keep an ONNX model (its card, the .json beside it, names its version)"
    )
    add.add_argument("path", type=Path, help="the .onnx file; its model card is the .json of the same name")
    add.add_argument("--promote", action="store_true", help="then make it the active version")
    add.set_defaults(run=_add)
    promote = actions.add_parser("promote", help="make VERSION the one every worker answers with")
    promote.add_argument("version")
    promote.set_defaults(run=_promote)
    actions.add_parser(
        "rollback", help="back to the version that answered before the last switch"
    ).set_defaults(run=_rollback)


def _service() -> Any:
    from fashion_classifier.service import PredictionService

    return PredictionService.from_settings(Settings.from_env(), with_model=False)


def _list(args: argparse.Namespace) -> int:
    service = _service()
    try:
        versions, active = service.models.list(), service.models.active()
    finally:
        service.close()
    if not versions:
        print("no model version is kept yet: `fashion-classifier migrate` registers the shipped one")
        return 0
    rows = [("VERSION", "ACTIVE", "CREATED (UTC)", "BY", "LEARNED FROM", "FIGURES")]
    for kept in versions:
        mark = "" if active is None else "active" if kept.version == active.version else ""
        mark = mark or ("previous" if active is not None and kept.version == active.previous else "")
        learned_from = str(kept.card.get("learning", {}).get("learned_from") or "-")
        created = kept.created_at.strftime("%Y-%m-%d %H:%M")
        rows.append((kept.version, mark, created, kept.created_by, learned_from, figures(kept)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def figures(kept: ModelVersion) -> str:
    """The card's gate figures (a version made by `learn`) or its measured accuracies, as percentages."""
    card = kept.card
    candidate = card.get("learning", {}).get("gate", {}).get("candidate")
    if isinstance(candidate, dict):
        found = {name: value for name, value in candidate.items() if isinstance(value, int | float)}
    else:
        measured = card.get("measured", {})
        found = {
            "test": card.get("test_set", {}).get("accuracy"),
            "studio": measured.get("studio", {}).get("accuracy"),
        }
    return (
        " ".join(f"{name} {value:.2%}" for name, value in found.items() if isinstance(value, int | float))
        or "-"
    )


def _add(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        raise FileNotFoundError(f"no model card at {card_path}: a version is kept with its card")
    card = json.loads(card_path.read_text())
    service = _service()
    try:
        kept = service.models.register(path.read_bytes(), card, created_by=_who())
        print(f"model version {kept.version} kept ({kept.size} bytes)")
        if args.promote:
            service.models.promote(kept.version)
            print(f"{kept.version} is now active: workers switch within MODEL_POLL_SECONDS")
    finally:
        service.close()
    return 0


def _promote(args: argparse.Namespace) -> int:
    service = _service()
    try:
        before = service.models.active()
        after = service.models.promote(args.version)
    finally:
        service.close()
    if before is not None and before.version == after.version:
        print(f"{after.version} is the active version already: nothing changed")
    else:
        print(
            f"{after.version} is now active (was {after.previous}): workers switch within MODEL_POLL_SECONDS"
        )
    return 0


def _rollback(args: argparse.Namespace) -> int:
    service = _service()
    try:
        after = service.models.rollback()
    finally:
        service.close()
    print(f"rolled back: {after.version} is active again (was {after.previous})")
    return 0


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): say so plainly
        return "unknown"
