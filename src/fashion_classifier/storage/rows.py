"""What every store shares: the columns a record is kept in, the mapping both ways, and paging.

Each store only converts the values its database cannot hold as they are (SQLite: the id as
text, times as milliseconds, probabilities as JSON); the names and their order live here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fashion_classifier.records import Cursor, Page, Prediction, Record

COLUMNS = (
    "id",
    "created_at",
    "filename",
    "label",
    "probabilities",
    "model_version",
    "width",
    "height",
    "corrected_label",
)
GARMENT_COLUMNS = (*COLUMNS, "garment_score", "is_garment")  # from schema migration 2 on

Codec = Mapping[str, Callable[[Any], Any]]


def columns(*, garment: bool) -> tuple[str, ...]:
    """The columns to write and read: the verdict's only once the schema has them (migration 2)."""
    return GARMENT_COLUMNS if garment else COLUMNS


def column_list(*, garment: bool) -> str:
    """The columns as a query names them: 'id, created_at, ...'."""
    return ", ".join(columns(garment=garment))


def record_values(record: Record, *, garment: bool, encode: Codec | None = None) -> tuple[Any, ...]:
    """The record's values in column order; `encode` converts the named ones (None stays None)."""
    prediction = record.prediction
    values = {
        "id": record.id,
        "created_at": record.created_at,
        "filename": record.filename,
        "label": record.label,
        "probabilities": list(prediction.probabilities),
        "model_version": record.model_version,
        "width": record.width,
        "height": record.height,
        "corrected_label": record.corrected_label,
        "garment_score": prediction.garment_score,
        "is_garment": prediction.is_garment,
    }
    convert = encode or {}
    return tuple(_converted(convert, name, values[name]) for name in columns(garment=garment))


def record_from(values: Mapping[str, Any], *, decode: Codec | None = None) -> Record:
    """A record from its column values by name; the verdict's columns may be absent (before migration 2)."""
    convert = decode or {}
    value = {name: _converted(convert, name, values.get(name)) for name in GARMENT_COLUMNS}
    return Record(
        id=value["id"],
        created_at=value["created_at"],
        filename=value["filename"],
        prediction=Prediction(
            value["label"], tuple(value["probabilities"]), value["garment_score"], value["is_garment"]
        ),
        model_version=value["model_version"],
        width=value["width"],
        height=value["height"],
        corrected_label=value["corrected_label"],
    )


def fetch_size(limit: int) -> int:
    """Rows to ask for to fill a page of `limit`: one more says whether another page follows."""
    return limit + 1


def page_of(fetched: Sequence[Record], limit: int) -> Page:
    """A page from up to fetch_size(limit) records, newest first, with the cursor to the next one."""
    page = list(fetched[:limit])
    more = len(fetched) > limit
    return Page(page, Cursor.after(page[-1]).encode() if more else None)


def _converted(convert: Codec, name: str, value: Any) -> Any:
    if value is None or name not in convert:
        return value
    return convert[name](value)
