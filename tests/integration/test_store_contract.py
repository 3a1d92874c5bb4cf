"""One contract for every PredictionStore, run against SQLite and a real Cassandra node."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from fashion_classifier.labels import CLASSES, NOT_A_GARMENT
from fashion_classifier.records import (
    InvalidCursor,
    ModelVersion,
    Prediction,
    Record,
    StoredImage,
    from_millis,
    to_millis,
)
from fashion_classifier.storage import LATEST_VERSION, PredictionStore, StoreUnavailable, open_store
from tests.cassandra_node import cassandra_test_url

START = from_millis(1_780_000_000_000)  # a fixed moment in 2026


def make_record(
    offset: timedelta = timedelta(),
    *,
    label: str = "Coat",
    filename: str = "coat.jpg",
    garment_score: float | None = None,
) -> Record:
    index = CLASSES.index(label)
    probabilities = tuple(0.91 if i == index else 0.01 for i in range(10))
    created = START + offset
    # A version-7 id whose time part is the record's time, as the service makes them.
    record_id = uuid.UUID(
        int=(to_millis(created) << 80) | (0x7 << 76) | (0b10 << 62) | uuid.uuid4().int >> 66
    )
    return Record(
        id=record_id,
        created_at=created,
        filename=filename,
        prediction=Prediction.from_probabilities(probabilities, garment_score=garment_score),
        model_version="test-model",
        width=640,
        height=480,
    )


IMAGE = StoredImage(b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PredictionStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/contract.db"
    else:
        url = cassandra_test_url(f"fc_contract_{uuid.uuid4().hex[:10]}")
    opened = open_store(url, consistency="ONE")
    opened.migrate()
    yield opened
    opened.close()


def all_pages(
    store: PredictionStore, *, limit: int, label: str | None = None, garment: bool | None = None
) -> list[Record]:
    records: list[Record] = []
    cursor = None
    while True:
        page = store.list(limit=limit, cursor=cursor, label=label, garment=garment)
        assert len(page.records) <= limit
        records += page.records
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor


def test_round_trip_keeps_every_field(store: PredictionStore) -> None:
    record = make_record(filename="上衣 (1).jpg")
    store.add(record, IMAGE)
    assert store.get(record.id) == record
    assert store.image(record.id) == IMAGE


def test_unknown_ids_are_none(store: PredictionStore) -> None:
    assert store.get(uuid.uuid4()) is None
    assert store.image(uuid.uuid4()) is None
    assert store.set_correction(uuid.uuid4(), "Bag") is None


def test_newest_first_paging_gives_every_record_once(store: PredictionStore) -> None:
    # 45 records over three days: several hour buckets, some holding more than a page.
    offsets = [timedelta(hours=h, minutes=m) for h in (0, 1, 5, 30, 71) for m in range(0, 45, 5)]
    records = [make_record(offset) for offset in offsets]
    for record in records:
        store.add(record, IMAGE)
    listed = all_pages(store, limit=7)
    assert [r.id for r in listed] == [r.id for r in sorted(records, key=lambda r: r.created_at, reverse=True)]


def test_uploads_in_the_same_millisecond_are_all_kept(store: PredictionStore) -> None:
    same_time = [make_record() for _ in range(5)]
    for record in same_time:
        store.add(record, IMAGE)
    assert {r.id for r in all_pages(store, limit=2)} == {r.id for r in same_time}


def test_class_filter(store: PredictionStore) -> None:
    for minute, label in enumerate(["Coat", "Bag", "Coat", "Sneaker", "Coat"]):
        store.add(make_record(timedelta(minutes=minute), label=label), IMAGE)
    coats = all_pages(store, limit=2, label="Coat")
    assert [r.label for r in coats] == ["Coat"] * 3
    assert all_pages(store, limit=5, label="Trouser") == []


def test_the_garment_verdict_is_kept_and_filters_the_history(store: PredictionStore) -> None:
    scores = [("Coat", 0.9), ("Bag", 0.2), ("Coat", 0.1), ("Coat", None), ("Sneaker", 0.7)]
    records = [
        make_record(timedelta(minutes=i), label=label, garment_score=score)
        for i, (label, score) in enumerate(scores)
    ]
    for record in records:
        store.add(record, IMAGE)
    assert [store.get(r.id) for r in records] == records
    assert store.get(records[0].id).prediction.is_garment is True  # type: ignore[union-attr]
    assert store.get(records[3].id).prediction.garment_score is None  # type: ignore[union-attr]
    # Newest first; the record without a verdict is in neither filter.
    assert [r.id for r in all_pages(store, limit=1, garment=True)] == [records[4].id, records[0].id]
    assert [r.id for r in all_pages(store, limit=1, garment=False)] == [records[2].id, records[1].id]
    assert [r.id for r in all_pages(store, limit=5, label="Coat", garment=False)] == [records[2].id]
    assert all_pages(store, limit=5, label="Bag", garment=True) == []


def test_a_correction_keeps_the_record_in_its_verdict_filter(store: PredictionStore) -> None:
    record = make_record(label="Shirt", garment_score=0.8)
    store.add(record, IMAGE)
    store.set_correction(record.id, "Coat")
    [listed] = store.list(limit=5, label="Shirt", garment=True).records
    assert listed.corrected_label == "Coat" and listed.prediction.is_garment is True


def test_a_foreign_cursor_is_refused(store: PredictionStore) -> None:
    with pytest.raises(InvalidCursor):
        store.list(limit=5, cursor="not-a-cursor")


def test_correction_shows_in_get_list_and_export(store: PredictionStore) -> None:
    record = make_record(label="Shirt")
    store.add(record, IMAGE)
    corrected = store.set_correction(record.id, "T-shirt/top")
    assert corrected is not None and corrected.corrected_label == "T-shirt/top"
    assert store.list(limit=5).records[0].corrected_label == "T-shirt/top"
    assert store.list(limit=5, label="Shirt").records[0].corrected_label == "T-shirt/top"
    assert [r.id for r in store.corrected()] == [record.id]


def test_a_not_a_garment_correction_round_trips_and_can_be_changed(store: PredictionStore) -> None:
    judged_garment = make_record(label="Bag", garment_score=0.9)
    judged_not = make_record(timedelta(seconds=1), label="Sandal", garment_score=0.1)
    for record in (judged_garment, judged_not):
        store.add(record, IMAGE)
    said = store.set_correction(judged_garment.id, NOT_A_GARMENT)
    assert said is not None and said.corrected_label == NOT_A_GARMENT and said.corrected_not_garment
    store.set_correction(judged_not.id, "Sneaker")  # judged no garment, a user gives its class
    got = store.get(judged_garment.id)
    assert got is not None and got.corrected_label == NOT_A_GARMENT and got.corrected_class is None
    assert got.prediction.is_garment is True  # the model's verdict stays as it answered
    listed = {r.id: r.corrected_label for r in all_pages(store, limit=1)}
    assert listed == {judged_garment.id: NOT_A_GARMENT, judged_not.id: "Sneaker"}
    assert [r.id for r in all_pages(store, limit=5, garment=True)] == [judged_garment.id]
    assert [(r.id, r.corrected_label) for r in store.corrected()] == [
        (judged_garment.id, NOT_A_GARMENT),
        (judged_not.id, "Sneaker"),
    ]
    changed = store.set_correction(judged_garment.id, "Bag")  # a user changes their mind
    assert changed is not None and changed.corrected_label == "Bag"


def test_migrating_again_changes_nothing(store: PredictionStore) -> None:
    record = make_record(garment_score=0.6)
    store.add(record, IMAGE)
    assert store.migrate() == []
    assert store.schema_version() == LATEST_VERSION
    assert store.get(record.id) == record


def test_hostile_file_names_are_kept_verbatim(store: PredictionStore) -> None:
    names = ["../../etc/passwd", "<script>alert(1)</script>.png", "'; DROP TABLE records; --.jpg"]
    records = [make_record(timedelta(seconds=i), filename=name) for i, name in enumerate(names)]
    for record in records:
        store.add(record, IMAGE)
    assert [store.get(r.id).filename for r in records] == names  # type: ignore[union-attr]


def test_concurrent_adds_from_eight_threads_are_all_found(store: PredictionStore) -> None:
    records = [make_record(timedelta(milliseconds=i)) for i in range(80)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda r: store.add(r, IMAGE), records))
    assert {r.id for r in all_pages(store, limit=50)} == {r.id for r in records}


def test_a_closed_store_answers_again_with_its_records_kept(store: PredictionStore) -> None:
    """ping() is what /readyz asks; after close() (a worker's shutdown) the store opens anew."""
    record = make_record()
    store.add(record, IMAGE)
    store.ping()
    store.close()
    store.ping()
    assert store.get(record.id) == record
    assert [r.id for r in store.list(limit=5).records] == [record.id]


def test_an_unreachable_sqlite_file_fails_ping_with_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = open_store(f"sqlite:///{blocker}/data/predictions.db")  # its folder cannot be made
    with pytest.raises(StoreUnavailable, match=r"cannot create the folder"):
        store.ping()


@pytest.mark.cassandra
def test_unreachable_cassandra_fails_fast_with_a_clear_error() -> None:
    """Every operation says which cluster is down and that retrying later is the remedy.

    How fast it gives up is a timing, not asserted here (the machine is shared); the suite's
    timeout bounds a hang.
    """
    store = open_store("cassandra://127.0.0.1:9/fc_nowhere")  # nothing listens on port 9
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:9 is unreachable.*retry"):
        store.ping()
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:9 is unreachable.*retry"):
        store.add(make_record(), IMAGE)
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:9 is unreachable.*retry"):
        store.list(limit=5)


def test_a_cassandra_host_name_that_does_not_resolve_is_unavailable_not_an_error() -> None:
    """A name the network's DNS does not know (yet) is a store that cannot be reached: 503, not 500."""
    store = open_store("cassandra://no-such-node.invalid:9042/fc_nowhere")
    with pytest.raises(StoreUnavailable, match=r"no-such-node\.invalid:9042 is unreachable.*resolve.*retry"):
        store.ping()
    with pytest.raises(StoreUnavailable, match=r"host names resolve"):
        store.add(make_record(), IMAGE)


@pytest.mark.cassandra
def test_cassandra_write_replayed_by_a_driver_retry_changes_nothing() -> None:
    """A retried write reaches the node again with the same timestamp; the record must not double."""
    store = open_store(cassandra_test_url(f"fc_replay_{uuid.uuid4().hex[:10]}"), consistency="ONE")
    store.migrate()
    record = make_record()
    store.ping()  # opens the session, so the cluster below is the one that writes
    # The driver resends a retried request as it was, client timestamp included: do the same.
    store._cluster.timestamp_generator = lambda: 1_780_000_000_000_000  # type: ignore[attr-defined]
    store.add(record, IMAGE)
    store.add(record, IMAGE)
    assert store.get(record.id) == record
    assert [r.id for r in all_pages(store, limit=10)] == [record.id]
    store.close()


# -- model versions (schema migration 4) ------------------------------------------------------


def model_version(name: str, minutes: int = 0) -> ModelVersion:
    card = {"version": name, "learning": {"learned_from": "v0", "gate": {"candidate": {"accuracy": 0.91}}}}
    return ModelVersion(name, START + timedelta(minutes=minutes), "test", card, f"sha-of-{name}", 3 + minutes)


def test_model_versions_are_kept_with_their_bytes_and_listed_newest_first(store: PredictionStore) -> None:
    assert store.model_versions() == [] and store.active_model() is None
    assert store.add_model_version(model_version("v1"), b"one")
    assert store.add_model_version(model_version("v2", minutes=1), b"four")
    assert [m.version for m in store.model_versions()] == ["v2", "v1"]
    kept = store.model_version("v2")
    assert kept == model_version("v2", minutes=1) and kept is not None
    assert kept.card["learning"]["gate"]["candidate"]["accuracy"] == 0.91
    assert store.model_bytes("v2") == b"four"
    assert store.model_bytes("v9") is None and store.model_version("v9") is None


def test_a_model_version_is_never_overwritten(store: PredictionStore) -> None:
    assert store.add_model_version(model_version("v1"), b"first")
    assert not store.add_model_version(model_version("v1", minutes=5), b"second")
    assert store.model_bytes("v1") == b"first"
    assert [m.created_at for m in store.model_versions()] == [START]


def test_the_active_pointer_moves_only_from_the_version_expected(store: PredictionStore) -> None:
    for name in ("v1", "v2", "v3"):
        store.add_model_version(model_version(name), name.encode())
    assert store.set_active("v1", expected=None)
    assert not store.set_active("v2", expected=None)  # one was set already
    assert store.set_active("v2", expected="v1")
    assert not store.set_active("v3", expected="v1")  # stale: v2 came first
    active = store.active_model()
    assert active is not None and (active.version, active.previous) == ("v2", "v1")
    assert store.set_active("v1", expected="v2")  # a rollback is a move like any other
    active = store.active_model()
    assert active is not None and (active.version, active.previous) == ("v1", "v2")


def test_of_promotions_at_once_exactly_one_wins(store: PredictionStore) -> None:
    names = [f"v{i}" for i in range(1, 9)]
    for name in ["v0", *names]:
        store.add_model_version(model_version(name), b"x")
    store.set_active("v0", expected=None)
    with ThreadPoolExecutor(len(names)) as pool:
        won = list(pool.map(lambda name: store.set_active(name, expected="v0"), names))
    assert won.count(True) == 1
    active = store.active_model()
    assert active is not None and active.version == names[won.index(True)] and active.previous == "v0"
