"""Similar uploads through the API and on the record page (Flask test client, real SQLite)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fashion_classifier.config import Settings
from fashion_classifier.storage import open_store
from fashion_classifier.storage.migrations import SIMILAR_VERSION
from fashion_classifier.web import create_app
from tests.pictures import dataset_png, fmnist_test

BAG, SNEAKER, TROUSER = 8, 7, 1


def pictures_of(label: int, count: int) -> list[bytes]:
    test = fmnist_test()
    indexes = [i for i, y in enumerate(test.labels) if y == label][:count]
    return [dataset_png(i)[0] for i in indexes]


def upload(client: FlaskClient, pictures: list[bytes], path: str = "/api/v1/predictions"):  # type: ignore[no-untyped-def]
    data = {"file": [(io.BytesIO(p), f"{i}.png") for i, p in enumerate(pictures)]}
    return client.post(path, data=data, content_type="multipart/form-data")


def make_app(tmp_path: Path, model_path: Path, *, target: int | None = None) -> Flask:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/web.db", model_path=model_path)
    open_store(settings.database_url).migrate(target=target)
    return create_app(settings)


@pytest.fixture
def client(tmp_path: Path, model_path: Path) -> FlaskClient:
    client = make_app(tmp_path, model_path).test_client()
    for label in (BAG, SNEAKER, TROUSER):
        assert upload(client, pictures_of(label, 6)).status_code == 201
    return client


def ids_and_labels(client: FlaskClient) -> dict[str, str]:
    listed = client.get("/api/v1/predictions?limit=100").get_json()["predictions"]
    return {p["id"]: p["label"] for p in listed}


def test_the_closest_uploads_of_a_bag_are_bags(client: FlaskClient) -> None:
    kept = ids_and_labels(client)
    bag = next(i for i, label in kept.items() if label == "Bag")
    answer = client.get(f"/api/v1/predictions/{bag}/similar?limit=5")
    assert answer.status_code == 200
    body = answer.get_json()
    found = body["similar"]
    assert len(found) == 5 and bag not in {n["id"] for n in found}
    assert [n["label"] for n in found] == ["Bag"] * 5
    assert all(0 <= n["similarity"] <= 1 for n in found)
    assert [n["similarity"] for n in found] == sorted((n["similarity"] for n in found), reverse=True)
    assert body["model_version"] == client.get("/api/v1/model").get_json()["version"]


@pytest.mark.parametrize("limit", ["0", "51", "-3", "many"])
def test_a_limit_outside_1_to_50_is_refused_with_a_clear_message(client: FlaskClient, limit: str) -> None:
    bag = next(iter(ids_and_labels(client)))
    answer = client.get(f"/api/v1/predictions/{bag}/similar?limit={limit}")
    assert answer.status_code == 400
    assert "limit" in answer.get_json()["error"]["message"]


def test_similar_to_an_unknown_prediction_is_404(client: FlaskClient) -> None:
    answer = client.get("/api/v1/predictions/0190a000-0000-7000-8000-000000000000/similar")
    assert answer.status_code == 404


def test_search_by_picture_finds_the_same_class_and_keeps_nothing(client: FlaskClient) -> None:
    before = ids_and_labels(client)
    sneaker = pictures_of(SNEAKER, 7)[-1]  # a sneaker picture that was not uploaded
    answer = upload(client, [sneaker], path="/api/v1/search?limit=4")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [n["label"] for n in answer.get_json()["similar"]] == ["Sneaker"] * 4
    assert ids_and_labels(client) == before


@pytest.mark.parametrize(
    ("pictures", "status"),
    [([], 400), ([b"one", b"two"], 400), ([b"<html>not a picture</html>"], 415)],
)
def test_search_refuses_anything_but_one_picture(
    client: FlaskClient, pictures: list[bytes], status: int
) -> None:
    answer = upload(client, pictures, path="/api/v1/search")
    assert answer.status_code == status
    assert answer.get_json()["error"]["message"]


def test_the_record_page_shows_similar_uploads_as_links(client: FlaskClient) -> None:
    kept = ids_and_labels(client)
    trouser = next(i for i, label in kept.items() if label == "Trouser")
    page = client.get(f"/records/{trouser}").get_data(as_text=True)
    assert "Similar uploads" in page
    linked = [i for i in kept if i != trouser and f'href="/records/{i}"' in page]
    assert len(linked) == 8
    assert sum(kept[i] == "Trouser" for i in linked) == 5  # the other five trousers, closest first
    assert 'alt="Trouser: ' in page


def test_the_record_page_speaks_chinese_too(client: FlaskClient) -> None:
    record = next(iter(ids_and_labels(client)))
    client.set_cookie("lang", "zh")
    page = client.get(f"/records/{record}").get_data(as_text=True)
    assert "相似的上传" in page and "相似度" in page


def test_uploads_kept_before_the_embeddings_still_find_their_neighbours(
    tmp_path: Path, model_path: Path
) -> None:
    old = make_app(tmp_path, model_path, target=SIMILAR_VERSION - 1).test_client()
    assert upload(old, pictures_of(BAG, 3) + pictures_of(TROUSER, 3)).status_code == 201
    open_store(f"sqlite:///{tmp_path}/web.db").migrate()
    client = create_app(
        Settings(database_url=f"sqlite:///{tmp_path}/web.db", model_path=model_path)
    ).test_client()
    bag = next(i for i, label in ids_and_labels(client).items() if label == "Bag")
    # Before a reindex no neighbour has an embedding: an empty answer, not an error.
    assert client.get(f"/api/v1/predictions/{bag}/similar").get_json()["similar"] == []
    assert "No similar uploads yet." in client.get(f"/records/{bag}").get_data(as_text=True)
    assert upload(client, pictures_of(BAG, 4)[-1:]).status_code == 201  # a new bag, with an embedding
    [found] = client.get(f"/api/v1/predictions/{bag}/similar").get_json()["similar"]
    assert found["label"] == "Bag"
