"""Corrections of the verdict ("not a garment", or a class for a picture judged not one), through
Flask's test client on a real SQLite store: what the pages and the API show."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from fashion_classifier.config import Settings
from fashion_classifier.labels import NOT_A_GARMENT
from fashion_classifier.storage import open_store
from fashion_classifier.web import create_app
from tests.pictures import dataset_png, first_of_class, not_a_garment

TITLE = re.compile(
    r"Not a garment; closest: (T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot), \d+%"
)


@pytest.fixture
def client(tmp_path: Path, model_path: Path) -> FlaskClient:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/web.db", model_path=model_path)
    open_store(settings.database_url).migrate()
    return create_app(settings).test_client()


def upload(client: FlaskClient, picture: bytes, name: str) -> dict:
    answer = client.post("/api/v1/predictions", data={"file": [(io.BytesIO(picture), name)]})
    assert answer.status_code == 201
    prediction: dict = answer.get_json()["predictions"][0]
    return prediction


def text(html: str) -> str:
    """The page as a reader sees it: tags dropped, white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_non_garment_is_titled_as_such_on_the_result_record_and_history_pages(client: FlaskClient) -> None:
    page_scan = upload(client, not_a_garment(), "scan.png")
    assert page_scan["is_garment"] is False
    closest = f"Not a garment; closest: {page_scan['label']}, {page_scan['confidence'] * 100:.0f}%"

    result = text(client.get(f"/results?ids={page_scan['id']}").get_data(as_text=True))
    record = text(client.get(f"/records/{page_scan['id']}").get_data(as_text=True))
    history = text(client.get("/history").get_data(as_text=True))
    for page in (result, record, history):
        assert closest in page
    assert f"Prediction: {closest}" in record  # the record page's heading
    zh = text(
        client.get(f"/records/{page_scan['id']}", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    )
    assert "不是服装；最接近" in zh

    garment = upload(client, dataset_png(first_of_class(9))[0], "boot.png")
    assert garment["is_garment"] is True
    assert "Not a garment" not in text(client.get(f"/results?ids={garment['id']}").get_data(as_text=True))


def test_the_form_says_a_garment_is_none_and_the_pages_and_api_show_it(client: FlaskClient) -> None:
    boot = upload(client, dataset_png(first_of_class(9))[0], "boot.png")
    form = client.get(f"/results?ids={boot['id']}").get_data(as_text=True)
    assert f'<option value="{NOT_A_GARMENT}" >Not one of the ten garments</option>' in form

    posted = client.post(f"/records/{boot['id']}/feedback", data={"label": NOT_A_GARMENT})
    assert posted.status_code == 303
    record = text(client.get(posted.headers["Location"]).get_data(as_text=True))
    assert "Corrected to Not one of the ten garments" in record
    assert "Corrected to: Not one of the ten garments" in text(client.get("/history").get_data(as_text=True))
    zh = client.get("/history", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "不是这十类服装之一" in text(zh)
    assert client.get(boot["url"]).get_json()["corrected_label"] == NOT_A_GARMENT


def test_a_picture_judged_no_garment_is_offered_its_class_plainly(client: FlaskClient) -> None:
    scan = upload(client, not_a_garment(), "scan.png")
    form = client.get(f"/results?ids={scan['id']}").get_data(as_text=True)
    assert "Is it a garment after all? It is a …" in form
    assert f'<option value="{NOT_A_GARMENT}" selected>' in form  # as the page says, until corrected
    assert all(f'<option value="{name}"' in form for name in ("T-shirt/top", "Bag", "Ankle boot"))

    client.post(f"/records/{scan['id']}/feedback", data={"label": "Bag"})
    record = client.get(f"/records/{scan['id']}").get_data(as_text=True)
    assert "Corrected to Bag" in text(record)
    assert '<option value="Bag" selected>' in record


def test_the_api_takes_not_a_garment_and_says_what_else_it_takes(client: FlaskClient) -> None:
    bag = upload(client, dataset_png(first_of_class(8))[0], "bag.png")
    fixed = client.post(f"{bag['url']}/feedback", json={"label": NOT_A_GARMENT})
    assert fixed.status_code == 200
    assert fixed.get_json()["corrected_label"] == NOT_A_GARMENT
    assert (
        fixed.get_json()["label"] == "Bag" and fixed.get_json()["is_garment"] is True
    )  # the model's answer kept
    back = client.post(f"{bag['url']}/feedback", json={"label": "Bag"})  # a user changes their mind
    assert back.get_json()["corrected_label"] == "Bag"

    wrong = client.post(f"{bag['url']}/feedback", json={"label": "not garment"})
    assert wrong.status_code == 400
    assert NOT_A_GARMENT in wrong.get_json()["error"]["message"]
    document = client.get("/openapi.json").get_json()
    assert NOT_A_GARMENT in document["components"]["schemas"]["Correction"]["enum"]
    assert NOT_A_GARMENT not in document["components"]["schemas"]["ClassName"]["enum"]
