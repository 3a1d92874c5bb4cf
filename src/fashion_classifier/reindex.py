"""`fashion-classifier reindex`: embeddings by the current model for every kept picture.

Safe while the service runs and resumable: it pages through the history (newest first, the
same reads the history page makes), skips records that already have an embedding by this model
version (so a second run continues where an interrupted one stopped), and writes each
embedding as an upsert of (record, model version), which gives the same row however often it
is written. Uploads arriving meanwhile get theirs from the service itself.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TextIO, TypeVar

import numpy as np

from fashion_classifier.inference import Classifier
from fashion_classifier.preprocessing import InvalidImage, load_image, to_model_input
from fashion_classifier.records import Page
from fashion_classifier.similar import to_vector
from fashion_classifier.storage import PredictionStore, StoreUnavailable

PAGE_SIZE = 100
RETRIES = 5  # a store that stops answering for a moment (a node restarting) is waited for
RETRY_PAUSE_S = 2.0
T = TypeVar("T")


@dataclass
class Progress:
    total: int | None  # None when the store cannot count cheaply
    seen: int = 0
    embedded: int = 0
    already: int = 0  # had an embedding by this model version: left as they were
    unreadable: int = 0  # no kept picture, or one that no longer decodes


def reindex(
    classifier: Classifier,
    store: PredictionStore,
    *,
    max_pixels: int,
    page_size: int = PAGE_SIZE,
    report: Callable[[Progress], None] = lambda progress: None,
) -> Progress:
    """Embed every record that has no embedding by `classifier`'s version yet."""
    progress = Progress(total=store.count_records())
    cursor: str | None = None
    while True:
        page = _patiently(partial(store.list, limit=page_size, cursor=cursor))
        embedded, already, unreadable = _patiently(partial(_embed_page, classifier, store, page, max_pixels))
        progress.seen += len(page.records)
        progress.embedded += embedded
        progress.already += already
        progress.unreadable += unreadable
        report(progress)
        if page.next_cursor is None:
            return progress
        cursor = page.next_cursor


def _embed_page(
    classifier: Classifier, store: PredictionStore, page: Page, max_pixels: int
) -> tuple[int, int, int]:
    """Embed the records of one page that need it: (embedded, already embedded, unreadable)."""
    unreadable = 0
    version = classifier.embedding_version  # a head-only version (`learn`) embeds as its parent
    done = store.embedded([r.id for r in page.records], model_version=version)
    inputs: list[tuple[uuid.UUID, np.ndarray]] = []
    for record in page.records:
        if record.id in done:
            continue
        image = store.image(record.id)
        try:
            if image is None:
                raise InvalidImage("no kept picture")
            inputs.append((record.id, to_model_input(load_image(image.data, max_pixels=max_pixels).image)))
        except InvalidImage:
            unreadable += 1
    if inputs:
        vectors = classifier.embed(np.concatenate([batch for _, batch in inputs]))
        store.set_embeddings(
            version, [(record_id, to_vector(v)) for (record_id, _), v in zip(inputs, vectors, strict=True)]
        )
    return len(inputs), len(done), unreadable


def _patiently(step: Callable[[], T]) -> T:
    for attempt in range(1, RETRIES + 1):
        try:
            return step()
        except StoreUnavailable:
            if attempt == RETRIES:
                raise
            time.sleep(RETRY_PAUSE_S * attempt)
    raise AssertionError("unreachable")


class ProgressBar:
    """A one-line bar on a terminal (a line per report elsewhere, e.g. in a Job's log)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream, self.width, self.started = stream, width, time.monotonic()
        self._last_line = 0.0

    def __call__(self, progress: Progress) -> None:
        rate = progress.seen / max(time.monotonic() - self.started, 1e-6)
        counts = f"{progress.seen}" + (f"/{progress.total}" if progress.total else "")
        bar = ""
        if progress.total:
            filled = min(self.width, self.width * progress.seen // progress.total)
            bar = "[" + "#" * filled + "." * (self.width - filled) + "] "
        line = f"{bar}{counts} records, {progress.embedded} embedded, {rate:.0f}/s"
        if self.stream.isatty():
            self.stream.write("\r" + line)
        elif time.monotonic() - self._last_line >= 5 or progress.seen == progress.total:
            self.stream.write(line + "\n")
            self._last_line = time.monotonic()
        self.stream.flush()
