"""Similar-picture search on SQLite: an exact scan of the stored float32 vectors with numpy.

10,000 vectors of 256 floats are 10 MB: one query reads them all and ranks them by cosine in a
few milliseconds, so the embedded store needs no approximate index (and answers exactly).
"""

from __future__ import annotations

import builtins
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from fashion_classifier.records import Neighbour, Record
from fashion_classifier.storage.migrations import SIMILAR_VERSION, VersionCache
from fashion_classifier.storage.similar import require_similar, similarity, storable

VECTOR_TYPE = np.dtype("<f4")  # little-endian float32, whatever the machine
# Writing the same embedding again (reindex, a retried upload) changes nothing: idempotent.
UPSERT = "INSERT OR REPLACE INTO embeddings (record_id, model_version, vector) VALUES (?, ?, ?)"


def to_blob(vector: Sequence[float]) -> bytes:
    return np.asarray(vector, dtype=VECTOR_TYPE).tobytes()


class SQLiteSimilarity:
    """Mixed into SQLiteStore: the embeddings table (schema migration 3)."""

    if TYPE_CHECKING:
        path: Any
        _version: VersionCache

        def schema_version(self) -> int: ...
        def get(self, record_id: uuid.UUID) -> Record | None: ...
        def _query(self, sql: str, parameters: tuple[object, ...] = ()) -> builtins.list[tuple[Any, ...]]: ...
        def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def _similar_ready(self) -> bool:
        return self._version.get(self.schema_version) >= SIMILAR_VERSION

    def _require_similar(self) -> None:
        require_similar(self._version.get(self.schema_version), f"SQLite database {self.path}")

    def _add_embeddings(self, db: sqlite3.Connection, records: Sequence[Record]) -> None:
        """Inside add_many's transaction: the embeddings of these records, where they have one."""
        if not self._similar_ready():
            return
        for record in records:
            if storable(record.embedding):
                assert record.embedding is not None
                db.execute(UPSERT, (str(record.id), record.embedded_as, to_blob(record.embedding)))

    def set_embeddings(self, model_version: str, items: Sequence[tuple[uuid.UUID, Sequence[float]]]) -> None:
        self._require_similar()
        rows = [(str(i), model_version, to_blob(v)) for i, v in items if storable(v)]
        with self._transaction() as db:
            db.executemany(UPSERT, rows)

    def embedding(self, record_id: uuid.UUID, *, model_version: str) -> tuple[float, ...] | None:
        self._require_similar()
        rows = self._query(
            "SELECT vector FROM embeddings WHERE model_version = ? AND record_id = ?",
            (model_version, str(record_id)),
        )
        return tuple(np.frombuffer(rows[0][0], dtype=VECTOR_TYPE).tolist()) if rows else None

    def embedded(self, record_ids: Sequence[uuid.UUID], *, model_version: str) -> builtins.set[uuid.UUID]:
        self._require_similar()
        if not record_ids:
            return set()
        marks = ", ".join("?" * len(record_ids))
        rows = self._query(
            f"SELECT record_id FROM embeddings WHERE model_version = ? AND record_id IN ({marks})",
            (model_version, *(str(i) for i in record_ids)),
        )
        return {uuid.UUID(row[0]) for row in rows}

    def similar(self, vector: Sequence[float], *, model_version: str, limit: int) -> builtins.list[Neighbour]:
        self._require_similar()
        if not storable(vector):
            return []
        rows = self._query(
            "SELECT record_id, vector FROM embeddings WHERE model_version = ?", (model_version,)
        )
        if not rows:
            return []
        matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=VECTOR_TYPE).reshape(len(rows), -1)
        query = np.asarray(vector, dtype=np.float32)
        cosines = matrix @ (query / np.linalg.norm(query))
        k = min(limit, len(rows))
        best = np.argpartition(-cosines, k - 1)[:k]
        best = best[np.argsort(-cosines[best], kind="stable")]
        return list(self._neighbours((uuid.UUID(rows[i][0]), float(cosines[i])) for i in best))

    def _neighbours(self, ranked: Iterable[tuple[uuid.UUID, float]]) -> Iterator[Neighbour]:
        for record_id, cosine in ranked:
            record = self.get(record_id)
            if record is not None:
                yield Neighbour(record, similarity(cosine))

    def count_records(self) -> int | None:
        return int(self._query("SELECT count(*) FROM records")[0][0])
