"""/openapi.json as other tools read it: a valid OpenAPI 3.0 document that describes real answers."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from fashion_classifier.config import Settings
from fashion_classifier.storage import open_store
from fashion_classifier.web import create_app
from tests.pictures import dataset_png, first_of_class


@pytest.fixture
def client(tmp_path: Path, model_path: Path) -> FlaskClient:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/openapi.db", model_path=model_path)
    open_store(settings.database_url).migrate()  # as every deployment does before serving
    return create_app(settings).test_client()


def prediction_validator(document: dict[str, Any]) -> OAS30Validator:
    """A validator for the documented Prediction schema, with the document's $refs resolvable."""
    schema = {"$ref": "#/components/schemas/Prediction", "components": document["components"]}
    return OAS30Validator(schema)


def test_the_document_is_valid_openapi(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.0.")
    validate(document)  # raises OpenAPIValidationError with the offending path


def test_every_operation_has_an_id_for_client_generators(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    ids = [op["operationId"] for path in document["paths"].values() for op in path.values()]
    assert len(ids) == 9 and len(set(ids)) == 9


def test_uncorrected_and_corrected_predictions_match_the_schema(client: FlaskClient) -> None:
    validator = prediction_validator(client.get("/openapi.json").get_json())
    png, _ = dataset_png(first_of_class(0))
    created = client.post(
        "/api/v1/predictions",
        data={"file": [(io.BytesIO(png), "top.png")]},
        content_type="multipart/form-data",
    ).get_json()["predictions"][0]
    assert created["corrected_label"] is None
    assert list(validator.iter_errors(created)) == []
    corrected = client.post(
        f"/api/v1/predictions/{created['id']}/feedback", json={"label": "Shirt"}
    ).get_json()
    assert corrected["corrected_label"] == "Shirt"
    assert list(validator.iter_errors(corrected)) == []
    assert not validator.is_valid({**corrected, "corrected_label": "Hat"})


def test_similar_answers_match_the_schema(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    validator = OAS30Validator(
        {"$ref": "#/components/schemas/SimilarPredictions", "components": document["components"]}
    )
    pictures = [(io.BytesIO(dataset_png(first_of_class(label))[0]), f"{label}.png") for label in (8, 9)]
    created = client.post("/api/v1/predictions", data={"file": pictures}, content_type="multipart/form-data")
    record_id = created.get_json()["predictions"][0]["id"]
    answer = client.get(f"/api/v1/predictions/{record_id}/similar?limit=3").get_json()
    assert len(answer["similar"]) == 1
    assert list(validator.iter_errors(answer)) == []
    assert not validator.is_valid({**answer, "similar": [{**answer["similar"][0], "similarity": 2}]})
