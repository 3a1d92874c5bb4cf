"""Cassandra store: records by id, a time-bucketed feed for paging, pictures beside them.

Listing newest-first must cost the same at 10 rows or 10 million, so no partition may grow
without bound: the feed is partitioned by (feed, hour) where feed is 'all', 'label:<class>',
'garment:<yes|no>' or 'label:<class>|garment:<yes|no>' (each filter is a feed of its own, written
beside the others in one batch), and feed_buckets lists the hours that hold rows, so a page reads
only buckets that exist. A filter by a secondary index or ALLOW FILTERING would instead read
every row the filter rejects. Pictures (at most 1024 px a side: re-encoded, or a JPEG as sent
less its metadata) live in their own table so that any app replica can show any record. The schema itself: cassandra_schema.py.
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from cassandra.query import BatchStatement, BatchType, PreparedStatement

from fashion_classifier.records import Cursor, Page, Record, StoredImage
from fashion_classifier.storage import cassandra_schema
from fashion_classifier.storage.base import DEFAULT_PAGE_SIZE
from fashion_classifier.storage.cassandra_calls import UNAVAILABLE, DeadlineExceeded
from fashion_classifier.storage.cassandra_connection import CassandraConnection
from fashion_classifier.storage.cassandra_copy import CassandraTransfer
from fashion_classifier.storage.cassandra_corrections import CassandraCorrections
from fashion_classifier.storage.cassandra_models import CassandraModels
from fashion_classifier.storage.cassandra_rows import (
    bucket_of,
    feed_name,
    feeds_of,
    to_record,
    utc,
)
from fashion_classifier.storage.cassandra_session import cql_map
from fashion_classifier.storage.cassandra_similar import CassandraSimilarity
from fashion_classifier.storage.migrations import require_serving
from fashion_classifier.storage.rows import fetch_size, page_of, record_values

log = logging.getLogger(__name__)


class CassandraStore(
    CassandraConnection, CassandraSimilarity, CassandraTransfer, CassandraModels, CassandraCorrections
):
    """PredictionStore on Cassandra (the connection itself: cassandra_connection.py)."""

    # -- schema -----------------------------------------------------------------------------

    def migrate(self, *, target: int | None = None) -> builtins.list[str]:
        with self._guard("migrating the schema"):
            replication = cql_map(self.replication)
            return cassandra_schema.migrate(self._connect(), self.keyspace, replication, target=target)

    def check_schema(self) -> None:
        require_serving(self._version.get(self.schema_version), f"{self.where}, keyspace {self.keyspace}")

    # -- PredictionStore --------------------------------------------------------------------

    def add(self, record: Record, image: StoredImage) -> None:
        self.add_many([(record, image)])

    def add_many(self, items: Sequence[tuple[Record, StoredImage]]) -> None:
        """All pictures, then each record's rows; on a failure, every row written is deleted again.

        A record is never listed without its picture: the picture is written before the rows
        that list the record (one logged batch each, or row by row while batches are slow; see
        Calls.write_together). If any write fails, every row of this upload is deleted before the error
        goes up; the tombstones carry later (client-side) timestamps than the writes, so a write
        that timed out but lands afterwards stays deleted. While this runs, a reader may list the
        first records of the upload before the last ones are kept. Only if the cleanup cannot
        reach the cluster either do rows stay behind; their ids are logged.
        """
        garment = True  # until the schema says otherwise: take back the verdict's feeds too
        similar = False  # embeddings are written only after the schema said it has them
        try:
            with self._guard("saving predictions"):
                garment, similar = self._garment(), self._similar()
                for record, image in items:
                    self._calls.execute(
                        self._prepared("insert_image"), (record.id, image.content_type, image.data)
                    )
                for record, _ in items:
                    pieces, new_buckets = self._record_rows(record, garment)
                    self._write_all(pieces + self._embedding_rows(record, similar))
                    self._buckets_written |= new_buckets
        except BaseException:
            with self._calls.operation():  # a deadline of its own: the upload's may be spent
                self._take_back([record for record, _ in items], garment, similar)
            raise

    def _record_rows(
        self, record: Record, garment: bool
    ) -> tuple[builtins.list[tuple[PreparedStatement, tuple[Any, ...]]], set[tuple[str, datetime]]]:
        """The record's rows, and the feed hours whose feed_buckets row this process has not written
        yet (bucket rows are never deleted: once per hour and process is enough, not per upload)."""
        bucket = bucket_of(record.created_at)
        fields = record_values(record, garment=garment)
        pieces = [(self._prepared("insert_record", garment), fields)]
        new_buckets = {(feed, bucket) for feed in feeds_of(record, garment=garment)} - self._buckets_written
        for feed in feeds_of(record, garment=garment):
            pieces.append((self._prepared("insert_feed", garment), (feed, bucket, *fields)))
        pieces += [(self._prepared("insert_bucket"), key) for key in sorted(new_buckets)]
        return pieces, new_buckets

    def _take_back(self, records: builtins.list[Record], garment: bool, similar: bool) -> None:
        """Delete every row these records may have written (deleting a missing row is harmless)."""
        try:
            for record in records:
                bucket = bucket_of(record.created_at)
                pieces: builtins.list[tuple[PreparedStatement, tuple[Any, ...]]] = [
                    (self._prepared("delete_record"), (record.id,))
                ]
                for feed in feeds_of(record, garment=garment):
                    pieces.append(
                        (self._prepared("delete_feed"), (feed, bucket, record.created_at, record.id))
                    )
                pieces.append((self._prepared("delete_image"), (record.id,)))
                pieces += self._embedding_take_back(record, similar)
                self._calls.execute_each(pieces)
        except (*UNAVAILABLE, DeadlineExceeded) as exc:
            ids = ", ".join(str(record.id) for record in records)
            log.error("could not take back the rows of a failed upload (%s): %s", ids, exc)

    def _write_all(self, pieces: builtins.list[tuple[PreparedStatement, tuple[Any, ...]]]) -> None:
        """A logged batch (all rows or, after a failure, none); while batches are slow, row by row (see Calls)."""
        batch = BatchStatement(BatchType.LOGGED, consistency_level=self.consistency)
        batch.is_idempotent = True
        for statement, values in pieces:
            batch.add(statement, values)
        self._calls.write_together(batch, pieces)

    def get(self, record_id: uuid.UUID) -> Record | None:
        rows = self._run("get_record", (record_id,), "reading a prediction")
        return to_record(rows[0]) if rows else None

    def image(self, record_id: uuid.UUID) -> StoredImage | None:
        rows = self._run("get_image", (record_id,), "reading a picture")
        return StoredImage(bytes(rows[0].data), rows[0].content_type) if rows else None

    def list(
        self,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        label: str | None = None,
        garment: bool | None = None,
    ) -> Page:
        feed = feed_name(label, garment)
        after = Cursor.decode(cursor) if cursor else None
        records: builtins.list[Record] = []
        with self._guard("listing predictions"):
            for bucket in self._buckets(feed, after):
                records += self._bucket_page(feed, bucket, after, fetch_size(limit) - len(records))
                if len(records) == fetch_size(limit):
                    break
        return page_of(records, limit)

    def _buckets(self, feed: str, after: Cursor | None) -> Iterator[datetime]:
        """Hours that hold rows, newest first, fetched lazily page by page."""
        if after is None:
            rows = self._calls.read(self._prepared("buckets"), (feed,))
        else:
            rows = self._calls.read(self._prepared("buckets_before"), (feed, bucket_of(after.created_at)))
        for row in rows:
            yield utc(row.bucket)

    def _bucket_page(
        self, feed: str, bucket: datetime, after: Cursor | None, limit: int
    ) -> builtins.list[Record]:
        garment = self._garment()
        if after is not None and bucket == bucket_of(after.created_at):
            parameters: tuple[Any, ...] = (feed, bucket, after.created_at, after.id, limit)
            rows = self._calls.read(self._prepared("page_after", garment), parameters)
        else:
            rows = self._calls.read(self._prepared("page", garment), (feed, bucket, limit))
        return [to_record(row) for row in rows]

    def set_correction(self, record_id: uuid.UUID, label: str) -> Record | None:
        record = self.get(record_id)
        if record is None:
            return None
        bucket = bucket_of(record.created_at)
        with self._guard("saving a correction"):
            pieces: builtins.list[tuple[PreparedStatement, tuple[Any, ...]]] = [
                (self._prepared("correct_record"), (label, record_id))
            ]
            for feed in feeds_of(record):  # exactly the feeds add() wrote: no stray partial rows
                pieces.append(
                    (self._prepared("correct_feed"), (label, feed, bucket, record.created_at, record_id))
                )
            self._write_all(pieces)
        return self.get(record_id)

    def corrected(self) -> builtins.list[Record]:
        """Every corrected record: a full scan, fine for an occasional export."""
        rows = self._run("all_records", (), "exporting corrections")
        return sorted((to_record(r) for r in rows if r.corrected_label), key=lambda r: r.created_at)

    def ping(self) -> None:
        with self._guard("checking the connection"):
            self._calls.read(self._prepared("ping"))
