"""Schema migrations on both stores: fresh stores, stores made before migrations, re-runs."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cassandra.cluster import Cluster

from fashion_classifier.storage import LATEST_VERSION, PredictionStore, SchemaNotReady, open_store
from fashion_classifier.storage.base import LoggedCorrection
from fashion_classifier.storage.cassandra_schema import DDL_TIMEOUT_S
from fashion_classifier.storage.migrations import BASELINE_CQL, BASELINE_SQLITE
from tests.cassandra_node import cassandra_test_url, ensure_node
from tests.integration.test_store_contract import IMAGE, all_pages, make_record


def create_schema_of_main(url: str) -> None:
    """The tables exactly as the app made them before migrations existed (no version table)."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            for statement in BASELINE_SQLITE:
                db.execute(statement)
        return
    hosts, _, keyspace = url.removeprefix("cassandra://").partition("/")
    host, _, port = hosts.partition(",")[0].partition(":")
    cluster = Cluster([host], port=int(port or 9042), protocol_version=5)
    try:
        session = cluster.connect()
        # Schema statements on a busy node can take longer than the driver's 10 s default.
        session.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}",
            timeout=DDL_TIMEOUT_S,
        )
        for statement in BASELINE_CQL:
            session.execute(statement.format(ks=keyspace), timeout=DDL_TIMEOUT_S)
    finally:
        cluster.shutdown()


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/migrations.db"
    return cassandra_test_url(f"fc_migrations_{uuid.uuid4().hex[:10]}")


@pytest.fixture
def opened(url: str) -> Iterator[PredictionStore]:
    store = open_store(url, consistency="ONE")
    yield store
    store.close()


def test_a_fresh_store_refuses_to_serve_until_migrated(opened: PredictionStore) -> None:
    assert opened.schema_version() == 0
    with pytest.raises(SchemaNotReady, match="run `fashion-classifier migrate`"):
        opened.check_schema()
    assert opened.migrate() == [
        "1 baseline",
        "2 garment verdict",
        "3 embeddings",
        "4 model versions",
        "5 correction log",
    ]
    assert opened.schema_version() == LATEST_VERSION


def test_migrating_step_by_step_ends_where_one_run_does(opened: PredictionStore) -> None:
    assert opened.migrate(target=1) == ["1 baseline"]
    assert opened.schema_version() == 1
    assert opened.migrate() == ["2 garment verdict", "3 embeddings", "4 model versions", "5 correction log"]
    with pytest.raises(ValueError, match="no schema version 9"):
        opened.migrate(target=9)


def test_a_store_made_before_migrations_keeps_its_records(url: str) -> None:
    create_schema_of_main(url)
    old_store = open_store(url, consistency="ONE")
    old_store.check_schema()  # today's schema is the baseline: serving goes on during the upgrade
    old = [make_record(timedelta(minutes=i), garment_score=0.9) for i in range(3)]
    for record in old:
        old_store.add(record, IMAGE)  # at version 1 the verdict has no column yet: not kept
    assert old_store.migrate() == [
        "2 garment verdict",
        "3 embeddings",
        "4 model versions",
        "5 correction log",
    ]  # the baseline is there already

    store = open_store(url, consistency="ONE")  # a new process: sees version 2 at once
    new = make_record(timedelta(minutes=5), garment_score=0.8)
    store.add(new, IMAGE)
    assert [r.id for r in all_pages(store, limit=2)] == [new.id, *(r.id for r in reversed(old))]
    assert all(store.get(r.id).prediction.garment_score is None for r in old)  # type: ignore[union-attr]
    assert store.get(new.id) == new
    assert [r.id for r in all_pages(store, limit=5, garment=True)] == [new.id]
    for opened in (old_store, store):
        opened.close()


def test_two_sqlite_migrators_at_once_apply_each_migration_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/race.db"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: open_store(url).migrate(), range(8)))
    assert sorted(name for applied in results for name in applied) == [
        "1 baseline",
        "2 garment verdict",
        "3 embeddings",
        "4 model versions",
        "5 correction log",
    ]
    assert open_store(url).schema_version() == LATEST_VERSION


@pytest.mark.cassandra
def test_cassandra_migration_cut_short_can_run_again() -> None:
    """A migrator killed after its DDL but before recording it: the next run completes it."""
    keyspace = f"fc_migrations_{uuid.uuid4().hex[:10]}"
    store = open_store(cassandra_test_url(keyspace), consistency="ONE")
    store.migrate(target=1)
    host, _, port = ensure_node().split(",")[0].partition(":")
    cluster = Cluster([host], port=int(port or 9042), protocol_version=5)
    try:
        cluster.connect().execute(
            f"ALTER TABLE {keyspace}.records ADD (garment_score double, is_garment boolean)"
        )
    finally:
        cluster.shutdown()
    assert store.migrate() == ["2 garment verdict", "3 embeddings", "4 model versions", "5 correction log"]
    record = make_record(garment_score=0.3)
    store.add(record, IMAGE)
    assert store.get(record.id) == record
    store.close()


@pytest.mark.cassandra
def test_a_store_being_upgraded_still_serves_at_the_baseline() -> None:
    """The moment between the migrator creating schema_migrations and recording a version in it."""
    url = cassandra_test_url(f"fc_upgrading_{uuid.uuid4().hex[:10]}")
    create_schema_of_main(url)
    store = open_store(url, consistency="ONE")
    try:
        store.ping()  # opens the session
        keyspace = url.rpartition("/")[2]
        store._connect().execute(  # type: ignore[attr-defined]
            f"CREATE TABLE {keyspace}.schema_migrations (version int PRIMARY KEY, name text, applied_at timestamp)",
            timeout=60,
        )
        assert store.schema_version() == 1
        store.check_schema()  # serves: no SchemaNotReady
    finally:
        store.close()


def test_the_correction_log_keeps_who_and_when_from_version_5_on(url: str, opened: PredictionStore) -> None:
    """Below version 5 a correction is kept and nothing is logged; after `migrate`, each is logged."""
    opened.migrate(target=4)
    record = make_record()
    opened.add(record, IMAGE)
    opened.set_correction(record.id, "Coat")
    at = datetime(2026, 12, 6, 1, 2, 3, 456000, tzinfo=UTC)
    opened.log_correction(LoggedCorrection(record.id, at, "client-a", "Coat"))  # the previous schema: a no-op
    assert opened.correction_log([record.id]) == []

    assert opened.migrate() == ["5 correction log"]
    store = open_store(url, consistency="ONE")  # a new process: sees version 5 at once
    other = make_record(timedelta(minutes=1))
    store.add(other, IMAGE)
    entries = [
        LoggedCorrection(record.id, at + timedelta(seconds=1), "client-a", "Shirt"),
        LoggedCorrection(other.id, at + timedelta(seconds=2), "client-b", "Bag"),
        LoggedCorrection(record.id, at + timedelta(seconds=3), "client-b", "Coat"),
    ]
    for entry in entries:
        store.log_correction(entry)
    store.log_correction(entries[0])  # sent twice (a retry): kept once
    assert store.correction_log([record.id, other.id, uuid.uuid4()]) == entries
    assert store.correction_log([other.id]) == [entries[1]]
    assert store.correction_log([]) == []
    store.close()
