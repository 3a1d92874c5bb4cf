"""How records map onto Cassandra rows: statements, columns, feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fashion_classifier.records import Prediction, Record

FIELDS = "id, created_at, filename, label, probabilities, model_version, width, height, corrected_label"
GARMENT_FIELDS = FIELDS + ", garment_score, is_garment"  # from schema migration 2 on
BUCKET = timedelta(hours=1)
STATEMENTS = {
    "insert_record": "INSERT INTO {ks}.records ({fields}) VALUES ({marks})",
    "insert_feed": "INSERT INTO {ks}.feed (feed, bucket, {fields}) VALUES (?, ?, {marks})",
    "insert_bucket": "INSERT INTO {ks}.feed_buckets (feed, bucket) VALUES (?, ?)",
    "insert_image": "INSERT INTO {ks}.images (id, content_type, data) VALUES (?, ?, ?)",
    "get_record": "SELECT {fields} FROM {ks}.records WHERE id = ?",
    "get_image": "SELECT content_type, data FROM {ks}.images WHERE id = ?",
    "buckets": "SELECT bucket FROM {ks}.feed_buckets WHERE feed = ?",
    "buckets_before": "SELECT bucket FROM {ks}.feed_buckets WHERE feed = ? AND bucket <= ?",
    "page": "SELECT {fields} FROM {ks}.feed WHERE feed = ? AND bucket = ? LIMIT ?",
    "page_after": "SELECT {fields} FROM {ks}.feed WHERE feed = ? AND bucket = ? AND (created_at, id) < (?, ?) LIMIT ?",
    "correct_record": "UPDATE {ks}.records SET corrected_label = ? WHERE id = ?",
    "correct_feed": "UPDATE {ks}.feed SET corrected_label = ? WHERE feed = ? AND bucket = ? AND created_at = ? AND id = ?",
    "all_records": "SELECT {fields} FROM {ks}.records",
    # Taking back the rows of an upload that failed midway (CassandraStore.add_many).
    "delete_record": "DELETE FROM {ks}.records WHERE id = ?",
    "delete_feed": "DELETE FROM {ks}.feed WHERE feed = ? AND bucket = ? AND created_at = ? AND id = ?",
    "delete_image": "DELETE FROM {ks}.images WHERE id = ?",
}


def bucket_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def feed_name(label: str | None, garment: bool | None) -> str:
    """The feed that holds exactly the records a filter keeps."""
    parts = ([] if label is None else [f"label:{label}"]) + (
        [] if garment is None else [f"garment:{'yes' if garment else 'no'}"]
    )
    return "|".join(parts) or "all"


def feeds_of(record: Record, *, garment: bool = True) -> list[str]:
    """Every feed a record is listed in: all, its class, and with a verdict (and its columns), two more."""
    feeds = [feed_name(None, None), feed_name(record.label, None)]
    verdict = record.prediction.is_garment
    if garment and verdict is not None:
        feeds += [feed_name(None, verdict), feed_name(record.label, verdict)]
    return feeds


def row_values(record: Record, *, garment: bool) -> tuple[Any, ...]:
    base = (
        record.id,
        record.created_at,
        record.filename,
        record.label,
        list(record.prediction.probabilities),
        record.model_version,
        record.width,
        record.height,
        record.corrected_label,
    )
    return (*base, record.prediction.garment_score, record.prediction.is_garment) if garment else base


def utc(moment: datetime) -> datetime:
    """The driver hands back naive UTC datetimes."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_record(row: Any) -> Record:
    prediction = Prediction(
        row.label,
        tuple(row.probabilities),
        getattr(row, "garment_score", None),  # absent before migration 2
        getattr(row, "is_garment", None),
    )
    return Record(
        id=row.id,
        created_at=utc(row.created_at),
        filename=row.filename,
        prediction=prediction,
        model_version=row.model_version,
        width=row.width,
        height=row.height,
        corrected_label=row.corrected_label,
    )
