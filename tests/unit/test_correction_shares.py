"""The share of answers users corrected (models page, GET /api/v1/models), over the in-memory store."""

from __future__ import annotations

import json

from fashion_classifier.config import DEFAULT_MODEL_PATH
from fashion_classifier.correction_shares import CorrectionShares, Share, SharesCache, correction_shares
from fashion_classifier.labels import CLASSES, NOT_A_GARMENT
from fashion_classifier.model_overview import card_figures
from fashion_classifier.records import Prediction, Record, new_record_id, record_time
from fashion_classifier.service import PredictionService
from tests.fakes import MemoryStore


def answered(
    store: MemoryStore, label: str, *, version: str = "v1", corrected: str | None = None, garment: bool = True
) -> Record:
    """A record the model answered `label` for (or "not a garment; closest: label"), kept and corrected."""
    record_id = new_record_id()
    probabilities = tuple(1.0 if name == label else 0.0 for name in CLASSES)
    prediction = Prediction.from_probabilities(probabilities, garment_score=0.9 if garment else 0.1)
    record = Record(record_id, record_time(record_id), "x.png", prediction, version, 28, 28)
    store.add(record, None)  # type: ignore[arg-type]  # the counting never reads pictures
    if corrected is not None:
        store.set_correction(record_id, corrected)
    return record


def test_a_correction_counts_only_where_it_differs_from_the_answer_whatever_its_value() -> None:
    store = MemoryStore()
    answered(store, "Coat", corrected="Shirt")
    answered(store, "Coat", corrected="Coat")  # the user confirmed the answer: not a correction
    answered(store, "Coat")
    answered(store, "Bag", corrected=NOT_A_GARMENT)  # a value that is no class name
    answered(store, "Bag", corrected="Hat")  # nor this one, which no correction should say: no crash
    answered(store, "Bag", version="v2", corrected="Ankle boot")
    shares = correction_shares(PredictionService(None, store))
    by_version = {v.version: v for v in shares.versions}
    assert [v.version for v in shares.versions] == ["v2", "v1"]  # the one that answered last first
    assert by_version["v1"].total == Share(answers=5, corrected=3)
    assert by_version["v1"].by_answer["Coat"] == Share(answers=3, corrected=1)
    assert by_version["v1"].by_answer["Bag"] == Share(answers=2, corrected=2)
    assert by_version["v1"].by_answer["Shirt"] == Share(answers=0, corrected=0)
    assert by_version["v1"].by_answer["Shirt"].share is None
    assert by_version["v2"].total.share == 1.0
    assert list(by_version["v2"].by_answer) == [*CLASSES, NOT_A_GARMENT]


def test_a_picture_judged_no_garment_was_answered_not_a_garment() -> None:
    """The page said "not a garment; closest: Bag": agreeing is no correction, naming its class is one."""
    store = MemoryStore()
    answered(store, "Bag", garment=False, corrected=NOT_A_GARMENT)
    answered(store, "Bag", garment=False, corrected="Bag")
    answered(store, "Bag", garment=False)
    (version,) = correction_shares(PredictionService(None, store)).versions
    assert version.by_answer[NOT_A_GARMENT] == Share(answers=3, corrected=1)
    assert version.by_answer["Bag"] == Share(answers=0, corrected=0)


def test_only_the_newest_uploads_of_the_window_are_counted_across_pages() -> None:
    store = MemoryStore()
    oldest = [answered(store, "Trouser", corrected="Dress") for _ in range(30)]
    newest = [answered(store, "Trouser") for _ in range(230)]
    shares = correction_shares(PredictionService(None, store), window=230)  # three pages of at most 100
    assert shares.records == 230 and shares.window == 230
    assert shares.versions[0].total == Share(answers=230, corrected=0)
    assert (shares.oldest, shares.newest) == (newest[0].created_at, newest[-1].created_at)
    everything = correction_shares(PredictionService(None, store))
    assert everything.records == 260 and everything.oldest == oldest[0].created_at
    assert everything.versions[0].total == Share(answers=260, corrected=30)


def test_an_empty_store_has_nothing_to_count() -> None:
    shares = correction_shares(PredictionService(None, MemoryStore()))
    assert (shares.records, shares.oldest, shares.newest, shares.versions) == (0, None, None, [])


def test_the_count_is_kept_about_a_minute_then_counted_again() -> None:
    store = MemoryStore()
    answered(store, "Sandal")
    now = [0.0]
    reads: list[float] = []

    def count() -> CorrectionShares:
        reads.append(now[0])
        return correction_shares(PredictionService(None, store))

    cache = SharesCache(count, seconds=60, clock=lambda: now[0])
    first = cache.get()
    answered(store, "Sandal", corrected="Sneaker")
    now[0] = 59.0
    assert cache.get() is first and first.versions[0].total == Share(1, 0)
    now[0] = 60.0
    assert cache.get().versions[0].total == Share(2, 1)
    assert reads == [0.0, 60.0]


def test_figures_come_from_the_card_and_are_none_where_it_has_none() -> None:
    shipped = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    assert card_figures(shipped) == {
        "test": shipped["test_set"]["accuracy"],
        "studio": shipped["measured"]["studio"]["accuracy"],
        "non_garments": shipped["measured"]["non_garments"]["flagged"],
        "held_back_corrections": None,
    }
    gate = {"test": 0.9391, "studio": 0.872, "held_back": 0.84, "held_back_corrections": 0.71}
    learnt = {**shipped, "learning": {"learned_from": shipped["version"], "gate": {"candidate": gate}}}
    figures = card_figures(learnt)
    assert (figures["test"], figures["studio"], figures["held_back_corrections"]) == (0.9391, 0.872, 0.71)
    assert (
        figures["non_garments"] == shipped["measured"]["non_garments"]["flagged"]
    )  # its parent's garment head
    refitted = {**learnt, "learning": {"gate": {"candidate": {**gate, "non_garments_flagged": 0.9512}}}}
    assert card_figures(refitted)["non_garments"] == 0.9512  # a garment head of its own: its gate's figure
    assert card_figures({"test_set": {"accuracy": "high"}, "learning": "?"}) == dict.fromkeys(figures)
