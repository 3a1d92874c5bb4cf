"""`fashion-classifier copy FROM TO`: every kind kept by one store, into another, in pages.

Each page read from the source is compared with what the target holds under the same keys, and
only what differs is written (as upserts under the source's ids and times). So a second run
writes nothing, a run cut short (Ctrl-C, a node down) is finished by the next one, and nothing
is ever written twice. A checkpoint file keeps the position after the last page written, so a
resumed run starts there instead of comparing from the beginning; it is removed when a run ends.
Memory holds one page of each store, whatever the size of the history.

A new kind (e.g. model versions) is an item type with `key`, `problem()` and `held_as()`, its
read and write in each store's copy module (storage/sqlite_copy.py, storage/cassandra_copy.py),
and one entry in KINDS.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from fashion_classifier.model_copy import KeptModel, export_models, held_models, import_models
from fashion_classifier.storage import StoreUnavailable
from fashion_classifier.storage.transfer import COUNTED, Kept, TransferStore

PAGE_SIZE = 200
RETRIES = 6  # a store that stops answering (a node restarting) is waited for, ~30 s in all
RETRY_PAUSE_S = 2.0
EXAMPLES = 10  # keys named in a message
T = TypeVar("T")


class Item(Protocol):
    @property
    def key(self) -> str: ...

    def problem(self) -> str | None: ...

    def held_as(self, held: Any) -> bool: ...


ItemT = TypeVar("ItemT", bound=Item)


@dataclass(frozen=True)
class Kind(Generic[ItemT]):
    """One kind of thing a store keeps: how to read it in pages, look it up by key, and write it."""

    name: str
    export: Callable[[TransferStore, str | None, int], tuple[Sequence[ItemT], str | None]]
    held: Callable[[TransferStore, Sequence[ItemT]], Mapping[str, ItemT]]
    write: Callable[[TransferStore, Sequence[ItemT]], None]
    # The progress bar's total (None: unknown).
    count: Callable[[TransferStore], int | None] = lambda store: store.count_records()


RECORDS = Kind[Kept](
    "records",  # with their corrections, pictures and embeddings
    export=lambda store, after, limit: store.export_records(after=after, limit=limit),
    held=lambda store, items: {str(k): v for k, v in store.kept([i.record.id for i in items]).items()},
    write=lambda store, items: store.import_records(items),
)
MODELS = Kind[KeptModel]("model versions", export_models, held_models, import_models, lambda store: None)
KINDS: tuple[Kind[Any], ...] = (RECORDS, MODELS)


@dataclass
class Progress:
    kind: str
    total: int | None  # None when the source cannot count cheaply
    seen: int = 0
    written: int = 0  # new in the target, or different there
    unchanged: int = 0  # the target already held them as they are
    skipped: int = 0  # could not be copied (see `problems`)
    problems: list[str] = field(default_factory=list)  # the first EXAMPLES: "key: why"

    def note_problem(self, key: str, why: str) -> None:
        self.skipped += 1
        if len(self.problems) < EXAMPLES:
            self.problems.append(f"{key}: {why}")


class Checkpoint:
    """The position after the last page written, in a small JSON file, for one (source, target) pair.

    The pair is kept in the file as a hash of both URLs: a checkpoint of another copy (the same
    --checkpoint given twice) is never taken for this one's.
    """

    def __init__(self, path: Path, *, pair: str = "") -> None:
        self.path, self.pair = path, pair

    @classmethod
    def for_pair(cls, source_url: str, target_url: str, path: Path | None = None) -> Checkpoint:
        pair = hashlib.sha256(f"{source_url}\n{target_url}".encode()).hexdigest()[:16]
        return cls(path or Path(f".fashion-classifier-copy-{pair}.json"), pair=pair)

    def load(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # unreadable: start from the beginning (the diff keeps that safe)

    def resume(self, kind: str, *, total: int | None) -> tuple[Progress, str | None]:
        """The progress and position a previous run of this kind stopped at (a fresh start if none)."""
        saved = self.load()
        try:
            if saved is not None and saved.get("pair", "") == self.pair and saved["progress"]["kind"] == kind:
                return Progress(**{**saved["progress"], "total": total}), str(saved["position"])
        except (KeyError, TypeError):
            pass  # not a checkpoint of this release: start from the beginning
        return Progress(kind, total=total), None

    def save(self, position: str, progress: Progress) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(
            json.dumps({"pair": self.pair, "position": position, "progress": asdict(progress)})
        )
        temporary.replace(self.path)  # never half a file

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def copy(
    source: TransferStore,
    target: TransferStore,
    *,
    checkpoint: Checkpoint,
    page_size: int = PAGE_SIZE,
    report: Callable[[Progress], None] = lambda progress: None,
) -> list[Progress]:
    """Write into `target` every item of `source` that it lacks or holds otherwise; one Progress per kind."""
    done = []
    for kind in KINDS:
        progress, position = checkpoint.resume(kind.name, total=_patiently(partial(kind.count, source), 0))
        for items, after in _pages(kind, source, position, page_size, progress):
            held = _patiently(partial(kind.held, target, items), progress.seen)
            todo = [item for item in items if _needs_writing(item, held.get(item.key), progress)]
            _patiently(partial(kind.write, target, todo), progress.seen)
            progress.seen += len(items)
            progress.written += len(todo)
            if after is not None:
                checkpoint.save(after, progress)
            report(progress)
        done.append(progress)
    checkpoint.clear()
    return done


def verify(
    source: TransferStore,
    target: TransferStore,
    *,
    page_size: int = PAGE_SIZE,
    report: Callable[[Progress], None] = lambda progress: None,
) -> list[Progress]:
    """Compare every item of `source` with the target's by hash; `skipped` counts those that differ."""
    done = []
    for kind in KINDS:
        progress = Progress(kind.name, total=_patiently(partial(kind.count, source), 0))
        for items, _ in _pages(kind, source, None, page_size, progress):
            held = _patiently(partial(kind.held, target, items), progress.seen)
            for item in items:
                if item.held_as(held.get(item.key)):
                    progress.unchanged += 1
                else:
                    progress.note_problem(item.key, item.problem() or "missing or different in the target")
            progress.seen += len(items)
            report(progress)
        done.append(progress)
    return done


def _pages(
    kind: Kind[Any], source: TransferStore, position: str | None, page_size: int, progress: Progress
) -> Iterator[tuple[Sequence[Any], str | None]]:
    """(items, position after them) page by page, from `position` on."""
    while True:
        items, after = _patiently(partial(kind.export, source, position, page_size), progress.seen)
        if items:
            yield items, after
        if after is None:
            return
        position = after


def _needs_writing(item: Item, held: Item | None, progress: Progress) -> bool:
    if (why := item.problem()) is not None:
        progress.note_problem(item.key, why)
        return False
    if item.held_as(held):
        progress.unchanged += 1
        return False
    return True


def _patiently(step: Callable[[], T], seen: int) -> T:
    """Run `step`, waiting out a store that stops answering for a while; then say how to go on."""
    for attempt in range(1, RETRIES + 1):
        try:
            return step()
        except StoreUnavailable as exc:
            if attempt == RETRIES:
                raise StoreUnavailable(
                    f"{exc}; the copy stopped after {seen} records: run the same command again to continue"
                ) from exc
            time.sleep(RETRY_PAUSE_S * attempt)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class CountCheck:
    source: dict[str, int]
    target: dict[str, int]

    @property
    def missing(self) -> dict[str, int]:
        """Per kind, how many more the source holds than the target (only those short)."""
        return {k: self.source[k] - self.target[k] for k in COUNTED if self.target[k] < self.source[k]}

    def lines(self) -> list[str]:
        rows = [f"{'':12} {'source':>10} {'target':>10}"]
        rows += [f"{k:12} {self.source[k]:>10} {self.target[k]:>10}" for k in COUNTED]
        return rows


def count_check(source: TransferStore, target: TransferStore) -> CountCheck:
    return CountCheck(_patiently(source.kind_counts, 0), _patiently(target.kind_counts, 0))
