"""Similar-picture search, one contract for SQLite and a real Cassandra 5 node (vector index)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from fashion_classifier.records import Record
from fashion_classifier.storage import PredictionStore, SchemaNotReady, open_store
from fashion_classifier.storage.migrations import EMBEDDING_SIZE, SIMILAR_VERSION
from tests.cassandra_node import cassandra_test_url
from tests.integration.test_store_contract import IMAGE, make_record

RNG = np.random.default_rng(15)


def unit(vector: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in vector / np.linalg.norm(vector))


def random_vectors(n: int) -> list[tuple[float, ...]]:
    return [unit(v) for v in RNG.normal(size=(n, EMBEDDING_SIZE))]


def near(vector: tuple[float, ...], noise: float = 0.05) -> tuple[float, ...]:
    return unit(np.asarray(vector) + RNG.normal(scale=noise, size=EMBEDDING_SIZE) / np.sqrt(EMBEDDING_SIZE))


def with_embedding(record: Record, vector: tuple[float, ...] | None, version: str = "test-model") -> Record:
    return dataclasses.replace(record, embedding=vector, model_version=version)


def store_url(kind: str, tmp_path: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/{name}.db"
    return cassandra_test_url(f"fc_{name}_{uuid.uuid4().hex[:10]}")


STORES = ["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PredictionStore]:
    opened = open_store(store_url(request.param, tmp_path, "similar"), consistency="ONE")
    opened.migrate()
    yield opened
    drop_keyspace(opened)
    opened.close()


def drop_keyspace(store: PredictionStore) -> None:
    """Vector indexes take the shared node's memory: leave none behind."""
    keyspace = getattr(store, "keyspace", None)
    if keyspace:
        store._connect().execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)  # type: ignore[attr-defined]


def add(
    store: PredictionStore, vectors: Sequence[tuple[float, ...] | None], version: str = "test-model"
) -> list[Record]:
    records = [with_embedding(make_record(timedelta(seconds=i)), v, version) for i, v in enumerate(vectors)]
    for record in records:
        store.add(record, IMAGE)
    return records


def test_the_closest_records_come_first_as_exact_search_ranks_them(store: PredictionStore) -> None:
    vectors = random_vectors(40)
    records = add(store, vectors)
    query = near(vectors[7])
    found = store.similar(query, model_version="test-model", limit=5)
    exact = np.argsort(-(np.asarray(vectors) @ np.asarray(query)))[:5]
    assert [n.record.id for n in found] == [records[i].id for i in exact]
    assert found[0].record == records[7]  # whole records, as get() reads them
    assert found[0].similarity > 0.99
    assert [n.similarity for n in found] == sorted((n.similarity for n in found), reverse=True)
    assert all(0 <= n.similarity <= 1 for n in found)


def test_records_of_another_model_version_are_never_compared(store: PredictionStore) -> None:
    query = random_vectors(1)[0]
    # Many records of the old model sit exactly on the query; few of the new one, farther away.
    add(store, [query] * 60, version="old-model")
    newer = add(store, [near(query, noise=3.0) for _ in range(5)], version="new-model")
    found = store.similar(query, model_version="new-model", limit=10)
    assert {n.record.id for n in found} == {r.id for r in newer}
    assert store.similar(query, model_version="never-deployed", limit=10) == []


def test_a_record_without_an_embedding_reads_back_and_is_never_a_neighbour(store: PredictionStore) -> None:
    vector = random_vectors(1)[0]
    old, new = add(store, [None, vector])
    assert store.get(old.id) == old
    assert store.embedding(old.id, model_version="test-model") is None
    assert [n.record.id for n in store.similar(vector, model_version="test-model", limit=5)] == [new.id]
    assert store.embedded([old.id, new.id], model_version="test-model") == {new.id}


def test_embeddings_written_later_fill_old_records_and_writing_twice_changes_nothing(
    store: PredictionStore,
) -> None:
    (old,) = add(store, [None])
    vector = random_vectors(1)[0]
    store.set_embeddings("test-model", [(old.id, vector)])
    store.set_embeddings("test-model", [(old.id, vector)])
    [found] = store.similar(vector, model_version="test-model", limit=5)
    assert found.record.id == old.id
    kept = store.embedding(old.id, model_version="test-model")
    assert kept is not None and np.allclose(kept, vector, atol=1e-6)


def test_a_zero_vector_is_kept_as_no_embedding_instead_of_failing_the_upload(store: PredictionStore) -> None:
    # Cassandra's cosine index refuses zero vectors: the record must still be kept.
    (record,) = add(store, [tuple([0.0] * EMBEDDING_SIZE)])
    assert store.get(record.id) == record
    assert store.embedding(record.id, model_version="test-model") is None
    assert store.similar(tuple([0.0] * EMBEDDING_SIZE), model_version="test-model", limit=3) == []


def test_a_failed_upload_takes_back_its_embedding_too(store: PredictionStore) -> None:
    vector = random_vectors(1)[0]
    good = with_embedding(make_record(), vector)
    broken = dataclasses.replace(with_embedding(make_record(timedelta(seconds=1)), vector), width=2**70)
    with pytest.raises(Exception):  # noqa: B017 - each store says it its own way
        store.add_many([(good, IMAGE), (broken, IMAGE)])
    assert store.get(good.id) is None
    assert store.similar(vector, model_version="test-model", limit=3) == []


@pytest.mark.parametrize("kind", STORES)
def test_records_kept_before_the_embeddings_migration_read_back_without_one(
    kind: str, tmp_path: Path
) -> None:
    url = store_url(kind, tmp_path, "before_similar")
    before = open_store(url, consistency="ONE")
    before.migrate(target=SIMILAR_VERSION - 1)
    (record,) = add(before, [random_vectors(1)[0]])  # the service made an embedding: not kept yet
    with pytest.raises(SchemaNotReady, match="fashion-classifier migrate"):
        before.similar(random_vectors(1)[0], model_version="test-model", limit=3)
    before.migrate()
    before.close()
    after = open_store(url, consistency="ONE")  # a worker started after the migration
    try:
        assert after.get(record.id) == record
        assert after.embedding(record.id, model_version="test-model") is None
        assert after.similar(random_vectors(1)[0], model_version="test-model", limit=3) == []
    finally:
        drop_keyspace(after)
        after.close()
