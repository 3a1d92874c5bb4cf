"""Fit the CNN with checkpoints in .checkpoint/ (resumable), then export it."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fashion_classifier.training import data
from fashion_classifier.training.model import build_augmentation, build_model

STATE_FILE = "state.json"
LAST_CHECKPOINT = "last.keras"
BEST_CHECKPOINT = "best.keras"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained weights (kept in the checkpoint and model card)."""

    epochs: int = 32
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 5e-4
    warmup_epochs: int = 2
    label_smoothing: float = 0.05
    validation_size: int = 5000
    seed: int = 42
    limit: int | None = None  # train on the first N examples only (quick runs, tests)
    data_dir: str | None = field(default=None, compare=False)


@dataclass
class TrainResult:
    model: keras.Model
    history: dict[str, list[float]]
    seconds: float
    best_epoch: int
    dataset: data.FashionMNIST


def train(config: TrainConfig, *, checkpoint_dir: Path, verbose: int | None = None) -> TrainResult:
    """Train (or resume) and return the best-on-validation model."""
    keras.utils.set_random_seed(config.seed)
    dataset = data.load(config.data_dir, allow_download=True)
    train_split, val_split = data.train_validation_split(
        dataset.train, validation_size=config.validation_size, seed=config.seed
    )
    if config.limit:
        train_split = data.Split(train_split.images[: config.limit], train_split.labels[: config.limit])
    steps_per_epoch = -(-len(train_split.labels) // config.batch_size)

    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    model, state = _resume_or_build(config, checkpoint_dir, steps_per_epoch)
    if state["epoch"] < config.epochs:
        _say(f"training epochs {state['epoch'] + 1}..{config.epochs} on {len(train_split.labels)} images")
        started = time.monotonic()
        model.fit(
            make_dataset(train_split, batch_size=config.batch_size, augment_seed=config.seed),
            validation_data=make_dataset(val_split, batch_size=512),
            shuffle=False,  # the tf.data pipeline shuffles already
            initial_epoch=state["epoch"],
            epochs=config.epochs,
            callbacks=_callbacks(checkpoint_dir, state, started),
            verbose=verbose if verbose is not None else (1 if sys.stdout.isatty() else 2),
        )
    state = json.loads((checkpoint_dir / STATE_FILE).read_text())
    best = keras.models.load_model(checkpoint_dir / BEST_CHECKPOINT)
    return TrainResult(best, state["history"], state["seconds"], state["best_epoch"], dataset)


def make_dataset(split: data.Split, *, batch_size: int, augment_seed: int | None = None) -> tf.data.Dataset:
    """Batches of (float image in [0, 1], one-hot label); shuffled and augmented for training."""
    images = split.images[..., None].astype("float32") / 255.0
    labels = keras.utils.to_categorical(split.labels, 10)
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if augment_seed is not None:
        augment = build_augmentation(seed=augment_seed)
        ds = ds.shuffle(len(images), seed=augment_seed, reshuffle_each_iteration=True).batch(batch_size)
        ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def compile_model(model: keras.Model, config: TrainConfig, steps_per_epoch: int) -> None:
    """AdamW with linear warm-up then cosine decay to zero over the whole run."""
    warmup = config.warmup_epochs * steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10,
        decay_steps=max(1, config.epochs * steps_per_epoch - warmup),
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
        jit_compile=True,  # XLA fuses conv+BN+ReLU: about a third faster per step on CPU here
    )


def _resume_or_build(config: TrainConfig, directory: Path, steps: int) -> tuple[keras.Model, dict]:
    state_path = directory / STATE_FILE
    if state_path.exists():
        state = json.loads(state_path.read_text())
        if state["config"] == _config_key(config):
            _say(f"resuming from {directory / LAST_CHECKPOINT} after epoch {state['epoch']}")
            return keras.models.load_model(directory / LAST_CHECKPOINT), state
        _say(f"ignoring checkpoint in {directory}: it was made with other settings")
    model = build_model()
    compile_model(model, config, steps)
    state = {"config": _config_key(config), "epoch": 0, "history": {}, "seconds": 0.0, "best_epoch": 0}
    return model, state


def _config_key(config: TrainConfig) -> dict:
    return {k: v for k, v in asdict(config).items() if k != "data_dir"}


def _callbacks(directory: Path, state: dict, started: float) -> list[keras.callbacks.Callback]:
    previous_seconds = state["seconds"]
    best_so_far = max(state["history"].get("val_accuracy", []), default=None)

    def save_state(epoch: int, logs: dict) -> None:
        for key, value in logs.items():
            state["history"].setdefault(key, []).append(float(value))
        val = state["history"]["val_accuracy"]
        state["best_epoch"] = int(np.argmax(val)) + 1
        state["epoch"] = epoch + 1
        state["seconds"] = previous_seconds + time.monotonic() - started
        (directory / STATE_FILE).write_text(json.dumps(state, indent=1))

    return [
        keras.callbacks.ModelCheckpoint(
            directory / BEST_CHECKPOINT,
            monitor="val_accuracy",
            save_best_only=True,
            initial_value_threshold=best_so_far,  # a resumed run keeps the earlier best
        ),
        keras.callbacks.ModelCheckpoint(directory / LAST_CHECKPOINT),
        # Runs after the checkpoints above, so state.json never points past a saved model.
        keras.callbacks.LambdaCallback(on_epoch_end=save_state),
    ]


def _say(message: str) -> None:
    print(f"[train] {message}", flush=True)
