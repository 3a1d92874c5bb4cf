"""fashion-classifier: train | fine-tune | evaluate | predict | serve | migrate (init-db) | reindex | copy | learn | feedback export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fashion_classifier.config import FLOAT_MODEL_PATH, Settings, hand_metrics_dir_to_prometheus
from fashion_classifier.learning.command import add_learn
from fashion_classifier.models_command import add_models


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        # Known failures (missing data or model, bad settings, store down): one clear line, no traceback.
        print(f"fashion-classifier {args.command}: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fashion-classifier", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train the CNN, export ONNX (float and int8) and the model cards"
    )
    train.add_argument("--epochs", type=int, default=32)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--limit", type=int, help="train on the first N images only (quick runs)")
    train.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX .gz files")
    train.add_argument("--checkpoint-dir", type=Path, default=Path(".checkpoint"))
    train.add_argument("--output", type=Path, default=FLOAT_MODEL_PATH, help="the float model's path")
    train.set_defaults(run=_train)

    tune = commands.add_parser(
        "fine-tune",
        help="make the shipped model robust: fine-tune on staged photos and non-garments (outlier "
        "exposure), choose the garment verdict, export, quantise, measure on unseen sets",
    )
    tune.add_argument("--work-dir", type=Path, default=Path(".checkpoint/robust"), help="resumable state")
    tune.add_argument("--output", type=Path, default=FLOAT_MODEL_PATH, help="the float model's path")
    tune.add_argument(
        "--start-from",
        type=Path,
        default=FLOAT_MODEL_PATH,
        help="a float ONNX export of `train`, or an earlier fine-tune's .keras file (card beside it)",
    )
    # A further round from an earlier fine-tune's .keras file: fewer steps, gentler, new renders.
    tune.add_argument("--epochs", type=int, help="epochs (default: RobustConfig's)")
    tune.add_argument("--learning-rate", type=float, help="peak learning rate (default: RobustConfig's)")
    tune.add_argument(
        "--seed", type=int, help="seed of the renders and the shuffling (default: RobustConfig's)"
    )
    tune.set_defaults(run=_fine_tune)

    quantize = commands.add_parser(
        "quantize", help="make the int8 model (the one served) from an exported float model"
    )
    quantize.add_argument("--model", type=Path, default=FLOAT_MODEL_PATH)
    quantize.add_argument("--data-dir")
    quantize.set_defaults(run=_quantize)

    evaluate = commands.add_parser(
        "evaluate", help="accuracy on the test set, per class, confusion matrix PNG"
    )
    evaluate.add_argument("--model", type=Path, default=None)
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--png", type=Path, default=Path("docs/confusion_matrix.png"))
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser("predict", help="classify picture files or folders")
    predict.add_argument("paths", nargs="+", type=Path)
    predict.add_argument("--model", type=Path, default=None)
    predict.add_argument("--format", choices=("table", "json", "csv"), default="table")
    predict.add_argument("--batch-size", type=int, default=256)
    predict.set_defaults(run=_predict)

    serve = commands.add_parser(
        "serve", help="serve the web app and API: nginx (reads requests whole) before granian's workers"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8987)
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser(
        "migrate",
        aliases=["init-db"],
        help="bring the store's schema to this version (run once, before the app starts)",
    )
    migrate.add_argument("--to", type=int, dest="target", help="stop at this schema version")
    migrate.set_defaults(run=_migrate)

    reindex = commands.add_parser(
        "reindex",
        help="compute the current model's embeddings (similar-picture search) for every kept picture; "
        "resumable, safe while the service runs",
    )
    reindex.set_defaults(run=_reindex)

    _add_copy(commands)
    add_learn(commands)
    add_models(commands)
    feedback = commands.add_parser("feedback", help="work with users' corrections")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_commands.add_parser("export", help="write corrected pictures and labels as a data set")
    export.add_argument("output", type=Path)
    export.set_defaults(run=_feedback_export)
    return parser


def _add_copy(commands: Any) -> None:
    copy = commands.add_parser(
        "copy",
        help="copy every record, correction, picture, embedding and model version from one store into another "
        "(migrated) one: to grow, to back up, to restore; resumable, safe while the source serves",
    )
    copy.add_argument(
        "source", metavar="FROM_URL", help="sqlite:///path.db or cassandra://hosts:9042/keyspace"
    )
    copy.add_argument("target", metavar="TO_URL", help="a store migrated by `fashion-classifier migrate`")
    copy.add_argument("--verify", action="store_true", help="then compare every record and picture by hash")
    copy.add_argument("--page-size", type=int, default=200, help="records read and written at a time")
    copy.add_argument("--checkpoint", type=Path, help="where the position of an interrupted copy is kept")
    copy.set_defaults(run=_copy)


def _train(args: argparse.Namespace) -> int:
    from fashion_classifier.training.cli import train_and_export

    return train_and_export(args)


def _fine_tune(args: argparse.Namespace) -> int:
    from fashion_classifier.training.robust import RobustConfig
    from fashion_classifier.training.ship import ship

    chosen = {"epochs": args.epochs, "learning_rate": args.learning_rate, "seed": args.seed}
    config = RobustConfig(
        start_from=str(args.start_from), **{k: v for k, v in chosen.items() if v is not None}
    )
    card = ship(args.work_dir, args.output, config)
    measured = card["measured"]
    print(
        f"int8 model {card['version']}: test set {card['test_set']['accuracy']:.2%}, "
        f"studio photos {measured['studio']['accuracy']:.2%}, "
        f"non-garments flagged {measured['non_garments']['flagged']:.1%} "
        f"(AUROC {measured['non_garments']['auroc']:.3f})"
    )
    return 0


def _quantize(args: argparse.Namespace) -> int:
    from fashion_classifier.training.cli import quantize_and_describe

    return quantize_and_describe(args.model, args.data_dir)


def _evaluate(args: argparse.Namespace) -> int:
    from fashion_classifier.batch import evaluate_test_set

    return evaluate_test_set(args.model or Settings.from_env().model_path, args.data_dir, args.png)


def _predict(args: argparse.Namespace) -> int:
    from fashion_classifier.batch import predict_paths

    return predict_paths(
        args.paths, args.model or Settings.from_env().model_path, args.format, args.batch_size
    )


def _serve(args: argparse.Namespace) -> int:
    # Before the web package (and with it prometheus-client) is first imported.
    settings = hand_metrics_dir_to_prometheus(Settings.from_env())
    from fashion_classifier.web.server import serve

    if settings.database_url.startswith("sqlite:"):
        # A new embedded store is created here, by one process before any worker forks, so that
        # `docker run IMAGE` just works. Existing data (and any Cassandra) is upgraded only by
        # `fashion-classifier migrate`, a step of its own, as make run and deploy/ do.
        migrate_store(settings, only_if_new=True)
    serve(settings, host=args.host, port=args.port)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    migrate_store(Settings.from_env(), target=args.target)
    return 0


def migrate_store(settings: Settings, *, target: int | None = None, only_if_new: bool = False) -> None:
    """Apply the pending schema migrations to the configured store, saying which."""
    from fashion_classifier.service import PredictionService

    service = PredictionService.from_settings(settings, with_model=False)
    try:
        applied = service.migrate(target=target, only_if_new=only_if_new)
        if only_if_new and not applied:
            return
        for name in applied:
            print(f"applied migration {name}", flush=True)
        print(f"schema at version {service.schema_version()} in {settings.database_url}", flush=True)
        if first := service.models.seed(settings.model_path, created_by="migrate"):
            print(
                f"model version {first.version} ({settings.model_path}) registered as the active one",
                flush=True,
            )
    finally:
        service.close()


def _reindex(args: argparse.Namespace) -> int:
    from fashion_classifier.reindex import ProgressBar
    from fashion_classifier.service import PredictionService

    service = PredictionService.from_settings(Settings.from_env())
    try:
        done = service.reindex(report=ProgressBar())
    finally:
        service.close()
    print(
        f"\nmodel {service.model_version}: {done.embedded} records embedded, {done.already} already were, "
        f"{done.unreadable} without a readable picture ({done.seen} in all)",
        flush=True,
    )
    return 0


def _copy(args: argparse.Namespace) -> int:
    from fashion_classifier.copy_command import run_copy

    return run_copy(
        args.source,
        args.target,
        settings=Settings.from_env(),
        page_size=args.page_size,
        checkpoint_path=args.checkpoint,
        with_verify=args.verify,
    )


def _feedback_export(args: argparse.Namespace) -> int:
    from fashion_classifier.batch import export_feedback

    return export_feedback(Settings.from_env(), args.output)


if __name__ == "__main__":
    sys.exit(main())
