"""`fashion-classifier learn` on a real SQLite store filled through the API."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient

from fashion_classifier.cli import main
from fashion_classifier.config import Settings
from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES
from fashion_classifier.learning.command import active_source
from fashion_classifier.learning.fit import FitOptions
from fashion_classifier.learning.learn import ActiveSource, LearnOptions, learn
from fashion_classifier.model_registry import PromotionConflict
from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.service import PredictionService
from fashion_classifier.storage import open_store
from fashion_classifier.training import data, studio
from fashion_classifier.web import create_app

SMALL = LearnOptions(replay=500, studio_per_kind=10, non_garments_per_family=12, fit=FitOptions(steps=150))


def upload(client: FlaskClient, picture: bytes, name: str) -> dict:
    answer = client.post("/api/v1/predictions", data={"file": (io.BytesIO(picture), name)})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["predictions"][0]


def test_learn_makes_a_candidate_that_answers_what_users_corrected(tmp_path: Path, model_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    open_store(database).migrate()
    settings = Settings(database_url=database, model_path=model_path)
    client = create_app(settings).test_client()
    _, validation = data.train_validation_split(data.load().train)
    photos = studio.shoot_set(validation.images, validation.labels, per_kind=24, seed=5)
    corrected = []
    for number, photo in enumerate(photos):
        answer = upload(client, photo.data, f"photo-{number}.png")
        if answer["label"] != CLASSES[photo.label]:  # a user corrects the wrong answers
            feedback = {"label": CLASSES[photo.label]}
            assert (
                client.post(f"/api/v1/predictions/{answer['id']}/feedback", json=feedback).status_code == 200
            )
            corrected.append(photo)
    assert len(corrected) >= 5, "too few wrong answers to learn from: pick another seed"

    service = PredictionService.from_settings(settings, with_model=False)
    shipped = service.models.seed(model_path, created_by="test")  # as `fashion-classifier migrate` does
    assert shipped is not None
    outcome = learn(
        service, active_source(service, settings), tmp_path / "candidates", SMALL, say=lambda _: None
    )
    # Kept as a version every replica sees; of two runs that learnt from the shipped model, one promotes.
    kept = service.models.register(outcome.path.read_bytes(), outcome.card, created_by="test")
    rival = service.models.register(
        outcome.path.read_bytes(), {**outcome.card, "version": "rival"}, created_by="test"
    )
    assert service.models.promote(kept.version, replacing=shipped.version).version == kept.version
    with pytest.raises(PromotionConflict):
        service.models.promote(rival.version, replacing=shipped.version)
    active = service.models.active()
    assert active is not None and active.version == kept.version
    service.close()

    card = json.loads(outcome.path.with_suffix(".json").read_text())
    assert card["version"] == outcome.version
    assert card["learning"]["learned_from"] == Classifier.load(model_path).version
    assert card["learning"]["corrections"] == len(corrected)
    assert card["embedding_version"] == card["learning"]["learned_from"]
    # Class corrections of pictures judged garments say nothing against the verdict: its head stays.
    assert card["learning"]["garment_head"]["refitted"] is False
    gate_figures = card["learning"]["gate"]
    assert gate_figures["candidate"]["non_garments_flagged"] == gate_figures["active"]["non_garments_flagged"]
    assert (outcome.path.parent / "fashion_cnn.onnx").exists()  # the float twin
    # Held back: the newest fifth, never trained on; the rest the candidate learned from.
    trained_on = corrected[: len(corrected) - round(len(photos) * 0.2)]
    pictures = np.concatenate([preprocess_bytes(photo.data) for photo in trained_on])
    truth = np.array([photo.label for photo in trained_on])
    before = Classifier.load(model_path).probabilities(pictures).argmax(1)
    after = Classifier.load(outcome.path).probabilities(pictures).argmax(1)
    assert np.mean(after == truth) > np.mean(before == truth)
    # Whether it may serve is the gate's call, written in the card with the figures behind it.
    gate = card["learning"]["gate"]
    assert gate["active"]["test"] == pytest.approx(0.9398, abs=1e-4)  # the shipped model's card figure
    assert gate["passed"] == (not gate["reasons"])
    if gate["candidate"]["test"] < gate["active"]["test"] - 0.005:
        assert any(reason.startswith("test images") for reason in gate["reasons"])


def test_learn_on_a_store_without_corrections_says_so_and_fails(
    tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    open_store(database).migrate()
    client = create_app(Settings(database_url=database, model_path=model_path)).test_client()
    photo = studio.shoot_set(data.load().test.images[:50], data.load().test.labels[:50], per_kind=1, seed=1)[
        0
    ]
    upload(client, photo.data, "one.png")
    monkeypatch.setenv("DATABASE_URL", database)
    assert main(["learn", "--output", str(tmp_path / "candidates")]) == 2
    assert "no corrections to learn from" in capsys.readouterr().err
    assert not (tmp_path / "candidates").exists()


def test_a_correction_whose_picture_is_gone_is_skipped_and_counted(tmp_path: Path, model_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    open_store(database).migrate()
    settings = Settings(database_url=database, model_path=model_path)
    client = create_app(settings).test_client()
    test = data.load().test
    photos = studio.shoot_set(test.images, test.labels, per_kind=3, seed=2)
    ids = [upload(client, photo.data, f"p{n}.png")["id"] for n, photo in enumerate(photos)]
    for record_id, photo in zip(ids, photos, strict=True):
        client.post(f"/api/v1/predictions/{record_id}/feedback", json={"label": CLASSES[photo.label]})
    with sqlite3.connect(tmp_path / "store.db") as connection:
        connection.execute("DELETE FROM images WHERE record_id = ?", (ids[0],))

    service = PredictionService.from_settings(settings, with_model=False)
    outcome = learn(
        service, ActiveSource.from_file(model_path), tmp_path / "candidates", SMALL, say=lambda _: None
    )
    service.close()
    assert outcome.reading.skipped == {"picture missing": 1}
    assert outcome.reading.corrections == len(photos) - 1
