"""Similar-picture search on Cassandra 5: a vector column with a storage-attached index (cosine).

Table embeddings, PRIMARY KEY (id, model_version): one partition per record (no partition grows
with the store) and one row per model version that embedded it, so a reindex with a new model
adds rows beside the old ones and replicas of both releases keep answering during a rollout.
Answers hold one version only: rows of others are dropped from the ANN answer, and when they
crowd it out the query is restricted to the version by a second storage-attached index, on
model_version (`WHERE model_version = ? ORDER BY embedding ANN OF ? LIMIT k`, see _nearest).
Cassandra 5.0 accepts that combination (an equality on an SAI-indexed column with ANN); IN and
!= on the version are refused, LIMIT may not exceed 1000, and ANN queries run at consistency
ONE only. Checked against the real server in tests/integration/test_similar_contract.py.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from cassandra import ConsistencyLevel
from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from fashion_classifier.records import Neighbour, Record
from fashion_classifier.storage import cassandra_schema
from fashion_classifier.storage.base import StoreUnavailable
from fashion_classifier.storage.cassandra_calls import UNAVAILABLE, Calls
from fashion_classifier.storage.cassandra_rows import to_record
from fashion_classifier.storage.migrations import SIMILAR_VERSION, VersionCache
from fashion_classifier.storage.similar import require_similar, storable

SIMILAR_STATEMENTS = {
    "insert_embedding": "INSERT INTO {ks}.embeddings (id, model_version, embedding) VALUES (?, ?, ?)",
    "delete_embeddings": "DELETE FROM {ks}.embeddings WHERE id = ?",
    "get_embedding": "SELECT embedding FROM {ks}.embeddings WHERE id = ? AND model_version = ?",
    "embedded": "SELECT id FROM {ks}.embeddings WHERE id IN ? AND model_version = ?",
    # similarity_cosine is (1 + cosine) / 2, the scale SQLite reports too.
    "nearest": "SELECT id, model_version, similarity_cosine(embedding, ?) AS similarity "
    "FROM {ks}.embeddings ORDER BY embedding ANN OF ? LIMIT ?",
    "nearest_of_version": "SELECT id, model_version, similarity_cosine(embedding, ?) AS similarity "
    "FROM {ks}.embeddings WHERE model_version = ? ORDER BY embedding ANN OF ? LIMIT ?",
    "count_records": "SELECT count(*) FROM {ks}.records",
}
COUNT_TIMEOUT_S = 60.0  # a full scan, for reindex's progress bar only


class CassandraSimilarity:
    """Mixed into CassandraStore: the embeddings table (schema migration 3)."""

    if TYPE_CHECKING:
        keyspace: str

        @property
        def where(self) -> str: ...

        _calls: Calls
        _version: VersionCache
        _statements: dict[tuple[str, bool], PreparedStatement]

        def _connect(self) -> Session: ...
        def _guard(self, action: str) -> AbstractContextManager[None]: ...
        def _garment(self) -> bool: ...
        def _prepared(self, name: str, garment: bool = False) -> PreparedStatement: ...
        def schema_version(self) -> int: ...

    def _similar(self) -> bool:
        """Whether the schema has the embeddings table to write and read."""
        return self._version.get(self.schema_version) >= SIMILAR_VERSION

    def _require_similar(self) -> None:
        require_similar(self._version.get(self.schema_version), f"{self.where}, keyspace {self.keyspace}")

    def _similar_statement(self, name: str) -> PreparedStatement:
        statement = self._statements.get((name, False))
        if statement is None:
            query = SIMILAR_STATEMENTS[name].format(ks=self.keyspace)
            with self._calls.not_counted():  # bounded on its own: PREPARE_TIMEOUT_S a node
                statement = cassandra_schema.prepare(self._connect(), query)
            statement.is_idempotent = True  # same values under the same keys: safe to send twice
            if name.startswith("nearest"):
                # Cassandra 5.0 answers ANN queries at consistency ONE only (its own warning: "SAI
                # ANN indexes ... don't yet support ... consistency level higher than ONE"). An
                # embedding written a moment ago may be missed by that one replica: harmless here.
                statement.consistency_level = ConsistencyLevel.LOCAL_ONE
            self._statements[(name, False)] = statement
        return statement

    def _embedding_rows(self, record: Record, similar: bool) -> builtins.list[tuple[PreparedStatement, Any]]:
        """The embedding row to write in the record's batch, if the schema and the vector allow."""
        if not similar or not storable(record.embedding):
            return []
        return [
            (self._similar_statement("insert_embedding"), (record.id, record.embedded_as, record.embedding))
        ]

    def _embedding_take_back(
        self, record: Record, similar: bool
    ) -> builtins.list[tuple[PreparedStatement, Any]]:
        return [(self._similar_statement("delete_embeddings"), (record.id,))] if similar else []

    def set_embeddings(self, model_version: str, items: Sequence[tuple[uuid.UUID, Sequence[float]]]) -> None:
        self._require_similar()
        statement = self._similar_statement("insert_embedding")
        pieces = [(statement, (i, model_version, tuple(v))) for i, v in items if storable(v)]
        with self._guard("saving embeddings"):
            self._calls.execute_each(pieces)

    def embedding(self, record_id: uuid.UUID, *, model_version: str) -> tuple[float, ...] | None:
        self._require_similar()
        with self._guard("reading an embedding"):
            rows = list(
                self._calls.read(self._similar_statement("get_embedding"), (record_id, model_version))
            )
        return tuple(rows[0].embedding) if rows else None

    def embedded(self, record_ids: Sequence[uuid.UUID], *, model_version: str) -> builtins.set[uuid.UUID]:
        self._require_similar()
        if not record_ids:
            return set()
        with self._guard("reading embeddings"):
            rows = self._calls.read(self._similar_statement("embedded"), (list(record_ids), model_version))
            return {row.id for row in rows}

    def similar(self, vector: Sequence[float], *, model_version: str, limit: int) -> builtins.list[Neighbour]:
        self._require_similar()
        if not storable(vector):
            return []
        with self._guard("finding similar pictures"):
            ranked = self._nearest(tuple(float(v) for v in vector), model_version, limit)
            records = self._records([record_id for record_id, _ in ranked])
        return [Neighbour(records[i], score) for i, score in ranked if i in records]

    def _nearest(
        self, query: tuple[float, ...], version: str, limit: int
    ) -> builtins.list[tuple[uuid.UUID, float]]:
        """Ids and similarities of the closest embeddings by `version`.

        Restricting the ANN query to the version (WHERE model_version = ?, on its SAI index) made it
        9x slower on 10,000 vectors of one version (93 ms against 10 ms, docs/benchmarks/similar.md),
        so the plain ANN query goes first, asked for twice as many, and other versions' rows are
        dropped. Only when they crowd this version out (during a rollout) is the restricted query run.
        Asking for twice as many also helps recall: asked for exactly `limit`, recall@10 against
        exact search fell to 0.954 (0.997 with twice as many), for 1.2 ms less at p50
        (docs/benchmarks/similar.md).
        """
        rows = list(self._calls.read(self._similar_statement("nearest"), (query, query, 2 * limit)))
        ranked = [(row.id, float(row.similarity)) for row in rows if row.model_version == version]
        if len(ranked) >= limit or len(rows) < 2 * limit:
            return ranked[:limit]
        statement = self._similar_statement("nearest_of_version")
        return [
            (row.id, float(row.similarity))
            for row in self._calls.read(statement, (query, version, query, limit))
        ]

    def _records(self, record_ids: builtins.list[uuid.UUID]) -> dict[uuid.UUID, Record]:
        """The records of these ids, in one request."""
        if not record_ids:
            return {}
        rows = self._calls.read(self._prepared("get_records", self._garment()), (record_ids,))
        return {row.id: to_record(row) for row in rows}

    def count_records(self) -> int | None:
        """How many records there are (a full scan: for reindex's progress bar), or None if slow."""
        try:
            statement = self._similar_statement("count_records")
            rows = self._connect().execute(statement, timeout=COUNT_TIMEOUT_S)
            return int(rows.one()[0])
        except (*UNAVAILABLE, StoreUnavailable):
            return None
