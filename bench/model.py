"""Model benchmark: accuracy, latency and throughput of the shipped model beside the seed's path.

Run with `make bench` (or `.venv/bin/python bench/model.py`). Prints a table and writes
docs/benchmarks/model.md and model.json. Timings drift on this shared machine; compare the
rows of one run with each other, not with another run's.
"""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_classifier import predict_imgpath
from fashion_classifier.config import DEFAULT_MODEL_PATH, FLOAT_MODEL_PATH
from fashion_classifier.inference import Classifier
from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.training import data, photos

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def timed(function: Callable[[], object], *, repeat: int, warmup: int = 20) -> dict[str, float]:
    """Median and p99 of `repeat` calls, in milliseconds."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(samples), "p99_ms": float(np.percentile(samples, 99))}


def photo_jpeg(garment: np.ndarray) -> bytes:
    """A 640x480 product-style JPEG of one data-set garment."""
    canvas = Image.new("RGB", (640, 480), (245, 243, 240))
    picture = Image.fromarray(255 - garment).resize((300, 300), Image.Resampling.BICUBIC).convert("RGB")
    canvas.paste(picture, (250, 90))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def accuracy(test: data.Split, folder: Path) -> dict[str, float]:
    """Top-1 through predict_imgpath on the 10,000 test images saved as PNG, and on rendered photos."""
    folder.mkdir(parents=True, exist_ok=True)
    correct = 0
    for index, (image, label) in enumerate(zip(test.images, test.labels, strict=True)):
        path = folder / f"{index}.png"
        Image.fromarray(image).save(path)
        correct += predict_imgpath(path) == data_class(label)
    rendered = photos.render_set(test.images, test.labels, count=2000, seed=11)
    classifier = Classifier.load(DEFAULT_MODEL_PATH)
    photo_hits = sum(classifier.predict_bytes(p.data).label == data_class(p.label) for p in rendered)
    return {"test_png_top1": correct / len(test.labels), "photo_top1": photo_hits / len(rendered)}


def data_class(label: int) -> str:
    from fashion_classifier.labels import CLASSES

    return CLASSES[int(label)]


def onnx_timings(test: data.Split, jpeg: bytes, folder: Path) -> dict[str, dict[str, float]]:
    single = Classifier.load(DEFAULT_MODEL_PATH, threads=1)
    single_float = Classifier.load(FLOAT_MODEL_PATH, threads=1)
    image = test.images[0][None, ..., None].astype(np.float32) / 255.0
    png = (folder / "0.png").read_bytes()
    path = folder / "photo.jpg"
    path.write_bytes(jpeg)
    results = {
        "model, 1 image, 1 thread (one pass)": timed(lambda: single.raw_probabilities(image), repeat=3000),
        "float model before quantisation, 1 image, 1 thread (one pass)": timed(
            lambda: single_float.raw_probabilities(image), repeat=3000
        ),
        "model, 1 image, 1 thread (with flip averaging, as served)": timed(
            lambda: single.probabilities(image), repeat=3000
        ),
        "preprocess 28x28 PNG": timed(lambda: preprocess_bytes(png), repeat=2000),
        "preprocess 640x480 JPEG": timed(lambda: preprocess_bytes(jpeg), repeat=500),
        "predict_imgpath 640x480 JPEG": timed(lambda: predict_imgpath(path), repeat=500),
    }
    batch = test.images[:1024][..., None].astype(np.float32) / 255.0
    both = Classifier.load(DEFAULT_MODEL_PATH, threads=os.cpu_count() or 1)
    both_float = Classifier.load(FLOAT_MODEL_PATH, threads=os.cpu_count() or 1)
    for name, run in (
        ("one pass", both.raw_probabilities),
        ("with flip averaging", both.probabilities),
        ("float model, one pass", both_float.raw_probabilities),
    ):
        batch_ms = timed(lambda run=run: run(batch), repeat=20, warmup=3)["median_ms"]
        results[f"batch of 1024, all cores ({name})"] = {
            "images_per_s": 1024 / (batch_ms / 1000),
            "median_ms": batch_ms,
        }
    return results


def keras_timings(test: data.Split) -> dict[str, float]:
    """The seed's serving path: Keras model.predict on one image (same architecture as ours)."""
    import keras

    from fashion_classifier.training.model import build_model

    checkpoint = Path(".checkpoint/best.keras")
    model = keras.models.load_model(checkpoint) if checkpoint.exists() else build_model()
    image = test.images[0][None, ..., None].astype(np.float32) / 255.0
    return timed(lambda: model.predict(image, verbose=0), repeat=200, warmup=5)


RSS_PROBE = {
    "onnx": (
        "from fashion_classifier.inference import Classifier; from fashion_classifier.config import DEFAULT_MODEL_PATH;"
        "import numpy as np; c = Classifier.load(DEFAULT_MODEL_PATH); c.probabilities(np.zeros((1,28,28,1), 'float32'))"
    ),
    "keras": (
        "from fashion_classifier.training.model import build_model; import numpy as np;"
        "m = build_model(); m.predict(np.zeros((1,28,28,1), 'float32'), verbose=0)"
    ),
}


def resident_mb(kind: str) -> float:
    """Peak resident size of a fresh process that loads the model and predicts once."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent (this process, with
    # TensorFlow loaded) across fork and exec, so every child would report at least our size.
    code = RSS_PROBE[kind] + (
        "; print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def main() -> None:
    test = data.load().test
    folder = Path("/tmp/fashion-bench-png")
    results: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    results["accuracy"] = accuracy(test, folder)
    results["onnx"] = onnx_timings(test, photo_jpeg(test.images[0]), folder)
    results["keras_seed_path"] = keras_timings(test)
    results["resident_mb"] = {kind: resident_mb(kind) for kind in RSS_PROBE}
    seed = results["keras_seed_path"]["median_ms"]  # type: ignore[index]
    ours = results["onnx"]["model, 1 image, 1 thread (one pass)"]["median_ms"]  # type: ignore[index]
    results["speedup_vs_keras_predict"] = seed / ours
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "model.json").write_text(json.dumps(results, indent=1) + "\n")
    (OUT / "model.md").write_text(render(results))
    print(render(results))


def render(results: dict) -> str:  # type: ignore[type-arg]
    acc, onnx = results["accuracy"], results["onnx"]
    lines = [
        "# Model benchmark",
        "",
        f"Run {results['date']} on {results['cpus']} cores (`make bench`, bench/model.py).",
        "",
        f"- Test set through `predict_imgpath` on PNG files: **{acc['test_png_top1']:.2%}** top-1",
        f"- Rendered product photos (2,000, see training/photos.py): **{acc['photo_top1']:.2%}** top-1",
        "",
        "| what | median ms | p99 ms |",
        "|---|---|---|",
    ]
    for name, row in onnx.items():
        if "p99_ms" in row:
            lines.append(f"| {name} | {row['median_ms']:.3f} | {row['p99_ms']:.3f} |")
    keras = results["keras_seed_path"]
    lines += [
        f"| seed's path: Keras `model.predict`, 1 image | {keras['median_ms']:.3f} | {keras['p99_ms']:.3f} |",
        "",
        *(
            f"- Batch throughput, {name.removeprefix('batch of ')}: **{row['images_per_s']:,.0f} images/s**"
            for name, row in onnx.items()
            if "images_per_s" in row
        ),
        f"- served int8 model under ONNX Runtime (one pass) vs Keras `model.predict` on one image, same network: "
        f"**{results['speedup_vs_keras_predict']:.0f}x** faster",
        f"- Resident memory after loading and one prediction: ONNX Runtime {results['resident_mb']['onnx']:.0f} MB, "
        f"Keras {results['resident_mb']['keras']:.0f} MB",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
