"""Cassandra store: records by id, a time-bucketed feed for paging, pictures beside them.

Listing newest-first must cost the same at 10 rows or 10 million, so no partition may grow
without bound: the feed is partitioned by (feed, hour) where feed is 'all', 'label:<class>',
'garment:<yes|no>' or 'label:<class>|garment:<yes|no>' (each filter is a feed of its own, written
beside the others in one batch), and feed_buckets lists the hours that hold rows, so a page reads
only buckets that exist. A filter by a secondary index or ALLOW FILTERING would instead read
every row the filter rejects. Pictures (re-encoded, at most ~1 MB) live in their own table so
that any app replica can show any record. The schema itself: cassandra_schema.py.
"""

from __future__ import annotations

import builtins
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from fashion_classifier.records import Cursor, Page, Record, StoredImage
from fashion_classifier.storage import cassandra_schema
from fashion_classifier.storage.base import StoreUnavailable
from fashion_classifier.storage.cassandra_calls import UNAVAILABLE, Calls, DeadlineExceeded
from fashion_classifier.storage.cassandra_rows import (
    FIELDS,
    GARMENT_FIELDS,
    STATEMENTS,
    bucket_of,
    feed_name,
    feeds_of,
    row_values,
    to_record,
    utc,
)
from fashion_classifier.storage.cassandra_session import (
    KEYSPACE_NAME,
    OPERATION_DEADLINE_S,
    consistency_level,
    cql_map,
    new_cluster,
    parse_url,
    replication_map,
)
from fashion_classifier.storage.migrations import GARMENT_VERSION, VersionCache, require_serving

# A logged batch first writes its batchlog to two other nodes. When one of them has just died,
# and gossip has not said so yet (~15 s in docs/failover.md), that write waits for the server's
# timeout, whichever coordinator is asked. A batch not done after this long is therefore
# written again as separate statements, all at once, which need no batchlog: QUORUM of the live
# replicas is enough for each. Far above a healthy batch (p99 well under 100 ms).
BATCHLOG_WAIT_S = 0.5
log = logging.getLogger(__name__)


class CassandraStore:
    """PredictionStore on Cassandra; one driver session per process, made on first use."""

    def __init__(
        self,
        hosts: list[str],
        port: int,
        keyspace: str,
        *,
        consistency: str,
        replication: str,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        if not KEYSPACE_NAME.match(keyspace):
            raise ValueError(f"keyspace {keyspace!r}: use letters, digits and _ (at most 48)")
        self.hosts, self.port, self.keyspace = hosts, port, keyspace
        self.consistency = consistency_level(consistency)
        self.replication = replication_map(replication)
        self._credentials = credentials  # (user, password): never part of `where` or a message
        self._lock = threading.Lock()
        self._cluster: Cluster | None = None
        self._session: Session | None = None
        self._statements: dict[tuple[str, bool], PreparedStatement] = {}
        self._buckets_written: set[tuple[str, datetime]] = set()  # by this process, in this session
        self._pid = 0
        self._version = VersionCache()
        self._calls = Calls(self._connect)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        consistency: str = "LOCAL_QUORUM",
        replication: str = "SimpleStrategy:1",
        username: str | None = None,
        password: str | None = None,
    ) -> CassandraStore:
        """cassandra://[user:password@]host1,host2:9042/keyspace (port 9042, keyspace fashion_classifier by default).

        user and password are percent-decoded; without them, `username` and `password` are used.
        """
        userinfo, _, rest = url.removeprefix("cassandra://").rpartition("@")
        if userinfo:
            user, _, secret = userinfo.partition(":")
            username, password = unquote(user), unquote(secret)
        try:
            address = parse_url(f"cassandra://{rest}")
        except ValueError:
            # The URL may carry a password: never echo it.
            raise ValueError(
                "DATABASE_URL: expected cassandra://[user:password@]host1,host2:9042/keyspace"
            ) from None
        return cls(
            address.hosts,
            address.port,
            address.keyspace,
            consistency=consistency,
            replication=replication,
            credentials=(username, password or "") if username else None,
        )

    @property
    def where(self) -> str:
        return f"Cassandra at {','.join(self.hosts)}:{self.port}"

    # -- connection -------------------------------------------------------------------------

    def _connect(self) -> Session:
        """The session of this process; a forked child (gunicorn worker) makes its own."""
        if self._session is not None and self._pid == os.getpid():
            return self._session
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                self._session = self._open_session()
                self._pid = os.getpid()
                self._statements = {}
                self._buckets_written = set()
                self._version = VersionCache()
        return self._session

    def _open_session(self) -> Session:
        cluster = new_cluster(self.hosts, self.port, self.consistency)
        if self._credentials:
            cluster.auth_provider = PlainTextAuthProvider(*self._credentials)
        try:
            session = cluster.connect()
        except BaseException:
            cluster.shutdown()  # a failed first connect is retried on the next call, from scratch
            raise
        self._cluster = cluster
        return session

    def _garment(self) -> bool:
        """Whether the schema has the verdict's columns (migration 2) to write and read."""
        return self._version.get(self.schema_version) >= GARMENT_VERSION

    def _prepared(self, name: str, garment: bool = False) -> PreparedStatement:
        statement = self._statements.get((name, garment))
        if statement is None:
            fields = GARMENT_FIELDS if garment else FIELDS
            query = STATEMENTS[name].format(
                ks=self.keyspace, fields=fields, marks=", ".join("?" * len(fields.split(",")))
            )
            statement = cassandra_schema.prepare(self._connect(), query)
            # Every statement here writes the same values under the same keys when repeated, so
            # the driver may retry it on another node when its coordinator dies mid-request.
            # (That is why probabilities is a frozen list: a non-frozen list appends on replay,
            # and the failover test found records with 20 probabilities.)
            statement.is_idempotent = True
            self._statements[(name, garment)] = statement
        return statement

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """One store operation: unavailable -> StoreUnavailable, and a deadline for all of it."""
        try:
            with self._calls.operation():
                yield
        except DeadlineExceeded as exc:
            raise StoreUnavailable(
                f"{self.where} is unreachable: no answer within the {OPERATION_DEADLINE_S:.1f} s "
                f"deadline ({action}); retry in a few seconds"
            ) from exc
        except UNAVAILABLE as exc:
            raise StoreUnavailable(
                f"{self.where} is unreachable ({action}: {exc}); retry in a few seconds"
            ) from exc

    def _run(self, name: str, parameters: tuple[Any, ...], action: str) -> list[Any]:
        with self._guard(action):
            return list(self._calls.execute(self._prepared(name, self._garment()), parameters))

    # -- schema -----------------------------------------------------------------------------

    def migrate(self, *, target: int | None = None) -> builtins.list[str]:
        with self._guard("migrating the schema"):
            replication = cql_map(self.replication)
            return cassandra_schema.migrate(self._connect(), self.keyspace, replication, target=target)

    def init_schema(self) -> None:
        self.migrate()

    def schema_version(self) -> int:
        with self._guard("reading the schema version"):
            return cassandra_schema.applied_version(self._connect(), self.keyspace)

    def check_schema(self) -> None:
        require_serving(self._version.get(self.schema_version), f"{self.where}, keyspace {self.keyspace}")

    # -- PredictionStore --------------------------------------------------------------------

    def add(self, record: Record, image: StoredImage) -> None:
        self.add_many([(record, image)])

    def add_many(self, items: Sequence[tuple[Record, StoredImage]]) -> None:
        """All pictures, then each record's rows; on a failure, every row written is deleted again.

        A record is never listed without its picture: the picture is written before the rows
        that list the record (one logged batch each, or row by row when the batch is slow; see
        _write_all). If any write fails, every row of this upload is deleted before the error
        goes up; the tombstones carry later (client-side) timestamps than the writes, so a write
        that timed out but lands afterwards stays deleted. While this runs, a reader may list the
        first records of the upload before the last ones are kept. Only if the cleanup cannot
        reach the cluster either do rows stay behind; their ids are logged.
        """
        garment = True  # until the schema says otherwise: take back the verdict's feeds too
        try:
            with self._guard("saving predictions"):
                garment = self._garment()
                for record, image in items:
                    self._calls.execute(
                        self._prepared("insert_image"), (record.id, image.content_type, image.data)
                    )
                for record, _ in items:
                    pieces, new_buckets = self._record_rows(record, garment)
                    self._write_all(pieces)
                    self._buckets_written |= new_buckets
        except BaseException:
            with self._calls.operation():  # a deadline of its own: the upload's may be spent
                self._take_back([record for record, _ in items], garment)
            raise

    def _record_rows(
        self, record: Record, garment: bool
    ) -> tuple[builtins.list[tuple[PreparedStatement, tuple[Any, ...]]], set[tuple[str, datetime]]]:
        """The record's rows, and the feed hours whose feed_buckets row this process has not written
        yet (bucket rows are never deleted: once per hour and process is enough, not per upload)."""
        bucket = bucket_of(record.created_at)
        fields = row_values(record, garment=garment)
        pieces = [(self._prepared("insert_record", garment), fields)]
        new_buckets = {(feed, bucket) for feed in feeds_of(record, garment=garment)} - self._buckets_written
        for feed in feeds_of(record, garment=garment):
            pieces.append((self._prepared("insert_feed", garment), (feed, bucket, *fields)))
        pieces += [(self._prepared("insert_bucket"), key) for key in sorted(new_buckets)]
        return pieces, new_buckets

    def _take_back(self, records: builtins.list[Record], garment: bool) -> None:
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
                self._calls.execute_each(pieces)
        except (*UNAVAILABLE, DeadlineExceeded) as exc:
            ids = ", ".join(str(record.id) for record in records)
            log.error("could not take back the rows of a failed upload (%s): %s", ids, exc)

    def _write_all(self, pieces: builtins.list[tuple[PreparedStatement, tuple[Any, ...]]]) -> None:
        """A logged batch (all rows or, after a failure, none); if it is slow, row by row (all must land)."""
        batch = BatchStatement(BatchType.LOGGED, consistency_level=self.consistency)
        batch.is_idempotent = True
        for statement, values in pieces:
            batch.add(statement, values)
        try:
            self._calls.execute(batch, within=BATCHLOG_WAIT_S)
        except DeadlineExceeded:
            self._calls.execute_each(pieces)

    def get(self, record_id: uuid.UUID) -> Record | None:
        rows = self._run("get_record", (record_id,), "reading a prediction")
        return to_record(rows[0]) if rows else None

    def image(self, record_id: uuid.UUID) -> StoredImage | None:
        rows = self._run("get_image", (record_id,), "reading a picture")
        return StoredImage(bytes(rows[0].data), rows[0].content_type) if rows else None

    def list(
        self,
        *,
        limit: int = 20,
        cursor: str | None = None,
        label: str | None = None,
        garment: bool | None = None,
    ) -> Page:
        feed = feed_name(label, garment)
        after = Cursor.decode(cursor) if cursor else None
        records: builtins.list[Record] = []
        with self._guard("listing predictions"):
            for bucket in self._buckets(feed, after):
                records += self._bucket_page(feed, bucket, after, limit + 1 - len(records))
                if len(records) > limit:
                    break
        page = records[:limit]
        return Page(page, Cursor.after(page[-1]).encode() if len(records) > limit else None)

    def _buckets(self, feed: str, after: Cursor | None) -> Iterator[datetime]:
        """Hours that hold rows, newest first, fetched lazily page by page."""
        if after is None:
            rows = self._calls.execute(self._prepared("buckets"), (feed,))
        else:
            rows = self._calls.execute(self._prepared("buckets_before"), (feed, bucket_of(after.created_at)))
        for row in rows:
            yield utc(row.bucket)

    def _bucket_page(
        self, feed: str, bucket: datetime, after: Cursor | None, limit: int
    ) -> builtins.list[Record]:
        garment = self._garment()
        if after is not None and bucket == bucket_of(after.created_at):
            parameters: tuple[Any, ...] = (feed, bucket, after.created_at, after.id, limit)
            rows = self._calls.execute(self._prepared("page_after", garment), parameters)
        else:
            rows = self._calls.execute(self._prepared("page", garment), (feed, bucket, limit))
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
            self._connect().execute("SELECT release_version FROM system.local")

    def close(self) -> None:
        with self._lock:
            if self._cluster is not None and self._pid == os.getpid():
                self._cluster.shutdown()
            self._cluster, self._session, self._statements = None, None, {}
