"""`fashion-classifier copy` takes the model versions (bytes and cards) and which one is active."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from fashion_classifier.cli import main
from fashion_classifier.storage import PredictionStore, open_store
from tests.cassandra_node import cassandra_test_url


def migrated(url: str) -> PredictionStore:
    store = open_store(url, consistency="ONE")
    store.migrate()
    return store


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/target.db"
    return cassandra_test_url(f"fc_copy_models_{uuid.uuid4().hex[:8]}")


def test_copy_takes_every_version_and_the_active_one_and_a_second_copy_writes_none(
    tmp_path: Path,
    target_url: str,
    model_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source_url = f"sqlite:///{tmp_path}/source.db"
    monkeypatch.setenv("DATABASE_URL", source_url)
    monkeypatch.setenv("MODEL_PATH", str(model_path))
    assert main(["migrate"]) == 0  # registers the shipped model, active
    second = tmp_path / "second.onnx"
    second.write_bytes(model_path.read_bytes())
    card = {**json.loads(model_path.with_suffix(".json").read_text()), "version": "second"}
    second.with_suffix(".json").write_text(json.dumps(card))
    assert main(["models", "add", str(second), "--promote"]) == 0
    source, target = migrated(source_url), migrated(target_url)
    capsys.readouterr()

    assert main(["copy", source_url, target_url]) == 0
    assert main(["copy", source_url, target_url]) == 0
    out = capsys.readouterr().out
    assert "model versions: 3 read, 3 written" in out  # two versions, then the pointer...
    assert "model versions: 3 read, 0 written" in out  # ...and the second copy finds them all

    assert target.model_versions() == source.model_versions()
    assert target.model_bytes("second") == model_path.read_bytes()
    active = target.active_model()
    assert active is not None and active.version == "second"
