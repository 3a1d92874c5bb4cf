"""Stores for classified uploads, chosen by DATABASE_URL."""

from __future__ import annotations

from fashion_classifier.config import DEFAULT_CASSANDRA_CONSISTENCY, DEFAULT_CASSANDRA_REPLICATION, Settings
from fashion_classifier.storage.base import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PredictionStore,
    StoreUnavailable,
)
from fashion_classifier.storage.migrations import LATEST_VERSION, SchemaNotReady

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "LATEST_VERSION",
    "MAX_PAGE_SIZE",
    "PredictionStore",
    "SchemaNotReady",
    "StoreUnavailable",
    "open_store",
    "store_from_settings",
]


def open_store(
    url: str,
    *,
    consistency: str = DEFAULT_CASSANDRA_CONSISTENCY,
    replication: str = DEFAULT_CASSANDRA_REPLICATION,
    username: str | None = None,
    password: str | None = None,
) -> PredictionStore:
    """sqlite:///path/to.db or cassandra://[user:password@]host1,host2:9042/keyspace. Connects lazily.

    `username` and `password` (Cassandra only) apply when the URL carries no credentials.
    """
    if url.startswith("sqlite:"):
        from fashion_classifier.storage.sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if url.startswith("cassandra:"):
        from fashion_classifier.storage.cassandra import CassandraStore

        return CassandraStore.from_url(
            url, consistency=consistency, replication=replication, username=username, password=password
        )
    raise ValueError(f"DATABASE_URL {url!r} is neither sqlite:///path nor cassandra://hosts:port/keyspace")


def store_from_settings(settings: Settings) -> PredictionStore:
    """The store DATABASE_URL and the CASSANDRA_* settings name (opened by the service alone)."""
    return open_store(
        settings.database_url,
        consistency=settings.cassandra_consistency,
        replication=settings.cassandra_replication,
        username=settings.cassandra_username,
        password=settings.cassandra_password,
    )
