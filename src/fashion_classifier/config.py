"""Settings.from_env(): the only place that reads os.environ, and the home of every default."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

# src/fashion_classifier/config.py -> the checkout's root (models/ lives there).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The float model exported from Keras, and its int8 quantisation: the one served by default.
FLOAT_MODEL_PATH = PROJECT_ROOT / "models" / "fashion_cnn.onnx"
DEFAULT_MODEL_PATH = PROJECT_ROOT / "models" / "fashion_cnn.int8.onnx"
DEFAULT_DATABASE_URL = "sqlite:///data/predictions.db"
DEFAULT_CASSANDRA_CONSISTENCY = "LOCAL_QUORUM"
DEFAULT_CASSANDRA_REPLICATION = "SimpleStrategy:1"
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # whole request, all files
# prometheus-client reads this variable itself; hand_metrics_dir_to_prometheus() sets it.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class ConfigError(ValueError):
    """An environment variable holds a value we cannot use."""


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one upload request may hold; the service checks these before decoding a picture."""

    max_pixels: int = 24_000_000  # one picture, decoded; Pillow's own default is ~89 M
    max_request_pixels: int = 48_000_000  # all pictures of one request: bounds its memory and time
    max_files_per_request: int = 16
    stored_image_max_side: int = 1024  # the copy kept in the store is re-encoded to fit this


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Runtime configuration of the service; every field has a safe default."""

    database_url: str = DEFAULT_DATABASE_URL
    model_path: Path = DEFAULT_MODEL_PATH
    cassandra_consistency: str = DEFAULT_CASSANDRA_CONSISTENCY
    cassandra_replication: str = DEFAULT_CASSANDRA_REPLICATION
    # Password authentication; user:password in DATABASE_URL (cassandra://user:pw@hosts/ks) wins.
    cassandra_username: str | None = None
    cassandra_password: str | None = field(default=None, repr=False)  # never in a log line
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    limits: Limits = field(default_factory=Limits)
    workers: int = 2
    threads: int = 4
    log_level: str = "INFO"
    # Where the server's workers add up their metrics (None: one process, counted in memory).
    metrics_dir: Path | None = None
    # An extra folder to look for the Fashion-MNIST IDX files in (training and evaluation).
    fashion_mnist_dir: Path | None = None
    # How often each worker reads the store's active model version (a promotion reaches all
    # workers within this many seconds, plus the time to load the new model).
    model_poll_seconds: int = 10
    # The key of the hash that stands for a client's address in the correction log (the same on
    # every replica); unset: a key kept in data/client.key, made on first use.
    client_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL", defaults.database_url),
            model_path=Path(env.get("MODEL_PATH", str(defaults.model_path))),
            cassandra_consistency=env.get("CASSANDRA_CONSISTENCY", defaults.cassandra_consistency).upper(),
            cassandra_replication=env.get("CASSANDRA_REPLICATION", defaults.cassandra_replication),
            cassandra_username=env.get("CASSANDRA_USERNAME") or None,
            cassandra_password=env.get("CASSANDRA_PASSWORD") or None,
            max_upload_bytes=_int(env, "MAX_UPLOAD_BYTES", defaults.max_upload_bytes),
            limits=_limits(env, defaults.limits),
            workers=_int(env, "WEB_CONCURRENCY", defaults.workers),
            threads=_int(env, "THREADS", defaults.threads),
            log_level=env.get("LOG_LEVEL", defaults.log_level).upper(),
            metrics_dir=_path(env, METRICS_DIR_VARIABLE),
            fashion_mnist_dir=_path(env, "FASHION_MNIST_DIR"),
            model_poll_seconds=_int(env, "MODEL_POLL_SECONDS", defaults.model_poll_seconds),
            client_key=env.get("CLIENT_KEY") or None,
        )


def hand_metrics_dir_to_prometheus(settings: Settings) -> Settings:
    """Give prometheus-client (which reads the variable itself) an empty folder to add workers up in.

    Workers are processes: their counters meet in files there. A folder of one's own is made
    when none is set; counters of an earlier run are removed so they are not added again.
    """
    directory = settings.metrics_dir or Path(tempfile.mkdtemp(prefix="fashion-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[METRICS_DIR_VARIABLE] = str(directory)
    return replace(settings, metrics_dir=directory)


def _limits(env: Mapping[str, str], defaults: Limits) -> Limits:
    return Limits(
        max_pixels=_int(env, "MAX_PIXELS", defaults.max_pixels),
        max_request_pixels=_int(env, "MAX_REQUEST_PIXELS", defaults.max_request_pixels),
        max_files_per_request=_int(env, "MAX_FILES_PER_REQUEST", defaults.max_files_per_request),
        stored_image_max_side=_int(env, "STORED_IMAGE_MAX_SIDE", defaults.stored_image_max_side),
    )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw) if raw else None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero")
    return value
