"""add_many: the records of one upload are kept together or not at all, on SQLite and Cassandra."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cassandra import OperationTimedOut
from cassandra.query import BatchStatement

from fashion_classifier.records import Record, StoredImage
from fashion_classifier.storage import PredictionStore, StoreUnavailable, open_store
from fashion_classifier.storage.cassandra import CassandraStore
from tests.cassandra_node import cassandra_test_url
from tests.integration.test_store_contract import make_record


def pictures(records: list[Record]) -> list[tuple[Record, StoredImage]]:
    return [(r, StoredImage(f"picture of {r.id}".encode(), "image/png")) for r in records]


def nothing_of(store: PredictionStore, records: list[Record]) -> bool:
    listed = {r.id for r in store.list(limit=100).records}
    return all(r.id not in listed and store.get(r.id) is None and store.image(r.id) is None for r in records)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[PredictionStore]:
    store = open_store(f"sqlite:///{tmp_path}/all.db")
    store.migrate()
    yield store
    store.close()


def test_sqlite_keeps_all_records_of_an_upload(sqlite_store: PredictionStore) -> None:
    records = [
        make_record(timedelta(seconds=n), label=label) for n, label in enumerate(["Coat", "Bag", "Dress"])
    ]
    sqlite_store.add_many(pictures(records))
    assert [r.id for r in sqlite_store.list(limit=10).records] == [r.id for r in reversed(records)]
    assert all(sqlite_store.image(r.id) is not None for r in records)


def test_sqlite_takes_back_the_first_records_when_a_later_one_fails(sqlite_store: PredictionStore) -> None:
    first, second = make_record(), make_record(timedelta(seconds=1))
    clash = dataclasses.replace(make_record(timedelta(seconds=2)), id=first.id)  # a real constraint error
    with pytest.raises(StoreUnavailable):
        sqlite_store.add_many(pictures([first, second, clash]))
    assert nothing_of(sqlite_store, [first, second])


@pytest.fixture
def cassandra_store() -> Iterator[CassandraStore]:
    store = open_store(cassandra_test_url(f"hardening_all_{uuid.uuid4().hex[:8]}"), consistency="ONE")
    assert isinstance(store, CassandraStore)
    store.migrate()
    yield store
    store._connect().execute(f"DROP KEYSPACE IF EXISTS {store.keyspace}", timeout=120)  # slow on a busy node
    store.close()


@pytest.mark.cassandra
@pytest.mark.parametrize("failing_batch", [1, 3])
def test_cassandra_leaves_no_record_and_no_orphan_picture_after_a_failure(
    cassandra_store: CassandraStore, monkeypatch: pytest.MonkeyPatch, failing_batch: int
) -> None:
    records = [make_record(timedelta(seconds=n)) for n in range(4)]
    real_execute = cassandra_store._calls.execute
    batches: list[BatchStatement] = []

    def execute(statement: Any, parameters: Any = None, *, within: float | None = None) -> Any:
        """The cluster, except that the n-th record batch times out once (as under a node failure)."""
        if isinstance(statement, BatchStatement) and len(batches) < failing_batch:
            batches.append(statement)
            if len(batches) == failing_batch:
                raise OperationTimedOut(errors={}, last_host="injected")
        return real_execute(statement, parameters, within=within)

    monkeypatch.setattr(cassandra_store._calls, "execute", execute)
    with pytest.raises(StoreUnavailable):
        cassandra_store.add_many(pictures(records))
    assert nothing_of(cassandra_store, records)
    assert cassandra_store.list(limit=10, label="Coat").records == []


@pytest.mark.cassandra
def test_cassandra_lists_every_record_of_an_upload_with_its_picture(cassandra_store: CassandraStore) -> None:
    records = [make_record(timedelta(seconds=n)) for n in range(3)]
    cassandra_store.add_many(pictures(records))
    assert {r.id for r in cassandra_store.list(limit=10).records} == {r.id for r in records}
    assert all(cassandra_store.image(r.id) is not None for r in records)
