"""Model versions on Cassandra (schema migration 4): the ONNX bytes and cards, and the active pointer.

model_versions is keyed by version (a few hundred KB a row: the served int8 file); model_active
holds one row, moved only by lightweight transactions (`IF version = ?`, `IF NOT EXISTS`), so
that of two promotions at once exactly one wins, whichever coordinators they reach. The LWTs
are sent once, never retried: a retry after a timeout could find its own write and call it lost.
"""

from __future__ import annotations

import builtins
import json
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from fashion_classifier.records import ActiveModel, ModelVersion
from fashion_classifier.storage import cassandra_schema
from fashion_classifier.storage.cassandra_calls import Calls
from fashion_classifier.storage.cassandra_rows import utc
from fashion_classifier.storage.migrations import VersionCache, require_models

POINTER = "active"
LWT_TIMEOUT_S = 10.0  # a paxos round on every replica: slower than a plain write, rare
_COLUMNS = "version, created_at, created_by, card, onnx_sha256, size"
MODEL_STATEMENTS = {
    "add_model": f"INSERT INTO {{ks}}.model_versions ({_COLUMNS}, onnx) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
    "model_versions": f"SELECT {_COLUMNS} FROM {{ks}}.model_versions",
    "model_version": f"SELECT {_COLUMNS} FROM {{ks}}.model_versions WHERE version = ?",
    "model_bytes": "SELECT onnx FROM {ks}.model_versions WHERE version = ?",
    "active": "SELECT version, since, previous FROM {ks}.model_active WHERE pointer = ?",
    "first_active": "INSERT INTO {ks}.model_active (pointer, version, previous, since) VALUES (?, ?, null, ?) "
    "IF NOT EXISTS",
    "move_active": "UPDATE {ks}.model_active SET version = ?, previous = ?, since = ? WHERE pointer = ? "
    "IF version = ?",
}


class CassandraModels:
    """Mixed into CassandraStore: the model versions of PredictionStore."""

    if TYPE_CHECKING:
        keyspace: str
        _calls: Calls
        _version: VersionCache
        _statements: dict[tuple[str, bool], PreparedStatement]

        @property
        def where(self) -> str: ...

        def _connect(self) -> Session: ...
        def _guard(self, action: str) -> AbstractContextManager[None]: ...
        def schema_version(self) -> int: ...

    def _require_models(self) -> None:
        require_models(self._version.get(self.schema_version), f"{self.where}, keyspace {self.keyspace}")

    def _model_statement(self, name: str) -> PreparedStatement:
        statement = self._statements.get((f"models:{name}", False))
        if statement is None:
            with self._calls.not_counted():  # bounded on its own: PREPARE_TIMEOUT_S a node
                statement = cassandra_schema.prepare(
                    self._connect(), MODEL_STATEMENTS[name].format(ks=self.keyspace)
                )
            # Reads may go to a second node; a compare-and-set must not be sent twice.
            statement.is_idempotent = "IF " not in MODEL_STATEMENTS[name]
            self._statements[(f"models:{name}", False)] = statement
        return statement

    def _read_models(self, name: str, values: tuple[Any, ...], action: str) -> builtins.list[Any]:
        self._require_models()
        with self._guard(action):
            return list(self._calls.read(self._model_statement(name), values))

    def _compare_and_set(self, name: str, values: tuple[Any, ...], action: str) -> bool:
        self._require_models()
        with self._guard(action):
            result = self._connect().execute(self._model_statement(name), values, timeout=LWT_TIMEOUT_S)
            return bool(result.was_applied)

    def add_model_version(self, version: ModelVersion, onnx: bytes) -> bool:
        values = (
            version.version,
            version.created_at,
            version.created_by,
            json.dumps(version.card),
            version.onnx_sha256,
            len(onnx),
            onnx,
        )
        return self._compare_and_set("add_model", values, "saving a model version")

    def model_versions(self) -> builtins.list[ModelVersion]:
        rows = self._read_models("model_versions", (), "listing model versions")
        return sorted(
            (_model_version(row) for row in rows), key=lambda m: (m.created_at, m.version), reverse=True
        )

    def model_version(self, version: str) -> ModelVersion | None:
        rows = self._read_models("model_version", (version,), "reading a model version")
        return _model_version(rows[0]) if rows else None

    def model_bytes(self, version: str) -> bytes | None:
        rows = self._read_models("model_bytes", (version,), "reading a model")
        return bytes(rows[0].onnx) if rows else None

    def active_model(self) -> ActiveModel | None:
        rows = self._read_models("active", (POINTER,), "reading the active model version")
        return ActiveModel(rows[0].version, utc(rows[0].since), rows[0].previous) if rows else None

    def set_active(self, version: str, *, expected: str | None) -> bool:
        now = datetime.now(UTC)
        if expected is None:
            return self._compare_and_set("first_active", (POINTER, version, now), "setting the active model")
        values = (version, expected, now, POINTER, expected)
        return self._compare_and_set("move_active", values, "switching the active model")


def _model_version(row: Any) -> ModelVersion:
    return ModelVersion(
        row.version, utc(row.created_at), row.created_by, json.loads(row.card), row.onnx_sha256, int(row.size)
    )
