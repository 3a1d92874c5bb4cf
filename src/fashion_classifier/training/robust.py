"""Fine-tune the shipped model for the wild: staged product photos and outlier exposure.

Starts from the float ONNX model (training/warm_start.py) or from an earlier fine-tune's Keras
file, and trains on three streams: data-set garments, the same garments as staged photos
through the real preprocessing (photo_augment.py, renderer A) and non-garment pictures from the
`train` sources (outliers.py). Non-garments teach two things (outlier exposure, Hendrycks et
al. 2019): the class head spreads its belief evenly over the ten classes, and a one-unit
garment head on the same features learns "garment or not". That second head keeps a hard
photo (a Shirt that could be a T-shirt) apart from a non-garment: both have a low top
probability, but only one is unlike every garment.

Resumable: the arrays are cached in `work_dir`, the model after every epoch.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnx
import tensorflow as tf

from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.training import data, outliers, photo_augment
from fashion_classifier.training.model import build_augmentation
from fashion_classifier.training.warm_start import model_from_onnx


@dataclass(frozen=True)
class RobustConfig:
    start_from: str = "models/fashion_cnn.onnx"
    epochs: int = 8
    steps_per_epoch: int = 540
    batch_size: int = 128
    learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    train_photos: int = 24_000
    val_photos: int = 2_000
    outliers_per_family: int = 4_000
    val_outliers_per_family: int = 300
    outlier_weight: float = 0.5  # of a non-garment in the class head's loss (the garment head: 1)
    seed: int = 2026


@dataclass(frozen=True)
class Arrays:
    """Model inputs as uint8 (n, 28, 28) with labels; label -1 marks a non-garment."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    val_kind: np.ndarray  # "dataset", "photo" or an outlier family, per validation image


def build_arrays(config: RobustConfig, work_dir: Path) -> Arrays:
    """Render (once, cached) every training and validation picture through the preprocessing."""
    cache = work_dir / "arrays.npz"
    if cache.exists():
        with np.load(cache) as saved:
            return Arrays(**{name: saved[name] for name in Arrays.__dataclass_fields__})
    dataset = data.load()
    train, val = data.train_validation_split(dataset.train, validation_size=5000, seed=42)
    rng = np.random.default_rng(config.seed)
    photo_pick = rng.choice(len(train.labels), config.train_photos, replace=False)
    val_pick = rng.choice(len(val.labels), config.val_photos, replace=False)
    with multiprocessing.Pool(2) as pool:
        train_photos = _photos(pool, train.images[photo_pick], config.seed)
        val_photos = _photos(pool, val.images[val_pick], config.seed + 1)
        train_out = _outliers(pool, config.outliers_per_family, seed=config.seed)
        val_out = _outliers(pool, config.val_outliers_per_family, seed=config.seed + 100)
    arrays = Arrays(
        train_images=np.concatenate([train.images, train_photos, train_out[0]]),
        train_labels=np.concatenate(
            [train.labels.astype(np.int16), train.labels[photo_pick], np.full(len(train_out[0]), -1)]
        ).astype(np.int16),
        val_images=np.concatenate([val.images, val_photos, val_out[0]]),
        val_labels=np.concatenate(
            [val.labels.astype(np.int16), val.labels[val_pick], np.full(len(val_out[0]), -1)]
        ).astype(np.int16),
        val_kind=np.concatenate(
            [np.full(len(val.labels), "dataset"), np.full(len(val_pick), "photo"), val_out[1]]
        ),
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **asdict(arrays))
    return arrays


def _photos(pool: multiprocessing.pool.Pool, images: np.ndarray, seed: int) -> np.ndarray:
    chunks = np.array_split(images, 16)
    parts = pool.starmap(photo_augment.model_inputs, [(c, seed * 100 + i) for i, c in enumerate(chunks)])
    return np.concatenate(parts)


def _outliers(
    pool: multiprocessing.pool.Pool, per_family: int, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    jobs = [(family, per_family, seed + i) for i, family in enumerate(outliers.FAMILIES)]
    parts = pool.starmap(_outlier_inputs, jobs)
    families = np.concatenate([np.full(per_family, family) for family in outliers.FAMILIES])
    return np.concatenate(parts), families


def _outlier_inputs(family: str, count: int, seed: int) -> np.ndarray:
    uploads = outliers.pictures(family, count, split="train", seed=seed)
    return np.stack([np.round(preprocess_bytes(u)[0, ..., 0] * 255).astype(np.uint8) for u in uploads])


def targets(labels: np.ndarray, smoothing: float) -> np.ndarray:
    """One-hot with label smoothing for garments; uniform for non-garments."""
    out = np.full((len(labels), 10), smoothing / 10, np.float32)
    garment = labels >= 0
    out[garment, labels[garment]] += 1 - smoothing
    out[~garment] = 0.1
    return out


def fine_tune(config: RobustConfig, work_dir: Path) -> keras.Model:
    """Train (or resume) and return the model after the last epoch."""
    keras.utils.set_random_seed(config.seed)
    arrays = build_arrays(config, work_dir)
    state_path, last = work_dir / "state.json", work_dir / "last.keras"
    state: dict[str, Any] = (
        json.loads(state_path.read_text()) if state_path.exists() else {"epoch": 0, "history": {}}
    )
    if state["epoch"] and last.exists():
        model = keras.models.load_model(last)
    else:
        model = with_garment_head(_starting_model(Path(config.start_from)))
        _compile(model, config)
    if state["epoch"] >= config.epochs:
        return model
    started, seconds_before = time.monotonic(), float(state.get("seconds", 0.0))

    def save_state(epoch: int, logs: dict) -> None:
        for key, value in logs.items():
            state["history"].setdefault(key, []).append(float(value))
        state["epoch"], state["seconds"] = epoch + 1, seconds_before + time.monotonic() - started
        state["config"] = asdict(config)
        state_path.write_text(json.dumps(state, indent=1))

    model.fit(
        _train_stream(arrays, config),
        steps_per_epoch=config.steps_per_epoch,
        validation_data=_val_stream(arrays),
        initial_epoch=state["epoch"],
        epochs=config.epochs,
        callbacks=[
            keras.callbacks.ModelCheckpoint(last),
            keras.callbacks.LambdaCallback(on_epoch_end=save_state),
        ],
        verbose=2,
    )
    return model


def _starting_model(path: Path) -> keras.Model:
    """A float ONNX export of the trained CNN, or the Keras file of an earlier fine-tune."""
    if path.suffix == ".keras":
        model = keras.models.load_model(path)
        # An earlier fine-tune's model may have its garment head already: start from its trunk.
        return keras.Model(model.inputs, model.get_layer("probabilities").output, name="fashion_cnn")
    if len(onnx.load(str(path), load_external_data=False).graph.output) > 1:
        raise ValueError(
            f"{path} is already a fine-tuned export (it has a garment score): start from the model "
            "`fashion-classifier train` writes, or from a fine-tune's .keras file (--start-from)"
        )
    return model_from_onnx(path)


def with_garment_head(model: keras.Model) -> keras.Model:
    """The CNN with a second output: one logit, "garment or not", from the penultimate features."""
    garment = keras.layers.Dense(1, name="garment")(model.get_layer("fc_relu").output)
    return keras.Model(
        model.inputs,
        {"probabilities": model.get_layer("probabilities").output, "garment": garment},
        name="fashion_cnn",
    )


def _compile(model: keras.Model, config: RobustConfig) -> None:
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=config.epochs * config.steps_per_epoch
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss={
            "probabilities": keras.losses.CategoricalCrossentropy(),
            "garment": keras.losses.BinaryCrossentropy(from_logits=True),
        },
        metrics={"probabilities": ["accuracy"], "garment": [keras.metrics.BinaryAccuracy(threshold=0.0)]},
        jit_compile=True,
    )


def _train_stream(arrays: Arrays, config: RobustConfig) -> tf.data.Dataset:
    images = arrays.train_images[..., None].astype(np.float32) / 255.0
    outputs = {
        "probabilities": targets(arrays.train_labels, config.label_smoothing),
        "garment": (arrays.train_labels >= 0).astype(np.float32)[:, None],
    }
    weights = {
        "probabilities": np.where(arrays.train_labels >= 0, 1.0, config.outlier_weight).astype(np.float32),
        "garment": np.ones(len(images), np.float32),
    }
    augment = build_augmentation(seed=config.seed)
    ds = tf.data.Dataset.from_tensor_slices((images, outputs, weights))
    ds = ds.shuffle(len(images), seed=config.seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(config.batch_size).map(
        lambda x, y, w: (augment(x, training=True), y, w), num_parallel_calls=tf.data.AUTOTUNE
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def _val_stream(arrays: Arrays) -> tf.data.Dataset:
    garment = arrays.val_labels >= 0
    images = arrays.val_images[garment][..., None].astype(np.float32) / 255.0
    outputs = {
        "probabilities": targets(arrays.val_labels[garment], 0.0),
        "garment": np.ones((int(garment.sum()), 1), np.float32),
    }
    return tf.data.Dataset.from_tensor_slices((images, outputs)).batch(512)
