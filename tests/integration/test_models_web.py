"""The models page and GET /api/v1/models through Flask's test client, on a real SQLite store."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fashion_classifier.config import Settings
from fashion_classifier.labels import NOT_A_GARMENT
from fashion_classifier.service import PredictionService
from fashion_classifier.storage import open_store
from fashion_classifier.web import create_app
from tests.pictures import dataset_png, first_of_class, not_a_garment

GATE = {"test": 0.9391, "studio": 0.872, "held_back": 0.84, "held_back_corrections": 0.71}


@pytest.fixture
def app(tmp_path: Path, model_path: Path) -> Flask:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/models.db", model_path=model_path)
    open_store(settings.database_url).migrate()
    return create_app(settings)


@pytest.fixture
def service(app: Flask, model_path: Path) -> PredictionService:
    """The app's service, its registry as `fashion-classifier migrate` leaves it: the shipped model, active."""
    found: PredictionService = app.extensions["service"]
    assert found.models.seed(model_path, created_by="migrate") is not None
    return found


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def learnt_version(service: PredictionService, model_path: Path, name: str = "20261206-learnt01") -> str:
    """A version as `learn` keeps it (the shipped bytes, a card with its gate figures), then promoted."""
    parent = service.model_version
    card = {
        **service.model_card(),
        "version": name,
        "embedding_version": parent,
        "learning": {"learned_from": parent, "gate": {"candidate": GATE, "passed": True}},
    }
    service.models.register(model_path.read_bytes(), card, created_by="learn")
    service.models.promote(name)
    return name


def row(page: str, version: str) -> str:
    found = re.search(rf'<tr data-version="{re.escape(version)}"[^>]*>.*?</tr>', page, re.S)
    assert found, f"no row for {version}"
    return found.group(0)


def cells(fragment: str, attribute: str) -> dict[str, str]:
    """data-<attribute>="key" -> the cell's text, e.g. the figures of a row."""
    pattern = rf'<td[^>]*data-{attribute}="([^"]*)"[^>]*>(.*?)</td>'
    return {html.unescape(key): text for key, text in re.findall(pattern, fragment)}


def upload(client: FlaskClient, *classes: int) -> list[dict[str, Any]]:
    files = [(io.BytesIO(dataset_png(first_of_class(k))[0]), f"{k}.png") for k in classes]
    created = client.post("/api/v1/predictions", data={"file": files}, content_type="multipart/form-data")
    assert created.status_code == 201
    predictions: list[dict[str, Any]] = created.get_json()["predictions"]
    return predictions


def upload_bytes(client: FlaskClient, picture: bytes) -> list[dict[str, Any]]:
    created = client.post(
        "/api/v1/predictions",
        data={"file": [(io.BytesIO(picture), "scan.png")]},
        content_type="multipart/form-data",
    )
    assert created.status_code == 201
    predictions: list[dict[str, Any]] = created.get_json()["predictions"]
    return predictions


def correct(client: FlaskClient, prediction: dict[str, Any], label: str) -> None:
    answer = client.post(f"/api/v1/predictions/{prediction['id']}/feedback", json={"label": label})
    assert answer.status_code == 200


def test_the_page_lists_every_version_with_its_figures_and_which_answers_since_when(
    client: FlaskClient, service: PredictionService, model_path: Path
) -> None:
    shipped = service.model_version
    learnt = learnt_version(service, model_path)
    active = service.models.active()
    assert active is not None
    page = client.get("/models").get_data(as_text=True)

    assert f"Answering now: version {learnt}, active since {active.since:%Y-%m-%d %H:%M} UTC." in page
    assert f"A rollback returns to {shipped}." in page
    assert "<strong>active</strong>" in row(page, learnt) and "previous" in row(page, shipped)
    assert cells(row(page, learnt), "figure") == {
        "test": "93.91%",
        "studio": "87.20%",
        "non_garments": "94.87%",  # the garment head is its parent's: so is the figure
        "held_back_corrections": "71.00%",
    }
    assert cells(row(page, shipped), "figure") == {
        "test": "93.98%",
        "studio": "86.90%",
        "non_garments": "94.87%",
        "held_back_corrections": "-",  # the shipped version learnt from no corrections
    }
    assert f"<td>{shipped}</td>" in row(page, learnt)  # learned from


def test_the_chart_and_table_count_the_answers_users_corrected(
    client: FlaskClient, service: PredictionService
) -> None:
    bag, coat, trouser, boot = upload(client, 8, 4, 1, 9)
    (scan,) = upload_bytes(client, not_a_garment())
    assert scan["is_garment"] is False  # the page told the user "not a garment; closest: ..."
    said = {
        coat["id"]: "Shirt" if coat["label"] != "Shirt" else "Coat",
        trouser["id"]: "Dress" if trouser["label"] != "Dress" else "Trouser",
        bag["id"]: bag["label"],  # the user confirmed the answer: not a correction
        scan["id"]: NOT_A_GARMENT,  # agreed with the verdict: not a correction either
    }
    for prediction in (coat, trouser, bag, scan):
        correct(client, prediction, said[prediction["id"]])
    expected: dict[str, tuple[int, int]] = {}
    for prediction in (bag, coat, trouser, boot, scan):
        answer = NOT_A_GARMENT if prediction["is_garment"] is False else prediction["label"]
        answers, corrected = expected.get(answer, (0, 0))
        expected[answer] = (answers + 1, corrected + (said.get(prediction["id"], answer) != answer))
    page = client.get("/models").get_data(as_text=True)

    assert "Counted over the newest 5 uploads (at most 10,000)" in page
    chart = page[page.index('<div class="chart"') : page.index("</svg>")]
    table = cells(page[page.index('id="shares"') :], "class")
    for answer, (answers, corrected) in expected.items():
        share = f"{100 * corrected / answers:.1f}%"
        bar = re.search(
            rf'<g data-class="{re.escape(answer)}">.*?<text class="value"[^>]*>([^<]*)</text>', chart, re.S
        )
        assert bar and bar.group(1) == f"{share} ({corrected}/{answers})", answer
        assert table[answer] == f"{share} ({corrected} of {answers})"
    assert table[NOT_A_GARMENT] == "0.0% (0 of 1)"
    assert table[""] == "40.0% (2 of 5)"  # all answers
    assert "40.0% of all its answers (2 of 5)" in chart  # the chart's description, for screen readers
    assert sum(1 for answer in table if table[answer] == "-") == 11 - len(expected)


def test_the_json_says_what_the_page_shows(
    client: FlaskClient, service: PredictionService, model_path: Path
) -> None:
    coat, _bag = upload(client, 4, 8)
    correct(client, coat, "Pullover" if coat["label"] != "Pullover" else "Coat")
    learnt = learnt_version(service, model_path)
    body = client.get("/api/v1/models").get_json()
    page = client.get("/models").get_data(as_text=True)

    assert (
        body["active"]["version"] == learnt and body["active"]["previous"] == service.models.list()[1].version
    )
    assert [v["version"] for v in body["versions"]] == re.findall(r'<tr data-version="([^"]+)"', page)
    for version in body["versions"]:
        shown = cells(row(page, version["version"]), "figure")
        assert shown == {
            name: "-" if value is None else f"{100 * value:.2f}%"
            for name, value in version["figures"].items()
        }
    window = body["corrections"]["window"]
    assert (window["limit"], window["records"], window["cache_seconds"]) == (10_000, 2, 60)
    assert f'data-records="{window["records"]}" data-window="{window["limit"]}"' in page
    (answered,) = body["corrections"]["versions"]  # both uploads answered by the shipped version
    assert answered["version"] == body["versions"][1]["version"]
    assert answered["total"] == {"answers": 2, "corrected": 1, "share": 0.5}
    table = cells(page[page.index('id="shares"') :], "class")
    for entry in answered["answers"]:
        text = (
            "-"
            if not entry["answers"]
            else f"{100 * entry['share']:.1f}% ({entry['corrected']} of {entry['answers']})"
        )
        assert table[entry["answer"]] == text


def test_a_store_without_kept_versions_or_uploads_says_so(app: Flask, client: FlaskClient) -> None:
    page = client.get("/models").get_data(as_text=True)
    answering = app.extensions["service"].model_version
    assert "No model version is kept in the store yet" in page and f"answers with {answering}" in page
    assert "Nothing uploaded yet" in page and "<svg" not in page
    body = client.get("/api/v1/models").get_json()
    assert (body["active"], body["versions"], body["answering"]) == (None, [], answering)
    assert body["corrections"]["versions"] == [] and body["corrections"]["window"]["records"] == 0


def test_the_page_speaks_chinese_and_every_page_links_to_it(
    client: FlaskClient, service: PredictionService
) -> None:
    upload(client, 4)
    assert 'href="/models"' in client.get("/upload").get_data(as_text=True)
    client.set_cookie("lang", "zh")
    page = client.get("/models").get_data(as_text=True)
    assert "<h1>模型版本</h1>" in page and ">模型</a>" in page
    assert "被用户更正的回答" in page and "外套" in page and "测试图像" in page
