"""Model versions on SQLite (schema migration 4): the ONNX bytes and cards, and the active pointer.

The pointer is one row of model_active; set_active compares and sets it inside one
`BEGIN IMMEDIATE` transaction, so that of two promotions at once (two processes, or two
threads) the second sees the first one's version and loses.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fashion_classifier.records import ActiveModel, ModelVersion, from_millis, to_millis
from fashion_classifier.storage.migrations import MODELS_VERSION, VersionCache, require_models

POINTER = "active"
VERSION_COLUMNS = "version, created_at, created_by, card, onnx_sha256, length(onnx)"


class SQLiteModels:
    """Mixed into SQLiteStore: the model versions of PredictionStore."""

    if TYPE_CHECKING:
        path: Any
        _version: VersionCache

        def schema_version(self) -> int: ...
        def _query(self, sql: str, parameters: tuple[object, ...] = ()) -> builtins.list[tuple[Any, ...]]: ...
        def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def _models_ready(self) -> bool:
        return self._version.get(self.schema_version) >= MODELS_VERSION

    def _require_models(self) -> None:
        require_models(self._version.get(self.schema_version), f"SQLite database {self.path}")

    def add_model_version(self, version: ModelVersion, onnx: bytes) -> bool:
        self._require_models()
        with self._transaction() as db:
            inserted = db.execute(
                "INSERT INTO model_versions (version, created_at, created_by, card, onnx_sha256, onnx) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (version) DO NOTHING",
                (
                    version.version,
                    to_millis(version.created_at),
                    version.created_by,
                    json.dumps(version.card),
                    version.onnx_sha256,
                    onnx,
                ),
            )
            return inserted.rowcount == 1

    def model_versions(self) -> builtins.list[ModelVersion]:
        self._require_models()
        rows = self._query(
            f"SELECT {VERSION_COLUMNS} FROM model_versions ORDER BY created_at DESC, version DESC"
        )
        return [_model_version(row) for row in rows]

    def model_version(self, version: str) -> ModelVersion | None:
        self._require_models()
        rows = self._query(f"SELECT {VERSION_COLUMNS} FROM model_versions WHERE version = ?", (version,))
        return _model_version(rows[0]) if rows else None

    def model_bytes(self, version: str) -> bytes | None:
        self._require_models()
        rows = self._query("SELECT onnx FROM model_versions WHERE version = ?", (version,))
        return bytes(rows[0][0]) if rows else None

    def active_model(self) -> ActiveModel | None:
        self._require_models()
        rows = self._query("SELECT version, since, previous FROM model_active WHERE pointer = ?", (POINTER,))
        return ActiveModel(rows[0][0], from_millis(rows[0][1]), rows[0][2]) if rows else None

    def set_active(self, version: str, *, expected: str | None) -> bool:
        self._require_models()
        now = to_millis(datetime.now(UTC))
        with self._transaction() as db:  # BEGIN IMMEDIATE: a second promoter waits, then compares
            row = db.execute("SELECT version FROM model_active WHERE pointer = ?", (POINTER,)).fetchone()
            if (row[0] if row else None) != expected:
                return False
            db.execute(
                "INSERT INTO model_active (pointer, version, previous, since) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (pointer) DO UPDATE SET version = excluded.version, "
                "previous = excluded.previous, since = excluded.since",
                (POINTER, version, expected, now),
            )
            return True


def _model_version(row: tuple[Any, ...]) -> ModelVersion:
    version, created_at, created_by, card, sha256, size = row
    return ModelVersion(version, from_millis(created_at), created_by, json.loads(card), sha256, int(size))
