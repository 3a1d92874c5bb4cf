"""What users said, read through the service: corrected uploads and uploads left standing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from fashion_classifier.labels import CLASSES, CORRECTIONS, NOT_A_GARMENT
from fashion_classifier.preprocessing import InvalidImage, preprocess_bytes
from fashion_classifier.records import Record
from fashion_classifier.service import MAX_PAGE_SIZE, PredictionService, RecordNotFound

NOT_GARMENT = -1  # Judged.label of a picture a user said is none of the ten garments


@dataclass(frozen=True)
class Judged:
    """One upload and the class a user gave it (a correction) or let stand (no correction).

    `flagged`: the upload was judged not a garment (keyword only, after any field with a default).
    """

    created_at: datetime
    picture: np.ndarray  # the model input, (28, 28, 1)
    label: int  # a class index, or NOT_GARMENT: a user said it is none of the ten
    corrected: bool
    record_id: uuid.UUID | None = None  # to look up who sent its correction (learning/weights.py)
    flagged: bool = False

    @property
    def corrects_verdict(self) -> bool:
        """A correction about the verdict: "not a garment", or a class for a picture flagged as none."""
        return self.corrected and (self.label == NOT_GARMENT or self.flagged)


@dataclass
class Reading:
    """Everything read, oldest first, and what had to be skipped."""

    judged: list[Judged] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    @property
    def corrections(self) -> int:
        return sum(item.corrected for item in self.judged)

    @property
    def verdict_corrections(self) -> int:
        return sum(item.corrects_verdict for item in self.judged)


def read_judged(service: PredictionService, *, max_uncorrected: int) -> Reading:
    """Every correction, and up to `max_uncorrected` of the newest uploads nobody corrected.

    An upload judged not to be a garment is left out unless corrected: that the user let its
    closest class stand says nothing. A "not a garment" correction has the label NOT_GARMENT.
    """
    reading = Reading()
    for record in _uploads(service, max_uncorrected):
        if record.corrected_label is None and record.prediction.is_garment is False:
            continue
        label = record.corrected_label or record.label
        if label not in CORRECTIONS:
            reading.skip("label not one of the ten classes")
            continue
        picture = _picture(service, record, reading)
        if picture is not None:
            reading.judged.append(
                Judged(
                    record.created_at,
                    picture,
                    NOT_GARMENT if label == NOT_A_GARMENT else CLASSES.index(label),
                    record.corrected_label is not None,
                    record.id,
                    flagged=record.prediction.is_garment is False,
                )
            )
    reading.judged.sort(key=lambda item: item.created_at)
    return reading


def _uploads(service: PredictionService, max_uncorrected: int) -> Iterator[Record]:
    """Corrected records (all of them), then the newest uncorrected ones."""
    yield from service.corrected_records()
    taken, cursor = 0, None
    while taken < max_uncorrected:
        page = service.history(limit=MAX_PAGE_SIZE, cursor=cursor)
        for record in page.records:
            if record.corrected_label is None and taken < max_uncorrected:
                taken += 1
                yield record
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _picture(service: PredictionService, record: Record, reading: Reading) -> np.ndarray | None:
    try:
        stored = service.image(record.id)
    except RecordNotFound:
        reading.skip("picture missing")
        return None
    try:
        return preprocess_bytes(stored.data)[0]
    except InvalidImage:
        reading.skip("picture unreadable")
        return None
