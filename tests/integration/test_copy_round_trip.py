"""`fashion-classifier copy`: an embedded store grown into Cassandra and backed up again, on the real node.

Uploads and corrections go in through the API of a service on SQLite; the copy to Cassandra is
interrupted once and finished by the command; a second copy writes nothing; a backup into a
new SQLite file passes --verify. A service on each of the three stores then lists the same
records, with the same corrections and byte-identical pictures.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from fashion_classifier.config import Settings
from fashion_classifier.copying import Checkpoint, Progress, copy
from fashion_classifier.storage import open_store
from fashion_classifier.storage.transfer import open_for_copy
from fashion_classifier.web import create_app
from tests.cassandra_node import cassandra_test_url
from tests.pictures import dataset_png, first_of_class, product_photo

pytestmark = pytest.mark.cassandra
PAGE = 3  # records a page: the nine uploads take three pages (and the interruption one)


def client_on(url: str, model_path: Path) -> FlaskClient:
    return create_app(Settings(database_url=url, model_path=model_path)).test_client()


def fill_through_the_api(client: FlaskClient) -> list[str]:
    """Nine uploads in four requests (PNG and JPEG), two of them corrected; their ids."""
    requests = [
        [(dataset_png(first_of_class(8))[0], "bag.png"), (product_photo(1), "trousers.jpg")],
        [(dataset_png(first_of_class(k))[0], f"{k}.png") for k in (0, 5, 7)],
        [(product_photo(first_of_class(9)), "boot.jpg")],
        [(dataset_png(first_of_class(k))[0], f"{k}.png") for k in (2, 3, 4)],
    ]
    ids = []
    for files in requests:
        data = {"file": [(io.BytesIO(content), name) for content, name in files]}
        created = client.post("/api/v1/predictions", data=data, content_type="multipart/form-data")
        assert created.status_code == 201, created.get_data(as_text=True)
        ids += [p["id"] for p in created.get_json()["predictions"]]
    for record_id, label in ((ids[0], "Coat"), (ids[4], "Sneaker")):
        fixed = client.post(f"/api/v1/predictions/{record_id}/feedback", json={"label": label})
        assert fixed.status_code == 200
    return ids


def history(client: FlaskClient) -> list[tuple[dict[str, Any], str, bytes]]:
    """Every record as the API lists it (paged, newest first), with its picture's type and bytes."""
    listed: list[tuple[dict[str, Any], str, bytes]] = []
    cursor = ""
    while True:
        page = client.get(f"/api/v1/predictions?limit=4{cursor}").get_json()
        for record in page["predictions"]:
            picture = client.get(record["image_url"])
            assert picture.status_code == 200
            listed.append((record, str(picture.mimetype), picture.get_data()))
        if page["next_cursor"] is None:
            return listed
        cursor = f"&cursor={page['next_cursor']}"


def cli(*args: str, cwd: Path, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "fashion_classifier.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_grow_into_cassandra_with_an_interruption_then_back_up(tmp_path: Path, model_path: Path) -> None:
    ours = f"sqlite:///{tmp_path}/ours.db"
    open_store(ours).migrate()
    ids = fill_through_the_api(client_on(ours, model_path))
    cluster = cassandra_test_url(f"fc_copy_{uuid.uuid4().hex[:10]}")
    open_store(cluster).migrate()
    checkpoint = tmp_path / "copy.checkpoint.json"

    def stop_after_the_first_page(progress: Progress) -> None:
        raise KeyboardInterrupt  # as Ctrl-C between two pages

    source, target = (
        open_for_copy(ours, Settings(), role="source"),
        open_for_copy(cluster, Settings(), role="target"),
    )
    with pytest.raises(KeyboardInterrupt):
        copy(
            source,
            target,
            checkpoint=Checkpoint.for_pair(ours, cluster, checkpoint),
            page_size=PAGE,
            report=stop_after_the_first_page,
        )
    source.close()
    target.close()
    halfway = history(client_on(cluster, model_path))
    assert len(halfway) == PAGE  # one page landed whole, each record with its picture

    finish = cli(
        "copy", ours, cluster, "--page-size", str(PAGE), "--checkpoint", str(checkpoint), cwd=tmp_path
    )
    assert finish.returncode == 0, finish.stderr
    assert "records: 9 read, 9 written, 0 already in the target, 0 not copied" in finish.stdout
    assert not checkpoint.exists()  # a finished copy leaves no position behind

    again = cli("copy", ours, cluster, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "records: 9 read, 0 written, 9 already in the target, 0 not copied" in again.stdout
    for kind, count in (("records", 9), ("corrections", 2), ("pictures", 9), ("embeddings", 9)):
        assert f"{kind:12} {count:>10} {count:>10}" in again.stdout  # the count check, per kind

    backup = f"sqlite:///{tmp_path}/backup.db"
    unmigrated = cli("copy", cluster, backup, cwd=tmp_path)
    assert unmigrated.returncode == 2 and "migrate it first" in unmigrated.stderr
    migrated = cli("migrate", cwd=tmp_path, database_url=backup)
    assert migrated.returncode == 0, migrated.stderr
    saved = cli("copy", cluster, backup, "--verify", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    assert (
        "verify records: 9 identical in the target" in saved.stdout
        and "0 missing or different" in saved.stdout
    )

    listings = [history(client_on(url, model_path)) for url in (ours, cluster, backup)]
    assert listings[0] == listings[1] == listings[2]
    assert [record["id"] for record, _, _ in listings[0]] == ids[::-1]  # same ids, newest first
    corrected = {
        record["id"]: record["corrected_label"] for record, _, _ in listings[2] if record["corrected_label"]
    }
    assert corrected == {ids[0]: "Coat", ids[4]: "Sneaker"}
