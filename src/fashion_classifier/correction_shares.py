"""The live share of answers users corrected, per model version and answer, over the newest uploads.

Read through the service's paged history (newest first), at most `window` records: the cost is a
bounded number of pages however large the store grows. SharesCache keeps the answer per process
for about a minute, so most page views read nothing at all.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from fashion_classifier.labels import CLASSES, NOT_A_GARMENT
from fashion_classifier.records import Page, Record
from fashion_classifier.storage import MAX_PAGE_SIZE

WINDOW = 10_000  # the newest uploads counted
CACHE_SECONDS = 60.0
# What the model may answer: one of the ten classes, or that the picture is none of them.
ANSWERS: tuple[str, ...] = (*CLASSES, NOT_A_GARMENT)


class History(Protocol):
    """What the counting reads: the service's history, newest first (PredictionService.history)."""

    def history(self, *, limit: int, cursor: str | None = None) -> Page: ...


@dataclass(frozen=True)
class Share:
    """How many answers, and how many of them users corrected."""

    answers: int
    corrected: int

    @property
    def share(self) -> float | None:
        return self.corrected / self.answers if self.answers else None


@dataclass(frozen=True)
class VersionShares:
    """One model version's answers in the window: in all, and per answer it gave."""

    version: str
    total: Share
    by_answer: dict[str, Share]  # every one of ANSWERS, in that order


@dataclass(frozen=True)
class CorrectionShares:
    """The counts, and the window they come from."""

    window: int  # the most uploads read
    records: int  # uploads read: fewer when the store holds fewer
    oldest: datetime | None
    newest: datetime | None
    computed_at: datetime
    versions: list[VersionShares]  # the version that answered last first


def answer_of(record: Record) -> str:
    """What the user was told: the class, or NOT_A_GARMENT when the model judged the picture none of the ten."""
    return NOT_A_GARMENT if record.prediction.is_garment is False else record.label


def is_corrected(record: Record) -> bool:
    """A user's correction differs from the model's answer (any value: a class, NOT_A_GARMENT, or another)."""
    return record.corrected_label is not None and record.corrected_label != answer_of(record)


def newest_records(history: History, *, window: int = WINDOW) -> Iterator[Record]:
    """At most `window` records, newest first, page by page."""
    cursor: str | None = None
    left = window
    while left > 0:
        page = history.history(limit=min(MAX_PAGE_SIZE, left), cursor=cursor)
        yield from page.records[:left]
        left -= len(page.records)
        if page.next_cursor is None or not page.records:
            return
        cursor = page.next_cursor


def count(
    records: Iterable[Record], *, window: int = WINDOW, now: datetime | None = None
) -> CorrectionShares:
    """Answers and corrections per (version, answer); versions in the order they first appear."""
    answers: Counter[tuple[str, str]] = Counter()
    corrected: Counter[tuple[str, str]] = Counter()
    versions: dict[str, None] = {}
    times: list[datetime] = []
    for record in records:
        key = (record.model_version, answer_of(record))
        versions.setdefault(record.model_version)
        answers[key] += 1
        corrected[key] += is_corrected(record)
        times.append(record.created_at)
    return CorrectionShares(
        window=window,
        records=len(times),
        oldest=min(times, default=None),
        newest=max(times, default=None),
        computed_at=now or datetime.now(UTC),
        versions=[_version_shares(version, answers, corrected) for version in versions],
    )


def _version_shares(
    version: str, answers: Counter[tuple[str, str]], corrected: Counter[tuple[str, str]]
) -> VersionShares:
    mine = [key for key in answers if key[0] == version]  # a label outside ANSWERS counts in the total only
    return VersionShares(
        version,
        Share(sum(answers[key] for key in mine), sum(corrected[key] for key in mine)),
        {name: Share(answers[version, name], corrected[version, name]) for name in ANSWERS},
    )


def correction_shares(history: History, *, window: int = WINDOW) -> CorrectionShares:
    """The shares over the newest `window` uploads, read now."""
    return count(newest_records(history, window=window), window=window)


class SharesCache:
    """The shares computed at most once every `seconds` per process; callers at once wait for one read."""

    def __init__(
        self,
        compute: Callable[[], CorrectionShares],
        *,
        seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: tuple[float, CorrectionShares] | None = None

    def get(self) -> CorrectionShares:
        """The kept shares while younger than `seconds`, else freshly counted (a failed read keeps nothing)."""
        with self._lock:
            now = self._clock()
            if self._kept is None or now - self._kept[0] >= self.seconds:
                self._kept = (now, self._compute())
            return self._kept[1]
