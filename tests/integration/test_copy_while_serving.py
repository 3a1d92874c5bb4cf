"""`copy` while the source keeps serving: uploads and corrections made during the copy."""

from __future__ import annotations

from pathlib import Path

from fashion_classifier.config import Settings
from fashion_classifier.copying import Checkpoint, Progress, copy, count_check
from fashion_classifier.inference import Classifier
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.storage import open_store
from fashion_classifier.storage.transfer import open_for_copy
from tests.pictures import dataset_png


def test_uploads_during_the_copy_are_taken_and_a_later_correction_by_the_next_run(
    tmp_path: Path, classifier: Classifier
) -> None:
    source_url, target_url = f"sqlite:///{tmp_path}/serving.db", f"sqlite:///{tmp_path}/copy.db"
    for url in (source_url, target_url):
        open_store(url).migrate()
    serving = PredictionService(classifier, open_store(source_url))
    first = serving.classify([Upload(f"{i}.png", dataset_png(i)[0]) for i in range(6)])
    during: list[str] = []

    def meanwhile(progress: Progress) -> None:
        if progress.seen == 2:  # the service goes on between two pages of the copy
            during.extend(r.filename for r in serving.classify([Upload("during.png", dataset_png(9)[0])]))
            serving.correct(first[0].id, "Bag")  # a record the copy has already passed

    source, target = (
        open_for_copy(source_url, Settings(), role="source"),
        open_for_copy(target_url, Settings(), role="target"),
    )
    checkpoint = Checkpoint.for_pair(source_url, target_url, tmp_path / "checkpoint.json")
    (done, _) = copy(source, target, checkpoint=checkpoint, page_size=2, report=meanwhile)
    assert during == ["during.png"] and (done.seen, done.written) == (7, 7)
    copied = open_store(target_url)
    assert "during.png" in {r.filename for r in copied.list(limit=20).records}
    copied_first = copied.get(first[0].id)
    assert copied_first is not None and copied_first.corrected_label is None
    assert count_check(source, target).missing == {"corrections": 1}

    (again, _) = copy(source, target, checkpoint=checkpoint, page_size=2)
    assert (again.written, again.unchanged) == (1, 6)  # only the corrected record is written again
    copied_first = copied.get(first[0].id)
    assert copied_first is not None and copied_first.corrected_label == "Bag"
    assert count_check(source, target).missing == {}
