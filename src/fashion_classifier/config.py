"""Settings.from_env(): the only place that reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# src/fashion_classifier/config.py -> the checkout's root (models/ lives there).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The float model exported from Keras, and its int8 quantisation: the one served by default.
FLOAT_MODEL_PATH = PROJECT_ROOT / "models" / "fashion_cnn.onnx"
DEFAULT_MODEL_PATH = PROJECT_ROOT / "models" / "fashion_cnn.int8.onnx"
DEFAULT_DATABASE_URL = "sqlite:///data/predictions.db"


class ConfigError(ValueError):
    """An environment variable holds a value we cannot use."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Runtime configuration of the service; every field has a safe default."""

    database_url: str = DEFAULT_DATABASE_URL
    model_path: Path = DEFAULT_MODEL_PATH
    cassandra_consistency: str = "LOCAL_QUORUM"
    cassandra_replication: str = "SimpleStrategy:1"
    # Password authentication; user:password in DATABASE_URL (cassandra://user:pw@hosts/ks) wins.
    cassandra_username: str | None = None
    cassandra_password: str | None = field(default=None, repr=False)  # never in a log line
    max_upload_bytes: int = 20 * 1024 * 1024  # whole request, all files
    max_files_per_request: int = 16
    max_pixels: int = 24_000_000  # decoded size; Pillow's own default is ~89 M
    max_request_pixels: int = 48_000_000  # all pictures of one request: bounds its memory and time
    stored_image_max_side: int = 1024  # the copy kept in the store is re-encoded to fit this
    workers: int = 2
    threads: int = 4
    log_level: str = "INFO"

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
            max_files_per_request=_int(env, "MAX_FILES_PER_REQUEST", defaults.max_files_per_request),
            max_pixels=_int(env, "MAX_PIXELS", defaults.max_pixels),
            max_request_pixels=_int(env, "MAX_REQUEST_PIXELS", defaults.max_request_pixels),
            stored_image_max_side=_int(env, "STORED_IMAGE_MAX_SIDE", defaults.stored_image_max_side),
            workers=_int(env, "WEB_CONCURRENCY", defaults.workers),
            threads=_int(env, "THREADS", defaults.threads),
            log_level=env.get("LOG_LEVEL", defaults.log_level).upper(),
        )


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
