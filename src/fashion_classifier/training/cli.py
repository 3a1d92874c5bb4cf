"""`fashion-classifier train` and `quantize`: fit, export ONNX, quantise, write cards and a confusion matrix."""

from __future__ import annotations

import argparse
from pathlib import Path

from fashion_classifier.evaluation import Evaluation, save_confusion_png
from fashion_classifier.training import data
from fashion_classifier.training.export import export_onnx, write_model_card
from fashion_classifier.training.quantize import quantize, write_int8_card
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
    return quantize_and_describe(onnx_path, args.data_dir)


def quantize_and_describe(float_path: Path, data_dir: str | None) -> int:
    dataset = data.load(data_dir)
    int8_path = quantize(float_path, dataset)
    card = write_int8_card(float_path, int8_path, dataset)
    quantization = card["quantization"]
    print(
        f"int8 model {card['version']} written to {int8_path}: test accuracy {card['test_set']['accuracy']:.2%}, "
        f"top-1 agreement with the float model {quantization['top1_agreement_with_float']:.2%}"
    )
    return 0
