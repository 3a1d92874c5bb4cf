"""The web app through Flask's test client, on a real SQLite store."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fashion_classifier.config import Settings
from fashion_classifier.storage import open_store
from fashion_classifier.web import create_app
from tests.pictures import dataset_png, first_of_class, product_photo


@pytest.fixture
def app(tmp_path: Path, model_path: Path) -> Flask:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/web.db", model_path=model_path)
    open_store(settings.database_url).migrate()  # as `fashion-classifier migrate` does before serving
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def upload(client: FlaskClient, *files: tuple[bytes, str], path: str = "/api/v1/predictions"):  # type: ignore[no-untyped-def]
    data = {"file": [(io.BytesIO(content), name) for content, name in files]}
    return client.post(path, data=data, content_type="multipart/form-data")


def test_root_redirects_to_the_upload_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/upload")


def test_upload_page_has_a_labelled_file_input(client: FlaskClient) -> None:
    page = client.get("/upload").get_data(as_text=True)
    assert '<input id="file" type="file" name="file"' in page
    assert '<label for="file"' in page


def test_form_post_redirects_to_the_picture_and_its_class(client: FlaskClient) -> None:
    png, _ = dataset_png(first_of_class(1))
    posted = upload(client, (png, "trousers.png"), path="/upload")
    assert posted.status_code == 303  # post/redirect/get: reloading the results uploads nothing
    response = client.get(posted.headers["Location"])
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Trouser" in page
    assert "/api/v1/predictions/" in page and "/image" in page
    assert "<meter" in page  # the top classes drawn as bars


def test_api_round_trip_list_get_image_feedback(client: FlaskClient) -> None:
    created = upload(client, (dataset_png(first_of_class(8))[0], "bag.png"), (product_photo(1), "photo.jpg"))
    assert created.status_code == 201
    first, second = created.get_json()["predictions"]
    assert first["label"] == "Bag" and first["filename"] == "bag.png"
    assert set(first["probabilities"]) == {
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    }
    listed = client.get("/api/v1/predictions").get_json()["predictions"]
    assert [p["id"] for p in listed] == [second["id"], first["id"]]  # newest first
    assert client.get(first["url"]).get_json() == first
    image = client.get(first["image_url"])
    assert image.status_code == 200 and image.mimetype in ("image/jpeg", "image/png")
    fixed = client.post(f"{first['url']}/feedback", json={"label": "Coat"})
    assert fixed.status_code == 200 and fixed.get_json()["corrected_label"] == "Coat"
    assert client.get(first["url"]).get_json()["corrected_label"] == "Coat"


def test_class_filter_and_paging(client: FlaskClient) -> None:
    for _ in range(3):
        upload(
            client,
            (dataset_png(first_of_class(7))[0], "sneaker.png"),
            (dataset_png(first_of_class(1))[0], "t.png"),
        )
    page = client.get("/api/v1/predictions?limit=2&label=Sneaker").get_json()
    assert [p["label"] for p in page["predictions"]] == ["Sneaker", "Sneaker"]
    rest = client.get(f"/api/v1/predictions?limit=2&label=Sneaker&cursor={page['next_cursor']}").get_json()
    assert [p["label"] for p in rest["predictions"]] == ["Sneaker"]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "status"),
    [("limit=0", 400), ("limit=abc", 400), ("label=Hat", 400), ("cursor=%%%", 400)],
)
def test_bad_list_queries_are_400_with_a_message(client: FlaskClient, query: str, status: int) -> None:
    response = client.get(f"/api/v1/predictions?{query}")
    assert response.status_code == status
    assert response.get_json()["error"]["message"]


def test_unknown_record_is_404_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/predictions/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_security_headers_are_set(client: FlaskClient) -> None:
    headers = client.get("/upload").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


def test_health_ready_and_model_card(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["store"] == "ok"
    card = client.get("/api/v1/model").get_json()
    assert card["version"]


def test_language_follows_the_browser_and_the_switch(client: FlaskClient) -> None:
    chinese = client.get("/upload", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert "上传并分类" in chinese
    switched = client.get("/lang/en?next=/upload", headers={"Accept-Language": "zh-CN"})
    assert switched.status_code == 302
    english = client.get("/upload", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Upload and classify" in english


def test_language_switch_never_redirects_off_site(client: FlaskClient) -> None:
    response = client.get("/lang/zh?next=//evil.example/")
    assert response.headers["Location"] == "/upload"


def test_uploads_need_no_space_in_the_temporary_folder(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tempfile

    import numpy as np
    from PIL import Image

    from tests.pictures import encode

    noise = np.random.default_rng(7).integers(0, 256, (800, 800, 3), dtype=np.uint8)
    big = encode(Image.fromarray(noise))  # noise does not compress: about 1.9 MB
    assert len(big) > 1_000_000  # werkzeug spools files above 500 KB to the temporary folder
    boundary = "b0undary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
    body = head.encode() + big + f"\r\n--{boundary}--\r\n".encode()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))  # /tmp full or absent
    response = client.post(
        "/api/v1/predictions", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 201, response.get_data(as_text=True)[:300]


def test_an_unmigrated_store_is_not_ready_and_says_how_to_fix_it(tmp_path: Path, model_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/new.db", model_path=model_path)
    client = create_app(settings).test_client()
    ready = client.get("/readyz")
    refused = upload(client, (dataset_png(0)[0], "early.png"))
    assert ready.status_code == 503 and "fashion-classifier migrate" in ready.get_json()["store"]
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert refused.get_json()["error"]["code"] == "schema_not_ready"

    open_store(settings.database_url).migrate()
    client = create_app(settings).test_client()  # a fresh worker: no cached version to wait out
    assert client.get("/readyz").status_code == 200
    assert upload(client, (dataset_png(0)[0], "later.png")).status_code == 201
