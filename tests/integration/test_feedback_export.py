"""`fashion-classifier feedback export`: corrected pictures and labels, ready for retraining."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

from fashion_classifier.cli import main
from fashion_classifier.config import Settings
from fashion_classifier.labels import NOT_A_GARMENT
from fashion_classifier.storage import open_store
from fashion_classifier.web import create_app
from tests.pictures import dataset_png, first_of_class


def test_export_writes_pictures_by_class_and_a_labels_file(
    tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"sqlite:///{tmp_path}/feedback.db"
    open_store(database).migrate()
    client = create_app(Settings(database_url=database, model_path=model_path)).test_client()
    files = {"file": [(io.BytesIO(dataset_png(first_of_class(k))[0]), f"../evil-{k}.png") for k in (0, 3, 7)]}
    created = client.post("/api/v1/predictions", data=files, content_type="multipart/form-data").get_json()
    shirt, dress, _ = created["predictions"]
    client.post(f"/api/v1/predictions/{shirt['id']}/feedback", json={"label": "Shirt"})
    client.post(f"/api/v1/predictions/{dress['id']}/feedback", json={"label": "Coat"})

    monkeypatch.setenv("DATABASE_URL", database)
    out = tmp_path / "export"
    assert main(["feedback", "export", str(out)]) == 0
    assert "2 corrected pictures" in capsys.readouterr().out

    with (out / "labels.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(row["label"], row["predicted"]) for row in rows} == {
        ("Shirt", shirt["label"]),
        ("Coat", dress["label"]),
    }
    for row in rows:
        picture = out / row["file"]
        assert picture.parent.name == row["label_index"]  # one folder per class index
        assert picture.stem in (shirt["id"], dress["id"])  # named by our id, not the client's name
        with Image.open(picture) as image:
            assert image.size[0] > 0
        assert row["original_filename"].startswith("../evil-")
    assert not list(tmp_path.glob("evil-*"))


def test_a_file_name_that_looks_like_a_formula_is_exported_as_text(
    tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"sqlite:///{tmp_path}/formula.db"
    open_store(database).migrate()
    client = create_app(Settings(database_url=database, model_path=model_path)).test_client()
    name = "=cmd|'/C calc'!A0.png"
    files = {"file": [(io.BytesIO(dataset_png(first_of_class(0))[0]), name)]}
    created = client.post("/api/v1/predictions", data=files, content_type="multipart/form-data").get_json()
    client.post(f"{created['predictions'][0]['url']}/feedback", json={"label": "Shirt"})

    monkeypatch.setenv("DATABASE_URL", database)
    assert main(["feedback", "export", str(tmp_path / "export")]) == 0
    with (tmp_path / "export" / "labels.csv").open(encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["original_filename"] == "'" + name  # shown as text by spreadsheets, never run


def test_a_picture_said_to_be_no_garment_is_exported_apart_with_label_index_minus_one(
    tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"sqlite:///{tmp_path}/verdicts.db"
    open_store(database).migrate()
    client = create_app(Settings(database_url=database, model_path=model_path)).test_client()
    files = {"file": [(io.BytesIO(dataset_png(first_of_class(k))[0]), f"{k}.png") for k in (5, 8)]}
    created = client.post("/api/v1/predictions", data=files, content_type="multipart/form-data").get_json()
    sandal, bag = created["predictions"]
    client.post(f"{sandal['url']}/feedback", json={"label": NOT_A_GARMENT})
    client.post(f"{bag['url']}/feedback", json={"label": "Coat"})

    monkeypatch.setenv("DATABASE_URL", database)
    out = tmp_path / "export"
    assert main(["feedback", "export", str(out)]) == 0
    assert "1 said to be no garment, in not_a_garment/ with label_index -1" in capsys.readouterr().out
    with (out / "labels.csv").open(encoding="utf-8") as handle:
        rows = {row["label"]: row for row in csv.DictReader(handle)}
    none = rows[NOT_A_GARMENT]
    assert (none["label_index"], none["is_garment"], none["predicted"]) == ("-1", "false", sandal["label"])
    assert none["predicted_is_garment"] == "true"  # what the model had said
    assert none["file"].startswith(f"not_a_garment/{sandal['id']}.") and (out / none["file"]).is_file()
    assert (rows["Coat"]["label_index"], rows["Coat"]["is_garment"]) == ("4", "true")
    assert rows["Coat"]["file"].startswith("4/")
