"""`fashion-classifier copy` on SQLite: the history read by id, a page at a time, and written back as upserts."""

from __future__ import annotations

import builtins
import sqlite3
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from fashion_classifier.records import Record, StoredImage
from fashion_classifier.storage.rows import GARMENT_COLUMNS, record_values
from fashion_classifier.storage.sqlite_similar import VECTOR_TYPE, to_blob
from fashion_classifier.storage.transfer import Kept

_UPDATES = ", ".join(f"{name} = excluded.{name}" for name in GARMENT_COLUMNS[1:])
# Upserts, not INSERT OR REPLACE: replacing a record deletes it first, and the delete would
# cascade to its picture and embeddings.
UPSERT_RECORD = (
    f"INSERT INTO records ({', '.join(GARMENT_COLUMNS)}) VALUES ({', '.join('?' * len(GARMENT_COLUMNS))}) "
    f"ON CONFLICT (id) DO UPDATE SET {_UPDATES}"
)
UPSERT_IMAGE = (
    "INSERT INTO images (record_id, content_type, data) VALUES (?, ?, ?) "
    "ON CONFLICT (record_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data"
)
UPSERT_EMBEDDING = "INSERT OR REPLACE INTO embeddings (record_id, model_version, vector) VALUES (?, ?, ?)"
# The model versions that made embeddings, by hopping along the primary key's index (a few
# lookups, however many rows): read for every page, so a reindex running meanwhile is seen.
MODEL_VERSIONS = """WITH RECURSIVE v(m) AS (
    SELECT MIN(model_version) FROM embeddings
    UNION ALL SELECT (SELECT MIN(model_version) FROM embeddings WHERE model_version > m) FROM v WHERE m IS NOT NULL
) SELECT m FROM v WHERE m IS NOT NULL"""


class SQLiteTransfer:
    """Mixed into SQLiteStore: storage.transfer.TransferStore."""

    if TYPE_CHECKING:
        path: Any

        def _columns(self) -> str: ...
        def _record(self, row: tuple[Any, ...]) -> Record: ...
        def _similar_ready(self) -> bool: ...
        def _query(self, sql: str, parameters: tuple[object, ...] = ()) -> builtins.list[tuple[Any, ...]]: ...
        def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def describe(self) -> str:
        return f"SQLite database {self.path}"

    def export_records(self, *, after: str | None, limit: int) -> tuple[builtins.list[Kept], str | None]:
        """By id (the text of a time-ordered id sorts by time): uploads made meanwhile come last."""
        where, parameters = ("WHERE id > ?", (after,)) if after else ("", ())
        rows = self._query(
            f"SELECT {self._columns()} FROM records {where} ORDER BY id LIMIT ?", (*parameters, limit)
        )
        records = [self._record(row) for row in rows]
        return self._bundled(records), (str(records[-1].id) if len(records) == limit else None)

    def kept(self, record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Kept]:
        if not record_ids:
            return {}
        marks = ", ".join("?" * len(record_ids))
        rows = self._query(f"SELECT {self._columns()} FROM records WHERE id IN ({marks})", _texts(record_ids))
        return {item.record.id: item for item in self._bundled([self._record(row) for row in rows])}

    def _bundled(self, records: builtins.list[Record]) -> builtins.list[Kept]:
        """Each record with its picture and embeddings, in the records' order."""
        if not records:
            return []
        ids = _texts([record.id for record in records])
        marks = ", ".join("?" * len(ids))
        pictures = {
            row[0]: StoredImage(bytes(row[2]), row[1])
            for row in self._query(
                f"SELECT record_id, content_type, data FROM images WHERE record_id IN ({marks})", ids
            )
        }
        vectors: dict[str, builtins.list[tuple[str, tuple[float, ...]]]] = {}
        for (version,) in self._query(MODEL_VERSIONS) if self._similar_ready() else []:
            sql = (
                f"SELECT record_id, vector FROM embeddings WHERE model_version = ? AND record_id IN ({marks})"
            )
            for record_id, blob in self._query(sql, (version, *ids)):
                vector = tuple(np.frombuffer(blob, dtype=VECTOR_TYPE).tolist())
                vectors.setdefault(record_id, []).append((version, vector))
        return [
            Kept(record, pictures.get(str(record.id)), tuple(sorted(vectors.get(str(record.id), []))))
            for record in records
        ]

    def import_records(self, items: Sequence[Kept]) -> None:
        """One transaction for the page: each record with its picture and embeddings, or nothing."""
        from fashion_classifier.storage.sqlite import ENCODE

        with self._transaction() as db:
            for item in items:
                if item.picture is None:
                    raise ValueError(f"record {item.record.id} has no picture: not copied")
                db.execute(UPSERT_RECORD, record_values(item.record, garment=True, encode=ENCODE))
                db.execute(UPSERT_IMAGE, (item.key, item.picture.content_type, item.picture.data))
                db.executemany(
                    UPSERT_EMBEDDING, [(item.key, v, to_blob(vector)) for v, vector in item.embeddings]
                )

    def kind_counts(self) -> dict[str, int]:
        ((records, corrections),) = self._query("SELECT count(*), count(corrected_label) FROM records")
        pictures = self._query("SELECT count(*) FROM images")[0][0]
        embeddings = self._query("SELECT count(*) FROM embeddings")[0][0] if self._similar_ready() else 0
        return {
            "records": records,
            "corrections": corrections,
            "pictures": pictures,
            "embeddings": embeddings,
        }


def _texts(record_ids: Sequence[uuid.UUID]) -> tuple[str, ...]:
    return tuple(str(record_id) for record_id in record_ids)
