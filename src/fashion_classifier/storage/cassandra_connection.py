"""One Cassandra connection per process: the session, its prepared statements, the deadline.

CassandraStore (cassandra.py) builds on this; here is everything that is about reaching the
cluster rather than about records: the URL and credentials, a session made on first use (and
again in a forked worker), statements prepared once per session, and turning driver errors and
spent deadlines into StoreUnavailable.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Self
from urllib.parse import unquote

from cassandra import UnresolvableContactPoints
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, Session
from cassandra.query import PreparedStatement

from fashion_classifier.config import DEFAULT_CASSANDRA_CONSISTENCY, DEFAULT_CASSANDRA_REPLICATION
from fashion_classifier.storage import cassandra_schema
from fashion_classifier.storage.base import StoreUnavailable
from fashion_classifier.storage.cassandra_calls import UNAVAILABLE, Calls, DeadlineExceeded
from fashion_classifier.storage.cassandra_rows import STATEMENTS
from fashion_classifier.storage.cassandra_session import (
    KEYSPACE_NAME,
    OPERATION_DEADLINE_S,
    PREPARE_TIMEOUT_S,
    consistency_level,
    new_cluster,
    parse_url,
    replication_map,
)
from fashion_classifier.storage.migrations import GARMENT_VERSION, VersionCache
from fashion_classifier.storage.rows import column_list


class CassandraConnection:
    """The cluster this process talks to; one driver session per process, made on first use."""

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
        # (feed, hour) whose feed_buckets row this process wrote in this session (never deleted).
        self._buckets_written: set[tuple[str, datetime]] = set()
        self._pid = 0
        self._version = VersionCache()
        self._calls = Calls(self._connect)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        consistency: str = DEFAULT_CASSANDRA_CONSISTENCY,
        replication: str = DEFAULT_CASSANDRA_REPLICATION,
        username: str | None = None,
        password: str | None = None,
    ) -> Self:
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
        try:
            cluster = new_cluster(self.hosts, self.port, self.consistency)
        except UnresolvableContactPoints:
            # Found in compose: a container network whose DNS did not know `cassandra` yet gave
            # every upload a 500. It is the store being unreachable, and may pass: say so.
            raise StoreUnavailable(
                f"{self.where} is unreachable: none of its host names resolve; check DATABASE_URL "
                "and the network's DNS, then retry in a few seconds"
            ) from None
        if self._credentials:
            cluster.auth_provider = PlainTextAuthProvider(*self._credentials)
        try:
            session = cluster.connect()
            # Session.prepare() waits default_timeout, which the driver will not let us set while
            # execution profiles are used (every execute() of ours takes its timeout from those).
            session._default_timeout = PREPARE_TIMEOUT_S
        except BaseException:
            cluster.shutdown()  # a failed first connect is retried on the next call, from scratch
            raise
        self._cluster = cluster
        return session

    def schema_version(self) -> int:
        """The applied schema version, read from the cluster now."""
        with self._guard("reading the schema version"):
            return cassandra_schema.applied_version(self._connect(), self.keyspace)

    def _garment(self) -> bool:
        """Whether the schema has the verdict's columns (migration 2) to write and read."""
        return self._version.get(self.schema_version) >= GARMENT_VERSION

    def _prepared(self, name: str, garment: bool = False) -> PreparedStatement:
        statement = self._statements.get((name, garment))
        if statement is None:
            fields = column_list(garment=garment)
            query = STATEMENTS[name].format(
                ks=self.keyspace, fields=fields, marks=", ".join("?" * len(fields.split(",")))
            )
            with self._calls.not_counted():  # bounded on its own: PREPARE_TIMEOUT_S a node
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
                with self._calls.not_counted():
                    self._connect()
                yield
        except DeadlineExceeded as exc:
            raise StoreUnavailable(
                f"{self.where} is unreachable: no answer within the {OPERATION_DEADLINE_S:.1f} s "
                f"deadline ({action}; last: {exc.__cause__!r}); retry in a few seconds"
            ) from exc
        except UNAVAILABLE as exc:
            raise StoreUnavailable(
                f"{self.where} is unreachable ({action}: {exc}); retry in a few seconds"
            ) from exc

    def _run(self, name: str, parameters: tuple[Any, ...], action: str) -> list[Any]:
        with self._guard(action):
            return list(self._calls.read(self._prepared(name, self._garment()), parameters))

    def close(self) -> None:
        with self._lock:
            if self._cluster is not None and self._pid == os.getpid():
                self._cluster.shutdown()
            self._cluster, self._session, self._statements = None, None, {}
