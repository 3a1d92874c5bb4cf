"""Moving the whole history between stores (`fashion-classifier copy`): what one item is, what a store offers.

An item of kind "records" is a record with everything kept with it: its correction (a column of
the record), its picture and its embeddings. They travel together so that the target never
lists a record before its picture is there, whenever the copy stops. Each store reads the
history in a fixed order (SQLite: by id; Cassandra: by the token of the id), a page at a time,
and writes items back as upserts under their own ids and times: writing one twice changes
nothing, so a copy cut short is finished by running it again.
"""

from __future__ import annotations

import builtins
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fashion_classifier.config import Settings
from fashion_classifier.records import Record, StoredImage, to_millis
from fashion_classifier.storage import open_store
from fashion_classifier.storage.migrations import LATEST_VERSION

# What the count check compares, per store (SQLite counts rows; Cassandra scans its tables).
COUNTED = ("records", "corrections", "pictures", "embeddings")


@dataclass(frozen=True)
class Kept:
    """One record and everything kept with it."""

    record: Record
    picture: StoredImage | None  # None only in a damaged store: such a record is not copied
    embeddings: tuple[tuple[str, tuple[float, ...]], ...] = ()  # (model version, vector), sorted

    @property
    def key(self) -> str:
        return str(self.record.id)

    def digest(self, *, versions: Sequence[str] | None = None) -> str:
        """A hash of every value kept (of the embeddings, only those by `versions`, if given)."""
        hashed = hashlib.sha256()
        record, prediction = self.record, self.record.prediction
        score = None if prediction.garment_score is None else float(prediction.garment_score)
        names = (str(record.id), record.filename, record.label, record.model_version, record.corrected_label)
        sizes = (to_millis(record.created_at), record.width, record.height)
        verdict = (prediction.is_garment, score, tuple(float(p) for p in prediction.probabilities))
        hashed.update(repr((names, sizes, verdict)).encode())
        if self.picture is not None:
            hashed.update(self.picture.content_type.encode() + b"\0")
            hashed.update(hashlib.sha256(self.picture.data).digest())
        for version, vector in self.embeddings:
            if versions is None or version in versions:
                hashed.update(repr((version, vector)).encode())
        return hashed.hexdigest()

    def problem(self) -> str | None:
        """Why this item cannot be copied (None: it can)."""
        return "its picture is missing in the source" if self.picture is None else None

    def held_as(self, held: Kept | None) -> bool:
        """Whether `held` (the target's item of the same id) keeps everything this one does.

        Embeddings by other model versions in the target (its own reindex) are left alone by a copy,
        which never deletes, so they do not count as a difference.
        """
        versions = [version for version, _ in self.embeddings]
        return held is not None and held.digest(versions=versions) == self.digest()


@runtime_checkable
class TransferStore(Protocol):
    """What `copy` needs of a store, beside its schema version (both stores implement it)."""

    def schema_version(self) -> int: ...

    def export_records(self, *, after: str | None, limit: int) -> tuple[builtins.list[Kept], str | None]:
        """Up to `limit` items after position `after` (None: from the start), in the store's fixed
        order, and the position after the last one (None when there are no more)."""

    def kept(self, record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Kept]:
        """What this store holds for these ids (to compare with the source before writing)."""

    def import_records(self, items: Sequence[Kept]) -> None:
        """Keep the items under their own ids and times, each picture before its record; an upsert."""

    def count_records(self) -> int | None:
        """How many records (None when the store cannot tell cheaply): the progress bar's total."""

    def kind_counts(self) -> dict[str, int]:
        """How many of each COUNTED kind the store holds (a full scan on Cassandra)."""

    def describe(self) -> str:
        """Where the store is, for messages (never a password)."""

    def close(self) -> None: ...


def open_for_copy(url: str, settings: Settings, *, role: str) -> TransferStore:
    """The store at `url` as the copy's "source" or "target"; ValueError/StoreUnavailable say why not."""
    if url.startswith("sqlite:"):
        from fashion_classifier.storage.sqlite import SQLiteStore

        path = SQLiteStore.from_url(url).path
        if not path.is_file():  # never create an empty file in the place of a mistyped one
            raise ValueError(f"the {role} {url} does not exist{_migrate_hint(url, role)}")
    store = open_store(
        url,
        consistency=settings.cassandra_consistency,
        replication=settings.cassandra_replication,
        username=settings.cassandra_username,
        password=settings.cassandra_password,
    )
    if not isinstance(store, TransferStore):  # pragma: no cover - both stores implement it
        raise ValueError(f"a {url.partition(':')[0]} store cannot be copied")
    _check_schema(store, url, role)
    return store


def _check_schema(store: TransferStore, url: str, role: str) -> None:
    version = store.schema_version()
    if version > LATEST_VERSION:
        raise ValueError(
            f"the {role} {store.describe()} is at schema version {version}, newer than this release "
            f"knows ({LATEST_VERSION}): copy with the release that migrated it"
        )
    if role == "source" and version == 0:
        raise ValueError(f"the source {store.describe()} holds no predictions (no schema): check the URL")
    if role == "target" and version < LATEST_VERSION:
        raise ValueError(
            f"the target {store.describe()} is at schema version {version}, the copy needs "
            f"{LATEST_VERSION}{_migrate_hint(url, role)}"
        )


def _migrate_hint(url: str, role: str) -> str:
    if role != "target":
        return ""
    shown = url if url.startswith("sqlite:") else "cassandra://HOSTS/KEYSPACE"
    return f": migrate it first (DATABASE_URL={shown} fashion-classifier migrate), then copy again"
