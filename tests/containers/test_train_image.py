"""The training image (deploy/Dockerfile, target train): it builds, and one short run on a slice
of the data writes a model, its int8 twin and their cards into the mounted /out."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from fashion_classifier import CLASSES
from fashion_classifier.inference import Classifier
from tests.containers.podman import ROOT, photo, podman

# slow: `make test-containers-train`, outside CI (a 2 GB image, TensorFlow downloaded, ~12 minutes).
pytestmark = [pytest.mark.containers, pytest.mark.slow, pytest.mark.timeout(3600)]

TRAIN_IMAGE = "fashion-classifier-train"  # deploy/README.md's tag
LIMIT, EPOCHS = "1000", "1"  # a smoke run: the model need not be good, only complete


def test_short_run_writes_a_model_into_out(
    base_images: None, tmp_path: Path, timings: dict[str, float | str]
) -> None:
    started = time.monotonic()
    dockerfile = str(ROOT / "deploy" / "Dockerfile")
    podman(
        "build", "--quiet", "-f", dockerfile, "--target", "train", "-t", TRAIN_IMAGE, str(ROOT), timeout=3600
    )
    timings["train_image_build_s"] = round(time.monotonic() - started, 1)
    timings["train_image_bytes"] = int(
        podman("image", "inspect", "--format", "{{.Size}}", TRAIN_IMAGE).stdout
    )

    started = time.monotonic()
    # As deploy/README.md runs it: as the caller's user, so the files are the caller's; no network.
    podman("run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
           "-v", f"{tmp_path}:/out", TRAIN_IMAGE, "--epochs", EPOCHS, "--limit", LIMIT, timeout=3600)  # fmt: skip
    timings["train_run_s"] = round(time.monotonic() - started, 1)

    written = {path.name for path in tmp_path.iterdir()}
    assert {
        "fashion_cnn.onnx",
        "fashion_cnn.json",
        "fashion_cnn.int8.onnx",
        "fashion_cnn.int8.json",
    } <= written
    card = json.loads((tmp_path / "fashion_cnn.int8.json").read_text())
    assert card["training"]["config"]["limit"] == int(LIMIT)
    assert (tmp_path / "fashion_cnn.int8.onnx").stat().st_uid == os.getuid()
    prediction = Classifier.load(tmp_path / "fashion_cnn.int8.onnx").predict_bytes(photo("Bag")[1])
    assert prediction.label in CLASSES
