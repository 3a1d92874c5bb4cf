"""The PredictionStore protocol every store implements, and its errors."""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fashion_classifier.records import (
    ActiveModel,
    ModelVersion,
    Neighbour,
    Page,
    Record,
    StoredImage,
    from_millis,
)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or did not answer; the caller may retry later."""


@dataclass(frozen=True)
class LoggedCorrection:
    """One correction as the log keeps it: which record, when, who (a keyed hash), which class."""

    record_id: uuid.UUID
    at: datetime
    client: str
    label: str

    @classmethod
    def now(cls, record_id: uuid.UUID, client: str, label: str) -> LoggedCorrection:
        """Logged at this moment, in whole milliseconds (as both stores keep times)."""
        return cls(record_id, from_millis(time.time_ns() // 1_000_000), client, label)


class PredictionStore(Protocol):
    """Where classified uploads are kept. Implementations must be safe to share across threads."""

    def migrate(self, *, target: int | None = None) -> builtins.list[str]:
        """Apply the pending schema migrations (up to `target`); returns their names.

        One process at a time (`fashion-classifier migrate`); serving workers never call it.
        """

    def schema_version(self) -> int:
        """The applied schema version (0: no schema yet), read from the database now."""

    def check_schema(self) -> None:
        """Raise SchemaNotReady (a StoreUnavailable) while the schema is too old to serve."""

    def add(self, record: Record, image: StoredImage) -> None:
        """Keep a record and its picture: both are readable afterwards, or neither is listed."""

    def add_many(self, items: Sequence[tuple[Record, StoredImage]]) -> None:
        """Keep the records of one upload all together or, if this raises, none of them.

        No record is ever listed without its picture. SQLite: one transaction. Cassandra: see
        CassandraStore.add_many for what a reader may see while it runs.
        """

    def get(self, record_id: uuid.UUID) -> Record | None: ...

    def image(self, record_id: uuid.UUID) -> StoredImage | None: ...

    def list(
        self,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        label: str | None = None,
        garment: bool | None = None,
    ) -> Page:
        """Newest first; `cursor` continues a previous page, `label` keeps one predicted class,
        `garment` keeps records whose is_garment equals it (records without a verdict never match).

        Raises records.InvalidCursor for a cursor this service did not hand out.
        """

    def set_correction(self, record_id: uuid.UUID, label: str) -> Record | None:
        """Store the user's corrected class; None if no such record."""

    def corrected(self) -> builtins.list[Record]:
        """Every record that has a correction (for exporting a retraining set)."""

    # -- similar pictures (schema version 3; below it these raise SchemaNotReady) ------------

    def similar(self, vector: Sequence[float], *, model_version: str, limit: int) -> builtins.list[Neighbour]:
        """The `limit` records whose embedding by `model_version` is closest to `vector`, closest first.

        Embeddings of other model versions are never compared. Cassandra: approximate (ANN);
        SQLite: exact.
        """

    def embedding(self, record_id: uuid.UUID, *, model_version: str) -> tuple[float, ...] | None:
        """The record's embedding by that model version; None if it has none (older records)."""

    def embedded(self, record_ids: Sequence[uuid.UUID], *, model_version: str) -> builtins.set[uuid.UUID]:
        """Which of these records already have an embedding by that model version."""

    def set_embeddings(self, model_version: str, items: Sequence[tuple[uuid.UUID, Sequence[float]]]) -> None:
        """Keep (record id, embedding) pairs made by `model_version`; writing one again changes nothing."""

    def count_records(self) -> int | None:
        """How many records are kept (None when the store cannot tell cheaply)."""

    # -- model versions (schema version 4; below it these raise SchemaNotReady) --------------

    def add_model_version(self, version: ModelVersion, onnx: bytes) -> bool:
        """Keep a model version and its ONNX bytes; False (and nothing changed) if it exists already."""

    def model_versions(self) -> builtins.list[ModelVersion]:
        """Every kept model version (without the bytes), newest first."""

    def model_version(self, version: str) -> ModelVersion | None: ...

    def model_bytes(self, version: str) -> bytes | None:
        """The ONNX file of that version; None if no such version."""

    def active_model(self) -> ActiveModel | None:
        """The version every replica should answer with; None before one was set."""

    def set_active(self, version: str, *, expected: str | None) -> bool:
        """Point "active" at `version` (and "previous" at `expected`) only if it still names `expected`
        (None: only if no version was ever active); False when another change came first.

        A compare-and-set: of two promotions at once, exactly one wins. The caller checks that
        `version` exists.
        """

    # -- the correction log (schema version 5; below it nothing is logged or read) ------------

    def log_correction(self, entry: LoggedCorrection) -> None:
        """Keep who sent a correction and when; on an older schema, nothing (corrections still work)."""

    def correction_log(self, record_ids: Sequence[uuid.UUID]) -> builtins.list[LoggedCorrection]:
        """The logged corrections of these records, oldest first (none below schema version 5)."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers now."""

    def close(self) -> None: ...
