"""A Python client generated from /openapi.json by openapi-python-client, used against a real server."""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import requests

from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, first_of_class

PACKAGE = "fashion_api_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("generated-client")
    running = start_server(f"sqlite:///{folder}/client.db", folder / "server.log")
    yield running
    stop_server(running)


def generate(document: dict[str, object], folder: Path) -> None:
    """Run the generator the way a user would; it must not drop any operation."""
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(document))
    # The generator formats its output with ruff, found on PATH beside our interpreter.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(GENERATOR), "generate", "--path", str(spec), "--output-path", str(folder / PACKAGE)]
    done = subprocess.run(
        [*command, "--meta", "none"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def api(site: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("generated")
    generate(requests.get(f"{site.url}/openapi.json", timeout=30).json(), folder)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def operation(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.api.default.{name}")


def test_upload_list_and_correct_through_the_generated_client(api: ModuleType, site: Server) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    png, _ = dataset_png(first_of_class(9))
    picture = types.File(payload=io.BytesIO(png), file_name="boot.png", mime_type="image/png")
    with api.Client(base_url=site.url, raise_on_unexpected_status=True) as client:
        upload_list_and_correct(client, models, picture)


def upload_list_and_correct(client: object, models: ModuleType, picture: object) -> None:
    """A picture uploaded, found in the history and corrected, all through generated calls."""

    created = operation("classify_pictures").sync(
        client=client, body=models.ClassifyPicturesBody(file=[picture])
    )
    (prediction,) = created.predictions
    assert (prediction.label, prediction.filename, prediction.corrected_label) == (
        "Ankle boot",
        "boot.png",
        None,
    )

    listed = operation("list_predictions").sync(client=client, limit=5)
    assert prediction.id in [p.id for p in listed.predictions]

    body = models.CorrectPredictionBody(label=models.ClassName.SANDAL)
    corrected = operation("correct_prediction").sync(prediction.id, client=client, body=body)
    assert corrected.corrected_label == "Sandal"
    fetched = operation("get_prediction").sync(prediction.id, client=client)
    assert (fetched.label, fetched.corrected_label) == ("Ankle boot", "Sandal")


def test_errors_arrive_as_the_documented_error_model(api: ModuleType, site: Server) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    with api.Client(base_url=site.url) as client:
        missing = operation("get_prediction").sync_detailed(uuid.uuid4(), client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Error)
    assert missing.parsed.error.message
