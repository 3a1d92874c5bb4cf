"""An in-memory PredictionStore: the only fake in the suite, for service-level unit tests.

It subclasses the Protocol, so mypy (which checks tests/ too) fails when the two drift apart,
and it pages with the same rows.page_of as the real stores.
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from fashion_classifier.records import ActiveModel, Cursor, ModelVersion, Neighbour, Page, Record, StoredImage
from fashion_classifier.storage import DEFAULT_PAGE_SIZE, LATEST_VERSION, PredictionStore, StoreUnavailable
from fashion_classifier.storage.base import LoggedCorrection
from fashion_classifier.storage.migrations import require_serving
from fashion_classifier.storage.rows import fetch_size, page_of
from fashion_classifier.storage.similar import similarity, storable


class MemoryStore(PredictionStore):
    def __init__(self) -> None:
        self.records: dict[uuid.UUID, Record] = {}
        self.images: dict[uuid.UUID, StoredImage] = {}
        self.embeddings: dict[tuple[uuid.UUID, str], tuple[float, ...]] = {}  # (id, model version)
        self.models: dict[str, tuple[ModelVersion, bytes]] = {}
        self.active: ActiveModel | None = None
        self.correction_entries: builtins.list[LoggedCorrection] = []
        self.down = False
        self.version = LATEST_VERSION  # a test sets 0 to play a store nobody has migrated
        self._lock = threading.Lock()

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("memory store switched off by the test")

    def migrate(self, *, target: int | None = None) -> builtins.list[str]:
        self._check()
        last = LATEST_VERSION if target is None else target
        applied = [str(v) for v in range(self.version + 1, last + 1)]
        self.version = max(self.version, last)
        return applied

    def schema_version(self) -> int:
        self._check()
        return self.version

    def check_schema(self) -> None:
        require_serving(self.schema_version(), "the memory store")

    def add(self, record: Record, image: StoredImage) -> None:
        self._check()
        with self._lock:
            self.records[record.id] = record
            self.images[record.id] = image

    def add_many(self, items: Sequence[tuple[Record, StoredImage]]) -> None:
        self._check()
        with self._lock:
            for record, image in items:
                self.records[record.id] = record
                self.images[record.id] = image
                if record.embedding is not None and storable(record.embedding):
                    self.embeddings[(record.id, record.embedded_as)] = record.embedding

    def get(self, record_id: uuid.UUID) -> Record | None:
        self._check()
        return self.records.get(record_id)

    def image(self, record_id: uuid.UUID) -> StoredImage | None:
        self._check()
        return self.images.get(record_id)

    def list(
        self,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        label: str | None = None,
        garment: bool | None = None,
    ) -> Page:
        self._check()
        rows = sorted(self.records.values(), key=lambda r: (r.created_at, r.id), reverse=True)
        if cursor:
            after = Cursor.decode(cursor)
            rows = [r for r in rows if (r.created_at, r.id) < (after.created_at, after.id)]
        rows = [r for r in rows if label is None or r.label == label]
        rows = [r for r in rows if garment is None or r.prediction.is_garment is garment]
        return page_of(rows[: fetch_size(limit)], limit)

    def set_correction(self, record_id: uuid.UUID, label: str) -> Record | None:
        self._check()
        record = self.records.get(record_id)
        if record is None:
            return None
        self.records[record_id] = dataclasses.replace(record, corrected_label=label)
        return self.records[record_id]

    def corrected(self) -> builtins.list[Record]:
        return sorted((r for r in self.records.values() if r.corrected_label), key=lambda r: r.created_at)

    def log_correction(self, entry: LoggedCorrection) -> None:
        self._check()
        self.correction_entries.append(entry)

    def correction_log(self, record_ids: Sequence[uuid.UUID]) -> builtins.list[LoggedCorrection]:
        wanted = set(record_ids)
        return sorted((e for e in self.correction_entries if e.record_id in wanted), key=lambda e: e.at)

    def similar(self, vector: Sequence[float], *, model_version: str, limit: int) -> builtins.list[Neighbour]:
        self._check()
        if not storable(vector):
            return []
        query = np.asarray(vector) / np.linalg.norm(vector)
        scored = [
            (float(np.dot(query, stored)), record_id)
            for (record_id, version), stored in self.embeddings.items()
            if version == model_version
        ]
        scored.sort(key=lambda pair: -pair[0])
        return [Neighbour(self.records[i], similarity(cosine)) for cosine, i in scored[:limit]]

    def embedding(self, record_id: uuid.UUID, *, model_version: str) -> tuple[float, ...] | None:
        self._check()
        return self.embeddings.get((record_id, model_version))

    def embedded(self, record_ids: Sequence[uuid.UUID], *, model_version: str) -> set[uuid.UUID]:
        self._check()
        return {i for i in record_ids if (i, model_version) in self.embeddings}

    def set_embeddings(self, model_version: str, items: Sequence[tuple[uuid.UUID, Sequence[float]]]) -> None:
        self._check()
        for record_id, vector in items:
            if storable(vector):
                self.embeddings[(record_id, model_version)] = tuple(vector)

    def count_records(self) -> int | None:
        return len(self.records)

    def add_model_version(self, version: ModelVersion, onnx: bytes) -> bool:
        self._check()
        with self._lock:
            if version.version in self.models:
                return False
            self.models[version.version] = (version, onnx)
            return True

    def model_versions(self) -> builtins.list[ModelVersion]:
        self._check()
        kept = [version for version, _ in self.models.values()]
        return sorted(kept, key=lambda m: (m.created_at, m.version), reverse=True)

    def model_version(self, version: str) -> ModelVersion | None:
        self._check()
        return self.models[version][0] if version in self.models else None

    def model_bytes(self, version: str) -> bytes | None:
        self._check()
        return self.models[version][1] if version in self.models else None

    def active_model(self) -> ActiveModel | None:
        self._check()
        return self.active

    def set_active(self, version: str, *, expected: str | None) -> bool:
        self._check()
        with self._lock:
            if (self.active.version if self.active else None) != expected:
                return False
            self.active = ActiveModel(version, datetime.now(UTC), expected)
            return True

    def ping(self) -> None:
        self._check()

    def close(self) -> None:
        pass
