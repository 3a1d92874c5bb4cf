"""Cassandra credentials come from DATABASE_URL or the environment, and never show."""

from __future__ import annotations

from fashion_classifier.config import Settings
from fashion_classifier.storage import open_store
from fashion_classifier.storage.cassandra import CassandraStore


def test_credentials_in_the_url_are_percent_decoded_and_win() -> None:
    store = open_store("cassandra://app:p%40ss%3Aw0rd@db1,db2:9043/shop", username="other", password="x")
    assert isinstance(store, CassandraStore)
    assert store._credentials == ("app", "p@ss:w0rd")
    assert (store.hosts, store.port, store.keyspace) == (["db1", "db2"], 9043, "shop")


def test_credentials_from_the_environment_when_the_url_has_none() -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": "cassandra://db1/shop", "CASSANDRA_USERNAME": "app", "CASSANDRA_PASSWORD": "s3cret"}
    )
    store = open_store(
        settings.database_url, username=settings.cassandra_username, password=settings.cassandra_password
    )
    assert isinstance(store, CassandraStore)
    assert store._credentials == ("app", "s3cret")


def test_no_credentials_means_no_authentication() -> None:
    store = open_store("cassandra://db1:9042/shop")
    assert isinstance(store, CassandraStore) and store._credentials is None


def test_the_password_shows_in_no_message() -> None:
    settings = Settings.from_env({"CASSANDRA_USERNAME": "app", "CASSANDRA_PASSWORD": "s3cret"})
    store = open_store("cassandra://app:s3cret@db1/shop")
    assert isinstance(store, CassandraStore)
    assert "s3cret" not in repr(settings) and "s3cret" not in store.where
    try:
        open_store("cassandra://app:s3cret@/shop")
    except ValueError as exc:
        assert "s3cret" not in str(exc)
    else:
        raise AssertionError("a URL without hosts must be refused")
