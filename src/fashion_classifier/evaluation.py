"""Accuracy, per-class accuracy and a confusion-matrix picture (no TensorFlow needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fashion_classifier.labels import CLASSES


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    per_class: dict[str, float]
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    count: int

    def as_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "per_class_accuracy": self.per_class,
            "confusion_matrix": self.confusion,
            "count": self.count,
        }

    def table(self) -> str:
        """A plain-text table a person can read in a terminal."""
        lines = [f"{'class':<12} {'accuracy':>9}  {'n':>5}"]
        for index, name in enumerate(CLASSES):
            lines.append(f"{name:<12} {self.per_class[name]:>9.2%}  {sum(self.confusion[index]):>5}")
        lines.append(f"{'overall':<12} {self.accuracy:>9.2%}  {self.count:>5}")
        return "\n".join(lines)


def evaluate(predicted: np.ndarray, truth: np.ndarray) -> Evaluation:
    """Compare predicted class indices with the true ones."""
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    np.add.at(confusion, (truth.astype(np.int64), predicted.astype(np.int64)), 1)
    per_class = {name: float(confusion[i, i] / max(confusion[i].sum(), 1)) for i, name in enumerate(CLASSES)}
    return Evaluation(
        accuracy=float(np.trace(confusion) / max(confusion.sum(), 1)),
        per_class=per_class,
        confusion=confusion.tolist(),
        count=int(confusion.sum()),
    )


def save_confusion_png(evaluation: Evaluation, path: Path, *, title: str = "") -> Path:
    """Render the confusion matrix as a heat map with counts, for people to look at."""
    cell, left, top = 56, 110, 70
    size = (left + cell * len(CLASSES) + 20, top + cell * len(CLASSES) + 90)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=12)
    matrix = np.asarray(evaluation.confusion, dtype=np.float64)
    row_share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    draw.text(
        (10, 10), title or f"Confusion matrix, accuracy {evaluation.accuracy:.2%}", fill="black", font=font
    )
    draw.text((left, 35), "predicted class ->", fill="black", font=font)
    for i, name in enumerate(CLASSES):
        draw.text((5, top + i * cell + cell // 2 - 6), name, fill="black", font=font)
        draw.text((left + i * cell + 2, top + cell * len(CLASSES) + 6), name[:8], fill="black", font=font)
        for j in range(len(CLASSES)):
            _draw_cell(
                draw, font, (left + j * cell, top + i * cell, cell), int(matrix[i, j]), row_share[i, j]
            )
    draw.text((5, size[1] - 30), "rows: true class; colour: share of the row", fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def _draw_cell(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    box: tuple[int, int, int],
    count: int,
    share: float,
) -> None:
    x, y, cell = box
    shade = int(255 * (1 - share))
    draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(shade, shade, 255), outline=(200, 200, 200))
    draw.text((x + 6, y + cell // 2 - 6), str(count), fill="white" if share > 0.5 else "black", font=font)
