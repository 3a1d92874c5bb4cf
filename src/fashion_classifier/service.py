"""Classify uploads and record them: the one place where model and store meet."""

from __future__ import annotations

import io
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image

from fashion_classifier.inference import Classifier
from fashion_classifier.kept_jpeg import without_metadata
from fashion_classifier.labels import class_index
from fashion_classifier.preprocessing import (
    WORK_SIDE,
    ImageTooLarge,
    InvalidImage,
    load_image,
    normalise_mode,
    pixel_count,
    to_model_input,
)
from fashion_classifier.records import Page, Record, StoredImage, new_record_id, record_time
from fashion_classifier.storage import MAX_PAGE_SIZE, PredictionStore

MAX_FILENAME_LENGTH = 255


class RecordNotFound(LookupError):
    """No record has that id."""


class BadRequest(ValueError):
    """The request itself is wrong (no file, too many files, unknown class...)."""


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_pixels: int = 24_000_000  # one picture
    max_request_pixels: int = 48_000_000  # all pictures of one request together
    max_files: int = 16
    stored_image_max_side: int = 1024


@dataclass(frozen=True)
class _Prepared:
    """What is kept of one upload once its decoded pixels are freed."""

    model_input: np.ndarray
    width: int
    height: int
    stored: StoredImage


class PredictionService:
    """Checks pictures, predicts their class, keeps every result in the store."""

    def __init__(
        self,
        classifier: Classifier,
        store: PredictionStore,
        *,
        limits: Limits | None = None,
    ) -> None:
        self.classifier = classifier
        self.store = store
        self.limits = limits or Limits()

    def classify(self, uploads: Sequence[Upload]) -> list[Record]:
        """Classify and keep every picture, or none: one bad file rejects the whole request.

        Pictures are decoded one at a time, each freed before the next (memory holds one).
        """
        self._check_request(uploads)
        prepared = [self._prepare(upload) for upload in uploads]
        predictions = self.classifier.predict_batch(np.concatenate([p.model_input for p in prepared]))
        records = []
        for upload, picture, prediction in zip(uploads, prepared, predictions, strict=True):
            record_id = new_record_id()
            record = Record(
                id=record_id,
                created_at=record_time(record_id),
                filename=clean_filename(upload.filename),
                prediction=prediction,
                model_version=self.classifier.version,
                width=picture.width,
                height=picture.height,
            )
            records.append(record)
        self.store.add_many([(record, p.stored) for record, p in zip(records, prepared, strict=True)])
        return records

    def _check_request(self, uploads: Sequence[Upload]) -> None:
        """Count, bytes and pixels of every file, from headers alone, before any is decoded."""
        if not uploads:
            raise BadRequest("no file was sent; attach a picture in the form field 'file'")
        if len(uploads) > self.limits.max_files:
            raise BadRequest(f"{len(uploads)} files sent; send at most {self.limits.max_files} at once")
        total = 0
        for upload in uploads:
            with _named(upload):
                pixels = pixel_count(upload.data)
                if pixels > self.limits.max_pixels:
                    raise ImageTooLarge(
                        f"the picture has {pixels / 1e6:.0f} megapixels; the limit is "
                        f"{self.limits.max_pixels / 1e6:.0f} megapixels"
                    )
            total += pixels
        if total > self.limits.max_request_pixels:
            raise ImageTooLarge(
                f"the pictures add up to {total / 1e6:.0f} megapixels; one request may hold at most "
                f"{self.limits.max_request_pixels / 1e6:.0f}: send fewer or smaller pictures at once"
            )

    def _prepare(self, upload: Upload) -> _Prepared:
        """Decode one picture, derive the model input and the copy to keep; its pixels go after."""
        max_side = self.limits.stored_image_max_side
        with _named(upload):
            # A plain JPEG is kept as sent less its metadata: then only the model needs pixels,
            # and only its brightness at a quarter of the size or less.
            as_sent = without_metadata(upload.data, max_side=max_side)
            checked = load_image(
                upload.data,
                max_pixels=self.limits.max_pixels,
                min_side=max_side if as_sent is None else WORK_SIDE * 2,
                grey=as_sent is not None,
            )
        if as_sent is None:
            stored = stored_copy(checked.image, max_side=max_side)
        else:
            stored = StoredImage(as_sent, "image/jpeg")
        return _Prepared(to_model_input(checked.image), checked.width, checked.height, stored)

    def history(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        label: str | None = None,
        garment: bool | None = None,
    ) -> Page:
        """Newest first; `garment` keeps records with that verdict (records without one never match)."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise BadRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if label is not None:
            _check_class(label)
        return self.store.list(limit=limit, cursor=cursor, label=label, garment=garment)

    def get(self, record_id: uuid.UUID) -> Record:
        record = self.store.get(record_id)
        if record is None:
            raise RecordNotFound(f"no prediction with id {record_id}")
        return record

    def image(self, record_id: uuid.UUID) -> StoredImage:
        image = self.store.image(record_id)
        if image is None:
            raise RecordNotFound(f"no picture for prediction {record_id}")
        return image

    def correct(self, record_id: uuid.UUID, label: str) -> Record:
        """Keep the user's 'wrong, it is a ...' answer with the record."""
        _check_class(label)
        record = self.store.set_correction(record_id, label)
        if record is None:
            raise RecordNotFound(f"no prediction with id {record_id}")
        return record


@contextmanager
def _named(upload: Upload) -> Iterator[None]:
    """Picture errors keep their type (the web layer maps types to status codes), message names the file."""
    try:
        yield
    except InvalidImage as exc:
        raise type(exc)(f"{clean_filename(upload.filename)[:80] or 'upload'}: {exc}") from None


# Control and format characters (bidi overrides such as U+202E, zero-width spaces and joiners)
# and line separators: they make a name show as something it is not ("gpj.exe" read backwards).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def clean_filename(name: str | None) -> str:
    """The client's file name as plain data: no control, format or bidi characters, bounded length."""
    text = "".join(ch for ch in (name or "") if unicodedata.category(ch) not in HIDDEN_CATEGORIES)
    return text.strip()[:MAX_FILENAME_LENGTH]


def stored_copy(image: Image.Image, *, max_side: int) -> StoredImage:
    """Re-encode the picture for keeping: bounded size, no metadata, none of the client's bytes."""
    copy = normalise_mode(image)
    if max(copy.size) > max_side:
        copy = copy.copy()  # thumbnail() shrinks in place; the caller's picture stays as it was
        copy.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if copy.mode == "RGBA":
        copy.save(buffer, format="PNG", optimize=True)
        return StoredImage(buffer.getvalue(), "image/png")
    copy.save(buffer, format="JPEG", quality=88)
    return StoredImage(buffer.getvalue(), "image/jpeg")


def _check_class(label: str) -> None:
    try:
        class_index(label)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
