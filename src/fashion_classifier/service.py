"""Classify uploads and record them: the one place where model and store meet."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from fashion_classifier import similar
from fashion_classifier.clients import ClientHasher
from fashion_classifier.config import Limits, Settings
from fashion_classifier.inference import Classifier
from fashion_classifier.kept_copy import clean_filename, stored_copy
from fashion_classifier.kept_jpeg import without_metadata
from fashion_classifier.labels import check_correction, class_index
from fashion_classifier.preprocessing import (
    WORK_SIDE,
    ImageTooLarge,
    InvalidImage,
    load_image,
    pixel_count,
    to_model_input,
)
from fashion_classifier.records import Neighbour, Page, Record, StoredImage, new_record_id, record_time
from fashion_classifier.service_models import ServiceModels
from fashion_classifier.storage import MAX_PAGE_SIZE, PredictionStore, StoreUnavailable, store_from_settings
from fashion_classifier.storage.base import LoggedCorrection

__all__ = ["BadRequest", "Limits", "PredictionService", "RecordNotFound", "Upload"]
log = logging.getLogger(__name__)


class RecordNotFound(LookupError):
    """No record has that id."""


class BadRequest(ValueError):
    """The request itself is wrong (no file, too many files, unknown class...)."""


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class _Prepared:
    """What is kept of one upload once its decoded pixels are freed."""

    model_input: np.ndarray
    width: int
    height: int
    stored: StoredImage


class PredictionService(ServiceModels):
    """Checks pictures, predicts their class, keeps every result in the store.

    The one door to the model and the store: the web app, the CLI and the batch commands
    build it with from_settings() and never touch either themselves.
    """

    def __init__(
        self,
        classifier: Classifier | None,
        store: PredictionStore,
        *,
        limits: Limits | None = None,
        clients: ClientHasher | None = None,
    ) -> None:
        self._classifier = classifier  # None: opened for store work only (migrate, export)
        self._store = store
        self._limits = limits or Limits()
        self._clients = clients or ClientHasher.random()

    @classmethod
    def from_settings(cls, settings: Settings, *, with_model: bool = True) -> PredictionService:
        """The model (unless `with_model` is false) and the store that `settings` name; the store connects lazily."""
        classifier = Classifier.load(settings.model_path) if with_model else None
        clients = ClientHasher.from_settings(settings)
        return cls(classifier, store_from_settings(settings), limits=settings.limits, clients=clients)

    # -- what the web app's probes and pages ask (the model's side: service_models.py) -----------

    def check_schema(self) -> None:
        """Raise SchemaNotReady (a StoreUnavailable) while the store's schema is too old to serve."""
        self._store.check_schema()

    def check_ready(self) -> None:
        """Raise StoreUnavailable (or SchemaNotReady) unless the store answers now and is migrated."""
        self._store.ping()
        self._store.check_schema()

    def warm_up(self) -> None:
        """Connect to the store and read its schema now, at a worker's boot, not in its first request.

        On a cluster just started, first requests that also opened the session missed the store's
        deadline (tests/cluster/test_concurrent_start.py). A store not reachable yet is left to
        the first request, which answers 503 until it is.
        """
        try:
            self.check_ready()
        except StoreUnavailable as exc:
            log.warning("store not ready at start (requests will retry): %s", exc)

    # -- store maintenance (CLI) -----------------------------------------------------------

    def migrate(self, *, target: int | None = None, only_if_new: bool = False) -> list[str]:
        """Apply the pending schema migrations (up to `target`); returns their names.

        `only_if_new`: only when the store has no schema at all (a brand-new embedded store).
        """
        if only_if_new and self._store.schema_version() > 0:
            return []
        return self._store.migrate(target=target)

    def schema_version(self) -> int:
        return self._store.schema_version()

    def corrected_records(self) -> Iterator[Record]:
        """Every corrected record, oldest first (its picture may be gone: ask `image`)."""
        return iter(self._store.corrected())

    def corrected_pictures(self) -> Iterator[tuple[Record, StoredImage]]:
        """Every corrected record with its picture, oldest first (for a retraining set)."""
        for record in self._store.corrected():
            image = self._store.image(record.id)
            if image is not None and record.corrected_label is not None:
                yield record, image

    def close(self) -> None:
        self._store.close()

    # -- use cases -------------------------------------------------------------------------

    def classify(self, uploads: Sequence[Upload]) -> list[Record]:
        """Classify and keep every picture, or none: one bad file rejects the whole request.

        Pictures are decoded one at a time, each freed before the next (memory holds one).
        """
        self._check_request(uploads)
        prepared = [self._prepare(upload) for upload in uploads]
        model = self._model  # this request's, to its end, whatever a model switch does meanwhile
        predictions, embeddings = model.predict_and_embed(np.concatenate([p.model_input for p in prepared]))
        records = []
        for i, (upload, picture, prediction) in enumerate(zip(uploads, prepared, predictions, strict=True)):
            record_id = new_record_id()
            record = Record(
                id=record_id,
                created_at=record_time(record_id),
                filename=clean_filename(upload.filename),
                prediction=prediction,
                model_version=model.version,
                width=picture.width,
                height=picture.height,
                embedding=None if embeddings is None else similar.to_vector(embeddings[i]),
                embedding_version=model.embedding_version,
            )
            records.append(record)
        self._store.add_many([(record, p.stored) for record, p in zip(records, prepared, strict=True)])
        return records

    def _check_request(self, uploads: Sequence[Upload]) -> None:
        """Count, bytes and pixels of every file, from headers alone, before any is decoded."""
        if not uploads:
            raise BadRequest("no file was sent; attach a picture in the form field 'file'")
        if len(uploads) > self._limits.max_files_per_request:
            raise BadRequest(
                f"{len(uploads)} files sent; send at most {self._limits.max_files_per_request} at once"
            )
        total = 0
        for upload in uploads:
            with _named(upload):
                pixels = pixel_count(upload.data)
                if pixels > self._limits.max_pixels:
                    raise ImageTooLarge(
                        f"the picture has {pixels / 1e6:.0f} megapixels; the limit is "
                        f"{self._limits.max_pixels / 1e6:.0f} megapixels"
                    )
            total += pixels
        if total > self._limits.max_request_pixels:
            raise ImageTooLarge(
                f"the pictures add up to {total / 1e6:.0f} megapixels; one request may hold at most "
                f"{self._limits.max_request_pixels / 1e6:.0f}: send fewer or smaller pictures at once"
            )

    def _prepare(self, upload: Upload) -> _Prepared:
        """Decode one picture, derive the model input and the copy to keep; its pixels go after."""
        max_side = self._limits.stored_image_max_side
        with _named(upload):
            # A plain JPEG is kept as sent less its metadata: then only the model needs pixels,
            # and only its brightness at a quarter of the size or less.
            as_sent = without_metadata(upload.data, max_side=max_side)
            checked = load_image(
                upload.data,
                max_pixels=self._limits.max_pixels,
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
        return self._store.list(limit=limit, cursor=cursor, label=label, garment=garment)

    def get(self, record_id: uuid.UUID) -> Record:
        record = self._store.get(record_id)
        if record is None:
            raise RecordNotFound(f"no prediction with id {record_id}")
        return record

    def image(self, record_id: uuid.UUID) -> StoredImage:
        image = self._store.image(record_id)
        if image is None:
            raise RecordNotFound(f"no picture for prediction {record_id}")
        return image

    def correct(self, record_id: uuid.UUID, label: str, *, client: str | None = None) -> Record:
        """Keep the user's 'wrong, it is a ...': a class, or labels.NOT_A_GARMENT."""
        try:
            check_correction(label)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        record = self._store.set_correction(record_id, label)
        if record is None:
            raise RecordNotFound(f"no prediction with id {record_id}")
        # Who sent it (`client`: the sender's address, of which the log keeps a keyed hash) and when.
        self._store.log_correction(LoggedCorrection.now(record_id, self._clients(client), label))
        return record

    def correction_log(self, record_ids: Sequence[uuid.UUID]) -> list[LoggedCorrection]:
        """Who sent the corrections of these records, and when (none made before the log existed)."""
        return self._store.correction_log(record_ids)

    def similar(self, record_id: uuid.UUID, *, limit: int) -> list[Neighbour]:
        """Past uploads that look like this record's picture, closest first (not the record itself)."""
        _check_similar_limit(limit)
        model = self._model  # embeddings compared are all by model.embedding_version
        vector = self._store.embedding(record_id, model_version=model.embedding_version)
        if vector is None:  # kept before embeddings existed, or by another model: from its picture
            vector = similar.embed_picture(model, self.image(record_id), max_pixels=self._limits.max_pixels)
        return similar.nearest(
            self._store, vector, model_version=model.embedding_version, limit=limit, exclude=record_id
        )

    def search(self, upload: Upload, *, limit: int) -> list[Neighbour]:
        """Past uploads that look like this picture; the picture itself is not kept."""
        _check_similar_limit(limit)
        self._check_request([upload])
        model = self._model
        vector = similar.to_vector(model.embed(self._prepare(upload).model_input)[0])
        return similar.nearest(self._store, vector, model_version=model.embedding_version, limit=limit)

    def reindex(self, **options: Any) -> Any:
        """`fashion-classifier reindex`: see reindex.reindex."""
        from fashion_classifier.reindex import reindex

        return reindex(self._model, self._store, max_pixels=self._limits.max_pixels, **options)


def _check_similar_limit(limit: int) -> None:
    if not 1 <= limit <= similar.MAX_SIMILAR:
        raise BadRequest(f"limit must be between 1 and {similar.MAX_SIMILAR}")


@contextmanager
def _named(upload: Upload) -> Iterator[None]:
    """Picture errors keep their type (the web layer maps types to status codes), message names the file."""
    try:
        yield
    except InvalidImage as exc:
        raise type(exc)(f"{clean_filename(upload.filename)[:80] or 'upload'}: {exc}") from None


def _check_class(label: str) -> None:
    try:
        class_index(label)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
