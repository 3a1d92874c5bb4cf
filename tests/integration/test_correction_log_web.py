"""The correction log through the web app: a keyed hash of the sender's address, never the address."""

from __future__ import annotations

import hashlib
import hmac
import io
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from fashion_classifier.config import Settings
from fashion_classifier.storage import open_store
from fashion_classifier.web import create_app
from tests.cassandra_node import cassandra_test_url
from tests.pictures import dataset_png

KEY = "a test key, the same on every replica"


def keyed(address: str) -> str:
    return hmac.new(KEY.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


def upload(client: FlaskClient) -> str:
    picture, _ = dataset_png(0)
    answer = client.post("/api/v1/predictions", data={"file": (io.BytesIO(picture), "boot.png")})
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["predictions"][0]["id"])


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return cassandra_test_url(f"fc_correction_log_{uuid.uuid4().hex[:10]}")


def test_corrections_are_logged_with_a_keyed_hash_of_the_sender_and_never_its_address(
    database: str, tmp_path: Path, model_path: Path
) -> None:
    migrator = open_store(database, consistency="ONE")
    migrator.migrate()
    migrator.close()
    settings = Settings(
        database_url=database, model_path=model_path, client_key=KEY, cassandra_consistency="ONE"
    )
    client = create_app(settings).test_client()
    ids = [upload(client) for _ in range(4)]

    # Straight to the app (a TCP peer): its address counts; a made-up X-Forwarded-For does not.
    direct = {"REMOTE_ADDR": "203.0.113.7"}
    answer = client.post(
        f"/api/v1/predictions/{ids[0]}/feedback",
        json={"label": "Coat"},
        environ_base=direct,
        headers={"X-Forwarded-For": "192.0.2.99"},
    )
    assert answer.status_code == 200
    answer = client.post(f"/records/{ids[1]}/feedback", data={"label": "Bag"}, environ_base=direct)
    assert answer.status_code == 303
    # Behind nginx (`serve`): the peer is its Unix socket, the address nginx saw is X-Forwarded-For.
    behind_nginx = {"REMOTE_ADDR": ""}
    answer = client.post(
        f"/api/v1/predictions/{ids[2]}/feedback",
        json={"label": "Dress"},
        environ_base=behind_nginx,
        headers={"X-Forwarded-For": "2001:db8::42"},
    )
    assert answer.status_code == 200
    client.post(f"/api/v1/predictions/{ids[3]}/feedback", json={"label": "Shirt"}, environ_base=behind_nginx)

    store = open_store(database, consistency="ONE")
    log = store.correction_log([uuid.UUID(i) for i in ids])
    assert [(str(e.record_id), e.client, e.label) for e in log] == [
        (ids[0], keyed("203.0.113.7"), "Coat"),
        (ids[1], keyed("203.0.113.7"), "Bag"),
        (ids[2], keyed("2001:db8::42"), "Dress"),
        (ids[3], "unknown", "Shirt"),  # nobody could tell who: one shared "unknown" client
    ]
    assert [e.at for e in log] == sorted(e.at for e in log)
    store.close()
    if not database.startswith("sqlite:"):
        return
    kept = b"".join(path.read_bytes() for path in tmp_path.glob("store.db*"))  # the database and its WAL
    for address in ("203.0.113.7", "2001:db8::42", "192.0.2.99"):
        assert address.encode() not in kept
