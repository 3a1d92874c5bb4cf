"""The correction log on Cassandra (schema migration 5): who sent each correction, and when.

Table correction_log, PRIMARY KEY (record_id, at, client): one partition per record, which
holds as many rows as that record had corrections, so no partition grows with the store and
every read names its partitions (`record_id IN ?`, a hundred at a time): no scan. Every column
is written (a null would be a tombstone). The records' own write path is unchanged: the row is
written after the correction, on its own.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from fashion_classifier.storage import cassandra_schema
from fashion_classifier.storage.base import LoggedCorrection
from fashion_classifier.storage.cassandra_calls import Calls
from fashion_classifier.storage.cassandra_rows import utc
from fashion_classifier.storage.migrations import CORRECTION_LOG_VERSION, VersionCache

PARTITIONS_PER_READ = 100
LOG_STATEMENTS = {
    "log_correction": "INSERT INTO {ks}.correction_log (record_id, at, client, label) VALUES (?, ?, ?, ?)",
    "correction_log": "SELECT record_id, at, client, label FROM {ks}.correction_log WHERE record_id IN ?",
}


class CassandraCorrections:
    """Mixed into CassandraStore: the correction log of PredictionStore."""

    if TYPE_CHECKING:
        keyspace: str
        _calls: Calls
        _version: VersionCache
        _statements: dict[tuple[str, bool], PreparedStatement]

        def _connect(self) -> Session: ...
        def _guard(self, action: str) -> AbstractContextManager[None]: ...
        def schema_version(self) -> int: ...

    def _log_ready(self) -> bool:
        return self._version.get(self.schema_version) >= CORRECTION_LOG_VERSION

    def _log_statement(self, name: str) -> PreparedStatement:
        statement = self._statements.get((f"log:{name}", False))
        if statement is None:
            with self._calls.not_counted():  # bounded on its own: PREPARE_TIMEOUT_S a node
                statement = cassandra_schema.prepare(
                    self._connect(), LOG_STATEMENTS[name].format(ks=self.keyspace)
                )
            statement.is_idempotent = True  # the same row under the same key when sent twice
            self._statements[(f"log:{name}", False)] = statement
        return statement

    def log_correction(self, entry: LoggedCorrection) -> None:
        with self._guard("logging a correction"):
            if not self._log_ready():
                return
            values = (entry.record_id, entry.at, entry.client, entry.label)
            self._calls.execute(self._log_statement("log_correction"), values)

    def correction_log(self, record_ids: Sequence[uuid.UUID]) -> builtins.list[LoggedCorrection]:
        ids = list(dict.fromkeys(record_ids))
        entries: builtins.list[LoggedCorrection] = []
        for start in range(0, len(ids), PARTITIONS_PER_READ):
            with self._guard("reading the correction log"):  # a deadline per hundred partitions
                if not self._log_ready():
                    return []
                rows = self._calls.read(
                    self._log_statement("correction_log"), (ids[start : start + PARTITIONS_PER_READ],)
                )
                entries += [LoggedCorrection(r.record_id, utc(r.at), r.client, r.label) for r in rows]
        return sorted(entries, key=lambda entry: (entry.at, str(entry.record_id)))
