"""Model versions through the service (the in-memory store): register, promote, roll back, follow.

The stores' own side (both stores, real Cassandra) is in test_store_contract.py; a live switch
on a running server in tests/e2e/test_model_switch.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from fashion_classifier.cli import main
from fashion_classifier.model_registry import (
    InvalidModel,
    NothingToRollBack,
    PromotionConflict,
    UnknownModelVersion,
)
from fashion_classifier.records import Record
from fashion_classifier.service import PredictionService, Upload
from tests.fakes import MemoryStore
from tests.pictures import dataset_png, first_of_class


@pytest.fixture
def shipped(model_path: Path) -> bytes:
    return model_path.read_bytes()


@pytest.fixture
def seeded(service: PredictionService, model_path: Path) -> str:
    """The registry as `migrate` leaves it: the shipped model, active."""
    first = service.models.seed(model_path, created_by="test")
    assert first is not None
    return first.version


def head_only_card(service: PredictionService, version: str) -> dict[str, object]:
    """A card as `learn` writes it: a new version with its parent's features."""
    parent = service.model_version
    return {**service.model_card(), "version": version, "embedding_version": parent, "onnx_sha256": None}


def coat(service: PredictionService) -> Record:
    png, _ = dataset_png(first_of_class(4))
    return service.classify([Upload("coat.png", png)])[0]


def test_migrate_registers_the_shipped_model_once_and_it_keeps_answering(
    service: PredictionService, model_path: Path, seeded: str
) -> None:
    assert seeded == service.model_version
    assert service.models.seed(model_path, created_by="test") is None  # a second migrate adds nothing
    active = service.models.active()
    assert active is not None and (active.version, active.previous) == (seeded, None)


def test_promoting_an_unknown_version_says_so_and_changes_nothing(
    service: PredictionService, seeded: str
) -> None:
    with pytest.raises(UnknownModelVersion, match=r"no model version 'v-typo'.*models list"):
        service.models.promote("v-typo")
    with pytest.raises(UnknownModelVersion, match=r"no model version 'v-typo'"):
        service.models.read("v-typo")
    active = service.models.active()
    assert active is not None and active.version == seeded


def test_rollback_with_nothing_before_says_so(service: PredictionService, seeded: str) -> None:
    with pytest.raises(NothingToRollBack, match="nothing to roll back to"):
        service.models.rollback()


def test_promote_then_rollback_then_rollback_again(
    service: PredictionService, seeded: str, shipped: bytes
) -> None:
    service.models.register(shipped, head_only_card(service, "v2"), created_by="test")
    assert service.models.promote("v2").version == "v2"
    kept, onnx = service.models.read("v2")  # what `learn` starts from: the active version's bytes
    assert (kept.version, kept.created_by, onnx) == ("v2", "test", shipped)
    back = service.models.rollback()
    assert (back.version, back.previous) == (seeded, "v2")
    assert service.models.rollback().version == "v2"  # a second rollback undoes the first


def test_a_promotion_that_loses_the_race_says_so(
    service: PredictionService, store: MemoryStore, seeded: str, shipped: bytes
) -> None:
    for name in ("v2", "v3"):
        service.models.register(shipped, head_only_card(service, name), created_by="test")
    set_active = store.set_active

    def another_promotion_first(version: str, *, expected: str | None) -> bool:
        assert set_active("v3", expected=expected)  # the other one wins between our read and our write
        return set_active(version, expected=expected)

    store.set_active = another_promotion_first  # type: ignore[method-assign]
    with pytest.raises(PromotionConflict, match="another promotion won: it is now v3"):
        service.models.promote("v2")
    active = service.models.active()
    assert active is not None and active.version == "v3"


def test_a_version_is_kept_once_and_only_if_it_can_answer(
    service: PredictionService, seeded: str, shipped: bytes
) -> None:
    with pytest.raises(InvalidModel, match="kept already"):
        service.models.register(shipped, head_only_card(service, seeded), created_by="test")
    with pytest.raises(InvalidModel, match="not a model this service can answer with"):
        service.models.register(b"not onnx", head_only_card(service, "v-bad"), created_by="test")
    with pytest.raises(InvalidModel, match="describes another ONNX file"):
        service.models.register(
            shipped, {**head_only_card(service, "v-x"), "onnx_sha256": "0" * 64}, created_by="t"
        )
    with pytest.raises(InvalidModel, match="not a version name"):
        service.models.register(shipped, {"version": "../etc"}, created_by="test")
    assert [m.version for m in service.models.list()] == [seeded]


def test_a_worker_follows_a_promotion_and_similar_search_keeps_working(
    service: PredictionService, seeded: str, shipped: bytes
) -> None:
    before = coat(service)
    service.models.register(shipped, head_only_card(service, "v2"), created_by="test")
    watcher = service.follow_active_model(every=3600)
    assert watcher.check() is None  # nothing changed yet
    service.models.promote("v2")
    assert watcher.check() == "v2"
    after = coat(service)
    assert service.model_version == after.model_version == "v2"
    # v2 embeds as the shipped model did: records of both sides of the switch meet, no reindex.
    assert [n.record.id for n in service.similar(before.id, limit=5)] == [after.id]
    found = service.search(Upload("coat.png", dataset_png(first_of_class(4))[0]), limit=5)
    assert {n.record.id for n in found} == {before.id, after.id}
    watcher.stop()


def test_while_the_store_is_down_the_current_model_answers_and_the_log_says_so_once(
    service: PredictionService, store: MemoryStore, seeded: str, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = service.follow_active_model(every=3600)
    store.down = True
    with caplog.at_level(logging.WARNING):
        assert watcher.check() is None
        assert watcher.check() is None
    assert len([r for r in caplog.records if "keeps answering" in r.message]) == 1
    assert service.model_version == seeded
    watcher.stop()


def test_the_cli_gives_status_2_and_one_line_for_an_unknown_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], model_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("MODEL_PATH", str(model_path))
    assert main(["migrate"]) == 0
    assert main(["models", "promote", "v-typo"]) == 2
    assert main(["models", "rollback"]) == 2
    assert main(["models", "list"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "fashion-classifier models: no model version 'v-typo' is kept: `fashion-classifier models list` shows them",
        "fashion-classifier models: no version answered before the active one: nothing to roll back to "
        "(`fashion-classifier models promote VERSION` chooses one)",
    ]
    version = json.loads(model_path.with_suffix(".json").read_text())["version"]
    assert f"{version}  active" in out


def test_an_active_version_that_cannot_open_leaves_the_current_model_answering(
    service: PredictionService, store: MemoryStore, seeded: str, caplog: pytest.LogCaptureFixture
) -> None:
    kept = service.models.list()[0]
    store.add_model_version(dataclasses.replace(kept, version="v-broken"), b"damaged bytes")
    service.models.promote("v-broken")
    with caplog.at_level(logging.ERROR):
        watcher = service.follow_active_model(every=3600)  # at a worker's start: it starts all the same
        assert watcher.check() is None
    assert service.model_version == seeded and coat(service).model_version == seeded
    assert len([r for r in caplog.records if "cannot open the active model version" in r.message]) == 1
    watcher.stop()
