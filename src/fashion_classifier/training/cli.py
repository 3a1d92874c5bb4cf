"""`fashion-classifier train`: fit, export ONNX, write the model card and a confusion matrix."""

from __future__ import annotations

import argparse

from fashion_classifier.evaluation import Evaluation, save_confusion_png
from fashion_classifier.training.export import export_onnx, write_model_card
from fashion_classifier.training.train import TrainConfig, train


def train_and_export(args: argparse.Namespace) -> int:
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, limit=args.limit, data_dir=args.data_dir
    )
    result = train(config, checkpoint_dir=args.checkpoint_dir)
    onnx_path = export_onnx(result.model, args.output)
    card = write_model_card(result, config, onnx_path)
    test = card["test_set"]
    evaluation = Evaluation(
        test["accuracy"], test["per_class_accuracy"], test["confusion_matrix"], test["count"]
    )
    png = save_confusion_png(evaluation, onnx_path.with_suffix(".confusion.png"), title=f"{card['version']}")
    print(evaluation.table())
    print(f"model {card['version']} written to {onnx_path} (card {onnx_path.with_suffix('.json')}, {png})")
    parity = card["export_parity"]
    print(
        f"ONNX vs Keras: top-1 agreement {parity['top1_agreement']:.4%}, "
        f"max |dp| {parity['max_abs_probability_difference']:.2e}"
    )
    return 0
