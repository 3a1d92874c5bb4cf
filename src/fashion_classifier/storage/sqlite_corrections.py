"""The correction log on SQLite (schema migration 5): who sent each correction, and when.

A table of its own, written after the correction itself: the records' write path is unchanged.
Below version 5 (a release that runs before `migrate`) nothing is logged and nothing is read.
"""

from __future__ import annotations

import builtins
import sqlite3
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from fashion_classifier.records import from_millis, to_millis
from fashion_classifier.storage.base import LoggedCorrection
from fashion_classifier.storage.migrations import CORRECTION_LOG_VERSION, VersionCache

CHUNK = 500  # record ids per query (SQLite allows 32,766 parameters; keep statements small)


class SQLiteCorrections:
    """Mixed into SQLiteStore: the correction log of PredictionStore."""

    if TYPE_CHECKING:
        _version: VersionCache

        def schema_version(self) -> int: ...
        def _query(self, sql: str, parameters: tuple[object, ...] = ()) -> builtins.list[tuple[Any, ...]]: ...
        def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def _log_ready(self) -> bool:
        return self._version.get(self.schema_version) >= CORRECTION_LOG_VERSION

    def log_correction(self, entry: LoggedCorrection) -> None:
        if not self._log_ready():
            return
        with self._transaction() as db:
            db.execute(
                "INSERT INTO correction_log (record_id, at, client, label) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (str(entry.record_id), to_millis(entry.at), entry.client, entry.label),
            )

    def correction_log(self, record_ids: Sequence[uuid.UUID]) -> builtins.list[LoggedCorrection]:
        if not self._log_ready():
            return []
        entries: builtins.list[LoggedCorrection] = []
        ids = [str(record_id) for record_id in record_ids]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            rows = self._query(
                "SELECT record_id, at, client, label FROM correction_log "
                f"WHERE record_id IN ({', '.join('?' * len(chunk))})",
                tuple(chunk),
            )
            entries += [LoggedCorrection(uuid.UUID(r[0]), from_millis(r[1]), r[2], r[3]) for r in rows]
        return sorted(entries, key=lambda entry: (entry.at, str(entry.record_id)))
