"""The PredictionStore protocol every store implements, and its errors."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Protocol

from fashion_classifier.records import Page, Record, StoredImage

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or did not answer; the caller may retry later."""


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

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers now."""

    def close(self) -> None: ...
