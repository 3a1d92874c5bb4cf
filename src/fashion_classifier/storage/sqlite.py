"""SQLite store: the embedded default (WAL mode, one connection per thread)."""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fashion_classifier.records import (
    Cursor,
    Page,
    Prediction,
    Record,
    StoredImage,
    from_millis,
    to_millis,
)
from fashion_classifier.storage.base import StoreUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,            -- milliseconds since the epoch, UTC
    filename TEXT NOT NULL,
    label TEXT NOT NULL,
    probabilities TEXT NOT NULL,            -- JSON list, in CLASSES order
    model_version TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    corrected_label TEXT
);
CREATE INDEX IF NOT EXISTS records_newest ON records (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS records_by_label ON records (label, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS images (
    record_id TEXT PRIMARY KEY REFERENCES records (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL
);
"""
COLUMNS = "id, created_at, filename, label, probabilities, model_version, width, height, corrected_label"


class SQLiteStore:
    """PredictionStore on one SQLite file; safe across threads and gunicorn workers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """sqlite:///relative/path.db or sqlite:////absolute/path.db (as SQLAlchemy spells them)."""
        path = url.removeprefix("sqlite:///")
        if not path or path == url:
            raise ValueError(f"DATABASE_URL {url!r}: expected sqlite:///path/to/file.db")
        return cls(Path(path))

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # e.g. a file where the folder should be: unavailable, not a 500
                raise sqlite3.OperationalError(f"cannot create the folder of {self.path}: {exc}") from exc
            connection = sqlite3.connect(self.path, timeout=15, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite database {self.path} failed: {exc}") from exc

    def _query(self, sql: str, parameters: tuple[object, ...] = ()) -> builtins.list[tuple[Any, ...]]:
        try:
            return self._connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite database {self.path} failed: {exc}") from exc

    def init_schema(self) -> None:
        try:
            self._connection().executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot create tables in {self.path}: {exc}") from exc

    def add(self, record: Record, image: StoredImage) -> None:
        self.add_many([(record, image)])

    def add_many(self, items: Sequence[tuple[Record, StoredImage]]) -> None:
        """One transaction: a failure on the last picture takes back the first ones too."""
        with self._transaction() as db:
            for record, image in items:
                db.execute(
                    f"INSERT INTO records ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _row(record)
                )
                db.execute(
                    "INSERT INTO images (record_id, content_type, data) VALUES (?, ?, ?)",
                    (str(record.id), image.content_type, image.data),
                )

    def get(self, record_id: uuid.UUID) -> Record | None:
        rows = self._query(f"SELECT {COLUMNS} FROM records WHERE id = ?", (str(record_id),))
        return _record(rows[0]) if rows else None

    def image(self, record_id: uuid.UUID) -> StoredImage | None:
        rows = self._query("SELECT content_type, data FROM images WHERE record_id = ?", (str(record_id),))
        return StoredImage(bytes(rows[0][1]), rows[0][0]) if rows else None

    def list(self, *, limit: int = 20, cursor: str | None = None, label: str | None = None) -> Page:
        where: builtins.list[str] = []
        parameters: builtins.list[object] = []
        if label is not None:
            where.append("label = ?")
            parameters.append(label)
        if cursor:
            after = Cursor.decode(cursor)
            where.append("(created_at, id) < (?, ?)")
            parameters += [to_millis(after.created_at), str(after.id)]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {COLUMNS} FROM records {clause} ORDER BY created_at DESC, id DESC LIMIT ?"
        rows = self._query(sql, (*parameters, limit + 1))  # one extra row tells whether more follow
        records = [_record(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(records, Cursor.after(records[-1]).encode() if more else None)

    def set_correction(self, record_id: uuid.UUID, label: str) -> Record | None:
        with self._transaction() as db:
            db.execute("UPDATE records SET corrected_label = ? WHERE id = ?", (label, str(record_id)))
        return self.get(record_id)

    def corrected(self) -> builtins.list[Record]:
        rows = self._query(
            f"SELECT {COLUMNS} FROM records WHERE corrected_label IS NOT NULL ORDER BY created_at"
        )
        return [_record(row) for row in rows]

    def ping(self) -> None:
        self._query("SELECT 1")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _row(record: Record) -> tuple[object, ...]:
    return (
        str(record.id),
        to_millis(record.created_at),
        record.filename,
        record.label,
        json.dumps(record.prediction.probabilities),
        record.model_version,
        record.width,
        record.height,
        record.corrected_label,
    )


def _record(row: tuple[Any, ...]) -> Record:
    record_id, millis, filename, label, probabilities, version, width, height, corrected = row
    return Record(
        id=uuid.UUID(record_id),
        created_at=from_millis(millis),
        filename=filename,
        prediction=Prediction(label, tuple(json.loads(probabilities))),
        model_version=version,
        width=width,
        height=height,
        corrected_label=corrected,
    )
