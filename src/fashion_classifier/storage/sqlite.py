"""SQLite store: the embedded default (WAL mode, one connection per thread)."""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fashion_classifier.records import Cursor, Page, Record, StoredImage, from_millis, to_millis
from fashion_classifier.storage.base import DEFAULT_PAGE_SIZE, StoreUnavailable
from fashion_classifier.storage.migrations import (
    GARMENT_VERSION,
    Migration,
    VersionCache,
    pending,
    require_serving,
)
from fashion_classifier.storage.rows import (
    GARMENT_COLUMNS,
    Codec,
    column_list,
    fetch_size,
    page_of,
    record_from,
    record_values,
)
from fashion_classifier.storage.sqlite_copy import SQLiteTransfer
from fashion_classifier.storage.sqlite_corrections import SQLiteCorrections
from fashion_classifier.storage.sqlite_models import SQLiteModels
from fashion_classifier.storage.sqlite_similar import SQLiteSimilarity

MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"""
WAL_ATTEMPTS = 100  # 0.1 s apart
# What SQLite cannot keep as it is: the id as text, times as milliseconds, lists as JSON.
ENCODE: Codec = {"id": str, "created_at": to_millis, "probabilities": json.dumps, "is_garment": int}
DECODE: Codec = {"id": uuid.UUID, "created_at": from_millis, "probabilities": json.loads, "is_garment": bool}


class SQLiteStore(SQLiteSimilarity, SQLiteTransfer, SQLiteModels, SQLiteCorrections):
    """PredictionStore on one SQLite file; safe across threads and gunicorn workers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._version = VersionCache()

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
            _use_wal(connection)
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

    def migrate(self, *, target: int | None = None) -> builtins.list[str]:
        """Each migration and its version row in one transaction: applied whole or not at all."""
        done: builtins.list[str] = []
        while True:
            with self._transaction() as db:  # BEGIN IMMEDIATE: a second migrator waits here
                todo = pending(_applied_version(db), target)
                if not todo:
                    return done
                _apply(db, todo[0])
            done.append(f"{todo[0].version} {todo[0].name}")

    def schema_version(self) -> int:
        try:
            return _applied_version(self._connection())
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite database {self.path} failed: {exc}") from exc

    def check_schema(self) -> None:
        require_serving(self._version.get(self.schema_version), f"SQLite database {self.path}")

    def _garment(self) -> bool:
        """Records made before the garment verdict's migration have no such columns to read."""
        return self._version.get(self.schema_version) >= GARMENT_VERSION

    def add(self, record: Record, image: StoredImage) -> None:
        self.add_many([(record, image)])

    def add_many(self, items: Sequence[tuple[Record, StoredImage]]) -> None:
        """One transaction: a failure on the last picture takes back the first ones too."""
        garment = self._garment()
        columns = column_list(garment=garment)
        with self._transaction() as db:
            for record, image in items:
                row = record_values(record, garment=garment, encode=ENCODE)
                db.execute(f"INSERT INTO records ({columns}) VALUES ({', '.join('?' * len(row))})", row)
                db.execute(
                    "INSERT INTO images (record_id, content_type, data) VALUES (?, ?, ?)",
                    (str(record.id), image.content_type, image.data),
                )
            self._add_embeddings(db, [record for record, _ in items])

    def get(self, record_id: uuid.UUID) -> Record | None:
        rows = self._query(f"SELECT {self._columns()} FROM records WHERE id = ?", (str(record_id),))
        return self._record(rows[0]) if rows else None

    def image(self, record_id: uuid.UUID) -> StoredImage | None:
        rows = self._query("SELECT content_type, data FROM images WHERE record_id = ?", (str(record_id),))
        return StoredImage(bytes(rows[0][1]), rows[0][0]) if rows else None

    def list(
        self,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        label: str | None = None,
        garment: bool | None = None,
    ) -> Page:
        garment_columns = self._garment()
        where: builtins.list[str] = []
        parameters: builtins.list[object] = []
        if label is not None:
            where.append("label = ?")
            parameters.append(label)
        if garment is not None and not garment_columns:
            where.append("0")  # no record has a verdict before the column exists
        elif garment is not None:
            where.append("is_garment = ?")
            parameters.append(int(garment))
        if cursor:
            after = Cursor.decode(cursor)
            where.append("(created_at, id) < (?, ?)")
            parameters += [to_millis(after.created_at), str(after.id)]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {self._columns()} FROM records {clause} ORDER BY created_at DESC, id DESC LIMIT ?"
        rows = self._query(sql, (*parameters, fetch_size(limit)))
        return page_of([self._record(row) for row in rows], limit)

    def set_correction(self, record_id: uuid.UUID, label: str) -> Record | None:
        with self._transaction() as db:
            db.execute("UPDATE records SET corrected_label = ? WHERE id = ?", (label, str(record_id)))
        return self.get(record_id)

    def corrected(self) -> builtins.list[Record]:
        rows = self._query(
            f"SELECT {self._columns()} FROM records WHERE corrected_label IS NOT NULL ORDER BY created_at"
        )
        return [self._record(row) for row in rows]

    def _columns(self) -> str:
        return column_list(garment=self._garment())

    @staticmethod
    def _record(row: tuple[Any, ...]) -> Record:
        return record_from(dict(zip(GARMENT_COLUMNS, row, strict=False)), decode=DECODE)

    def ping(self) -> None:
        self._query("SELECT 1")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _applied_version(db: sqlite3.Connection) -> int:
    """From schema_migrations; a store made before migrations existed holds the baseline (1)."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_migrations" in tables:
        return int(db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])
    return 1 if "records" in tables else 0


def _apply(db: sqlite3.Connection, migration: Migration) -> None:
    db.execute(MIGRATIONS_TABLE)
    for statement in migration.sqlite:
        db.execute(statement)
    db.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, to_millis(datetime.now(UTC))),
    )


def _use_wal(connection: sqlite3.Connection) -> None:
    """Write-ahead logging: readers never wait for the writer.

    Switching a brand-new file to WAL needs it alone for a moment, and SQLite answers "locked"
    at once (without its busy wait) to a second connection doing the same: workers or migrators
    starting together met that in CI. So try again for a few seconds.
    """
    for attempt in range(WAL_ATTEMPTS):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.1)
