"""`fashion-classifier fine-tune`: the robust model, from fine-tuning to the shipped int8 file and cards."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import onnxruntime as ort

from fashion_classifier.evaluation import evaluate
from fashion_classifier.labels import CLASSES
from fashion_classifier.training import data, outliers, wild
from fashion_classifier.training.export import _versions
from fashion_classifier.training.quantize import quantize, write_int8_card
from fashion_classifier.training.robust import Arrays, RobustConfig, build_arrays, fine_tune


def ship(work_dir: Path, output: Path, config: RobustConfig | None = None) -> dict:
    """Fine-tune (resumable), choose and calibrate the verdict, export, quantise, measure."""
    config = config or RobustConfig()
    start = Path(config.start_from)
    # The starting model and its card, kept: `output` may be the same file.
    base = work_dir / f"base{start.suffix}"
    if not base.exists():
        work_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(start.with_suffix(".json"), base.with_suffix(".json"))
        shutil.copy(start, base)
    config = replace(config, start_from=str(base))
    previous = json.loads(base.with_suffix(".json").read_text())
    model = fine_tune(config, work_dir)
    arrays = build_arrays(config, work_dir)
    state = json.loads((work_dir / "state.json").read_text())
    gaussian = wild.fit_gaussian(model, arrays)
    comparison = wild.compare_methods(model, arrays, gaussian)
    # The method that flags the most validation non-garments at the line that keeps the garments.
    method = max(comparison, key=lambda name: comparison[name]["flagged_at_line"])
    _say(f"garment score on validation: {comparison}; chosen: {method}")
    wild.export_with_verdict(model, method, gaussian, output)
    dataset = data.load()
    card = _float_card(
        output,
        method,
        wild.calibrate(output, arrays, method),
        comparison,
        previous,
        config,
        state,
        dataset,
        model,
    )
    wild.write_json(output.with_suffix(".json"), card)
    int8 = quantize(output, dataset, calibration_images=_calibration_mix(arrays))
    int8_calibration = wild.calibrate(int8, arrays, method)
    wild.write_json(
        int8.with_suffix(".json"), {**card, "garment_verdict": _verdict_entry(int8_calibration, comparison)}
    )
    int8_card = write_int8_card(output, int8, dataset, calibration=CALIBRATION_MIX)
    sets = wild.test_sets(dataset)
    int8_card["garment_verdict"] = _verdict_entry(int8_calibration, comparison)
    int8_card["measured"] = wild.card_figures(int8, int8_calibration, sets)
    wild.write_json(int8.with_suffix(".json"), int8_card)
    card["measured"] = wild.card_figures(output, wild.calibrate(output, arrays, method), sets)
    wild.write_json(output.with_suffix(".json"), card)
    return int8_card


CALIBRATION_MIX = "2000 training pictures drawn from every stream: data set, staged photos, non-garments"


def _calibration_mix(arrays: Arrays, count: int = 2000, seed: int = 5) -> np.ndarray:
    """Training pictures of every stream (data set, staged photos, non-garments) for int8 ranges."""
    picks = np.random.default_rng(seed).choice(len(arrays.train_labels), count, replace=False)
    return arrays.train_images[np.sort(picks)]


def _verdict_entry(calibration: wild.verdict.Calibration, comparison: dict) -> dict:
    return {
        "method": calibration.method,
        "threshold": calibration.threshold,
        "scale": calibration.scale,
        "garment_score": "sigmoid((raw - threshold) / scale); is_garment when garment_score >= 0.5",
        "threshold_chosen_on": f"validation: keeps {wild.KEEP_DATASET:.0%} of held-out data-set garments and "
        f"{wild.KEEP_PHOTOS:.0%} of their renderer-A photos",
        "methods_compared_on_validation": comparison,
    }


def _parity(model: keras.Model, path: Path, images: np.ndarray) -> dict:
    """How closely ONNX Runtime reproduces Keras on the test images (no mirror averaging)."""
    batch = images[..., None].astype(np.float32) / 255.0
    keras_probs = model.predict(batch, batch_size=1000, verbose=0)
    if isinstance(keras_probs, dict):  # a model with a garment head
        keras_probs = keras_probs["probabilities"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_probs = np.concatenate(
        [
            session.run(["probabilities"], {"image": batch[i : i + 1000]})[0]
            for i in range(0, len(batch), 1000)
        ]
    )
    return {
        "images": len(batch),
        "top1_agreement": float(np.mean(keras_probs.argmax(1) == onnx_probs.argmax(1))),
        "max_abs_probability_difference": float(np.max(np.abs(keras_probs - onnx_probs))),
    }


def _float_card(  # noqa: PLR0917
    path: Path,
    method: str,
    calibration: wild.verdict.Calibration,
    comparison: dict,
    previous: dict,
    config: RobustConfig,
    state: dict,
    dataset: data.FashionMNIST,
    model: keras.Model,
) -> dict:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    created = datetime.now(UTC)
    probs, _ = wild.onnx_outputs(path, dataset.test.images)
    return {
        "name": "fashion_cnn",
        "version": f"{created:%Y%m%d}-{digest[:8]}",
        "created": created.isoformat(timespec="seconds"),
        "onnx_sha256": digest,
        "input": previous["input"],
        "outputs": {
            "probabilities": "(n, 10) softmax",
            "garment_raw": f"(n,) raw {method} score",
            "embedding": "(n, 256) penultimate features, unit length",
        },
        "test_time_augmentation": previous["test_time_augmentation"],
        "classes": list(CLASSES),
        "parameters": int(model.count_params()),
        "training": {
            "fine_tuned_from": previous["version"],
            "method": "fine-tuning with staged product photos (renderer A, training/photo_augment.py) through "
            "the service's preprocessing, and outlier exposure on non-garment pictures: a uniform target "
            "for the class head, 'not a garment' for the garment head",
            "config": asdict(config),
            "seconds": round(state.get("seconds", 0.0), 1),
            "history": state["history"],
            "base_model_training": previous["training"],
        },
        "outlier_sources": {
            "train (exposure, threshold)": _describe("train"),
            "eval (reported only)": _describe("eval"),
        },
        "garment_verdict": _verdict_entry(calibration, comparison),
        "test_set": evaluate(probs.argmax(1), dataset.test.labels).as_dict(),
        "export_parity": _parity(model, path, dataset.test.images),
        "data_files_sha256": dataset.file_hashes(),
        "libraries": _versions(),
    }


def _describe(split: str) -> dict:
    src = outliers.sources(split)
    return {
        "photos": sorted({str(p.parent) for p in src.photos}),
        "fonts": sorted({p.stem for p in src.fonts}),
        "icon_themes": sorted({p.parts[4] for p in src.icons}),  # /usr/share/icons/<theme>/...
        "clip_art": sorted({f"tuxpaint-stamps/{p.parts[5]}" for p in src.stamps}),  # .../stamps/<kind>/
        "synthetic": "noise, flat colours, linear gradients"
        + (", radial gradients, plasma, checks" if split == "eval" else ""),
    }


def _say(message: str) -> None:
    print(f"[ship] {message}", flush=True)
