"""`fashion-classifier copy` given something wrong: one clear line, a non-zero status, nothing half-written.

The stores are real SQLite files (the source filled by the service); the command runs as the
user runs it, through the CLI's main().
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from fashion_classifier import copying
from fashion_classifier.cli import main
from fashion_classifier.config import Settings
from fashion_classifier.copying import Checkpoint, Progress, verify
from fashion_classifier.inference import Classifier
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.storage import open_store
from fashion_classifier.storage.migrations import EMBEDDING_SIZE, LATEST_VERSION
from fashion_classifier.storage.transfer import open_for_copy
from tests.pictures import dataset_png

Captured = pytest.CaptureFixture[str]


@pytest.fixture
def source(tmp_path: Path, classifier: Classifier) -> str:
    """Six uploads kept by the service on SQLite."""
    url = f"sqlite:///{tmp_path}/source.db"
    store = open_store(url)
    store.migrate()
    PredictionService(classifier, store).classify([Upload(f"{i}.png", dataset_png(i)[0]) for i in range(6)])
    store.close()
    return url


def migrated(url: str, *, to: int | None = None) -> str:
    store = open_store(url)
    store.migrate(target=to)
    store.close()
    return url


def copy(capsys: Captured, *args: str) -> tuple[int, str, str]:
    status = main(["copy", *args])
    out, err = capsys.readouterr()
    return status, out, err


def listed_with_pictures(url: str) -> list[str]:
    """The filenames a service on `url` lists, each after checking its picture is there."""
    store = open_store(url)
    records = store.list(limit=100).records
    assert all(store.image(record.id) is not None for record in records)
    store.close()
    return sorted(record.filename for record in records)


@pytest.mark.parametrize(
    ("source_url", "says"),
    [
        ("postgres://db/x", "neither sqlite:///path nor cassandra://hosts:port/keyspace"),
        ("sqlite:", "expected sqlite:///path/to/file.db"),
        ("cassandra://", "expected cassandra://"),
    ],
)
def test_a_wrong_url_is_named(capsys: Captured, tmp_path: Path, source_url: str, says: str) -> None:
    target = migrated(f"sqlite:///{tmp_path}/target.db")
    status, _, err = copy(capsys, source_url, target)
    assert status == 2
    assert err.startswith("fashion-classifier copy: ") and says in err and "Traceback" not in err


def test_a_mistyped_source_file_is_not_created(capsys: Captured, tmp_path: Path) -> None:
    target = migrated(f"sqlite:///{tmp_path}/target.db")
    status, _, err = copy(capsys, f"sqlite:///{tmp_path}/sorce.db", target)
    assert status == 2 and "the source" in err and "does not exist" in err
    assert not (tmp_path / "sorce.db").exists()


def test_a_target_on_an_older_schema_is_refused_and_left_as_it_was(
    capsys: Captured, tmp_path: Path, source: str
) -> None:
    target = migrated(f"sqlite:///{tmp_path}/old.db", to=LATEST_VERSION - 1)
    status, _, err = copy(capsys, source, target)
    assert status == 2
    assert f"schema version {LATEST_VERSION - 1}, the copy needs {LATEST_VERSION}" in err
    assert "fashion-classifier migrate" in err
    assert open_store(target).schema_version() == LATEST_VERSION - 1
    assert listed_with_pictures(target) == []


def test_a_target_that_does_not_exist_says_to_migrate_it(
    capsys: Captured, tmp_path: Path, source: str
) -> None:
    status, _, err = copy(capsys, source, f"sqlite:///{tmp_path}/new.db")
    assert status == 2 and "migrate it first" in err
    assert not (tmp_path / "new.db").exists()


def test_copying_a_store_onto_itself_is_refused(capsys: Captured, source: str) -> None:
    status, _, err = copy(capsys, source, source.replace("/source.db", "/./source.db"))
    assert status == 2 and "the same store" in err


def test_a_record_without_its_picture_is_named_and_the_rest_copied(
    capsys: Captured, tmp_path: Path, source: str
) -> None:
    with sqlite3.connect(source.removeprefix("sqlite:///")) as db:
        (broken,) = db.execute("SELECT record_id FROM images ORDER BY record_id LIMIT 1 OFFSET 2").fetchone()
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute("DELETE FROM images WHERE record_id = ?", (broken,))
    target = migrated(f"sqlite:///{tmp_path}/target.db")

    status, out, err = copy(capsys, source, target, "--page-size", "2")
    assert status == 1, err
    assert "records: 6 read, 5 written, 0 already in the target, 1 not copied" in out
    assert f"{broken}: its picture is missing in the source" in out
    assert "records: the target holds 1 fewer than the source" in out
    assert len(listed_with_pictures(target)) == 5  # never a record without its picture

    again_status, again, _ = copy(capsys, source, target, "--page-size", "2")
    assert again_status == 1  # still said, never silently accepted
    assert "5 already in the target, 1 not copied" in again
    assert len(listed_with_pictures(target)) == 5


def test_verify_names_a_record_changed_in_the_target_and_a_copy_mends_it(
    capsys: Captured, tmp_path: Path, source: str
) -> None:
    target = migrated(f"sqlite:///{tmp_path}/target.db")
    assert copy(capsys, source, target)[0] == 0
    with sqlite3.connect(target.removeprefix("sqlite:///")) as db:
        (changed,) = db.execute("SELECT record_id FROM images ORDER BY record_id LIMIT 1").fetchone()
        db.execute("UPDATE images SET data = X'00' WHERE record_id = ?", (changed,))
        (other,) = db.execute("SELECT record_id FROM images ORDER BY record_id DESC LIMIT 1").fetchone()
    store = open_store(target)  # the target's own reindex by another model: not a difference
    store.set_embeddings("another-model", [(uuid.UUID(other), [1.0] + [0.0] * (EMBEDDING_SIZE - 1))])
    store.close()

    opened = [
        open_for_copy(url, Settings(), role=role) for url, role in ((source, "source"), (target, "target"))
    ]
    (checked, _) = verify(*opened)  # records, model versions
    assert (checked.seen, checked.unchanged, checked.skipped) == (6, 5, 1)
    assert checked.problems == [f"{changed}: missing or different in the target"]

    status, out, _ = copy(capsys, source, target, "--verify")
    assert status == 0
    assert "records: 6 read, 1 written, 5 already in the target" in out
    assert "verify records: 6 identical" in out
    assert open_store(target).image(uuid.UUID(changed)) == open_store(source).image(uuid.UUID(changed))


def test_a_checkpoint_of_another_copy_never_makes_this_one_skip_records(
    capsys: Captured, tmp_path: Path, source: str
) -> None:
    first, second = migrated(f"sqlite:///{tmp_path}/first.db"), migrated(f"sqlite:///{tmp_path}/second.db")
    path = tmp_path / "shared-checkpoint.json"

    def stop(progress: Progress) -> None:
        raise KeyboardInterrupt

    opened = [
        open_for_copy(url, Settings(), role=role) for url, role in ((source, "source"), (first, "target"))
    ]
    with pytest.raises(KeyboardInterrupt):
        copying.copy(*opened, checkpoint=Checkpoint.for_pair(source, first, path), page_size=2, report=stop)
    assert path.exists()

    status, out, _ = copy(capsys, source, second, "--checkpoint", str(path))
    assert status == 0 and "records: 6 read, 6 written" in out
    assert len(listed_with_pictures(second)) == 6
