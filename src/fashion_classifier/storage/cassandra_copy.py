"""`fashion-classifier copy` on Cassandra: the history read in token order, written back as upserts.

The records table is partitioned by id alone, so its one fixed order is the token of the id:
`WHERE token(id) > ?` pages through it whatever is written meanwhile (an upload made during
the copy lands before or after the position, at random: a second copy takes it).
Writes are the rows an upload makes (record, feeds, feed hours, picture, embeddings), sent many
at a time, the pictures first and awaited, so no record is listed before its picture is kept.
A bulk copy is no user's request: each statement gets COPY_TIMEOUT_S, not the service's deadline.
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from fashion_classifier.records import Record, StoredImage
from fashion_classifier.storage import cassandra_schema
from fashion_classifier.storage.base import StoreUnavailable
from fashion_classifier.storage.cassandra_calls import UNAVAILABLE
from fashion_classifier.storage.cassandra_rows import to_record
from fashion_classifier.storage.rows import column_list
from fashion_classifier.storage.transfer import Kept

COPY_STATEMENTS = {
    "first": "SELECT token(id) AS position, {fields} FROM {ks}.records LIMIT ?",
    "after": "SELECT token(id) AS position, {fields} FROM {ks}.records WHERE token(id) > ? LIMIT ?",
    "records": "SELECT {fields} FROM {ks}.records WHERE id IN ?",
    "images": "SELECT id, content_type, data FROM {ks}.images WHERE id IN ?",
    "embeddings": "SELECT id, model_version, embedding FROM {ks}.embeddings WHERE id IN ?",
    "insert_embedding": "INSERT INTO {ks}.embeddings (id, model_version, embedding) VALUES (?, ?, ?)",
    "scan_records": "SELECT corrected_label FROM {ks}.records",
    "scan_images": "SELECT id FROM {ks}.images",
    "scan_embeddings": "SELECT id FROM {ks}.embeddings",
}
COPY_TIMEOUT_S = 30.0  # one statement of a copy (the scans of the count check: per page of rows)
IN_FLIGHT = 64  # statements sent at once
STATEMENT_TRIES = 4  # a write that fails is sent again after 1, 2 and 3 s
FEED_BATCH = 100  # feed rows of one partition written as one batch


class CassandraTransfer:
    """Mixed into CassandraStore: storage.transfer.TransferStore."""

    if TYPE_CHECKING:
        keyspace: str
        consistency: int
        _statements: dict[tuple[str, bool], PreparedStatement]
        _buckets_written: set[tuple[str, datetime]]

        @property
        def where(self) -> str: ...

        def _connect(self) -> Session: ...
        def _garment(self) -> bool: ...
        def _similar(self) -> bool: ...
        def _prepared(self, name: str, garment: bool = False) -> PreparedStatement: ...
        def _record_rows(
            self, record: Record, garment: bool
        ) -> tuple[builtins.list[tuple[PreparedStatement, tuple[Any, ...]]], set[tuple[str, datetime]]]: ...

    def describe(self) -> str:
        return f"{self.where}, keyspace {self.keyspace}"

    def _copy_statement(self, name: str, garment: bool = False) -> PreparedStatement:
        statement = self._statements.get((f"copy:{name}", garment))
        if statement is None:
            query = COPY_STATEMENTS[name].format(ks=self.keyspace, fields=column_list(garment=garment))
            statement = cassandra_schema.prepare(self._connect(), query)
            statement.is_idempotent = True  # reads, and upserts of the same values
            self._statements[(f"copy:{name}", garment)] = statement
        return statement

    @contextmanager
    def _copying(self, action: str) -> Iterator[None]:
        try:
            yield
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"{self.describe()} did not answer ({action}: {exc})") from exc

    def _read(self, name: str, values: tuple[Any, ...], garment: bool = False) -> builtins.list[Any]:
        with self._copying(f"reading {name}"):
            statement = self._copy_statement(name, garment)
            return list(self._connect().execute(statement, values, timeout=COPY_TIMEOUT_S))

    def export_records(self, *, after: str | None, limit: int) -> tuple[builtins.list[Kept], str | None]:
        garment = self._garment()
        if after is None:
            rows = self._read("first", (limit,), garment)
        else:
            rows = self._read("after", (int(after), limit), garment)
        items = self._bundled([to_record(row) for row in rows])
        return items, (str(rows[-1].position) if len(rows) == limit else None)

    def kept(self, record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Kept]:
        if not record_ids:
            return {}
        rows = self._read("records", (list(record_ids),), self._garment())
        return {item.record.id: item for item in self._bundled([to_record(row) for row in rows])}

    def _bundled(self, records: builtins.list[Record]) -> builtins.list[Kept]:
        if not records:
            return []
        ids = [record.id for record in records]
        pictures = {
            row.id: StoredImage(bytes(row.data), row.content_type) for row in self._read("images", (ids,))
        }
        vectors: dict[uuid.UUID, builtins.list[tuple[str, tuple[float, ...]]]] = {}
        for row in self._read("embeddings", (ids,)) if self._similar() else []:
            vectors.setdefault(row.id, []).append((row.model_version, tuple(row.embedding)))
        return [Kept(r, pictures.get(r.id), tuple(sorted(vectors.get(r.id, [])))) for r in records]

    def import_records(self, items: Sequence[Kept]) -> None:
        """Every picture first (all of them answered), then each record's rows and embeddings."""
        pictures, rows, buckets = [], [], set()
        insert_image, insert_embedding = (
            self._prepared("insert_image"),
            self._copy_statement("insert_embedding"),
        )
        for item in items:
            if item.picture is None:
                raise ValueError(f"record {item.record.id} has no picture: not copied")
            pictures.append((insert_image, (item.record.id, item.picture.content_type, item.picture.data)))
            pieces, new_buckets = self._record_rows(item.record, True)
            rows += [piece for piece in pieces if piece[0] is not self._prepared("insert_bucket")]
            rows += [(insert_embedding, (item.record.id, v, vector)) for v, vector in item.embeddings]
            buckets |= new_buckets
        rows += [(self._prepared("insert_bucket"), key) for key in sorted(buckets)]
        self._send(pictures, "writing pictures")
        self._send(self._feeds_batched(rows), "writing records")
        self._buckets_written |= buckets

    def _feeds_batched(self, rows: builtins.list[tuple[Any, Any]]) -> builtins.list[tuple[Any, Any]]:
        """Feed rows of one partition (a feed's hour) in unlogged batches of FEED_BATCH: the history
        is read in time order, so a page's records share a few hours, and a single-partition batch
        is one write for the node (and exempt from the batch size limits). Other rows go alone."""
        feed = self._prepared("insert_feed", True)
        alone = [(statement, values) for statement, values in rows if statement is not feed]
        by_partition: dict[tuple[str, datetime], builtins.list[tuple[Any, ...]]] = {}
        for statement, values in rows:
            if statement is feed:
                by_partition.setdefault((values[0], values[1]), []).append(values)
        for partition in by_partition.values():
            for start in range(0, len(partition), FEED_BATCH):
                batch = BatchStatement(BatchType.UNLOGGED, consistency_level=self.consistency)
                batch.is_idempotent = True
                for values in partition[start : start + FEED_BATCH]:
                    batch.add(feed, values)
                alone.append((batch, None))
        return alone

    def _send(self, pieces: builtins.list[tuple[Any, Any]], action: str) -> None:
        """Every statement, IN_FLIGHT at a time; one that fails is sent again (STATEMENT_TRIES in all)
        before StoreUnavailable: a busy node times out a write now and then (all are upserts)."""
        with self._copying(action):
            session = self._connect()
            for start in range(0, len(pieces), IN_FLIGHT):
                window = pieces[start : start + IN_FLIGHT]
                sent = [session.execute_async(s, v, timeout=COPY_TIMEOUT_S) for s, v in window]
                for (statement, values), future in zip(window, sent, strict=True):
                    try:
                        future.result()
                    except UNAVAILABLE:
                        self._send_again(session, statement, values)

    @staticmethod
    def _send_again(session: Session, statement: Any, values: Any) -> None:
        for attempt in range(1, STATEMENT_TRIES):
            time.sleep(attempt)
            try:
                session.execute(statement, values, timeout=COPY_TIMEOUT_S)
                return
            except UNAVAILABLE:
                if attempt == STATEMENT_TRIES - 1:
                    raise

    def kind_counts(self) -> dict[str, int]:
        """Full scans, paged by the driver (memory holds one page of ids)."""
        with self._copying("counting rows"):
            session = self._connect()
            scan = {
                name: session.execute(self._copy_statement(f"scan_{name}"), timeout=COPY_TIMEOUT_S)
                for name in ("records", "images")
            }
            records = corrections = 0
            for row in scan["records"]:
                records += 1
                corrections += row.corrected_label is not None
            pictures = sum(1 for _ in scan["images"])
            embeddings = 0
            if self._similar():
                embeddings = sum(
                    1
                    for _ in session.execute(self._copy_statement("scan_embeddings"), timeout=COPY_TIMEOUT_S)
                )
        return {
            "records": records,
            "corrections": corrections,
            "pictures": pictures,
            "embeddings": embeddings,
        }
