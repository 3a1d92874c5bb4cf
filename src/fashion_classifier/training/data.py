"""Fashion-MNIST from its four IDX files (numpy only, no TensorFlow needed)."""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion_classifier.config import Settings

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_CACHE = Path.home() / ".keras" / "datasets" / "fashion-mnist"
INSTALL_HINT = (
    "Fashion-MNIST not found. Install it with `apt-get install dataset-fashion-mnist` "
    "(files land in /usr/share/datasets/fashion-mnist), or pass --data-dir / set "
    "FASHION_MNIST_DIR to a folder holding the four *-ubyte.gz files."
)


class DatasetNotFound(FileNotFoundError):
    """The IDX files are in none of the places we look."""


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8, (n, 28, 28), light garment on black
    labels: np.ndarray  # uint8, (n,)


@dataclass(frozen=True)
class FashionMNIST:
    train: Split
    test: Split
    directory: Path

    def file_hashes(self) -> dict[str, str]:
        """SHA-256 of each source file, for the model card."""
        return {name: _sha256(self.directory / name) for name in FILES.values()}


def candidate_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """Where to look, in order: explicit, $FASHION_MNIST_DIR, system package, Keras cache."""
    dirs = [Path(data_dir)] if data_dir else []
    if env_dir := Settings.from_env().fashion_mnist_dir:
        dirs.append(env_dir)
    return [*dirs, SYSTEM_DIR, KERAS_CACHE]


def find_data_dir(data_dir: str | Path | None = None, *, allow_download: bool = False) -> Path:
    """The first folder holding all four files; optionally let Keras download them."""
    for candidate in candidate_dirs(data_dir):
        if all((candidate / name).is_file() for name in FILES.values()):
            return candidate
    if allow_download:
        return _download_with_keras()
    raise DatasetNotFound(INSTALL_HINT)


def load(data_dir: str | Path | None = None, *, allow_download: bool = False) -> FashionMNIST:
    directory = find_data_dir(data_dir, allow_download=allow_download)
    arrays = {key: read_idx(directory / name) for key, name in FILES.items()}
    return FashionMNIST(
        train=Split(arrays["train_images"], arrays["train_labels"]),
        test=Split(arrays["test_images"], arrays["test_labels"]),
        directory=directory,
    )


def read_idx(path: Path) -> np.ndarray:
    """Parse one (gzipped) IDX file of unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {np.prod(shape)} values, got {data.size}")
    return data.reshape(shape)


def train_validation_split(
    split: Split, *, validation_size: int = 5000, seed: int = 42
) -> tuple[Split, Split]:
    """A fixed, shuffled hold-out from the training data (the test set stays untouched)."""
    order = np.random.default_rng(seed).permutation(len(split.labels))
    held, kept = order[:validation_size], order[validation_size:]
    return (
        Split(split.images[kept], split.labels[kept]),
        Split(split.images[held], split.labels[held]),
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download_with_keras() -> Path:
    """Online users only: Keras fetches the files into its cache."""
    try:
        import keras

        keras.datasets.fashion_mnist.load_data()
    except Exception as exc:  # network errors come in many types
        raise DatasetNotFound(f"{INSTALL_HINT} (download failed: {exc})") from exc
    return KERAS_CACHE
