"""Versioned schema changes, the same list for both stores: append one to change the schema.

Each migration holds the statements for SQLite and for Cassandra ({ks} is the keyspace). Only
`fashion-classifier migrate` applies them; serving workers read the applied version and refuse
to serve below MIN_SERVING_VERSION. Changes must be additive (new tables, new nullable
columns), so that app replicas of the previous release keep working while a migration runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from fashion_classifier.storage.base import StoreUnavailable


class SchemaNotReady(StoreUnavailable):
    """The database schema is older than this code needs: run `fashion-classifier migrate`."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    cql: tuple[str, ...]


BASELINE_CQL = (
    """CREATE TABLE IF NOT EXISTS {ks}.records (
        id uuid PRIMARY KEY, created_at timestamp, filename text, label text,
        probabilities frozen<list<double>>, model_version text, width int, height int, corrected_label text)""",
    """CREATE TABLE IF NOT EXISTS {ks}.images (id uuid PRIMARY KEY, content_type text, data blob)""",
    """CREATE TABLE IF NOT EXISTS {ks}.feed (
        feed text, bucket timestamp, created_at timestamp, id uuid, filename text, label text,
        probabilities frozen<list<double>>, model_version text, width int, height int, corrected_label text,
        PRIMARY KEY ((feed, bucket), created_at, id)
    ) WITH CLUSTERING ORDER BY (created_at DESC, id DESC)""",
    """CREATE TABLE IF NOT EXISTS {ks}.feed_buckets (feed text, bucket timestamp, PRIMARY KEY (feed, bucket))
       WITH CLUSTERING ORDER BY (bucket DESC)""",
)
BASELINE_SQLITE = (
    """CREATE TABLE IF NOT EXISTS records (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,            -- milliseconds since the epoch, UTC
        filename TEXT NOT NULL,
        label TEXT NOT NULL,
        probabilities TEXT NOT NULL,            -- JSON list, in CLASSES order
        model_version TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        corrected_label TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS records_newest ON records (created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS records_by_label ON records (label, created_at DESC, id DESC)",
    """CREATE TABLE IF NOT EXISTS images (
        record_id TEXT PRIMARY KEY REFERENCES records (id) ON DELETE CASCADE,
        content_type TEXT NOT NULL,
        data BLOB NOT NULL
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (
    # The schema as it was before migrations existed (IF NOT EXISTS: such stores adopt it as is).
    Migration(1, "baseline", BASELINE_SQLITE, BASELINE_CQL),
    Migration(
        2,
        "garment verdict",
        (
            "ALTER TABLE records ADD COLUMN garment_score REAL",
            "ALTER TABLE records ADD COLUMN is_garment INTEGER",  # 0/1, NULL before the verdict existed
            "CREATE INDEX records_by_garment ON records (is_garment, created_at DESC, id DESC)",
        ),
        (
            # IF NOT EXISTS: a migration cut short (the job killed mid-way) can simply run again.
            "ALTER TABLE {ks}.records ADD IF NOT EXISTS (garment_score double, is_garment boolean)",
            "ALTER TABLE {ks}.feed ADD IF NOT EXISTS (garment_score double, is_garment boolean)",
        ),
    ),
    # Similar garments (storage/similar.py): one row per (record, model version), since
    # embeddings of different model versions are never compared. Cassandra: a storage-attached
    # index (cosine) answers ANN queries; a second one on model_version keeps them to one version.
    Migration(
        3,
        "embeddings",
        (
            """CREATE TABLE embeddings (
                record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
                model_version TEXT NOT NULL,
                vector BLOB NOT NULL,                -- float32, little-endian, unit length
                PRIMARY KEY (model_version, record_id)
            )""",
        ),
        (
            """CREATE TABLE IF NOT EXISTS {ks}.embeddings (
                id uuid, model_version text, embedding vector<float, 256>, PRIMARY KEY (id, model_version))""",
            """CREATE CUSTOM INDEX IF NOT EXISTS embeddings_ann ON {ks}.embeddings (embedding)
                USING 'StorageAttachedIndex' WITH OPTIONS = {{'similarity_function': 'cosine'}}""",
            """CREATE CUSTOM INDEX IF NOT EXISTS embeddings_by_model ON {ks}.embeddings (model_version)
                USING 'StorageAttachedIndex'""",
        ),
    ),
    # Model versions (storage/sqlite_models.py, storage/cassandra_models.py): the ONNX bytes and
    # card of every version beside the records, and one pointer row naming the version that serves,
    # moved only by a compare-and-set, so that every replica and worker follows the same one.
    Migration(
        4,
        "model versions",
        (
            """CREATE TABLE model_versions (
                version TEXT PRIMARY KEY,
                created_at INTEGER NOT NULL,         -- milliseconds since the epoch, UTC
                created_by TEXT NOT NULL,
                card TEXT NOT NULL,                  -- the model card, JSON
                onnx_sha256 TEXT NOT NULL,
                onnx BLOB NOT NULL
            )""",
            """CREATE TABLE model_active (
                pointer TEXT PRIMARY KEY,            -- 'active', the only row
                version TEXT NOT NULL REFERENCES model_versions (version),
                previous TEXT,
                since INTEGER NOT NULL
            )""",
        ),
        (
            """CREATE TABLE IF NOT EXISTS {ks}.model_versions (
                version text PRIMARY KEY, created_at timestamp, created_by text, card text,
                onnx_sha256 text, size int, onnx blob)""",
            """CREATE TABLE IF NOT EXISTS {ks}.model_active (
                pointer text PRIMARY KEY, version text, previous text, since timestamp)""",
        ),
    ),
    # Who sent each correction, and when (storage/sqlite_corrections.py, cassandra_corrections.py):
    # `learn` caps how much one client or one burst weighs. `client` is a keyed hash of the
    # client's address, never the address. One row per correction, beside the records (whose
    # write path is unchanged); Cassandra: one partition per record, every column set (no nulls).
    Migration(
        5,
        "correction log",
        (
            """CREATE TABLE correction_log (
                record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
                at INTEGER NOT NULL,                 -- milliseconds since the epoch, UTC
                client TEXT NOT NULL,                -- keyed hash of the client's address
                label TEXT NOT NULL,
                PRIMARY KEY (record_id, at, client)
            )""",
        ),
        (
            """CREATE TABLE IF NOT EXISTS {ks}.correction_log (
                record_id uuid, at timestamp, client text, label text, PRIMARY KEY (record_id, at, client))""",
        ),
    ),
)
LATEST_VERSION = MIGRATIONS[-1].version
# Serving needs the baseline only: on an older schema it writes no verdict, so the previous
# release's replicas and this one can both run while `migrate` brings the schema forward.
MIN_SERVING_VERSION = 1
GARMENT_VERSION = 2
SIMILAR_VERSION = 3
MODELS_VERSION = 4
CORRECTION_LOG_VERSION = 5
EMBEDDING_SIZE = 256  # the vector column's dimension (the model's `embedding` output)


def pending(applied: int, target: int | None = None) -> list[Migration]:
    """The migrations after version `applied`, up to `target` (default: all), in order."""
    last = LATEST_VERSION if target is None else target
    if not 0 <= last <= LATEST_VERSION:
        raise ValueError(f"no schema version {last}: versions run from 0 to {LATEST_VERSION}")
    return [m for m in MIGRATIONS if applied < m.version <= last]


def require_serving(applied: int, where: str) -> None:
    """Raise SchemaNotReady when the schema is too old (or absent) for serving."""
    if applied < MIN_SERVING_VERSION:
        raise SchemaNotReady(
            f"the schema in {where} is at version {applied}, this app needs at least "
            f"{MIN_SERVING_VERSION}: run `fashion-classifier migrate` once, then retry"
        )


def require_models(applied: int, where: str) -> None:
    """Raise SchemaNotReady when the schema has no model versions' tables yet."""
    if applied < MODELS_VERSION:
        raise SchemaNotReady(
            f"the schema in {where} is at version {applied}; model versions need {MODELS_VERSION}: "
            "run `fashion-classifier migrate` once, then retry"
        )


class VersionCache:
    """The applied version as last read, re-read after `ttl_s` so a running app sees a migration."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._value = 0
        self._read_at = float("-inf")

    def get(self, read: Callable[[], int]) -> int:
        # Versions only grow: once the latest is seen there is nothing left to re-read.
        if self._value < LATEST_VERSION and time.monotonic() - self._read_at > self.ttl_s:
            self._value, self._read_at = read(), time.monotonic()
        return self._value
