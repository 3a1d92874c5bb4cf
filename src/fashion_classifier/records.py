"""Plain data shared by the service and the stores (no I/O here)."""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fashion_classifier.labels import CLASSES, NOT_A_GARMENT

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidCursor(ValueError):
    """A paging cursor that this service did not hand out."""


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image."""

    label: str
    probabilities: tuple[float, ...]  # one per class, in CLASSES order
    # The verdict "is this one of the ten garments at all?"; None on records made before it.
    garment_score: float | None = None  # in [0, 1], higher = more like a garment
    # False: "not a garment; closest: <label>": `label` is then only the nearest of the ten.
    is_garment: bool | None = None

    @classmethod
    def from_probabilities(
        cls, probabilities: tuple[float, ...], *, garment_score: float | None = None, threshold: float = 0.5
    ) -> Prediction:
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        verdict = None if garment_score is None else garment_score >= threshold
        return cls(CLASSES[best], tuple(probabilities), garment_score, verdict)

    @property
    def confidence(self) -> float:
        return max(self.probabilities)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        ranked = sorted(zip(CLASSES, self.probabilities, strict=True), key=lambda pair: -pair[1])
        return ranked[:k]


@dataclass(frozen=True)
class StoredImage:
    """The uploaded picture as the store keeps it (re-encoded, size-capped)."""

    data: bytes
    content_type: str


@dataclass(frozen=True)
class Record:
    """One classified upload."""

    id: uuid.UUID
    created_at: datetime  # UTC, millisecond precision (what Cassandra keeps)
    filename: str  # the client's name, kept as data only, never as a path
    prediction: Prediction
    model_version: str
    width: int
    height: int
    corrected_label: str | None = None
    # The model's unit-length embedding of the picture (made by model_version), written with the
    # record for similar-picture search; stores never read it back into a Record.
    embedding: tuple[float, ...] | None = field(default=None, compare=False, repr=False)
    # The version the embedding is kept under (None: model_version). A version made by `learn`
    # has its parent's features, so it embeds as its parent did (model card's embedding_version).
    embedding_version: str | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        return self.prediction.label

    @property
    def corrected_not_garment(self) -> bool:
        """A user said the picture is none of the ten garments (corrected_label is NOT_A_GARMENT)."""
        return self.corrected_label == NOT_A_GARMENT

    @property
    def corrected_class(self) -> str | None:
        """The class a user gave, or None (no correction, or "not a garment")."""
        return None if self.corrected_label in (None, NOT_A_GARMENT) else self.corrected_label

    @property
    def embedded_as(self) -> str:
        """The model version whose embeddings this record's embedding is compared with."""
        return self.embedding_version or self.model_version


@dataclass(frozen=True)
class Neighbour:
    """A past upload that looks like the one asked about."""

    record: Record
    similarity: float  # (1 + cosine) / 2, as Cassandra's similarity_cosine: 1 is the same direction


class _UUID7:
    """Time-ordered ids (RFC 9562 version 7): sorting by id sorts by creation time.

    Within one millisecond a 12-bit counter keeps ids of this process increasing, so that
    several pictures of one upload keep their order in "newest first".
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def __call__(self) -> uuid.UUID:
        with self._lock:
            millis = time.time_ns() // 1_000_000
            if millis <= self._last_ms:
                millis, self._counter = self._last_ms, self._counter + 1
                if self._counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                    millis, self._counter = millis + 1, 0
            else:
                self._counter = secrets.randbelow(0x400)  # random start leaves room to count up
            self._last_ms = millis
            value = (millis << 80) | (0x7 << 76) | (self._counter << 64) | (0b10 << 62) | secrets.randbits(62)
        return uuid.UUID(int=value)


new_record_id = _UUID7()


def record_time(record_id: uuid.UUID) -> datetime:
    """The creation time inside a version-7 id."""
    return from_millis(record_id.int >> 80)


def to_millis(moment: datetime) -> int:
    """Milliseconds since the epoch, exact (no float rounding)."""
    delta = moment - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_millis(millis: int) -> datetime:
    return EPOCH + timedelta(milliseconds=millis)


@dataclass(frozen=True)
class Cursor:
    """Position after the last record of a page: newest-first order is (created_at, id) descending."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = f"{to_millis(self.created_at)}:{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            millis, record_id = raw.split(":", 1)
            return cls(from_millis(int(millis)), uuid.UUID(record_id))
        # OverflowError: a forged time beyond what a datetime can hold (huge or far negative).
        except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidCursor(f"cursor {text[:40]!r} is not one this service handed out") from exc

    @classmethod
    def after(cls, record: Record) -> Cursor:
        return cls(record.created_at, record.id)


@dataclass(frozen=True)
class Page:
    """A slice of the history, newest first."""

    records: list[Record] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True)
class ModelVersion:
    """A model version kept in the store, without its ONNX bytes (those: store.model_bytes)."""

    version: str
    created_at: datetime
    created_by: str
    card: dict[str, Any] = field(compare=False)  # the model card (JSON), its figures included
    onnx_sha256: str
    size: int  # bytes of the ONNX file


@dataclass(frozen=True)
class ActiveModel:
    """The pointer every replica follows: the version that answers, since when, and the one before."""

    version: str
    since: datetime
    previous: str | None
