"""The model we ship, measured on the real test set and on product-style photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_classifier import classify_imgpath, predict_imgpath
from fashion_classifier.config import FLOAT_MODEL_PATH
from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES
from fashion_classifier.training import outliers, photos, studio, verdict
from tests.pictures import fmnist_test

pytestmark = pytest.mark.slow


def test_test_set_accuracy_through_predict_imgpath_on_png_files(tmp_path: Path) -> None:
    test = fmnist_test()
    correct = kept = 0
    for index, (image, label) in enumerate(zip(test.images, test.labels, strict=True)):
        path = tmp_path / f"{index}.png"
        Image.fromarray(image).save(path)
        answer = predict_imgpath(path)
        assert answer in CLASSES
        correct += answer == CLASSES[label]
        kept += bool(classify_imgpath(path).is_garment)
    accuracy, kept_share = correct / len(test.labels), kept / len(test.labels)
    print(f"test-set top-1 through predict_imgpath: {accuracy:.2%}; judged garments: {kept_share:.2%}")
    # 93.93% measured for the shipped model (2026-11-26); issue 10's target of 94% is not met yet.
    assert accuracy >= 0.935
    assert kept_share >= 0.98


def test_studio_photos_no_one_tuned_on_are_classified_and_kept_as_garments(classifier: Classifier) -> None:
    # Renderer B (training/studio.py) shares no code with the renderer the model trained on.
    test = fmnist_test()
    shots = studio.shoot_set(test.images, test.labels, per_kind=240, seed=31337)
    predictions = [classifier.predict_bytes(shot.data) for shot in shots]
    hits = np.array([p.label == CLASSES[s.label] for p, s in zip(predictions, shots, strict=True)])
    kinds = np.array([s.kind for s in shots])
    by_kind = {kind: f"{hits[kinds == kind].mean():.1%}" for kind in studio.KINDS}
    kept = np.mean([p.is_garment for p in predictions])
    print(f"studio photos top-1: {hits.mean():.2%} by kind {by_kind}; judged garments: {kept:.2%}")
    # 86.65% on the card's 2,000 and 85.17% on these 1,200 (the model before fine-tuning: 73.9%);
    # the 90% target is not met yet.
    assert hits.mean() >= 0.84
    assert kept >= 0.97


@pytest.mark.parametrize("family", outliers.FAMILIES)
def test_non_garments_from_sources_never_trained_on_score_below_garments(
    classifier: Classifier, family: str
) -> None:
    uploads = outliers.pictures(family, 120, split="eval", seed=4242)
    others = np.array([classifier.predict_bytes(upload).garment_score for upload in uploads], dtype=float)
    test = fmnist_test()
    _, garment_scores = classifier.probabilities_and_scores(test.images[:2000, ..., None] / 255.0)
    assert garment_scores is not None
    separation = verdict.auroc(garment_scores, others)
    flagged = float(np.mean(others < 0.5))
    print(f"{family}: AUROC {separation:.3f}, {flagged:.1%} flagged as not a garment")
    # On the card's 300 a family: AUROC 0.997 (photographs) to 1.000, and 77.7% (photographs) to
    # 100% (text) flagged; issue 10 asks for 80% in every family.
    assert separation >= 0.98
    assert flagged >= 0.70


def test_accuracy_on_rendered_product_photos(classifier: Classifier) -> None:
    # 3,000 photos: the estimate's standard error is about 0.5 points; 1,500 photos of one seed
    # gave 89.9% where other seeds gave 91-92%, too noisy to hold a 90% bar against.
    test = fmnist_test()
    rendered = photos.render_set(test.images, test.labels, count=3000, seed=2026)
    hits = [classifier.predict_bytes(p.data).label == CLASSES[p.label] for p in rendered]
    by_kind = {
        kind: f"{np.mean([h for h, p in zip(hits, rendered, strict=True) if p.kind == kind]):.1%}"
        for kind in sorted({p.kind for p in rendered})
    }
    print(f"photos top-1: {np.mean(hits):.2%} by kind {by_kind}")
    assert np.mean(hits) >= 0.90


def test_model_cards_tell_the_truth(model_path: Path, classifier: Classifier) -> None:
    test = fmnist_test()
    served = classifier.dataset_probabilities(test.images)
    card = json.loads(model_path.with_suffix(".json").read_text())
    assert abs(card["test_set"]["accuracy"] - float(np.mean(served.argmax(1) == test.labels))) < 1e-9
    assert card["classes"] == list(CLASSES)
    assert card["version"] == classifier.version

    # The served model is the int8 quantisation of the float model exported from Keras.
    float_classifier = Classifier.load(FLOAT_MODEL_PATH)
    float_card = json.loads(FLOAT_MODEL_PATH.with_suffix(".json").read_text())
    float_probs = float_classifier.dataset_probabilities(test.images)
    assert (
        abs(float_card["test_set"]["accuracy"] - float(np.mean(float_probs.argmax(1) == test.labels))) < 1e-9
    )
    assert float_card["export_parity"]["top1_agreement"] == 1.0
    assert float_card["export_parity"]["max_abs_probability_difference"] < 1e-4
    agreement = float(np.mean(float_probs.argmax(1) == served.argmax(1)))
    assert card["quantization"]["float_model"]["version"] == float_classifier.version
    assert abs(card["quantization"]["top1_agreement_with_float"] - agreement) < 1e-9
    # 99.84%: the first convolution stays float (quantize.py); quantised, it cost 0.9 points.
    assert agreement >= 0.99


def test_model_card_states_the_verdict_threshold_and_the_figures_it_was_chosen_without(
    model_path: Path,
) -> None:
    card = json.loads(model_path.with_suffix(".json").read_text())
    verdict = card["garment_verdict"]
    assert verdict["method"] in ("msp", "energy", "mahalanobis", "head")
    assert "validation" in verdict["threshold_chosen_on"]
    measured = card["measured"]
    assert measured["non_garments"]["auroc"] >= 0.98
    assert set(measured["non_garments"]["families"]) == set(outliers.FAMILIES)
    train, evaluation = (
        card["outlier_sources"]["train (exposure, threshold)"],
        card["outlier_sources"]["eval (reported only)"],
    )
    assert not set(train["photos"]) & set(evaluation["photos"])
    assert not set(train["fonts"]) & set(evaluation["fonts"])
    assert not set(train["icon_themes"]) & set(evaluation["icon_themes"])
    # Clip art trained on as "not a garment" never holds Tux Paint's clothes.
    assert not [kind for kind in train.get("clip_art", []) if "cloth" in kind]
