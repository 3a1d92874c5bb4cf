"""A promotion and a rollback reach every worker of a running server, with no failed upload.

A real `fashion-classifier serve` (2 workers, MODEL_POLL_SECONDS=1) over SQLite and over the real
Cassandra node. A second version is the shipped model with its class head's bias pushed towards
"Bag" (so its answers visibly differ), learned from the shipped one (same features: its
embeddings are the shipped model's). Clients upload all the time while `fashion-classifier
models promote` and `models rollback` run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.cassandra_node import cassandra_test_url
from tests.e2e.conftest import ROOT, Server, start_server, stop_server
from tests.e2e.live_uploads import Uploads, models_cli, served_versions
from tests.pictures import dataset_png, first_of_class

onnx = pytest.importorskip("onnx", reason="editing a model's head needs onnx (the train extra)")
numpy_helper = pytest.importorskip("onnx.numpy_helper")

SHIPPED = ROOT / "models" / "fashion_cnn.int8.onnx"
BAG = 8
CLIENTS = 3


def bag_leaning_model(folder: Path, version: str) -> Path:
    """The shipped int8 model with +20 on the Bag logit's bias: every picture becomes a Bag."""
    model = onnx.load(str(SHIPPED))
    for i, initializer in enumerate(model.graph.initializer):
        if initializer.name == "add/y:0":
            bias = numpy_helper.to_array(initializer).copy()
            bias[BAG] += 20.0
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(bias.astype(np.float32), "add/y:0"))
    path = folder / f"{version}.onnx"
    onnx.save(model, str(path))
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    parent = card["version"]
    card.pop("onnx_sha256", None)
    card.update(version=version, embedding_version=parent, learning={"learned_from": parent})
    path.with_suffix(".json").write_text(json.dumps(card))
    return path


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/switch.db"
    else:
        url = cassandra_test_url(f"fc_switch_{uuid.uuid4().hex[:8]}")
    running = start_server(url, tmp_path / "server.log", WEB_CONCURRENCY="2", MODEL_POLL_SECONDS="1")
    yield running, url
    stop_server(running)


def test_promote_and_rollback_reach_every_worker_without_a_failed_upload(
    site: tuple[Server, str], tmp_path: Path
) -> None:
    server, url = site
    shipped = requests.get(f"{server.url}/readyz", timeout=10).json()["model"]
    version = f"bag-{uuid.uuid4().hex[:6]}"
    added = models_cli(url, "add", str(bag_leaning_model(tmp_path, version)))
    assert added.returncode == 0, added.stderr
    uploads = Uploads(server.url)
    clients = uploads.start(CLIENTS)
    try:
        uploads.wait_for(shipped)
        dress = upload(server, dataset_png(first_of_class(3))[0])  # one of a kind, by the shipped model
        before = len(uploads.answers)
        promoted = models_cli(url, "promote", version)
        assert promoted.returncode == 0, promoted.stderr
        uploads.wait_for(version)
        assert requests.get(f"{server.url}/readyz", timeout=10).json()["model"] == version
        assert served_versions(server) == {version}  # every worker's gauge, not just the ones we reached
        assert_search_finds(server, dress, answered_by=version)  # no reindex after a head-only promotion
        rolled_back = models_cli(url, "rollback")
        assert rolled_back.returncode == 0, rolled_back.stderr
        uploads.wait_for(shipped)
        assert requests.get(f"{server.url}/readyz", timeout=10).json()["model"] == shipped
        assert served_versions(server) == {shipped}
    finally:
        uploads.stop(clients)
    assert [a for a in uploads.answers if a[0] != 201] == []
    assert {v for _, v, _ in uploads.answers[before:]} == {shipped, version}
    assert {label for _, v, label in uploads.answers if v == version} == {"Bag"}  # its answers differ
    assert "Coat" in {label for _, v, label in uploads.answers if v == shipped}


def upload(server: Server, picture: bytes) -> str:
    answer = requests.post(f"{server.url}/api/v1/predictions", files={"file": ("d.png", picture)}, timeout=60)
    assert answer.status_code == 201
    return str(answer.json()["predictions"][0]["id"])


def assert_search_finds(server: Server, record_id: str, *, answered_by: str) -> None:
    """The record's picture, searched while `answered_by` answers, finds the record itself first."""
    record = requests.get(f"{server.url}/api/v1/predictions/{record_id}", timeout=30).json()
    picture = requests.get(f"{server.url}{record['image_url']}", timeout=30).content
    found = requests.post(f"{server.url}/api/v1/search", files={"file": ("q.png", picture)}, timeout=60)
    assert found.status_code == 200
    assert found.json()["model_version"] == answered_by
    assert found.json()["similar"][0]["id"] == record_id
    similar = requests.get(f"{server.url}/api/v1/predictions/{record_id}/similar", timeout=30)
    assert similar.status_code == 200 and similar.json()["similar"] != []
