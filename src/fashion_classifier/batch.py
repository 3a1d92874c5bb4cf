"""Command-line batch work without TensorFlow: predict files, evaluate, export feedback."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fashion_classifier.config import Settings
from fashion_classifier.evaluation import evaluate, save_confusion_png
from fashion_classifier.inference import Classifier
from fashion_classifier.preprocessing import InvalidImage, preprocess_bytes
from fashion_classifier.records import Record
from fashion_classifier.training import data

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
# A spreadsheet runs a cell that starts with one of these as a formula ("=HYPERLINK(...)").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def evaluate_test_set(model_path: Path, data_dir: str | None, png: Path) -> int:
    """Accuracy on the 10,000 test images, a per-class table, and a confusion-matrix picture."""
    classifier = Classifier.load(model_path, threads=0)
    test = data.load(data_dir).test
    result = evaluate(classifier.dataset_probabilities(test.images).argmax(1), test.labels)
    print(result.table())
    save_confusion_png(result, png, title=f"{classifier.version}: test accuracy {result.accuracy:.2%}")
    print(f"confusion matrix written to {png}")
    return 0


def picture_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in PICTURE_SUFFIXES)
        else:
            yield path


def predict_paths(paths: list[Path], model_path: Path, output: str, batch_size: int) -> int:
    """Classify files in batches; unreadable files get an error row instead of stopping the run."""
    classifier = Classifier.load(model_path, threads=0)
    files = list(picture_files(paths))
    rows: list[dict[str, object]] = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        rows.extend(_predict_chunk(classifier, chunk))
        _progress(min(start + batch_size, len(files)), len(files))
    _write(rows, output)
    return 1 if any(row["error"] for row in rows) else 0


def _predict_chunk(classifier: Classifier, files: list[Path]) -> list[dict[str, object]]:
    inputs: list[np.ndarray] = []
    rows: list[dict[str, object]] = []
    for path in files:
        try:
            inputs.append(preprocess_bytes(path.read_bytes()))
            rows.append({"path": str(path), "label": None, "confidence": None, "error": ""})
        except (OSError, InvalidImage) as exc:
            rows.append({"path": str(path), "label": None, "confidence": None, "error": str(exc)})
    good = [row for row in rows if not row["error"]]
    if inputs:
        for row, prediction in zip(good, classifier.predict_batch(np.concatenate(inputs)), strict=True):
            row["label"], row["confidence"] = prediction.label, round(prediction.confidence, 4)
    return rows


def _progress(done: int, total: int) -> None:
    if total >= 50 and sys.stderr.isatty():
        width = 30
        filled = width * done // total
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr)
        if done == total:
            print(file=sys.stderr)


def _write(rows: list[dict[str, object]], output: str) -> None:
    if output == "json":
        json.dump(rows, sys.stdout, indent=1, ensure_ascii=False)
        print()
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=["path", "label", "confidence", "error"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        for row in rows:
            answer = (
                f"{row['label']:<12} {row['confidence']:.2%}"
                if not row["error"]
                else f"error: {row['error']}"
            )
            print(f"{row['path']}\t{answer}")


def spreadsheet_safe(text: str) -> str:
    """The client's text as a plain cell: a leading quote stops spreadsheets reading it as a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


# The folder and label_index of a picture a user said is none of the ten garments: a consumer
# that reads label_index as a class must skip it (or train a "garment or not" head on it).
NOT_A_GARMENT_FOLDER, NOT_A_GARMENT_INDEX = "not_a_garment", -1


def export_feedback(settings: Settings, output: Path) -> int:
    """Corrected pictures as <output>/<class index or not_a_garment>/<id>.<ext> plus labels.csv."""
    from fashion_classifier.service import PredictionService

    service = PredictionService.from_settings(settings, with_model=False)
    output.mkdir(parents=True, exist_ok=True)
    count = none_of_them = 0
    with (output / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "file",
                "label",
                "label_index",
                "is_garment",
                "predicted",
                "predicted_is_garment",
                "model_version",
                "original_filename",
            ]
        )
        for record, image in service.corrected_pictures():
            folder, index = _export_class(record)
            suffix = ".png" if image.content_type == "image/png" else ".jpg"
            # Our own id names the file: the client's file name is data, never a path.
            relative = Path(folder) / f"{record.id}{suffix}"
            (output / relative).parent.mkdir(exist_ok=True)
            (output / relative).write_bytes(image.data)
            verdict = record.prediction.is_garment
            writer.writerow(
                [
                    relative.as_posix(),
                    record.corrected_label,
                    index,
                    "false" if record.corrected_not_garment else "true",
                    record.label,
                    "" if verdict is None else str(verdict).lower(),
                    record.model_version,
                    spreadsheet_safe(record.filename),
                ]
            )
            count += 1
            none_of_them += record.corrected_not_garment
    service.close()
    print(
        f"{count} corrected pictures written to {output} (labels in labels.csv; "
        f"{none_of_them} said to be no garment, in {NOT_A_GARMENT_FOLDER}/ with label_index {NOT_A_GARMENT_INDEX})"
    )
    return 0


def _export_class(record: Record) -> tuple[str, int]:
    """The folder and label_index of a corrected record."""
    from fashion_classifier.labels import class_index

    if record.corrected_not_garment:
        return NOT_A_GARMENT_FOLDER, NOT_A_GARMENT_INDEX
    index = class_index(record.corrected_label or "")  # corrected_pictures() yields corrected ones only
    return str(index), index
