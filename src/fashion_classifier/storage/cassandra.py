"""Cassandra store: records by id, a time-bucketed feed for paging, pictures beside them.

Listing newest-first must cost the same at 10 rows or 10 million, so no partition may grow
without bound: the feed is partitioned by (feed, hour) where feed is 'all' or 'label:<class>'
(the class filter is a feed of its own), and feed_buckets lists the hours that hold rows, so a
page reads only buckets that exist. Pictures (re-encoded, at most ~1 MB) live in their own table
so that any app replica can show any record.
"""

from __future__ import annotations

import builtins
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from cassandra import ConsistencyLevel, OperationTimedOut, RequestExecutionException
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.connection import ConnectionException
from cassandra.policies import ConstantReconnectionPolicy, DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from fashion_classifier.records import Cursor, Page, Prediction, Record, StoredImage
from fashion_classifier.storage.base import StoreUnavailable

log = logging.getLogger(__name__)
KEYSPACE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,47}$")
UNAVAILABLE = (NoHostAvailable, OperationTimedOut, RequestExecutionException, ConnectionException, OSError)
FIELDS = "id, created_at, filename, label, probabilities, model_version, width, height, corrected_label"
BUCKET = timedelta(hours=1)
# Above the server's own timeouts (2-5 s), so a coordinator that answers at all answers first:
# the failover test saw a loaded coordinator stall past 5 s while a killed node was not yet
# known to be down.
REQUEST_TIMEOUT_S = 10.0
# Pauses between attempts when the cluster answers but cannot finish the request in time (a
# replica just died and gossip has not convicted it yet: about 20 s in the failover test).
# When no node answers at all, one retry a second later (the driver's reconnection interval).
RETRY_PAUSES_S = (1.0, 2.0, 4.0)

TABLES = [
    """CREATE TABLE IF NOT EXISTS {ks}.records (
        id uuid PRIMARY KEY, created_at timestamp, filename text, label text,
        probabilities frozen<list<double>>, model_version text, width int, height int, corrected_label text)""",
    """CREATE TABLE IF NOT EXISTS {ks}.images (id uuid PRIMARY KEY, content_type text, data blob)""",
    """CREATE TABLE IF NOT EXISTS {ks}.feed (
        feed text, bucket timestamp, created_at timestamp, id uuid, filename text, label text,
        probabilities frozen<list<double>>, model_version text, width int, height int, corrected_label text,
        PRIMARY KEY ((feed, bucket), created_at, id)
    ) WITH CLUSTERING ORDER BY (created_at DESC, id DESC)""",
    """CREATE TABLE IF NOT EXISTS {ks}.feed_buckets (feed text, bucket timestamp, PRIMARY KEY (feed, bucket))
       WITH CLUSTERING ORDER BY (bucket DESC)""",
]
STATEMENTS = {
    "insert_record": "INSERT INTO {ks}.records (" + FIELDS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "insert_feed": "INSERT INTO {ks}.feed (feed, bucket, "
    + FIELDS
    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "insert_bucket": "INSERT INTO {ks}.feed_buckets (feed, bucket) VALUES (?, ?)",
    "insert_image": "INSERT INTO {ks}.images (id, content_type, data) VALUES (?, ?, ?)",
    "get_record": "SELECT " + FIELDS + " FROM {ks}.records WHERE id = ?",
    "get_image": "SELECT content_type, data FROM {ks}.images WHERE id = ?",
    "buckets": "SELECT bucket FROM {ks}.feed_buckets WHERE feed = ?",
    "buckets_before": "SELECT bucket FROM {ks}.feed_buckets WHERE feed = ? AND bucket <= ?",
    "page": "SELECT " + FIELDS + " FROM {ks}.feed WHERE feed = ? AND bucket = ? LIMIT ?",
    "page_after": "SELECT "
    + FIELDS
    + " FROM {ks}.feed WHERE feed = ? AND bucket = ? AND (created_at, id) < (?, ?) LIMIT ?",
    "correct_record": "UPDATE {ks}.records SET corrected_label = ? WHERE id = ?",
    "correct_feed": "UPDATE {ks}.feed SET corrected_label = ? WHERE feed = ? AND bucket = ? AND created_at = ? AND id = ?",
    "all_records": "SELECT " + FIELDS + " FROM {ks}.records",
    # Taking back the rows of an upload that failed midway (add_many).
    "delete_record": "DELETE FROM {ks}.records WHERE id = ?",
    "delete_feed": "DELETE FROM {ks}.feed WHERE feed = ? AND bucket = ? AND created_at = ? AND id = ?",
    "delete_image": "DELETE FROM {ks}.images WHERE id = ?",
}


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
        self.consistency = _consistency_level(consistency)
        self.replication = replication_map(replication)
        self._credentials = credentials  # (user, password): never part of `where` or a message
        self._lock = threading.Lock()
        self._cluster: Cluster | None = None
        self._session: Session | None = None
        self._statements: dict[str, PreparedStatement] = {}
        self._pid = 0

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
        rest = url.removeprefix("cassandra://")
        userinfo, _, rest = rest.rpartition("@")
        if userinfo:
            user, _, secret = userinfo.partition(":")
            username, password = unquote(user), unquote(secret)
        hosts_part, _, keyspace = rest.partition("/")
        port = 9042
        if ":" in hosts_part:
            hosts_part, _, port_text = hosts_part.rpartition(":")
            port = int(port_text)
        hosts = [h for h in hosts_part.split(",") if h]
        if not hosts:
            raise ValueError("DATABASE_URL: expected cassandra://[user:password@]host1,host2:9042/keyspace")
        return cls(
            hosts,
            port,
            keyspace or "fashion_classifier",
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
        return self._session

    def _open_session(self) -> Session:
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
            consistency_level=self.consistency,
            request_timeout=REQUEST_TIMEOUT_S,
        )
        cluster = Cluster(
            self.hosts,
            port=self.port,
            protocol_version=5,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            reconnection_policy=ConstantReconnectionPolicy(1.0, max_attempts=None),
            connect_timeout=5,
            control_connection_timeout=5,
            idle_heartbeat_interval=5,
            # Without it, Nagle's algorithm meets the server's delayed ACK whenever a request
            # spans several packets (a stored picture): bench/service.py measured 59 ms instead of 7.
            sockopts=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            auth_provider=PlainTextAuthProvider(*self._credentials) if self._credentials else None,
        )
        try:
            session = cluster.connect()
        except BaseException:
            cluster.shutdown()  # a failed first connect is retried on the next call, from scratch
            raise
        self._cluster = cluster
        return session

    def _prepared(self, name: str) -> PreparedStatement:
        statement = self._statements.get(name)
        if statement is None:
            statement = self._connect().prepare(STATEMENTS[name].format(ks=self.keyspace))
            # Every statement here writes the same values under the same keys when repeated, so
            # the driver may retry it on another node when its coordinator dies mid-request.
            # (That is why probabilities is a frozen list: a non-frozen list appends on replay,
            # and the failover test found records with 20 probabilities.)
            statement.is_idempotent = True
            self._statements[name] = statement
        return statement

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except UNAVAILABLE as exc:
            raise StoreUnavailable(
                f"{self.where} is unreachable ({action}: {exc}); retry in a few seconds"
            ) from exc

    def _execute(self, statement: Any, parameters: tuple[Any, ...] | None = None) -> Any:
        """Execute, retrying as RETRY_PAUSES_S says (safe: every statement here is idempotent)."""
        for attempt, pause in enumerate(RETRY_PAUSES_S):
            try:
                return self._connect().execute(statement, parameters)
            except NoHostAvailable:
                if attempt > 0:
                    raise  # still nothing answers: say so now rather than in seven seconds
            except UNAVAILABLE:
                pass
            time.sleep(pause)
        return self._connect().execute(statement, parameters)

    def _run(self, name: str, parameters: tuple[Any, ...], action: str) -> list[Any]:
        with self._guard(action):
            return list(self._execute(self._prepared(name), parameters))

    # -- PredictionStore --------------------------------------------------------------------

    def init_schema(self) -> None:
        with self._guard("creating the schema"):
            session = self._connect()
            session.execute(
                f"CREATE KEYSPACE IF NOT EXISTS {self.keyspace} WITH replication = %s"
                % _cql_map(self.replication)
            )
            for table in TABLES:
                session.execute(table.format(ks=self.keyspace))

    def add(self, record: Record, image: StoredImage) -> None:
        """Picture first, then one logged batch: a record is listed only once all of it is kept."""
        self.add_many([(record, image)])

    def add_many(self, items: Sequence[tuple[Record, StoredImage]]) -> None:
        """All pictures, then each record in its logged batch; on a failure, the written rows are deleted.

        A record is never listed without its picture: the picture is written before the batch
        that lists the record. If any write fails, every row of this upload is deleted again
        before the error goes up; the tombstones carry later (client-side) timestamps than the
        writes, so a write that timed out but lands afterwards stays deleted. While this runs, a
        reader may list the first records of the upload before the last ones are kept. Only if
        the cleanup cannot reach the cluster either do rows stay behind; their ids are logged.
        """
        with self._guard("saving predictions"):
            try:
                for record, image in items:
                    self._execute(self._prepared("insert_image"), (record.id, image.content_type, image.data))
                for record, _ in items:
                    self._execute(self._record_batch(record))
            except BaseException:
                self._take_back([record for record, _ in items])
                raise

    def _record_batch(self, record: Record) -> BatchStatement:
        bucket = bucket_of(record.created_at)
        fields = _fields(record)
        batch = BatchStatement(BatchType.LOGGED, consistency_level=self.consistency)
        batch.is_idempotent = True
        batch.add(self._prepared("insert_record"), fields)
        for feed in ("all", f"label:{record.label}"):
            batch.add(self._prepared("insert_feed"), (feed, bucket, *fields))
            batch.add(self._prepared("insert_bucket"), (feed, bucket))
        return batch

    def _take_back(self, records: builtins.list[Record]) -> None:
        """Delete every row these records may have written (deleting a missing row is harmless)."""
        try:
            for record in records:
                bucket = bucket_of(record.created_at)
                batch = BatchStatement(BatchType.LOGGED, consistency_level=self.consistency)
                batch.is_idempotent = True
                batch.add(self._prepared("delete_record"), (record.id,))
                for feed in ("all", f"label:{record.label}"):
                    batch.add(self._prepared("delete_feed"), (feed, bucket, record.created_at, record.id))
                batch.add(self._prepared("delete_image"), (record.id,))
                self._execute(batch)
        except UNAVAILABLE as exc:
            ids = ", ".join(str(record.id) for record in records)
            log.error("could not take back the rows of a failed upload (%s): %s", ids, exc)

    def get(self, record_id: uuid.UUID) -> Record | None:
        rows = self._run("get_record", (record_id,), "reading a prediction")
        return _record(rows[0]) if rows else None

    def image(self, record_id: uuid.UUID) -> StoredImage | None:
        rows = self._run("get_image", (record_id,), "reading a picture")
        return StoredImage(bytes(rows[0].data), rows[0].content_type) if rows else None

    def list(self, *, limit: int = 20, cursor: str | None = None, label: str | None = None) -> Page:
        feed = "all" if label is None else f"label:{label}"
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
            rows = self._execute(self._prepared("buckets"), (feed,))
        else:
            rows = self._execute(self._prepared("buckets_before"), (feed, bucket_of(after.created_at)))
        for row in rows:
            yield _utc(row.bucket)

    def _bucket_page(
        self, feed: str, bucket: datetime, after: Cursor | None, limit: int
    ) -> builtins.list[Record]:
        if after is not None and bucket == bucket_of(after.created_at):
            parameters: tuple[Any, ...] = (feed, bucket, after.created_at, after.id, limit)
            rows = self._execute(self._prepared("page_after"), parameters)
        else:
            rows = self._execute(self._prepared("page"), (feed, bucket, limit))
        return [_record(row) for row in rows]

    def set_correction(self, record_id: uuid.UUID, label: str) -> Record | None:
        record = self.get(record_id)
        if record is None:
            return None
        bucket = bucket_of(record.created_at)
        with self._guard("saving a correction"):
            batch = BatchStatement(BatchType.LOGGED, consistency_level=self.consistency)
            batch.is_idempotent = True
            batch.add(self._prepared("correct_record"), (label, record_id))
            for feed in ("all", f"label:{record.label}"):
                batch.add(self._prepared("correct_feed"), (label, feed, bucket, record.created_at, record_id))
            self._execute(batch)
        return self.get(record_id)

    def corrected(self) -> builtins.list[Record]:
        """Every corrected record: a full scan, fine for an occasional export."""
        rows = self._run("all_records", (), "exporting corrections")
        return sorted((_record(r) for r in rows if r.corrected_label), key=lambda r: r.created_at)

    def ping(self) -> None:
        with self._guard("checking the connection"):
            self._connect().execute("SELECT release_version FROM system.local")

    def close(self) -> None:
        with self._lock:
            if self._cluster is not None and self._pid == os.getpid():
                self._cluster.shutdown()
            self._cluster, self._session, self._statements = None, None, {}


def bucket_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def replication_map(text: str) -> dict[str, Any]:
    """'SimpleStrategy:1' or 'NetworkTopologyStrategy:dc1=3,dc2=3' -> CQL replication options."""
    strategy, _, options = text.partition(":")
    if strategy == "SimpleStrategy" and options.isdigit():
        return {"class": "SimpleStrategy", "replication_factor": int(options)}
    if strategy == "NetworkTopologyStrategy" and options:
        pairs = [item.split("=", 1) for item in options.split(",")]
        if all(len(p) == 2 and KEYSPACE_NAME.match(p[0]) and p[1].isdigit() for p in pairs):
            return {"class": "NetworkTopologyStrategy", **{dc: int(rf) for dc, rf in pairs}}
    raise ValueError(
        f"CASSANDRA_REPLICATION={text!r}: use SimpleStrategy:<factor> or NetworkTopologyStrategy:<dc>=<factor>,..."
    )


def _cql_map(options: dict[str, Any]) -> str:
    return "{" + ", ".join(f"'{key}': '{value}'" for key, value in options.items()) + "}"


def _consistency_level(name: str) -> int:
    level = ConsistencyLevel.name_to_value.get(name.upper())
    if level is None:
        raise ValueError(f"CASSANDRA_CONSISTENCY={name!r}: use e.g. ONE, QUORUM or LOCAL_QUORUM")
    return int(level)


def _fields(record: Record) -> tuple[Any, ...]:
    return (
        record.id,
        record.created_at,
        record.filename,
        record.label,
        list(record.prediction.probabilities),
        record.model_version,
        record.width,
        record.height,
        record.corrected_label,
    )


def _utc(moment: datetime) -> datetime:
    """The driver hands back naive UTC datetimes."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _record(row: Any) -> Record:
    return Record(
        id=row.id,
        created_at=_utc(row.created_at),
        filename=row.filename,
        prediction=Prediction(row.label, tuple(row.probabilities)),
        model_version=row.model_version,
        width=row.width,
        height=row.height,
        corrected_label=row.corrected_label,
    )
