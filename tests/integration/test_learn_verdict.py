"""`learn` with corrections of the verdict, on a real SQLite store filled through the API: pictures
of no garment the model took for one ("Not a garment") and garments it flagged (their class)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import skimage
from flask.testing import FlaskClient
from PIL import Image

from fashion_classifier.config import Settings
from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES, NOT_A_GARMENT
from fashion_classifier.learning.fit import FitOptions
from fashion_classifier.learning.garment import GarmentHead, read_garment_head
from fashion_classifier.learning.gate import FixedSets, decide, figures
from fashion_classifier.learning.heads import HeadModel
from fashion_classifier.learning.learn import ActiveSource, LearnOptions, learn
from fashion_classifier.learning.verdict_fit import VerdictOptions
from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.service import PredictionService
from fashion_classifier.storage import open_store
from fashion_classifier.training import data
from fashion_classifier.web import create_app

SMALL = LearnOptions(
    replay=500,
    studio_per_kind=10,
    non_garments_per_family=12,
    verdict=VerdictOptions(replay_garments=400, replay_per_family=30, fit=FitOptions(steps=150)),
    fit=FitOptions(steps=150),
)
# Microscope pictures from scikit-image: none of them among the gate's or the replay's sources.
MICROSCOPE = ("cell", "ihc", "retina")


def microscope_crops(count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    folder = Path(skimage.__file__).parent / "data"
    found = {p.stem: p for p in folder.iterdir() if p.stem in MICROSCOPE and p.suffix in (".png", ".jpg")}
    crops = []
    for i in range(count):
        with Image.open(found[MICROSCOPE[i % len(MICROSCOPE)]]) as opened:
            picture = opened.convert("RGB")
        width, height = picture.size
        side = int(min(width, height) * rng.uniform(0.3, 1.0))
        left, top = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
        crop = picture.crop((left, top, left + side, top + side))
        crop.thumbnail((400, 400))  # a phone-sized upload (a larger body spools to a file in the test client)
        crops.append(_png(crop))
    return crops


def upside_down_garments(images: np.ndarray) -> list[bytes]:
    """Garments photographed upside down: the shipped model flags about half of them as no garment."""
    return [_png(Image.fromarray(image[::-1].copy())) for image in images]


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client: FlaskClient, picture: bytes, name: str) -> dict:
    answer = client.post("/api/v1/predictions", data={"file": (io.BytesIO(picture), name)})
    assert answer.status_code == 201
    prediction: dict = answer.get_json()["predictions"][0]
    return prediction


def correct(client: FlaskClient, answer: dict, label: str) -> None:
    assert client.post(f"{answer['url']}/feedback", json={"label": label}).status_code == 200


def test_learn_refits_the_garment_head_on_corrections_of_the_verdict(
    tmp_path: Path, model_path: Path
) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    open_store(database).migrate()
    settings = Settings(database_url=database, model_path=model_path)
    client = create_app(settings).test_client()
    _, validation = data.train_validation_split(data.load().train)
    said_none, said_class = [], []
    # Interleaved, so that both kinds are among the trained-on and the held-back uploads.
    crops, garments = microscope_crops(90, seed=11), upside_down_garments(validation.images[:90])
    for number, (crop, garment) in enumerate(zip(crops, garments, strict=True)):
        answer = upload(client, crop, f"slide-{number}.png")
        if answer["is_garment"]:  # a user says: this is none of the ten
            correct(client, answer, NOT_A_GARMENT)
            said_none.append(crop)
        label = CLASSES[validation.labels[number]]
        answer = upload(client, garment, f"dress-{number}.png")
        if not answer["is_garment"]:  # flagged: a user gives its class
            correct(client, answer, label)
            said_class.append(garment)
    assert len(said_none) >= 5 and len(said_class) >= 20, "too few wrong verdicts: pick another seed"

    service = PredictionService.from_settings(settings, with_model=False)
    outcome = learn(service, ActiveSource.from_file(model_path), tmp_path / "out", SMALL, say=lambda _: None)
    service.close()

    card = json.loads(outcome.path.with_suffix(".json").read_text())
    garment_head = card["learning"]["garment_head"]
    assert garment_head["refitted"] is True
    assert card["learning"]["verdict_corrections"] == len(said_none) + len(said_class)
    # The newest fifth is held back; the rest (of both kinds) trained on.
    assert 0 < garment_head["not_a_garment_corrections"] < len(said_none)
    assert 0 < garment_head["class_corrections"] < len(said_class)
    assert garment_head["replayed"]["data_set_images"] == 400
    # What a user notices: the candidate calls fewer slides garments and more of the flagged garments.
    shipped, candidate = Classifier.load(model_path), Classifier.load(outcome.path)
    for pictures, want in ((said_none, False), (said_class, True)):
        batch = np.concatenate([preprocess_bytes(picture) for picture in pictures])
        before = np.mean([p.is_garment == want for p in shipped.predict_batch(batch)])
        after = np.mean([p.is_garment == want for p in candidate.predict_batch(batch)])
        assert after > before
    # Its features and embedding are the shipped model's: only the heads moved.
    probe = np.concatenate([preprocess_bytes(said_none[0]), preprocess_bytes(said_class[0])])
    np.testing.assert_array_equal(shipped.embed(probe), candidate.embed(probe))
    # The gate measured the verdict on the fixed non-garments, for both.
    gate = card["learning"]["gate"]
    assert {"non_garments_flagged", "test_kept", "studio_kept"} <= set(gate["candidate"])
    assert gate["active"]["non_garments_flagged"] > 0.8
    lost = gate["candidate"]["non_garments_flagged"] < gate["active"]["non_garments_flagged"]
    assert lost == any(reason.startswith("non-garments") for reason in gate["reasons"])
    twin = ort.InferenceSession(
        str(outcome.path.parent / "fashion_cnn.onnx"), providers=["CPUExecutionProvider"]
    )
    assert "garment_raw" in {output.name for output in twin.get_outputs()}


def test_the_gate_refuses_a_candidate_that_flags_fewer_fixed_non_garments(
    tmp_path: Path, model_path: Path
) -> None:
    source = ActiveSource.from_file(model_path)
    active = HeadModel.from_bytes(source.onnx)
    start = read_garment_head(active.model, source.card, active.names.features)
    assert start is not None
    sets = FixedSets.build(active, data.load(), tmp_path / ".sets", per_kind=10, per_family=12)
    # A garment head that says "garment" a little more readily: what lenient corrections could teach.
    lenient = GarmentHead(start.weights, start.bias + 2 * start.scale, start.threshold, start.scale)
    none = np.zeros((2, 0, 256)), np.zeros(0, np.int64), np.zeros(0, bool)
    before = figures(active.head, sets, *none, garment=start)
    after = figures(active.head, sets, *none, garment=lenient)
    assert after.non_garments_flagged < before.non_garments_flagged
    assert after.test_kept >= before.test_kept  # it keeps every garment: still refused
    decision = decide(before, after)
    assert not decision.passed
    assert any(reason.startswith("non-garments:") for reason in decision.reasons)


@pytest.mark.parametrize("name", ["fashion_cnn.int8.onnx", "fashion_cnn.onnx"])
def test_the_garment_head_read_from_the_graph_gives_the_served_verdict(model_path: Path, name: str) -> None:
    path = model_path.parent / name
    source = ActiveSource.from_file(path)
    active = HeadModel.from_bytes(source.onnx)
    head = read_garment_head(active.model, source.card, active.names.features)
    assert head is not None and head.weights.shape == (256,)
    pictures = np.concatenate([preprocess_bytes(p) for p in microscope_crops(6, seed=3)])
    served = Classifier.load(path).predict_batch(pictures)
    flagged = head.flagged(active.features([pictures]))
    assert [not p.is_garment for p in served] == list(flagged)
